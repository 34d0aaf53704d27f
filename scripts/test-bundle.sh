#!/usr/bin/env bash
# Test `subinterp bundle` for real: build a probe program (bundle/internal/probe)
# against the cached CPython, bundle it as a directory and as a single file,
# and run both inside a fresh minimal Debian 12 chroot that has no Python and
# no build cache, as an unprivileged user (65534), from another directory,
# with an empty environment (no HOME, no XDG_CACHE_HOME).
#
# Usage: scripts/test-bundle.sh [--debug] [--measure N]
#
#   --debug       bundle a program built against the --with-pydebug CPython
#                 (scripts/python.sh --debug) instead of the release one.
#   --measure N   also time N starts of each mode inside the chroot (directory,
#                 single file cold = unpacking into an empty cache, single file
#                 warm) for the gzip and the uncompressed single file, and
#                 print sizes and median times (docs/bundle.md's figures).
#
# The chroot is made once with `debootstrap --variant=minbase bookworm` from
# the machine's own Debian mirror (scripts/lib/apt-mirror.sh; set
# SUBINTERP_BUNDLE_MIRROR to use another) and kept in
# ${SUBINTERP_CACHE:-$HOME/.cache/subinterp}/bookworm-chroot, never in the
# repository; the bundles go into a scratch directory inside it. Mounts
# (/proc, /dev) are made in a private mount namespace (unshare) where
# allowed, else removed by an exit trap. A lock lets one test use the chroot
# at a time. Needs root (debootstrap, chroot, mount, setpriv).
#
# Checks: the chroot has no python3 and no libpython; the program starts
# CPython with no options and its sys.prefix is the bundle; an own-GIL
# interpreter runs; _json, math, sqlite3, ssl, hashlib, zlib, lzma, bz2,
# ctypes and decimal work, with libpython and their shared libraries loaded
# from the bundle (also those the chroot has: libffi, libz, ...); a
# module from the bundled site-packages imports; arguments and the exit
# status pass through the launcher; four concurrent first starts share one
# cache entry and leave no temporary directory; a damaged cache entry is
# detected and unpacked again; a corrupted single file is refused.
set -euo pipefail

say() { printf 'test-bundle: %s\n' "$*" >&2; }
die() { printf 'test-bundle: error: %s\n' "$*" >&2; exit 1; }
fail() { printf 'test-bundle: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${SUBINTERP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/subinterp}"
base="$cache/bookworm-chroot"
root="$base/root"
scratch=/opt/subinterp-bundle-test # inside the chroot
nobody=65534
failures=0
work="" # the host's scratch directory (probe, CLI, launcher)

# ---- inside the private mount namespace --------------------------------------

# mounts_under and unmount_all (of $root).
# shellcheck source=lib/mounts.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/mounts.sh"

mount_system() {
  mkdir -p "$root/proc" "$root/dev"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --make-rslave "$root/dev" || { umount -l "$root/dev"; die "cannot make $root/dev a slave mount"; }
}

# as_user CMD...: run CMD in the chroot as user 65534, in /tmp, with an
# environment that holds nothing but PATH (plus NAME=VALUE words given
# before CMD through AS_USER_ENV).
as_user() {
  # shellcheck disable=SC2086
  chroot "$root" /usr/bin/setpriv --reuid=$nobody --regid=$nobody --clear-groups \
    /usr/bin/env -i PATH=/usr/bin:/bin ${AS_USER_ENV:-} /bin/sh -c 'cd /tmp && exec "$@"' sh "$@"
}

# expect OUTPUT KEY VALUE-PATTERN: the line KEY=... of OUTPUT matches the
# extended regular expression.
expect() {
  local out=$1 key=$2 pat=$3 line
  line=$(printf '%s\n' "$out" | grep -m1 "^$key=" || true)
  if [[ ! $line =~ ^$key=$pat ]]; then
    fail "$key: got '${line:-nothing}', want '$key=$pat'"
  fi
}

# check_probe NAME OUTPUT PREFIX-PATTERN: the probe's report is all right.
check_probe() {
  local name=$1 out=$2 prefix=$3 c
  say "checking $name"
  expect "$out" prefix "$prefix\$"
  expect "$out" stdlib "$prefix/lib/python3\.[0-9]+/os\.py\$"
  expect "$out" dynload "$prefix/lib/python3\.[0-9]+/lib-dynload/_sqlite3\..*\.so\$"
  expect "$out" home_set 'false$'
  expect "$out" own_gil "ok \[_json 3628800 $prefix\]\$"
  for c in json math sqlite3 ssl hashlib zlib lzma bz2 ctypes decimal; do
    expect "$out" "check_$c" 'ok '
  done
  expect "$out" check_site_pkg 'ok hello from site-packages$'
  # Loaded from the bundle, also those the chroot has (libffi, libz, ...).
  for c in libpython libssl libcrypto libsqlite3 libffi libz liblzma libbz2; do
    expect "$out" "lib_$c" "$prefix/lib/$c[.0-9a-z]*\.so"
  done
}

# median of the numbers on stdin
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# ms CMD...: run CMD (output discarded) and print its wall time in ms.
ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || fail "timed run failed: $*"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

inner() {
  local measure=$1
  trap unmount_all EXIT
  mount_system
  local dir="$scratch/probe-bundle" single="$scratch/probe.run" out sha entry ucache="/tmp/subinterp-$nobody/bundles"

  # 1. The chroot is bare.
  [ ! -e "$root/usr/bin/python3" ] || fail "the chroot has /usr/bin/python3"
  ! compgen -G "$root/usr/lib/*/libpython3*" >/dev/null || fail "the chroot has a libpython"
  [ ! -e "$root/root/.cache/subinterp" ] || fail "the chroot has a subinterp cache"
  chroot "$root" /bin/sh -c '! command -v python3' >/dev/null || fail "python3 is on the chroot's PATH"

  # 2. Directory mode.
  out=$(as_user "$dir/probe" one 'two words') || fail "directory mode: exit status $?"
  printf '%s\n' "$out" | sed 's/^/    /' >&2
  check_probe "directory mode" "$out" "$dir"
  expect "$out" args '\["one" "two words"\]$'

  # 3. Single file, first start (unpacks into the fallback cache: no HOME).
  rm -rf "$root/tmp/subinterp-$nobody"
  out=$(as_user "$single" one 'two words') || fail "single file, cold: exit status $?"
  sha=$(printf '%s\n' "$out" | sed -n "s|^exe_dir=$ucache/||p")
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || fail "single file: not run from $ucache/<sha256> ($(printf '%s\n' "$out" | grep exe_dir=))"
  entry="$ucache/$sha"
  check_probe "single file, cold" "$out" "$entry"
  expect "$out" args '\["one" "two words"\]$'
  [ "$(stat -c %a "$root/tmp/subinterp-$nobody")" = 700 ] || fail "the fallback cache directory is not private"

  # 4. Warm start, and the exit status passes through the launcher.
  set +e
  out=$(as_user "$single" exit 3)
  local rc=$?
  set -e
  [ "$rc" = 3 ] || fail "single file: exit status $rc, want 3"
  check_probe "single file, warm" "$out" "$entry"

  # 5. Four concurrent first starts share one entry.
  rm -rf "$root/tmp/subinterp-$nobody"
  local i pids=() outs=()
  for i in 1 2 3 4; do
    as_user "$single" >"$root/tmp/concurrent-$i.out" 2>&1 &
    pids+=($!)
  done
  for i in 0 1 2 3; do
    wait "${pids[$i]}" || fail "concurrent first start $((i + 1)) failed: $(tail -n 3 "$root/tmp/concurrent-$((i + 1)).out")"
  done
  for i in 1 2 3 4; do
    outs+=("$(grep '^exe_dir=' "$root/tmp/concurrent-$i.out")")
    rm -f "$root/tmp/concurrent-$i.out"
  done
  [ "$(printf '%s\n' "${outs[@]}" | sort -u)" = "exe_dir=$entry" ] || fail "concurrent starts used different entries: ${outs[*]}"
  [ -z "$(ls -A "$root$ucache" | grep -v "^$sha\$")" ] || fail "concurrent starts left: $(ls -A "$root$ucache")"
  say "checked 4 concurrent first starts"

  # 6. A damaged entry is unpacked again.
  rm -f "$root$entry/lib/python3."*/json/decoder.py
  out=$(as_user "$single" 2>"$root/tmp/damaged.err") || fail "single file after damage: exit status $?"
  grep -q "is damaged" "$root/tmp/damaged.err" || fail "the damaged entry was not reported: $(cat "$root/tmp/damaged.err")"
  check_probe "single file, damaged entry" "$out" "$entry"
  [ -n "$(ls "$root$entry/lib/python3."*/json/decoder.py 2>/dev/null)" ] || fail "the damaged entry was not restored"

  # 7. An explicit cache directory.
  mkdir -p "$root/tmp/explicit-cache" && chown $nobody:$nobody "$root/tmp/explicit-cache"
  out=$(AS_USER_ENV=SUBINTERP_BUNDLE_CACHE=/tmp/explicit-cache as_user "$single") || fail "SUBINTERP_BUNDLE_CACHE: exit status $?"
  expect "$out" exe_dir "/tmp/explicit-cache/$sha\$"
  rm -rf "$root/tmp/explicit-cache" "$root/tmp/damaged.err"

  # 8. A corrupted single file is refused, and unpacks nothing.
  cp "$root$single" "$root$scratch/corrupt.run"
  local size
  size=$(stat -c %s "$root$scratch/corrupt.run")
  printf 'X' | dd of="$root$scratch/corrupt.run" bs=1 seek=$((size - 200000)) conv=notrunc status=none
  rm -rf "$root/tmp/subinterp-$nobody"
  set +e
  out=$(as_user "$scratch/corrupt.run" 2>&1)
  rc=$?
  set -e
  [ "$rc" = 127 ] || fail "corrupted single file: exit status $rc, want 127"
  [[ $out == *"corrupted"* ]] || fail "corrupted single file: no clear error: $out"
  [ -z "$(ls -A "$root$ucache" 2>/dev/null)" ] || fail "the corrupted file left: $(ls -A "$root$ucache")"
  say "checked a corrupted single file: $(printf '%s' "$out" | head -n1)"

  if [ "$measure" -gt 0 ]; then
    local f n times
    for f in probe.run probe-none.run; do
      times=()
      for ((n = 0; n < measure; n++)); do
        rm -rf "$root/tmp/subinterp-$nobody"
        sync
        times+=("$(ms as_user "$scratch/$f")")
      done
      say "measure: $f cold (unpack): median $(printf '%s\n' "${times[@]}" | median) ms of ${times[*]}"
      times=()
      for ((n = 0; n < measure; n++)); do times+=("$(ms as_user "$scratch/$f")"); done
      say "measure: $f warm: median $(printf '%s\n' "${times[@]}" | median) ms of ${times[*]}"
    done
    times=()
    for ((n = 0; n < measure; n++)); do times+=("$(ms as_user "$dir/probe")"); done
    say "measure: directory: median $(printf '%s\n' "${times[@]}" | median) ms of ${times[*]}"
    times=()
    for ((n = 0; n < measure; n++)); do times+=("$(ms as_user /bin/true)"); done
    say "measure: chroot+setpriv overhead (/bin/true): median $(printf '%s\n' "${times[@]}" | median) ms"
  fi

  unmount_all
  trap - EXIT
  [ "$failures" = 0 ] || die "$failures check(s) failed"
  say "PASS"
}

# ---- on the host -------------------------------------------------------------

bootstrap() {
  [ -f "$base/.bootstrapped" ] && return 0
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2 || die "cannot install debootstrap"
  fi
  # shellcheck source=lib/apt-mirror.sh
  . "$here/scripts/lib/apt-mirror.sh"
  local uri=${SUBINTERP_BUNDLE_MIRROR:-}
  [ -n "$uri" ] || uri=$(mirror_uri | head -n1)
  [ -n "$uri" ] || die "cannot find a Debian mirror in /etc/apt/sources.list{,.d} (set SUBINTERP_BUNDLE_MIRROR)"
  rm -rf "$root" && mkdir -p "$root"
  say "bootstrapping a minimal Debian 12 into $root (a few minutes); log: $base/debootstrap.log"
  local ns=()
  can_unshare && ns=(unshare --mount --propagation private --)
  if ! "${ns[@]}" debootstrap --variant=minbase bookworm "$root" "$uri" >"$base/debootstrap.log" 2>&1; then
    tail -n 20 "$base/debootstrap.log" >&2
    unmount_all
    die "debootstrap failed; see $base/debootstrap.log"
  fi
  unmount_all
  touch "$base/.bootstrapped"
}

can_unshare() { unshare --mount --propagation private true 2>/dev/null; }

main() {
  local measure=0 flavour=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --debug) flavour=(--debug); shift ;;
      --measure) [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || die "--measure needs a count"; measure=$2; shift 2 ;;
      -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount, setpriv); run it with sudo"
  mkdir -p "$base"
  exec 9>"$base/.lock"
  if ! flock -n 9; then
    say "another test-bundle.sh is using $base; waiting for it"
    flock 9
  fi
  bootstrap

  # Build the probe, the CLI and the launcher, and bundle.
  eval "$("$here/scripts/python.sh" "${flavour[@]}")"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "building the probe, subinterp and the launcher"
  (cd "$here" && go build -o "$work/probe" ./bundle/internal/probe && go build -o "$work/subinterp" ./cmd/subinterp \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/launcher" ./bundle/launcher)
  rm -rf "${root:?}$scratch" && mkdir -p "$root$scratch"
  (cd "$work" && ./subinterp bundle --out "$root$scratch/probe-bundle" --site-packages "$here/bundle/testdata/site-packages" \
    --single-file "$root$scratch/probe.run" --launcher "$work/launcher" probe)
  if [ "$measure" -gt 0 ]; then
    (cd "$work" && ./subinterp bundle --out "$work/again" --single-file "$root$scratch/probe-none.run" --compress none \
      --site-packages "$here/bundle/testdata/site-packages" --launcher "$work/launcher" probe >/dev/null 2>&1)
    say "measure: directory $(du -sb "$root$scratch/probe-bundle" | cut -f1) bytes; probe.run $(stat -c %s "$root$scratch/probe.run") bytes (gzip); probe-none.run $(stat -c %s "$root$scratch/probe-none.run") bytes"
  fi
  chmod -R a+rX "$root$scratch"

  if can_unshare; then
    unshare --mount --propagation private -- "$0" __inner "$measure"
  else
    say "unshare is not allowed here: mounting in the host namespace (unmounted on exit)"
    trap 'unmount_all; rm -rf "$work"' EXIT
    inner "$measure"
  fi
}

case "${1:-}" in
  __inner) shift; inner "$@" ;;
  *) main "$@" ;;
esac
