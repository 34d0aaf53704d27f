#!/usr/bin/env bash
# The public ecosystem report: which widely used Python distributions with
# compiled extension modules, as Debian sid builds them for CPython 3.14,
# import in own-GIL subinterpreters, decided by which module, and how to fix
# it. `make compat-ecosystem` runs it.
#
# Usage: scripts/compat-ecosystem.sh [--jobs N] [--out DIR] [--timeout D]
#
#   1. Brings up a Debian sid chroot of its own with scripts/sid-chroot.sh
#      (SUBINTERP_CACHE=$cache/eco: never the chroot the test matrices
#      share): gcc, python3.14-dev and every package listed in
#      scripts/compat-ecosystem.packages. The first run debootstraps it
#      (about 8 minutes and 1.5 GB, more with the packages); later runs only
#      refresh it.
#   2. Inside it (scripts/lib/compat-ecosystem-inner.sh): builds subinterp
#      against python3.14, finds the distributions each Debian package
#      installs (its .dist-info/.egg-info in `dpkg -L`), and checks them
#      with `subinterp compat --requirements` (every extension module of
#      every package, one child process per import and mode), N at a time.
#   3. Writes DIR/ecosystem-3.14.{md,html,json} (default docs/compat), with
#      what the numbers were measured on (packages and versions, CPU, cores,
#      load) at the top.
#
# --jobs defaults to the number of CPUs, --timeout (per import) to 60s.
# $SUBINTERP_COMPAT_ECO_CACHE overrides the chroot's cache directory.
# Needs root, as scripts/sid-chroot.sh does.
set -euo pipefail

say() { printf 'compat-ecosystem: %s\n' "$*" >&2; }
die() { printf 'compat-ecosystem: error: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)
out=docs/compat
timeout=60s
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs a duration"; timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not $jobs"
case "$out" in /*) ;; *) out="$here/$out" ;; esac
case "$out" in "$here"/*) ;; *) die "--out must be inside the repository ($here): the chroot sees only that" ;; esac
mkdir -p "$out"

cache="${SUBINTERP_COMPAT_ECO_CACHE:-${SUBINTERP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/subinterp}/eco}"
list="$here/scripts/compat-ecosystem.packages"
packages=$(sed 's/#.*//' "$list" | tr -s ' \t' '\n' | grep -v '^$' | tr '\n' ' ')
count=$(wc -w <<<"$packages")
[ "$count" -ge 60 ] || die "$list names $count packages; the report covers at least 60"

say "chroot in $cache: installing $count packages (see $list)"
start=$(date +%s)
SUBINTERP_CACHE="$cache" "$here/scripts/sid-chroot.sh" up \
  --packages "gcc libc6-dev pkg-config make binutils python3.14-dev $packages"
say "chroot ready after $(( $(date +%s) - start )) s; checking"
SUBINTERP_CACHE="$cache" "$here/scripts/sid-chroot.sh" run --repo "$here" --python 3.14 -- \
  bash scripts/lib/compat-ecosystem-inner.sh "$jobs" "$timeout" "$out" $packages
say "done in $(( $(date +%s) - start )) s: $out/ecosystem-3.14.{md,html,json}"
