#!/usr/bin/env bash
# A Debian sid chroot for building and testing subinterp against CPython 3.14
# and 3.15: Debian ships those as binary packages (python3.14-dev,
# python3.15-dev and their -dbg builds) that need a newer glibc than the host
# has, so they run inside a sid chroot rather than on the host.
#
# Usage:
#   scripts/sid-chroot.sh up [--packages "PKG..."]
#       Create the chroot (debootstrap --variant=minbase sid) if it does not
#       exist yet, then refresh it: apt-get update, install/upgrade the
#       packages (default: gcc, libc6-dev, pkg-config, make and the 3.14/3.15
#       -dev and -dbg packages). Safe to run again; quick when up to date.
#   scripts/sid-chroot.sh run [--repo DIR] [--python 3.14|3.15] [--debug]
#                             [--bind DIR]... [--env NAME=VALUE]... [--] CMD [ARG...]
#       Run CMD inside the chroot, in DIR (default: this repository), with
#       DIR bind-mounted read-write at the same path, and the host's Go
#       (/usr/local/go), Go module cache and each --bind DIR bind-mounted
#       read-only at their own paths. With
#       --python, the environment is set for cgo against Debian's CPython
#       3.X in /usr by scripts/python.sh itself, run inside
#       (SUBINTERP_PYTHON_PREFIX=/usr SUBINTERP_PYTHON_VERSION=3.X); --debug
#       picks the --with-pydebug build (python3.X-dbg). CMD's exit status is
#       returned.
#   scripts/sid-chroot.sh down
#       Unmount anything a killed run left mounted inside the chroot.
#   scripts/sid-chroot.sh path
#       Print the chroot's directory.
#
# The chroot lives in ${SUBINTERP_CACHE:-$HOME/.cache/subinterp}/sid-chroot,
# never inside the repository. The Debian mirror is the one this machine's
# apt configuration names (the same rule as scripts/python.sh); set
# SUBINTERP_SID_MIRROR to use another. Needs root (debootstrap, chroot, mount).
#
# Mounts: each run mounts inside a private mount namespace (unshare), so its
# mounts are invisible to the host and vanish when it ends, even if it is
# killed. Where unshare is not allowed, mounts go into the host namespace and
# an exit trap removes them; `down` cleans up after a run that was killed.
# A lock keeps up and down apart from everything else; runs go side by side
# when each has a private mount namespace, else one at a time.
#
# Progress goes to stderr; stdout is CMD's.
set -euo pipefail

say() { printf 'sid-chroot: %s\n' "$*" >&2; }
die() { printf 'sid-chroot: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; }

cache="${SUBINTERP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/subinterp}"
base="$cache/sid-chroot"
root="$base/root"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

default_packages="gcc libc6-dev pkg-config make python3-pybindgen python3.14-dev python3.14-dbg python3.14-venv python3.15-dev python3.15-dbg python3.15-venv"

# The mirror URI comes from this machine's apt configuration.
# shellcheck source=lib/apt-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-mirror.sh"

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mount do); run it with sudo"
}

# lock takes the chroot's lock for the rest of the script (fd 9):
# exclusive by default; `lock shared` lets runs that each mount inside a
# private namespace go side by side, while up and down wait for them all.
lock() {
  local mode=-x
  [ "${1:-}" = shared ] && mode=-s
  mkdir -p "$base"
  exec 9>"$base/.lock"
  if ! flock -n "$mode" 9; then
    say "another sid-chroot.sh is using $base; waiting for it"
    flock "$mode" 9
  fi
}

# can_unshare: whether this process may make a private mount namespace
# (SUBINTERP_SID_NO_UNSHARE=1 pretends it may not, to test the fallback).
can_unshare() {
  [ "${SUBINTERP_SID_NO_UNSHARE:-0}" != 1 ] && unshare --mount --propagation private true 2>/dev/null
}

# mounts_under and unmount_all (of $root).
# shellcheck source=lib/mounts.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/mounts.sh"

# bind SRC DST [ro]: bind-mount SRC at DST inside the chroot.
bind() {
  local src=$1 dst="$root$2" mode=${3:-rw}
  [ -e "$src" ] || die "cannot bind-mount $src: it does not exist"
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; touch "$dst"; fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then
    mount -o remount,bind,ro "$dst" 2>/dev/null || say "cannot make $2 read-only; it stays read-write"
  fi
}

# mount_system mounts what programs in the chroot expect: /proc, /sys, /dev.
# The recursive binds are made slaves first thing, so that unmounting them
# later can never propagate back to the host's /dev or /sys.
mount_system() {
  local d
  mkdir -p "$root/proc" "$root/sys" "$root/dev"
  mount -t proc proc "$root/proc"
  for d in sys dev; do
    mount --rbind "/$d" "$root/$d"
    mount --make-rslave "$root/$d" || { umount -l "$root/$d"; die "cannot make $root/$d a slave mount"; }
  done
}

# in_namespace CMD...: run CMD (a subcommand of this script) in a private
# mount namespace if possible, else here with a trap that unmounts.
in_namespace() {
  if can_unshare; then
    unshare --mount --propagation private -- "$0" "$@"
  else
    say "unshare is not allowed here: mounting in the host namespace (unmounted on exit)"
    trap unmount_all EXIT
    trap 'exit 130' INT TERM HUP
    "$0" "$@"
  fi
}

# base_env is the environment every command in the chroot starts from
# (nothing of the caller's leaks in but what run is told to pass).
base_env=(HOME=/root LANG=C.UTF-8 TMPDIR=/tmp "TERM=${TERM:-dumb}"
          PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

# ---- up ---------------------------------------------------------------------

cmd_up() {
  local packages=$default_packages
  while [ $# -gt 0 ]; do
    case "$1" in
      --packages) [ $# -ge 2 ] || die "--packages needs a value"; packages=$2; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "up: unknown argument: $1" ;;
    esac
  done
  need_root
  lock
  unmount_all
  local uri=${SUBINTERP_SID_MIRROR:-}
  [ -n "$uri" ] || uri=$(mirror_uri | head -n1)
  [ -n "$uri" ] || die "cannot find a Debian mirror in /etc/apt/sources.list{,.d} (set SUBINTERP_SID_MIRROR)"
  say "Debian mirror from apt configuration: $uri"
  if [ ! -f "$base/.bootstrapped" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
      say "installing debootstrap"
      apt-get update -qq >&2 || die "apt-get update failed"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2 \
        || die "cannot install debootstrap"
    fi
    rm -rf "$root"
    mkdir -p "$root"
    local log="$base/debootstrap.log"
    say "bootstrapping Debian sid into $root (about 2 minutes); log: $log"
    # In a namespace of its own, so the /proc and /sys debootstrap mounts
    # cannot outlive it.
    local ns=()
    can_unshare && ns=(unshare --mount --propagation private --)
    if ! "${ns[@]}" debootstrap --variant=minbase sid "$root" "$uri" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      unmount_all
      die "debootstrap failed; see $log"
    fi
    unmount_all
    touch "$base/.bootstrapped"
  fi
  # apt inside: the mirror may serve a snapshot whose Release files have
  # passed their Valid-Until date; no recommends keeps the chroot small.
  cat >"$root/etc/apt/apt.conf.d/99subinterp" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "2";
Dpkg::Use-Pty "false";
EOF
  echo "deb $uri sid main" >"$root/etc/apt/sources.list"
  rm -f "$root/etc/apt/sources.list.d/debian.sources"
  # No daemons start in the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  chmod 1777 "$root/tmp"
  local log="$base/apt.log"
  say "installing/refreshing in the chroot: $packages (log: $log)"
  # shellcheck disable=SC2086
  if ! in_namespace __inner-apt $packages >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get in the chroot failed; see $log"
  fi
  record_multiarch
  {
    echo "mirror suite: sid"
    date -u +'refreshed: %Y-%m-%dT%H:%M:%SZ'
    chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' $packages 2>/dev/null || true
  } >"$base/.complete"
  say "ready: $(grep -E '^python3\.[0-9]+-(dev|dbg) ' "$base/.complete" | tr '\n' ' ')"
}

# __inner-apt runs in the namespace: apt-get update and install.
inner_apt() {
  mount_system
  chroot "$root" /usr/bin/env -i "${base_env[@]}" DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get install -y -q "$@" && apt-get clean' _ "$@"
}

# record_multiarch notes the chroot's multiarch triplet for run.
record_multiarch() {
  local multiarch
  multiarch=$(chroot "$root" gcc -print-multiarch 2>/dev/null || true)
  echo "${multiarch:-x86_64-linux-gnu}" >"$base/.multiarch"
  rm -rf "$root/opt/subinterp" # prefixes of links an earlier version made
}

# ---- run --------------------------------------------------------------------

cmd_run() {
  local repo=$here python="" debug=0 extra=() binds=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --repo) [ $# -ge 2 ] || die "--repo needs a directory"; repo=$2; shift 2 ;;
      --python) [ $# -ge 2 ] || die "--python needs a version (3.14, 3.15)"; python=$2; shift 2 ;;
      --debug) debug=1; shift ;;
      --bind) [ $# -ge 2 ] || die "--bind needs a directory"
              [ -d "$2" ] || die "--bind $2 is not a directory"
              binds+=("$(cd "$2" && pwd -P)"); shift 2 ;;
      --env) [ $# -ge 2 ] || die "--env needs NAME=VALUE"
             [[ $2 == [A-Za-z_]*=* ]] || die "--env needs NAME=VALUE, not $2"
             extra+=("$2"); shift 2 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; break ;;
      -*) die "run: unknown option: $1" ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || die "run: no command given"
  need_root
  [ -f "$base/.complete" ] || die "no chroot in $base yet: run 'scripts/sid-chroot.sh up' first"
  [ -d "$repo" ] || die "--repo $repo is not a directory"
  repo=$(cd "$repo" && pwd -P)
  [ "$debug" = 0 ] || [ -n "$python" ] || die "--debug needs --python"
  local multiarch env=()
  multiarch=$(cat "$base/.multiarch" 2>/dev/null || echo x86_64-linux-gnu)
  if [ -n "$python" ]; then
    [[ $python =~ ^3\.[0-9]+$ ]] || die "--python wants a version like 3.14, not $python"
    local flavour=release
    [ "$debug" = 1 ] && flavour=debug
    local suffix="" pkg="python$python-dev"
    [ "$debug" = 1 ] && suffix=d pkg="python$python-dbg"
    if [ ! -f "$root/usr/lib/$multiarch/pkgconfig/python-$python$suffix-embed.pc" ]; then
      die "CPython $python ($flavour) is not installed in the chroot: run 'scripts/sid-chroot.sh up --packages \"... $pkg\"'"
    fi
    # The environment comes from scripts/python.sh itself, run inside on
    # Debian's /usr (a copy of this checkout's, so any --repo gets it).
    # Content-addressed, so runs side by side never see a half-copied one.
    local sum scripts
    sum=$(cat "$here/scripts/python.sh" "$here/scripts/lib/"*.sh | sha256sum | cut -c1-16)
    scripts="/opt/subinterp-scripts/$sum"
    if [ ! -f "$root$scripts/python.sh" ]; then
      mkdir -p "$root/opt/subinterp-scripts/tmp.$$/lib"
      cp "$here/scripts/python.sh" "$root/opt/subinterp-scripts/tmp.$$/"
      cp "$here/scripts/lib/"*.sh "$root/opt/subinterp-scripts/tmp.$$/lib/"
      mv -T "$root/opt/subinterp-scripts/tmp.$$" "$root$scripts" 2>/dev/null || rm -rf "$root/opt/subinterp-scripts/tmp.$$"
    fi
    env+=("SUBINTERP_PYTHON_PREFIX=/usr" "SUBINTERP_PYTHON_VERSION=$python"
          "SUBINTERP_SID_PYTHON_SH=$scripts/python.sh"
          "SUBINTERP_SID_PYTHON_FLAGS=--offline${suffix:+ --debug}")
  else
    env+=("PKG_CONFIG_PATH=/usr/lib/$multiarch/pkgconfig")
  fi
  local goroot=/usr/local/go modcache=""
  [ -x "$goroot/bin/go" ] || die "no Go at $goroot to bind-mount"
  modcache=$("$goroot/bin/go" env GOMODCACHE 2>/dev/null || true)
  env+=(CGO_ENABLED=1 GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-buildvcs=false
        GOPATH=/root/go GOCACHE=/root/.cache/go-build)
  [ -n "$modcache" ] && [ -d "$modcache" ] && env+=("GOMODCACHE=$modcache")
  if can_unshare; then
    lock shared
  else
    lock
    unmount_all
  fi
  local joined
  joined=$(IFS=:; echo "${binds[*]:-}")
  in_namespace __inner-run "$repo" "$goroot" "$modcache" "$joined" "${env[@]}" "${extra[@]}" -- "$@"
}

# __inner-run REPO GOROOT MODCACHE BINDS NAME=VALUE... -- CMD...: in the
# namespace, mount and run.
inner_run() {
  local repo=$1 goroot=$2 modcache=$3 binds=$4 b
  shift 4
  local env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  trap unmount_all EXIT
  mount_system
  bind "$goroot" "$goroot" ro
  if [ -n "$modcache" ] && [ -d "$modcache" ]; then bind "$modcache" "$modcache" ro; fi
  bind "$repo" "$repo"
  if [ -n "$binds" ]; then
    while IFS= read -r -d: b; do bind "$b" "$b" ro; done <<<"$binds:"
  fi
  mkdir -p "$root/root/.cache/go-build" "$root/root/go"
  set +e
  # shellcheck disable=SC2016
  chroot "$root" /usr/bin/env -i "${base_env[@]}" "${env[@]}" bash -c '
    if [ -n "${SUBINTERP_SID_PYTHON_FLAGS:-}" ]; then
      env=$(bash "$SUBINTERP_SID_PYTHON_SH" $SUBINTERP_SID_PYTHON_FLAGS) || exit 2
      eval "$env"
      unset SUBINTERP_SID_PYTHON_FLAGS SUBINTERP_SID_PYTHON_SH
    fi
    cd "$0" && exec "$@"' "$repo" "$@"
  local rc=$?
  set -e
  unmount_all
  trap - EXIT
  return "$rc"
}

# ---- down -------------------------------------------------------------------

cmd_down() {
  need_root
  lock
  local left
  left=$(mounts_under "$root" | wc -l)
  if [ "$left" = 0 ]; then
    say "nothing is mounted in $root"
    return 0
  fi
  say "unmounting $left mount(s) under $root"
  unmount_all
  left=$(mounts_under "$root" | wc -l)
  [ "$left" = 0 ] || die "$left mount(s) under $root are still there: $(mounts_under "$root" | tr '\n' ' ')"
}

# ---- main -------------------------------------------------------------------

[ $# -gt 0 ] || { usage >&2; exit 2; }
sub=$1
shift
case "$sub" in
  up) cmd_up "$@" ;;
  run) cmd_run "$@" ;;
  down) cmd_down ;;
  path) echo "$root" ;;
  # Internal: the parts that run inside the private mount namespace (the
  # caller holds the lock).
  __inner-apt) inner_apt "$@" ;;
  __inner-run) inner_run "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
