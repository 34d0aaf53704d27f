# Every target first runs scripts/python.sh, which finds or builds the
# CPython we link against (cached under ~/.cache/subinterp) and prints the
# environment for cgo; nothing else needs to be set up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin
PURE_GO := ./channel/... ./internal/... ./bundle/...
TEST_FLAGS ?= -count=1 -timeout 20m

release_env = eval "$$(scripts/python.sh)"
debug_env = eval "$$(scripts/python.sh --debug)"

.PHONY: all build test test-cpython-suite test-debug test-312 test-matrix test-own-module test-free-threaded demo doctor bench bench-quick bench-ft bench-docs microbench microbench-stages soak soak-ci compat-report compat-ecosystem loadtest fuzz lint python clean launcher test-bundle

all: build

python: ## find or build the release CPython
	@$(release_env) && echo "CPython ready: $$SUBINTERP_PYTHON_PREFIX"

build:
	@$(release_env) && $(GO) build -o $(BIN)/subinterp ./cmd/subinterp && echo "built $(BIN)/subinterp"

launcher: ## the pure-Go front of single-file bundles (subinterp bundle --single-file --launcher bin/subinterp-launcher)
	@CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/subinterp-launcher ./bundle/launcher && echo "built $(BIN)/subinterp-launcher"

test-bundle: ## bundle a probe program (directory and single file) and run both in a bare Debian 12 chroot as an unprivileged user (needs root)
	@scripts/test-bundle.sh

lint:
	@$(release_env) && test -z "$$(gofmt -l . | tee /dev/stderr)" && $(GO) vet ./... && $(GO) vet -tags subinterp_stages ./cpython

test: lint ## the whole suite against the release build, then -race on the pure-Go packages
	@$(release_env) && $(GO) test $(TEST_FLAGS) ./... && $(GO) test -race $(TEST_FLAGS) $(PURE_GO)

test-debug: ## the suite against a --with-pydebug build: CPython asserts on wrong GIL/thread-state use
	@$(debug_env) && $(GO) test $(TEST_FLAGS) ./...

test-312: ## the suite against an installed CPython 3.12, if one exists
	@p=$$(scripts/find-python312.sh); \
	if [ -z "$$p" ]; then echo "test-312: skipped: no installed CPython 3.12 with a shared libpython (set SUBINTERP_PY312_PREFIX)"; exit 0; fi; \
	eval "$$(SUBINTERP_PYTHON_PREFIX=$$p scripts/python.sh)" && $(GO) test $(TEST_FLAGS) ./...

test-matrix: ## the suite against CPython 3.12-3.15, release and debug, timed per leg (ci/matrix.sh; LEGS="3.14 3.15-debug" picks legs)
	@ci/matrix.sh $(LEGS)

test-own-module: ## what README's "Use it from your own module" says, from an empty directory (ci/own-module.sh)
	@ci/own-module.sh

test-cpython-suite: ## CPython's own test_interpreters suites (3.13's and 3.14's) against subinterp.interpreters, in an embedded interpreter; 3.14's also on a real 3.14 (sid chroot, as root) (ci/cpython-suite.sh)
	@ci/cpython-suite.sh

test-free-threaded: ## a free-threaded CPython (--disable-gil; built on first use, 5-10 min): linking it is refused with the reason, the bench's free-threaded modes pass (ci/free-threaded.sh)
	@ci/free-threaded.sh

demo: build ## the quick side-by-side: own-GIL pools vs threads, multiprocessing and CPython's interpreters (< 1 min)
	@$(BIN)/subinterp bench --quick

doctor: build ## the CPython build in use, and a check that own-GIL interpreters really run in parallel
	@$(BIN)/subinterp doctor

bench-quick: build ## the quick side-by-side comparison (< 1 min), as make demo
	@$(BIN)/subinterp bench --quick

bench: build ## the full side-by-side comparison (< 10 min), a table on stdout; the free-threaded modes run once python3.13t is built (make bench-ft), else say so
	@$(BIN)/subinterp bench

bench-ft: build ## free-threading (python3.13t; built on first use, 5-10 min) against own-GIL pools and threads; ARGS="--quick" etc. are passed on
	@echo "bench-ft: finding or building the free-threaded CPython (scripts/python.sh --free-threaded; the first build takes 5-10 min)"
	@ft=$$(eval "$$(scripts/python.sh --free-threaded)" && echo "$$SUBINTERP_PYTHON_PREFIX/bin/python$${SUBINTERP_PYTHON_VERSION}t") && \
	$(BIN)/subinterp bench --free-threaded-python "$$ft" \
		--mode subinterp-own-gil,threads,threads-free-threaded,sequential-free-threaded,sequential $(ARGS)

bench-docs: build ## regenerate docs/benchmarks.md and its plots and JSON from a full run on this machine
	@$(BIN)/subinterp bench --markdown docs/benchmarks.md --plot docs/bench/plots.png --json docs/bench/results.json

microbench-stages: ## where a call's round trip to an interpreter's thread spends its time, stage by stage (a build with -tags subinterp_stages)
	@$(release_env) && $(GO) test -tags subinterp_stages -run '^$$' -bench CallStages -benchtime 2s -count 3 ./cpython/

microbench: build ## the latency microbenchmarks of docs/microbenchmarks.md (Go benchmarks, then subinterp microbench)
	@$(release_env) && $(GO) test -run '^$$' -bench . -benchtime 2s ./cpython/ ./channel/ && $(BIN)/subinterp microbench

soak: build ## the soak scenarios at full size (a few minutes; docs/soak.md), then churn again with NoSite; JSON in bin/; exit 1 if a goal fails
	@st=0; \
	$(BIN)/subinterp soak --json $(BIN)/soak.json || st=1; \
	$(BIN)/subinterp soak --scenario churn --no-site --json $(BIN)/soak-nosite.json || st=1; \
	exit $$st

soak-ci: build ## the soak scenarios at a tenth of the size (about 60 s), the same goals scaled
	@$(BIN)/subinterp soak --scale 0.1 --json $(BIN)/soak-ci.json

compat-report: build ## regenerate docs/compat/stdlib-3.X.{md,html,json}: which stdlib extension modules import in own-GIL subinterpreters
	@$(release_env) && v=$$SUBINTERP_PYTHON_VERSION && \
	$(BIN)/subinterp compat --stdlib --markdown docs/compat/stdlib-$$v.md --html docs/compat/stdlib-$$v.html \
		--json docs/compat/stdlib-$$v.json >/dev/null && echo "wrote docs/compat/stdlib-$$v.{md,html,json}"

compat-ecosystem: ## regenerate docs/compat/ecosystem-3.14.{md,html,json}: ~90 Debian sid extension packages for CPython 3.14, checked in a sid chroot of their own (root; first run ~10 min)
	@scripts/compat-ecosystem.sh

loadtest: ## the HTTP example under load: req/s, p50/p99 for own-GIL pools 1..ncpu and shared-GIL interpreters
	@$(release_env) && $(GO) run ./examples/httpservice/loadtest

fuzz:
	@$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./channel/ && $(GO) test -run '^$$' -fuzz FuzzChannelOps -fuzztime 30s ./channel/

clean:
	rm -rf $(BIN)
