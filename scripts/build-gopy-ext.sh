#!/usr/bin/env bash
# Build the gopy test fixture (compat/testdata/gopyext, Go package gohello)
# into a CPython extension module in OUTDIR, against the CPython in use.
#
# Usage: eval "$(scripts/python.sh)"; scripts/build-gopy-ext.sh OUTDIR
#
# The result is a real third-party-generated extension: gopy (pinned as a Go
# tool in go.mod) writes cgo wrappers plus a pybindgen script, and links both
# into one Go c-shared library with its own Go runtime. OUTDIR then holds
#   _gohello<EXT_SUFFIX>  the extension module (single-phase init:
#                         PyModule_Create, m_size -1, no
#                         Py_mod_multiple_interpreters slot)
#   gohello.py            the pure-Python wrapper users import (it does
#                         `import _gohello` and `import go`)
#   go.py                 gopy's wrapper for Go builtin types
# Put OUTDIR on sys.path. The last stdout line is the extension module's
# name (_gohello); everything else goes to stderr.
#
# Needs: SUBINTERP_PYTHON_PREFIX (from scripts/python.sh), Go, a C compiler,
# and Debian's python3-pybindgen (pure Python; installed with apt-get when
# missing and we are root or have password-less sudo, otherwise the script
# says how to install it and fails). Only pybindgen is made importable, from
# a temporary directory holding a symlink to it, not the rest of Debian's
# dist-packages. gopy's generated sources live in a temporary directory that
# is removed afterwards; nothing is written to the repository, and state
# outside OUTDIR is limited to the Go module and build caches.
set -euo pipefail

say() { printf 'build-gopy-ext: %s\n' "$*" >&2; }
die() { printf 'build-gopy-ext: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 OUTDIR"
[ -n "${SUBINTERP_PYTHON_PREFIX:-}" ] \
  || die "SUBINTERP_PYTHON_PREFIX is not set: run 'eval \"\$(scripts/python.sh)\"' first (add --debug, or set SUBINTERP_PYTHON_PREFIX, for another CPython)"
prefix=$SUBINTERP_PYTHON_PREFIX
[ -d "$prefix" ] || die "SUBINTERP_PYTHON_PREFIX=$prefix does not exist"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fixture=github.com/subinterp/subinterp/compat/testdata/gopyext
name=gohello # the Go package name: gopy names the extension _gohello

# The interpreter: bin/python3.X of the prefix (scripts/python.sh exports
# SUBINTERP_PYTHON_VERSION), else bin/python3.
py=""
[ -n "${SUBINTERP_PYTHON_VERSION:-}" ] && py="$prefix/bin/python$SUBINTERP_PYTHON_VERSION"
[ -n "$py" ] && [ -x "$py" ] || py="$prefix/bin/python3"
[ -x "$py" ] || die "no python3 in $prefix/bin"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' \
  || die "$py is older than CPython 3.12"

# pybindgen from Debian's python3-pybindgen (pure Python, so any CPython 3
# can import it).
pbg=/usr/lib/python3/dist-packages/pybindgen
if [ ! -f "$pbg/__init__.py" ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  fi
  if [ "$sudo" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    die "gopy needs pybindgen, from Debian's python3-pybindgen: install it with 'apt-get install -y python3-pybindgen' (as root) and run this again"
  fi
  say "installing python3-pybindgen with apt-get"
  aptget() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
  if ! aptget install -y -qq --no-install-recommends python3-pybindgen >&2; then
    aptget update -qq >&2 || die "apt-get update failed; install python3-pybindgen with 'apt-get install -y python3-pybindgen'"
    aptget install -y -qq --no-install-recommends python3-pybindgen >&2 \
      || die "apt-get install python3-pybindgen failed"
  fi
  [ -f "$pbg/__init__.py" ] || die "python3-pybindgen is installed but $pbg/__init__.py is missing"
fi

mkdir -p "$1"
out=$(cd "$1" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-gopy-ext.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/pypath" "$tmp/build"
ln -s "$pbg" "$tmp/pypath/pybindgen"

cd "$repo"
export GOWORK=off CGO_ENABLED=1
# gopy's generated C declares `typedef uint8_t bool;`, an error in C23, which
# newer gcc (Debian sid's) uses by default. gopy sets CGO_CFLAGS itself, so
# the standard goes in CC, which Go splits into program and flags.
export CC="${CC:-gcc} -std=gnu17"
# Never write .pyc files into Debian's pybindgen directory.
export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1
export PYTHONPATH="$tmp/pypath"
"$py" -c 'import pybindgen' || die "$py cannot import pybindgen from $pbg"

# gopy runs `goimports` from PATH: build the version pinned in go.mod.
say "building goimports (go.mod tool)"
go build -o "$tmp/bin/goimports" golang.org/x/tools/cmd/goimports
export PATH="$tmp/bin:$PATH"

# gopy compiles its generated main package (which imports the fixture and
# github.com/go-python/gopy/gopyh) with `go build -mod=mod` in the output
# directory, so that directory must be a module: one that requires this
# repository (by a replace to the checkout) and the pinned gopy, and starts
# from our go.sum.
cat >"$tmp/build/go.mod" <<EOF
module gopyext.invalid/build

go 1.26.0

require (
	github.com/subinterp/subinterp v0.0.0-00010101000000-000000000000
	github.com/go-python/gopy v0.4.10
)

replace github.com/subinterp/subinterp => $repo
EOF
cp "$repo/go.sum" "$tmp/build/go.sum"

say "gopy build $fixture against $py"
# -package-prefix= makes the wrappers use top-level imports (import _gohello)
# instead of package-relative ones, so OUTDIR itself goes on sys.path.
if ! go tool gopy build -vm="$py" -output="$tmp/build" -package-prefix= -no-make "$fixture" >"$tmp/gopy.log" 2>&1; then
  cat "$tmp/gopy.log" >&2
  die "gopy build failed"
fi
cat "$tmp/gopy.log" >&2

ext_suffix=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
ext="_$name$ext_suffix"
[ -f "$tmp/build/$ext" ] || die "gopy did not produce $ext (see the log above)"
for f in "$ext" "$name.py" go.py; do
  [ -f "$tmp/build/$f" ] || die "gopy did not produce $f"
  cp -f "$tmp/build/$f" "$out/$f.tmp.$$"
  mv -f "$out/$f.tmp.$$" "$out/$f"
done
say "built $out/$ext (extension module _$name) and $out/$name.py (wrapper module $name)"
echo "_$name"
