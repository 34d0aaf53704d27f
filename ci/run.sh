#!/usr/bin/env bash
# What CI runs (.ci/run calls this): the README's test command, the quick
# side-by-side benchmark as a smoke test, the 60-second soak, then the suite under a
# --with-pydebug CPython and under CPython 3.12 if installed.
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
step "make test-debug"
make test-debug
step "make test-312"
make test-312
step "done"
