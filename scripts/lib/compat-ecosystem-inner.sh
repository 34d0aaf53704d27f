#!/usr/bin/env bash
# The inside half of scripts/compat-ecosystem.sh, run in its sid chroot
# (with the repository as the working directory):
#   compat-ecosystem-inner.sh JOBS TIMEOUT OUTDIR DEBIAN-PACKAGE...
set -euo pipefail

say() { printf 'compat-ecosystem: %s\n' "$*" >&2; }
die() { printf 'compat-ecosystem: error: %s\n' "$*" >&2; exit 1; }

jobs=$1 timeout=$2 out=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "building subinterp against $(pkg-config --modversion python3-embed 2>/dev/null || echo 'python3.14')"
go build -o "$work/subinterp" ./cmd/subinterp

# The distributions each Debian package installs: the Name of every
# .dist-info/.egg-info in its file list. A package without one is checked
# by its top-level modules in dist-packages instead.
reqs="$work/requirements.txt"
: >"$reqs"
modules=()
mapping=()
for pkg in "$@"; do
  version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || die "$pkg is not installed in the chroot"
  names=()
  while IFS= read -r meta; do
    [ -n "$meta" ] || continue
    file=$meta
    [ -d "$meta" ] && { [ -f "$meta/METADATA" ] && file=$meta/METADATA || file=$meta/PKG-INFO; }
    name=$(sed -n 's/^Name:[[:space:]]*//p' "$file" 2>/dev/null | head -n1 | tr -d '\r')
    [ -n "$name" ] && names+=("$name")
  done < <(dpkg -L "$pkg" | grep -E '^/usr/lib/python3/dist-packages/[^/]+\.(dist|egg)-info$' || true)
  if [ ${#names[@]} -eq 0 ]; then
    while IFS= read -r top; do
      modules+=("$top")
      names+=("module $top")
    done < <(dpkg -L "$pkg" | sed -n 's|^/usr/lib/python3/dist-packages/\([A-Za-z_][A-Za-z0-9_]*\)\(/.*\)\{0,1\}$|\1|p' | sort -u)
  else
    printf '%s\n' "${names[@]}" >>"$reqs"
  fi
  mapping+=("$pkg $version ($(IFS=,; echo "${names[*]}" | sed 's/,/, /g'))")
done

python=$(dpkg-query -W -f='${Version}' python3.14 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
load=$(cut -d' ' -f1-3 /proc/loadavg)
about="$work/about.md"
{
  printf 'Measured with `make compat-ecosystem` (scripts/compat-ecosystem.sh) in a Debian sid chroot: '
  printf 'CPython from Debian'"'"'s python3.14 %s, on %s, %s cores, Linux %s; ' "$python" "$cpu" "$(nproc)" "$(uname -r)"
  printf 'the machine was shared with other work (load average %s when the check started). ' "$load"
  printf 'Every extension module file of every package is imported on its own, in up to 4 modes, each in a fresh process; '
  printf 'the wall time above is for the whole check with --jobs %s.\n\n' "$jobs"
  printf 'The %d Debian packages checked (scripts/compat-ecosystem.packages), with their versions and the distributions they install: ' "$#"
  (IFS=';'; printf '%s' "${mapping[*]}" | sed 's/;/; /g')
  printf '.\n'
} >"$about"

say "checking $(wc -l <"$reqs") distributions and ${#modules[@]} modules of packages without metadata, $jobs jobs"
"$work/subinterp" compat --requirements "$reqs" "${modules[@]}" --jobs "$jobs" --timeout "$timeout" --quiet \
  --about "$about" --json "$out/ecosystem-3.14.json" --markdown "$out/ecosystem-3.14.md" --html "$out/ecosystem-3.14.html" \
  >"$work/table.txt"
tail -n 1 "$work/table.txt" >&2
