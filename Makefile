# Every target first runs scripts/python.sh, which finds or builds the
# CPython we link against (cached under ~/.cache/subinterp) and prints the
# environment for cgo; nothing else needs to be set up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin
PURE_GO := ./channel/... ./internal/...
TEST_FLAGS ?= -count=1 -timeout 20m

release_env = eval "$$(scripts/python.sh)"
debug_env = eval "$$(scripts/python.sh --debug)"

.PHONY: all build test test-debug test-312 demo doctor bench bench-quick loadtest fuzz lint python clean

all: build

python: ## find or build the release CPython
	@$(release_env) && echo "CPython ready: $$SUBINTERP_PYTHON_PREFIX"

build:
	@$(release_env) && $(GO) build -o $(BIN)/subinterp ./cmd/subinterp && echo "built $(BIN)/subinterp"

lint:
	@$(release_env) && test -z "$$(gofmt -l . | tee /dev/stderr)" && $(GO) vet ./...

test: lint ## the whole suite against the release build, then -race on the pure-Go packages
	@$(release_env) && $(GO) test $(TEST_FLAGS) ./... && $(GO) test -race $(TEST_FLAGS) $(PURE_GO)

test-debug: ## the suite against a --with-pydebug build: CPython asserts on wrong GIL/thread-state use
	@$(debug_env) && $(GO) test $(TEST_FLAGS) ./...

test-312: ## the suite against an installed CPython 3.12, if one exists
	@p=$$(scripts/find-python312.sh); \
	if [ -z "$$p" ]; then echo "test-312: skipped: no installed CPython 3.12 with a shared libpython (set SUBINTERP_PY312_PREFIX)"; exit 0; fi; \
	eval "$$(SUBINTERP_PYTHON_PREFIX=$$p scripts/python.sh)" && $(GO) test $(TEST_FLAGS) ./...

demo: build ## parallel CPU speedup: own-GIL interpreters vs threads in one interpreter
	@$(BIN)/subinterp demo

doctor: build ## the CPython build in use, and a check that own-GIL interpreters really run in parallel
	@$(BIN)/subinterp doctor

bench-quick: build ## a rough benchmark run (~10 s)
	@$(BIN)/subinterp bench --quick

bench: build ## the benchmark suite, written to docs/benchmarks.md by hand from its output
	@$(release_env) && $(GO) test -run '^$$' -bench . -benchtime 2s ./cpython/ ./channel/ && $(BIN)/subinterp bench

loadtest: ## the HTTP example under load: req/s, p50/p99 for own-GIL pools 1..ncpu and shared-GIL interpreters
	@$(release_env) && $(GO) run ./examples/httpservice/loadtest

fuzz:
	@$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./channel/ && $(GO) test -run '^$$' -fuzz FuzzChannelOps -fuzztime 30s ./channel/

clean:
	rm -rf $(BIN)
