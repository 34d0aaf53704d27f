#!/usr/bin/env bash
# What CI runs (.ci/run calls this): the README's test command, then the same
# suite under a --with-pydebug CPython, then under CPython 3.12 if installed.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }
step "make test"
make test
step "make test-debug"
make test-debug
step "make test-312"
make test-312
step "done"
