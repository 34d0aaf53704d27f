#!/usr/bin/env bash
# What CI runs (.ci/run calls this): the README's test command, the quick
# side-by-side benchmark as a smoke test, the 60-second soak, the suite
# against every other supported CPython (3.13 debug, 3.12, 3.14 and 3.15
# release and debug: make test-matrix), and the README's "use it from your
# own module" steps from an empty directory, and a bundle run in a bare
# Debian 12 chroot. Each step's start time is
# printed; the matrix prints a table of its legs' times.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }
step "make test"
make test
step "make bench-quick (smoke test: every mode runs)"
make bench-quick
step "make soak-ci (RSS, lost interrupts, replacements under churn, cancellations and channel traffic)"
make soak-ci
step "make test-cpython-suite (CPython's own test_interpreters suites against subinterp.interpreters; 3.14's also on a real 3.14)"
make test-cpython-suite
step "make test-matrix (3.13 release ran in make test)"
make test-matrix LEGS="3.13-debug 3.12 3.14 3.14-debug 3.15 3.15-debug"
step "make test-own-module"
make test-own-module
step "make test-free-threaded (a free-threaded libpython is refused at build time; the free-threaded bench peer runs)"
make test-free-threaded
step "make test-bundle (a bundle in a bare Debian 12 chroot, as an unprivileged user)"
make test-bundle
step "done"
