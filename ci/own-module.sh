#!/usr/bin/env bash
# Does what the README's "Use it from your own module" section says, from an
# empty directory, and checks each step: a new module that depends on
# subinterp (a replace to this checkout stands in for a published version),
# the cgo environment from the module's own scripts/python.sh, build, run,
# `subinterp bundle` (directory and single file, run with an empty
# environment), go vet through `--go-env-w` (a private GOENV, so the
# user's Go settings are left alone), a switch to the debug CPython without `go build -a`, the
# error for a too-old Python, and Debian's python3.14-dev through
# SUBINTERP_PYTHON_PREFIX=/usr (in the sid chroot, when it exists).
#
# Usage: ci/own-module.sh      (make test-own-module)
# Exit status 1 if a step fails; a step that cannot run here says SKIPPED.
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/subinterp-own-module.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n=== own-module: %s\n' "$*"; }
fail() { printf 'own-module: FAILED: %s\n' "$*" >&2; exit 1; }

# A shell with none of an earlier eval's environment, as a new user has.
clean() {
  env -u PKG_CONFIG_PATH -u CGO_LDFLAGS -u CGO_CFLAGS -u SUBINTERP_PYTHON_PREFIX \
      -u SUBINTERP_PYTHON_VERSION -u SUBINTERP_PYTHON_DEBUG -u SUBINTERP_PYTHON_CHOSEN \
      -u SUBINTERP_CGO_LDFLAGS -u SUBINTERP_CGO_CFLAGS GOENV="$work/go.env" GOFLAGS=-mod=mod "$@"
}

step "a new module that depends on subinterp"
mkdir -p "$work/app"
cd "$work/app"
clean go mod init example.com/app
clean go mod edit -require github.com/subinterp/subinterp@v0.0.0 -replace "github.com/subinterp/subinterp=$checkout"
cp "$checkout/examples/ownmodule/main.go" .
clean go mod tidy

step "the cgo environment from the dependency's scripts/python.sh"
# The README's command, word for word.
sub=$(clean go list -m -f '{{.Dir}}' github.com/subinterp/subinterp)
[ "$sub" = "$checkout" ] || fail "go list -m gave $sub, not the checkout"
envfile="$work/env.sh"
clean bash "$sub/scripts/python.sh" >"$envfile" || fail "scripts/python.sh failed"

step "build and run"
clean bash -c ". '$envfile' && go build -o app . && ./app" >"$work/out" || fail "build or run failed: $(cat "$work/out")"
cat "$work/out"
grep -q '^interpreters: 4, results: \[0 1 4 9\]$' "$work/out" || fail "unexpected output"
grep -q '^debug build: false$' "$work/out" || fail "not the release build"

step "bundle it, and run the bundle with an empty environment from another directory"
clean bash -c ". '$envfile' && go run github.com/subinterp/subinterp/cmd/subinterp bundle --single-file app.run app" \
  || fail "subinterp bundle failed"
(cd / && env -i "$work/app/app-bundle/app") >"$work/out-bundle" || fail "the bundle did not run: $(cat "$work/out-bundle")"
grep -q '^interpreters: 4, results: \[0 1 4 9\]$' "$work/out-bundle" || fail "unexpected output from the bundle"
(cd / && env -i SUBINTERP_BUNDLE_CACHE="$work/bundle-cache" "$work/app/app.run") >"$work/out-single" \
  || fail "the single-file bundle did not run: $(cat "$work/out-single")"
grep -q '^interpreters: 4, results: \[0 1 4 9\]$' "$work/out-single" || fail "unexpected output from the single-file bundle"
echo "bundle: $(du -sh app-bundle | cut -f1) directory, $(du -h app.run | cut -f1) single file; both ran"

step "go vet with the environment written by --go-env-w (no eval)"
clean bash "$sub/scripts/python.sh" --go-env-w >/dev/null || fail "--go-env-w failed"
clean go vet ./... || fail "go vet without the eval failed"
clean go build -o app-goenv . || fail "go build without the eval failed"
# Output to a file, then grep: with pipefail, `app | grep -q` fails when
# grep exits at its match and the app's next line meets a closed pipe.
./app-goenv >"$work/out-goenv" || fail "the binary built through go env -w does not run: $(cat "$work/out-goenv")"
grep -q '^interpreters: 4' "$work/out-goenv" || fail "unexpected output from the binary built through go env -w"
clean go env -u PKG_CONFIG CGO_LDFLAGS CGO_CFLAGS CGO_ENABLED

step "switch to the debug CPython: no stale cgo build, no go build -a"
clean bash -c "eval \"\$(bash '$sub/scripts/python.sh' --debug)\" && go build -o app-debug . && ./app-debug" >"$work/out-debug" \
  || fail "debug build or run failed: $(cat "$work/out-debug")"
grep -q '^debug build: true$' "$work/out-debug" || fail "after switching, the binary still links the release libpython"
clean bash -c ". '$envfile' && go build -o app . && ./app" >"$work/out-release" \
  || fail "switching back: build or run failed: $(cat "$work/out-release")"
grep -q '^debug build: false$' "$work/out-release" || fail "switching back to the release build gave a debug binary"

step "a too-old Python (Debian 12's python3.11-dev) is named, with the fix"
if [ -f /usr/lib/x86_64-linux-gnu/pkgconfig/python-3.11-embed.pc ] || [ -f /usr/lib/pkgconfig/python3-embed.pc ]; then
  if clean env SUBINTERP_PYTHON_PREFIX=/usr bash "$sub/scripts/python.sh" >/dev/null 2>"$work/old.err"; then
    fail "python.sh accepted /usr's CPython 3.11"
  fi
  cat "$work/old.err"
  grep -q 'has CPython 3.11' "$work/old.err" || fail "python.sh does not name the version found"
  if clean go build -o app-old . 2>"$work/old-build.err"; then
    fail "go build against python3.11-dev succeeded"
  fi
  grep -o "subinterp_needs_CPython_3_12_or_newer_but_pkg_config_python3_embed_gave_CPython_3_11" "$work/old-build.err" | head -n1
  grep -q "gave_CPython_3_11" "$work/old-build.err" || fail "go build's error does not name CPython 3.11: $(head -c 600 "$work/old-build.err")"
  grep -q "Fix: eval" "$work/old-build.err" || fail "go build's error does not give the fix"
else
  echo "SKIPPED: Debian's python3.11-dev is not installed (apt-get install python3-dev)"
fi

step "Debian's python3.14-dev through SUBINTERP_PYTHON_PREFIX=/usr (sid chroot)"
chroot_dir=$("$checkout/scripts/sid-chroot.sh" path)
if [ "$(id -u)" = 0 ] && [ -f "$chroot_dir/../.complete" ]; then
  "$checkout/scripts/sid-chroot.sh" run --repo "$work/app" --bind "$checkout" -- bash -c "
    set -e
    eval \"\$(SUBINTERP_PYTHON_PREFIX=/usr SUBINTERP_PYTHON_VERSION=3.14 bash '$checkout/scripts/python.sh' --offline)\"
    go build -mod=mod -o app-314 . && ./app-314" >"$work/out-314" 2>&1 || true
  cat "$work/out-314"
  grep -q '^python: 3\.14\.' "$work/out-314" || fail "the build against Debian's /usr CPython 3.14 did not run"
else
  echo "SKIPPED: no sid chroot here (make test-matrix creates it; needs root)"
fi

step "done: every step passed"
