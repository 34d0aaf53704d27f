#!/usr/bin/env bash
# Print the directory of CPython's own test_interpreters suite for one
# CPython version, fetching it first when it is not cached.
#
# Usage: scripts/cpython-testsuite.sh 3.13|3.14
#
#   3.13: Lib/test/test_interpreters of the CPython source tree that
#         scripts/python.sh builds from (under the cache's src/).
#   3.14: the same directory from Debian's libpython3.14-testsuite binary
#         package (plain .py files), downloaded with `apt-get download`
#         through a private sources list derived from the machine's own apt
#         configuration (as scripts/python.sh does for sources), checked by
#         apt against the signed index, and unpacked with dpkg-deb -x under
#         ${SUBINTERP_CACHE:-~/.cache/subinterp}/testsuite-3.14.
#
# Progress goes to stderr; stdout carries only the directory.
set -euo pipefail

say() { printf 'cpython-testsuite: %s\n' "$*" >&2; }
die() { printf 'cpython-testsuite: error: %s\n' "$*" >&2; exit 1; }

cache="${SUBINTERP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/subinterp}"
ver=${1:-}
case "$ver" in
  3.13)
    d=$(ls -d "$cache"/src/Python-3.13.*/Lib/test/test_interpreters 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] && [ -f "$d/test_api.py" ] || die "no CPython 3.13 source tree in $cache/src: run scripts/python.sh first"
    echo "$d"
    exit 0 ;;
  3.14) ;;
  *) die "usage: $0 3.13|3.14" ;;
esac

out="$cache/testsuite-$ver"
d="$out/root/usr/lib/python$ver/test/test_interpreters"
if [ -f "$d/test_api.py" ]; then
  echo "$d"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get is needed to download libpython$ver-testsuite"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is needed to unpack libpython$ver-testsuite"
# shellcheck source=lib/apt-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-mirror.sh"
uri=$(mirror_uri | head -n1)
[ -n "$uri" ] || die "cannot find a Debian mirror in /etc/apt/sources.list{,.d}"

aptdir="$out/apt"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/deb"
aptopts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/none"
         -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" -o "APT::Sandbox::User=root"
         -o "Acquire::Retries=2" -o "APT::Architecture=$(dpkg --print-architecture)")
# The package is architecture-independent Python; the newest suite that
# has it wins.
for suite in sid forky; do
  echo "deb $uri $suite main" >"$aptdir/sources.list"
  say "looking for libpython$ver-testsuite in $suite"
  if ! apt-get "${aptopts[@]}" update -qq >"$aptdir/update.log" 2>&1; then
    say "apt-get update for $suite failed: $(tail -n 2 "$aptdir/update.log" | tr '\n' ' ')"
    continue
  fi
  rm -f "$aptdir/deb"/*.deb
  if (cd "$aptdir/deb" && apt-get "${aptopts[@]}" download "libpython$ver-testsuite" >"$aptdir/download.log" 2>&1); then
    break
  fi
  say "no libpython$ver-testsuite in $suite: $(grep -E '^(E|W):' "$aptdir/download.log" | head -n 1 | cut -c1-160)"
done
deb=$(ls "$aptdir/deb"/libpython"$ver"-testsuite_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || die "could not download libpython$ver-testsuite (see $aptdir/download.log)"
rm -rf "$out/root" && mkdir -p "$out/root"
dpkg-deb -x "$deb" "$out/root" || die "cannot unpack $deb"
[ -f "$d/test_api.py" ] || die "$deb has no test_interpreters/test_api.py"
say "unpacked $(basename "$deb")"
echo "$d"
