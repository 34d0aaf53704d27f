#!/usr/bin/env bash
# The test suite against every supported CPython, release and debug:
#
#   3.13          the cached source build (scripts/python.sh)
#   3.13-debug    the same, --with-pydebug
#   3.12          an installed CPython 3.12 with a shared libpython
#                 (scripts/find-python312.sh: pyenv, /usr/local, /opt)
#   3.14 3.15     Debian sid's python3.X-dev, in a sid chroot
#   3.14-debug    (scripts/sid-chroot.sh; Debian's builds need a newer glibc
#   3.15-debug    than Debian 12 has), and their python3.X-dbg builds
#
# Usage: ci/matrix.sh [LEG...]   (default: all seven, in the order above)
#
# Each leg runs `go test ./...` with TEST_FLAGS (as make test does) and is
# timed. A leg whose CPython cannot be had here (no 3.12 installed; not root,
# so no chroot) is reported SKIPPED with the reason, never as passed. The
# summary table goes to stdout and, with MATRIX_SUMMARY=FILE, to FILE; the
# exit status is 1 if any leg failed.
set -uo pipefail
cd "$(dirname "$0")/.."

flags=${TEST_FLAGS:--count=1 -timeout 20m}
legs=("$@")
[ ${#legs[@]} -gt 0 ] || legs=(3.13 3.13-debug 3.12 3.14 3.14-debug 3.15 3.15-debug)

results=()
start_all=$(date +%s)
chroot_ready="" # "", "yes", or the reason it is not

say() { printf '\n=== matrix: %s\n' "$*"; }

# sid_ready brings the sid chroot up once per run (created the first time,
# refreshed after), or records why it cannot be.
sid_ready() {
  [ -n "$chroot_ready" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    chroot_ready="needs root for the sid chroot (debootstrap, chroot, mount)"
    return 0
  fi
  local t0=$(date +%s)
  if scripts/sid-chroot.sh up; then
    chroot_ready=yes
    say "sid chroot ready in $(( $(date +%s) - t0 ))s"
  else
    chroot_ready="scripts/sid-chroot.sh up failed (no Debian mirror reachable?)"
  fi
}

# run_leg NAME: run one leg; append "NAME STATUS SECONDS NOTE" to results.
run_leg() {
  local leg=$1 version=${1%-debug} debug="" status note="" t0
  [ "$leg" != "$version" ] && debug=--debug
  say "$leg"
  t0=$(date +%s)
  case "$version" in
    3.13)
      # shellcheck disable=SC2086
      (env -u SUBINTERP_PYTHON_PREFIX -u SUBINTERP_PYTHON_VERSION bash -c \
        'eval "$(scripts/python.sh '"$debug"')" && go test '"$flags"' ./...')
      status=$?
      ;;
    3.12)
      local p
      p=$(scripts/find-python312.sh)
      if [ -z "$p" ]; then
        status=skip note="no installed CPython 3.12 with a shared libpython (set SUBINTERP_PY312_PREFIX)"
      elif [ -n "$debug" ]; then
        status=skip note="no debug build of 3.12 is looked for"
      else
        note="$p"
        # shellcheck disable=SC2086
        (SUBINTERP_PYTHON_PREFIX=$p bash -c 'eval "$(scripts/python.sh)" && go test '"$flags"' ./...')
        status=$?
      fi
      ;;
    3.1[4-9])
      sid_ready
      if [ "$chroot_ready" != yes ]; then
        status=skip note=$chroot_ready
      else
        # shellcheck disable=SC2086
        scripts/sid-chroot.sh run --python "$version" $debug -- go test $flags ./...
        status=$?
        note=$(grep -E "^python$version-(dev|dbg) " "$(scripts/sid-chroot.sh path)/../.complete" | grep -E "$([ -n "$debug" ] && echo dbg || echo dev)" | cut -d' ' -f2)
        note="Debian sid ${note:-?}"
      fi
      ;;
    *)
      status=skip note="unknown leg (known: 3.12 3.13 3.14 3.15, each optionally -debug)"
      ;;
  esac
  case "$status" in
    0) status=ok ;;
    skip) ;;
    *) status=FAILED ;;
  esac
  [ "$status" = skip ] && status=SKIPPED
  results+=("$leg|$status|$(( $(date +%s) - t0 ))|$note")
}

for leg in "${legs[@]}"; do
  run_leg "$leg"
done

summary() {
  printf '%-12s %-8s %6s  %s\n' leg result seconds note
  local r
  for r in "${results[@]}"; do
    IFS='|' read -r leg status secs note <<<"$r"
    printf '%-12s %-8s %6s  %s\n' "$leg" "$status" "$secs" "$note"
  done
  printf 'total %ss\n' "$(( $(date +%s) - start_all ))"
}
say "summary"
summary
[ -n "${MATRIX_SUMMARY:-}" ] && summary >"$MATRIX_SUMMARY"
for r in "${results[@]}"; do
  [[ $r == *"|FAILED|"* ]] && exit 1
done
exit 0
