#!/usr/bin/env bash
# subinterp and a free-threaded CPython (PEP 703, configure --disable-gil):
# what `make test-free-threaded` runs.
#
#   1. Find or build the free-threaded CPython 3.13 (scripts/python.sh
#      --free-threaded: the first time it builds it into the cache, which
#      takes 5-10 minutes on 2 cores) and check it really is one
#      (python3.13t, sysconfig Py_GIL_DISABLED=1, the GIL off at run time).
#   2. Linking subinterp against it must fail at build time, for every cgo
#      package, with include/subinterp.h's message (why, and what to use
#      instead) as the first error: not some other compile error later on.
#   3. The same packages build against the default (GIL) build, so the
#      failure in 2 is the refusal and not a broken tree.
#   4. The bench tests of the free-threaded modes run against the cached
#      python3.13t (`go test ./bench -run FreeThread`): the modes measure,
#      digests agree with the GIL build, PYTHON_GIL=1 is refused.
#
# Exit status 0 when all four hold, 1 otherwise. Progress on stderr; each
# step is timed.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '=== free-threaded: %s\n' "$*" >&2; }
fail() { printf '=== free-threaded: FAILED: %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)
step() { say "$1 ($(($(date +%s) - t0)) s so far)"; }

step "1. the free-threaded CPython (scripts/python.sh --free-threaded; built on first use, 5-10 min)"
ft_env=$(scripts/python.sh --free-threaded) || fail "scripts/python.sh --free-threaded could not find or build it"
ft_prefix=$(eval "$ft_env"; echo "$SUBINTERP_PYTHON_PREFIX")
ft_version=$(eval "$ft_env"; echo "$SUBINTERP_PYTHON_VERSION")
ft_python="$ft_prefix/bin/python${ft_version}t"
[ -x "$ft_python" ] || fail "$ft_python does not exist: the build did not install python${ft_version}t"
"$ft_python" -c 'import sys, sysconfig
assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1, "Py_GIL_DISABLED is not 1"
assert not sys._is_gil_enabled(), "the GIL is on"' || fail "$ft_python is not a free-threaded build with the GIL off"
say "using $ft_python"

step "2. building subinterp against it must fail with include/subinterp.h's message"
for pkg in ./cpython/ ./bindings/; do
  out=$( (eval "$ft_env" && go build "$pkg") 2>&1) && fail "go build $pkg succeeded against the free-threaded build; it must refuse"
  first=$(printf '%s\n' "$out" | grep -m1 -E 'error:' || true)
  case "$first" in
    *'#error "subinterp cannot be built against a free-threaded CPython (--disable-gil'*'Fix: eval'*) ;;
    *) printf '%s\n' "$out" | head -n 20 >&2
       fail "go build $pkg failed, but its first error is not the free-threading refusal: $first" ;;
  esac
  say "go build $pkg: refused, first error: ${first:0:110}..."
done

step "3. the same packages build against the default (GIL) build"
gil_env=$(scripts/python.sh) || fail "scripts/python.sh found no default build"
(eval "$gil_env" && go build ./cpython/ ./bindings/) || fail "go build against the default build failed: the refusal above proves nothing"

step "4. the free-threaded bench modes against $ft_python"
out=$( (eval "$gil_env" && go test -count=1 -run 'FreeThread' -v ./bench/) 2>&1)
st=$?
printf '%s\n' "$out" | grep -E '^\s*(--- |PASS|FAIL|ok)|freethreading_test' >&2
[ "$st" = 0 ] || fail "go test ./bench -run FreeThread"
grep -q -- '--- PASS: TestRunFreeThreaded ' <<<"$out" || fail "TestRunFreeThreaded did not run against $ft_python (skipped?)"

say "all passed in $(($(date +%s) - t0)) s"
