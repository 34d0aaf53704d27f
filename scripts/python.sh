#!/usr/bin/env bash
# Find or build the CPython that subinterp links against, then print the
# environment (shell assignments) that `go build` / `go test` need.
#
# Usage: scripts/python.sh [--debug] [--offline]
#
# Order of preference:
#   1. SUBINTERP_PYTHON_PREFIX: an installed CPython >= 3.12 with a shared
#      libpython (lib/libpython3.X.so and lib/pkgconfig/python3-embed.pc).
#   2. A finished build in the per-user cache (~/.cache/subinterp, or
#      $SUBINTERP_CACHE): the newest one of the requested flavour.
#   3. Otherwise: install missing build dependencies with apt-get, download
#      the newest CPython 3.13 source package the machine's own Debian mirror
#      serves (apt-get source --download-only, through a private sources list
#      derived from /etc/apt), check it against the signed index, and build it
#      with --enable-shared (and --with-pydebug for --debug) into the cache.
#
# Progress goes to stderr; stdout carries only `export NAME=value` lines, so
# callers can `eval "$(scripts/python.sh)"`. Safe to run repeatedly and
# concurrently (a lock serialises builds).
set -euo pipefail

flavour=release
offline=0
for arg in "$@"; do
  case "$arg" in
    --debug) flavour=debug ;;
    --offline) offline=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "python.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'python.sh: %s\n' "$*" >&2; }
die() { printf 'python.sh: error: %s\n' "$*" >&2; exit 1; }

cache="${SUBINTERP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/subinterp}"
mkdir -p "$cache"

# emit_env PREFIX: print the environment for building against PREFIX.
emit_env() {
  local prefix=$1 pc="$1/lib/pkgconfig"
  [ -f "$pc/python3-embed.pc" ] || die "$prefix has no lib/pkgconfig/python3-embed.pc (is it CPython >= 3.8 installed with 'make install'?)"
  local ver
  ver=$(PKG_CONFIG_PATH="$pc" pkg-config --modversion python3-embed 2>/dev/null) || die "pkg-config cannot read $pc/python3-embed.pc (is pkg-config installed?)"
  case "$ver" in
    3.1[2-9]|3.[2-9][0-9]) ;;
    *) die "$prefix is CPython $ver; subinterp needs CPython >= 3.12 (per-interpreter GIL)" ;;
  esac
  ls "$prefix"/lib/libpython"$ver"*.so >/dev/null 2>&1 || die "$prefix has no shared libpython$ver (rebuild CPython with --enable-shared)"
  local debug=0
  "$prefix/bin/python$ver" -c 'import sys; raise SystemExit(0 if hasattr(sys, "gettotalrefcount") else 1)' 2>/dev/null && debug=1
  say "using CPython $ver at $prefix$([ "$debug" = 1 ] && echo ' (debug build)')"
  printf 'export SUBINTERP_PYTHON_PREFIX=%q\n' "$prefix"
  printf 'export SUBINTERP_PYTHON_VERSION=%q\n' "$ver"
  printf 'export SUBINTERP_PYTHON_DEBUG=%q\n' "$debug"
  printf 'export PKG_CONFIG_PATH=%q\n' "$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # The rpath makes binaries find libpython without LD_LIBRARY_PATH.
  printf 'export CGO_LDFLAGS=%q\n' "-Wl,-rpath,$prefix/lib${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
  printf 'export CGO_ENABLED=1\n'
}

# 1. explicit prefix
if [ -n "${SUBINTERP_PYTHON_PREFIX:-}" ]; then
  [ -d "$SUBINTERP_PYTHON_PREFIX" ] || die "SUBINTERP_PYTHON_PREFIX=$SUBINTERP_PYTHON_PREFIX does not exist"
  emit_env "$SUBINTERP_PYTHON_PREFIX"
  exit 0
fi

# newest_cached: newest finished build of this flavour, or nothing.
newest_cached() {
  local d
  for d in $(ls -d "$cache"/cpython-*-"$flavour" 2>/dev/null | sort -V -r); do
    [ -f "$d/.complete" ] && { echo "$d"; return 0; }
  done
  return 0
}

# 2. cached build (no lock needed to read a finished one)
prefix=$(newest_cached)
if [ -n "$prefix" ]; then
  emit_env "$prefix"
  exit 0
fi
[ "$offline" = 1 ] && die "no cached $flavour build in $cache and --offline given"

# 3. build. One builder at a time per cache.
exec 9>"$cache/.lock"
if ! flock -n 9; then
  say "another build is running in $cache; waiting for it"
  flock 9
fi
prefix=$(newest_cached)
if [ -n "$prefix" ]; then emit_env "$prefix"; exit 0; fi

command -v apt-get >/dev/null 2>&1 || die "no cached CPython and no apt-get: set SUBINTERP_PYTHON_PREFIX to a CPython >= 3.12 built with --enable-shared"

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "installing build dependencies needs root (or sudo)"
  sudo="sudo"
fi

# Build dependencies: install only those missing.
deps=(build-essential pkg-config dpkg-dev xz-utils libssl-dev zlib1g-dev libffi-dev libbz2-dev
      liblzma-dev libsqlite3-dev libncurses-dev libreadline-dev uuid-dev libgdbm-dev libexpat1-dev)
missing=()
for p in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing build dependencies: ${missing[*]}"
  $sudo apt-get update -qq >&2 || die "apt-get update failed (no network to the Debian mirror?)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
fi

# The mirror URI comes from this machine's apt configuration.
# shellcheck source=lib/apt-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-mirror.sh"
uri=$(mirror_uri | head -n1)
[ -n "$uri" ] || die "cannot find a Debian mirror in /etc/apt/sources.list{,.d}"
say "Debian mirror from apt configuration: $uri"

aptdir="$cache/apt"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/src"
aptopts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/none"
         -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" -o "APT::Sandbox::User=root"
         -o "Acquire::Retries=2")

# A source package downloaded and verified before (by the other flavour's
# build) is reused without asking the mirror again.
srcdir=""
if [ -f "$aptdir/verified" ] && ls "$aptdir/src"/python3.13_*.dsc >/dev/null 2>&1; then
  srcdir="$aptdir/src"
  say "reusing the verified source package $(cat "$aptdir/verified")"
fi
# Newest suite first: the first that serves python3.13 wins.
for suite in sid forky trixie; do
  [ -n "$srcdir" ] && break
  echo "deb-src $uri $suite main" >"$aptdir/sources.list"
  say "looking for python3.13 in $suite"
  if ! apt-get "${aptopts[@]}" update -qq >"$aptdir/update.log" 2>&1; then
    say "apt-get update for $suite failed: $(tail -n 2 "$aptdir/update.log" | tr '\n' ' ')"
    continue
  fi
  rm -rf "$aptdir/src"/*
  if (cd "$aptdir/src" && apt-get "${aptopts[@]}" source --download-only python3.13 >"$aptdir/source.log" 2>&1); then
    srcdir="$aptdir/src"
    break
  fi
  say "no usable python3.13 source in $suite: $(grep -E '^(E|W):' "$aptdir/source.log" | head -n 1 | cut -c1-160)"
done
[ -n "$srcdir" ] || die "could not download the python3.13 source package from $uri (no network, or no suite serves it); see $aptdir/source.log, or set SUBINTERP_PYTHON_PREFIX"

dsc=$(ls "$srcdir"/python3.13_*.dsc | head -n1)
[ -f "$dsc" ] || die "apt-get source gave no .dsc file"
# apt checked the .dsc against the signed Sources index; check every file
# the .dsc lists against its SHA-256 as well.
awk '/^Checksums-Sha256:/{on=1; next} /^[^ ]/{on=0} on && NF==3 {print $1"  "$3}' "$dsc" \
  | (cd "$srcdir" && sha256sum --quiet -c -) >&2 || die "checksum mismatch in the downloaded source package"
debver=$(awk '/^Version:/{print $2; exit}' "$dsc")
ver=${debver%%-*}
ver=${ver%%+*}
echo "$debver" >"$aptdir/verified"
say "verified python3.13 $debver"

orig=$(ls "$srcdir"/python3.13_*.orig.tar.* | head -n1)
src="$cache/src/Python-$ver"
if [ ! -f "$src/configure" ]; then
  rm -rf "$src" && mkdir -p "$cache/src"
  tar -xf "$orig" -C "$cache/src" || die "cannot unpack $orig"
  [ -f "$src/configure" ] || die "unexpected layout in $orig (no Python-$ver/configure)"
fi

prefix="$cache/cpython-$ver-$flavour"
build="$cache/build-$ver-$flavour"
log="$cache/build-$ver-$flavour.log"
rm -rf "$prefix" "$build" && mkdir -p "$build"
extra=()
[ "$flavour" = debug ] && extra+=(--with-pydebug)
say "building CPython $ver ($flavour) into $prefix; log: $log (takes a few minutes)"
jobs=$(nproc 2>/dev/null || echo 2)
if ! (cd "$build" && "$src/configure" --prefix="$prefix" --enable-shared --without-ensurepip \
        "${extra[@]}" LDFLAGS="-Wl,-rpath,$prefix/lib" \
      && make -j"$jobs" && make install) >"$log" 2>&1; then
  say "build failed; last lines of $log:"
  tail -n 40 "$log" >&2
  exit 1
fi
echo "$debver $flavour" >"$prefix/.complete"
rm -rf "$build"
say "built CPython $ver ($flavour)"
emit_env "$prefix"
