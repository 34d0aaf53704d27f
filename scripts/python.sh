#!/usr/bin/env bash
# Find or build the CPython that subinterp links against, then print the
# environment (shell assignments) that `go build` / `go test` need.
#
# Usage: scripts/python.sh [--debug | --free-threaded] [--offline] [--go-env-w]
#
#   --debug     the --with-pydebug flavour (asserts on wrong GIL use)
#   --free-threaded
#               the --disable-gil flavour (PEP 703; python3.13t), built only
#               when asked: for `subinterp bench`'s threads-free-threaded
#               mode. subinterp itself refuses to build against it (see
#               include/subinterp.h); the environment printed is for that
#               check and for finding python3.13t
#   --offline   never download or build: fail if nothing is found
#   --go-env-w  also write the environment into Go's per-user settings
#               (`go env -w PKG_CONFIG=... CGO_LDFLAGS=... CGO_CFLAGS=...`),
#               so that go build, go vet and gopls work without the eval;
#               `go env -u PKG_CONFIG CGO_LDFLAGS CGO_CFLAGS CGO_ENABLED`
#               undoes it
#
# Order of preference:
#   1. SUBINTERP_PYTHON_PREFIX: an installed CPython >= 3.12 with a shared
#      libpython: a `make install` prefix (lib/pkgconfig/python3-embed.pc),
#      or a distro's, such as /usr with Debian's python3.X-dev, whose
#      pkgconfig files are under lib/<multiarch>/pkgconfig. With several
#      CPythons in one prefix, SUBINTERP_PYTHON_VERSION=3.X picks one (else
#      the prefix's default python3-embed).
#   2. A finished build in the per-user cache (~/.cache/subinterp, or
#      $SUBINTERP_CACHE): the newest one of the requested flavour.
#   3. Otherwise: install missing build dependencies with apt-get, download
#      the newest CPython 3.13 source package the machine's own Debian mirror
#      serves (apt-get source --download-only, through a private sources list
#      derived from /etc/apt), check it against the signed index, and build it
#      with --enable-shared (and --with-pydebug for --debug, --disable-gil
#      for --free-threaded) into the cache,
#      with pip (ensurepip, from the wheel in the source tree: no network).
#
# Progress goes to stderr; stdout carries only `export NAME=value` lines, so
# callers can `eval "$(scripts/python.sh)"`. Safe to run repeatedly and
# concurrently (a lock serialises builds). From another module, find this
# script with `go list -m -f '{{.Dir}}' github.com/subinterp/subinterp`.
set -euo pipefail

flavour=release
offline=0
go_env_w=0
for arg in "$@"; do
  case "$arg" in
    --debug) [ "$flavour" = freethreaded ] && { echo "python.sh: --debug and --free-threaded are separate flavours; choose one" >&2; exit 2; }; flavour=debug ;;
    --free-threaded) [ "$flavour" = debug ] && { echo "python.sh: --debug and --free-threaded are separate flavours; choose one" >&2; exit 2; }; flavour=freethreaded ;;
    --offline) offline=1 ;;
    --go-env-w) go_env_w=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "python.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'python.sh: %s\n' "$*" >&2; }
die() { printf 'python.sh: error: %s\n' "$*" >&2; exit 1; }

cache="${SUBINTERP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/subinterp}"
mkdir -p "$cache"
# debug_suffix: the ABI flags in the names `make install` gives this
# flavour's python3.13X, libpython3.13X.so and python-3.13X-embed.pc.
debug_suffix=""
[ "$flavour" = debug ] && debug_suffix=d
[ "$flavour" = freethreaded ] && debug_suffix=t

# multiarch: the Debian multiarch triplet (x86_64-linux-gnu), or nothing.
multiarch() {
  { dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null; } | head -n1
}

# find_pc PREFIX: the directory holding PREFIX's python3-embed.pc (or its
# python-3.X-embed.pc for a requested version): lib/pkgconfig for a
# `make install` prefix, lib/<multiarch>/pkgconfig for a distro's.
find_pc() {
  local prefix=$1 want=${SUBINTERP_PYTHON_VERSION:-} d ma
  ma=$(multiarch)
  for d in "$prefix/lib/pkgconfig" ${ma:+"$prefix/lib/$ma/pkgconfig"} "$prefix/lib64/pkgconfig"; do
    if [ -n "$want" ]; then
      [ -f "$d/python-$want$debug_suffix-embed.pc" ] && { echo "$d"; return; }
    else
      [ -f "$d/python3-embed.pc" ] && { echo "$d"; return; }
    fi
  done
  return 0
}

# pc_dir_for PREFIX PCDIR VERSION: a directory whose python3-embed.pc is
# PREFIX's CPython VERSION of this flavour, for `#cgo pkg-config:
# python3-embed`. A `make install` prefix's own directory already is; for a
# distro prefix, where python3-embed.pc is the default CPython's and release
# only, a directory of links in the cache stands in.
pc_dir_for() {
  local prefix=$1 pc=$2 ver=$3 target link
  target="$pc/python-$ver$debug_suffix-embed.pc"
  if [ "$(readlink -f "$pc/python3-embed.pc")" = "$(readlink -f "$target")" ]; then
    echo "$pc"; return
  fi
  [ -f "$target" ] || die "$prefix has no $target (for the debug flavour, Debian's package is python$ver-dbg)"
  link="$cache/pkgconfig/$(printf '%s' "$prefix" | tr '/' '_')-$ver$debug_suffix"
  mkdir -p "$link"
  ln -sfn "$target" "$link/python3-embed.pc"
  echo "$link"
}

# emit_env PREFIX: print the environment for building against PREFIX.
emit_env() {
  local prefix=$1 pc ver libdir py
  pc=$(find_pc "$prefix")
  if [ -z "$pc" ]; then
    if [ -n "${SUBINTERP_PYTHON_VERSION:-}" ]; then
      die "$prefix has no python-${SUBINTERP_PYTHON_VERSION}$debug_suffix-embed.pc under lib/pkgconfig or lib/$(multiarch)/pkgconfig (is CPython ${SUBINTERP_PYTHON_VERSION} installed there, with its -dev package?)"
    fi
    die "$prefix has no python3-embed.pc under lib/pkgconfig or lib/$(multiarch)/pkgconfig (a CPython >= 3.12 installed with 'make install', or a distro's python3.X-dev package for /usr)"
  fi
  command -v pkg-config >/dev/null 2>&1 || die "pkg-config is not installed (apt-get install pkg-config)"
  local name=python3-embed
  [ -n "${SUBINTERP_PYTHON_VERSION:-}" ] && name="python-${SUBINTERP_PYTHON_VERSION}$debug_suffix-embed"
  ver=$(PKG_CONFIG_PATH="$pc" pkg-config --modversion "$name" 2>/dev/null) || die "pkg-config cannot read $pc/$name.pc"
  case "$ver" in
    3.1[2-9]|3.[2-9][0-9]) ;;
    *) die "$prefix has CPython $ver ($pc/$name.pc); subinterp needs CPython >= 3.12 (per-interpreter GIL, PEP 684). Fix: unset SUBINTERP_PYTHON_PREFIX to let this script build CPython 3.13 into $cache, or point it at a CPython >= 3.12 built with --enable-shared (Debian: python3.12-dev or newer, with SUBINTERP_PYTHON_PREFIX=/usr)" ;;
  esac
  libdir=$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir "$name")
  ls "$libdir"/libpython"$ver"*.so >/dev/null 2>&1 || die "$prefix has no shared libpython$ver in $libdir (rebuild CPython with --enable-shared)"
  pc=$(pc_dir_for "$prefix" "$pc" "$ver")
  py="$prefix/bin/python$ver$debug_suffix"
  [ -x "$py" ] || py="$prefix/bin/python$ver"
  local debug=0
  "$py" -c 'import sys; raise SystemExit(0 if hasattr(sys, "gettotalrefcount") else 1)' 2>/dev/null && debug=1
  if [ "$flavour" = debug ] && [ "$debug" = 0 ] && [ -x "$py" ]; then
    die "$prefix's CPython $ver is a release build, not the --debug flavour asked for"
  fi
  local ft=0
  "$py" -c 'import sysconfig; raise SystemExit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 1)' 2>/dev/null && ft=1
  if [ "$flavour" = freethreaded ] && [ "$ft" = 0 ] && [ -x "$py" ]; then
    die "$prefix's CPython $ver is not a free-threaded (--disable-gil) build, as --free-threaded asks for"
  fi
  say "using CPython $ver at $prefix$([ "$debug" = 1 ] && echo ' (debug build)')$([ "$ft" = 1 ] && echo ' (free-threaded build: subinterp refuses to link it; for python'"$ver"'t and make test-free-threaded)')"
  # The rpath makes binaries find libpython without LD_LIBRARY_PATH. The
  # define names the build: Go's build cache does not see what pkg-config
  # answers (golang/go#24544), so without a flag that differs per CPython a
  # package built against one would be reused, as is, for another (two
  # CPythons in /usr share one libdir). What an earlier eval of this script
  # added is replaced, not appended to.
  local tag ldflags cflags
  tag=$(printf '%s' "$(readlink -f "$pc/python3-embed.pc")" | cksum | cut -d' ' -f1)
  ldflags="-Wl,-rpath,$libdir"
  cflags="-DSUBINTERP_PYTHON_BUILD=${ver/./_}_${debug}_$tag"
  local base_ld=${CGO_LDFLAGS:-} base_c=${CGO_CFLAGS:-}
  [ -n "${SUBINTERP_CGO_LDFLAGS:-}" ] && base_ld=${base_ld/"$SUBINTERP_CGO_LDFLAGS"/}
  [ -n "${SUBINTERP_CGO_CFLAGS:-}" ] && base_c=${base_c/"$SUBINTERP_CGO_CFLAGS"/}
  base_ld=$(echo $base_ld) base_c=$(echo $base_c)
  [ -n "$base_c" ] || base_c="-O2 -g" # Go's default, which CGO_CFLAGS replaces
  printf 'export SUBINTERP_PYTHON_PREFIX=%q\n' "$prefix"
  printf 'export SUBINTERP_PYTHON_VERSION=%q\n' "$ver"
  printf 'export SUBINTERP_PYTHON_DEBUG=%q\n' "$debug"
  printf 'export PKG_CONFIG_PATH=%q\n' "$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  printf 'export CGO_LDFLAGS=%q\n' "$ldflags${base_ld:+ $base_ld}"
  printf 'export CGO_CFLAGS=%q\n' "$base_c $cflags"
  printf 'export SUBINTERP_CGO_LDFLAGS=%q\n' "$ldflags"
  printf 'export SUBINTERP_CGO_CFLAGS=%q\n' "$cflags"
  printf 'export CGO_ENABLED=1\n'
  # Which prefix this script chose itself (not told): a later run, say with
  # --debug, chooses again rather than taking it for the user's choice.
  printf 'export SUBINTERP_PYTHON_CHOSEN=%q\n' "$([ "$told" = 1 ] || echo "$prefix")"
  if [ "$go_env_w" = 1 ]; then
    # go env -w cannot hold PKG_CONFIG_PATH, but PKG_CONFIG (the program Go
    # runs) is a Go setting: a wrapper in the cache supplies the path.
    local wrapper="$cache/pkg-config-$(printf '%s' "$pc" | cksum | cut -d' ' -f1)"
    printf '#!/bin/sh\n# written by subinterp scripts/python.sh --go-env-w\nPKG_CONFIG_PATH=%q${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} exec pkg-config "$@"\n' "$pc" >"$wrapper.tmp"
    chmod 755 "$wrapper.tmp" && mv -f "$wrapper.tmp" "$wrapper"
    command -v go >/dev/null 2>&1 || die "--go-env-w: no go on PATH"
    go env -w "PKG_CONFIG=$wrapper" "CGO_LDFLAGS=$ldflags" "CGO_CFLAGS=-O2 -g $cflags" CGO_ENABLED=1 >&2 \
      || die "go env -w failed"
    say "wrote PKG_CONFIG, CGO_LDFLAGS, CGO_CFLAGS and CGO_ENABLED into $(go env GOENV) (undo: go env -u PKG_CONFIG CGO_LDFLAGS CGO_CFLAGS CGO_ENABLED)"
  fi
}

# ensure_pip PREFIX: give a build of ours pip (ensurepip installs the wheel
# bundled in the source tree: no network), once; builds made before this
# script did so get it on their next use. Failing is not fatal: subinterp
# itself does not need pip.
ensure_pip() {
  local prefix=$1 py
  py=$(ls "$prefix"/bin/python3.[0-9]* 2>/dev/null | grep -E '/python3\.[0-9]+[dt]?$' | head -n1)
  [ -n "$py" ] || return 0
  ls -d "$prefix"/lib/python3.*/site-packages/pip >/dev/null 2>&1 && return 0
  [ "$offline" = 1 ] && return 0
  exec 8>"$cache/.pip-lock"
  flock 8
  if ! ls -d "$prefix"/lib/python3.*/site-packages/pip >/dev/null 2>&1; then
    say "installing pip into $prefix (ensurepip, offline)"
    "$py" -m ensurepip --default-pip >"$cache/ensurepip.log" 2>&1 \
      || say "ensurepip failed (see $cache/ensurepip.log); pip is not needed to build or run subinterp"
  fi
  exec 8>&-
}

# 1. explicit prefix (unless an earlier eval of this script chose it)
told=1
if [ -n "${SUBINTERP_PYTHON_CHOSEN:-}" ] && [ "${SUBINTERP_PYTHON_PREFIX:-}" = "$SUBINTERP_PYTHON_CHOSEN" ]; then
  unset SUBINTERP_PYTHON_PREFIX SUBINTERP_PYTHON_VERSION
fi
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

told=0
unset SUBINTERP_PYTHON_VERSION # a build in the cache is chosen by flavour
# 2. cached build (no lock needed to read a finished one)
prefix=$(newest_cached)
if [ -n "$prefix" ]; then
  ensure_pip "$prefix"
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
[ "$flavour" = freethreaded ] && extra+=(--disable-gil)
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
ensure_pip "$prefix"
say "built CPython $ver ($flavour)"
emit_env "$prefix"
