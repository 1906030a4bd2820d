# The two commands a user needs: `make run` (demo) and `make test` (everything CI runs).
# Both install dependencies first (Debian 12 packages, scripts/install-deps.sh).

JOBS ?= $(shell nproc)
RELEASE_DIR := build/release
DEBUG_DIR := build/debug
SLUICE_RELEASE := $(RELEASE_DIR)/src/cli/sluice
SLUICE_DEBUG := $(DEBUG_DIR)/src/cli/sluice

.PHONY: run test deps release debug unit-test system-test chaos-test browser-test fuzz-smoke bench format clean soak chaos

run: deps release
	$(SLUICE_RELEASE) demo

test: deps debug unit-test fuzz-smoke system-test chaos-test browser-test

deps:
	@bash scripts/install-deps.sh

release:
	@test -f $(RELEASE_DIR)/build.ninja || cmake --preset release >/dev/null
	cmake --build $(RELEASE_DIR) -j$(JOBS)

debug:
	@test -f $(DEBUG_DIR)/build.ninja || cmake --preset debug >/dev/null
	cmake --build $(DEBUG_DIR) -j$(JOBS)

# Unit tests (gtest via ctest) under ASan + UBSan.
unit-test: debug
	cd $(DEBUG_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

# System tests drive the real binary with real clients (python3 stdlib, curl, promtool).
system-test: debug
	SLUICE_BIN=$(abspath $(SLUICE_DEBUG)) python3 tests/system/run.py

# The chaos test (issue 4): kill -9 the server 20 times while views and sinks run; everything must
# equal a crash-free run over the same input. `make chaos` is the long version.
chaos-test: debug
	SLUICE_BIN=$(abspath $(SLUICE_DEBUG)) python3 tests/chaos/run.py

# The dashboard in Debian's Chromium (playwright-core), against the real binary; screenshots in
# build/debug/test-artifacts/browser/. Runs after the system tests.
browser-test: debug
	@test -d tests/browser/node_modules/playwright-core || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
	SLUICE_BIN=$(abspath $(SLUICE_DEBUG)) SLUICE_ARTIFACTS=$(abspath $(DEBUG_DIR))/test-artifacts/browser node tests/browser/run.mjs

# The SQL fuzzer (libFuzzer, clang) for a bounded time; `scripts/fuzz.sh 3600` for a long run.
fuzz-smoke:
	bash scripts/fuzz.sh 60

# Long crash/soak runs, kept out of CI: `make soak` (release build).
soak: deps release
	SLUICE_BIN=$(abspath $(SLUICE_RELEASE)) SLUICE_SOAK=1 python3 tests/system/run.py 'test_crash*.py'

chaos: deps release
	SLUICE_BIN=$(abspath $(SLUICE_RELEASE)) SLUICE_CHAOS_KILLS=100 SLUICE_CHAOS_ORDERS=40000 python3 tests/chaos/run.py

bench: deps release
	$(RELEASE_DIR)/bench/sluice_log_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
	$(SLUICE_RELEASE) bench ingest
	$(SLUICE_RELEASE) bench kafka

format:
	find src bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf build
