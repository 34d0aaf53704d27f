#!/usr/bin/env bash
# make test-cpython-suite: CPython's own test_interpreters suites against
# subinterp.interpreters, each on its own CPython where it can be had.
#
#   1. 3.13's suite on the cached CPython 3.13 build.
#   2. 3.14's suite on that 3.13 too: the drop-in must work there.
#   3. 3.14's suite on a real CPython 3.14 (Debian sid's, in the chroot of
#      scripts/sid-chroot.sh): the count the project's goal is about,
#      3.13's suite on 3.13 plus 3.14's on 3.14. Needs root; without it
#      the step says SKIPPED and why, never ok.
#
# Each run fails on fewer passing tests than its floor (minPassing in
# internal/cpythonsuite/suite_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n=== cpython-suite: %s\n' "$*"; }
# summary keeps the lines people read: counts, failures, the verdict.
summary() { grep -E 'in-scope|FAILED|^(ok|FAIL|---)'; }

eval "$(scripts/python.sh)"
for v in 3.13 3.14; do
  say "$v's suite on CPython $SUBINTERP_PYTHON_VERSION"
  SUBINTERP_CPYTHON_SUITE=$v go test -count=1 -timeout 15m -run TestCPythonSuite -v ./internal/cpythonsuite | summary
done

say "3.14's suite on a real CPython 3.14"
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: needs root for the sid chroot (scripts/sid-chroot.sh); 3.14's suite ran on $SUBINTERP_PYTHON_VERSION above"
  exit 0
fi
suite=$(scripts/cpython-testsuite.sh 3.14)
# The suite imports modules from the directory above it (test/), so the
# whole unpacked tree goes into the chroot.
tree=${suite%/usr/lib/python3.14/test/test_interpreters}
[ "$tree" != "$suite" ] || { echo "cpython-suite: unexpected suite path $suite" >&2; exit 1; }
scripts/sid-chroot.sh up
scripts/sid-chroot.sh run --repo "$PWD" --python 3.14 --bind "$tree" \
  --env SUBINTERP_CPYTHON_SUITE=3.14 --env SUBINTERP_CPYTHON_SUITE_DIR="$suite" -- \
  go test -count=1 -timeout 15m -run TestCPythonSuite -v ./internal/cpythonsuite | summary
