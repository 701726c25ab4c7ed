# The front door. `make` builds build/visor; `make test` runs every test in a
# normal and an ASan+UBSan build; `make demo` runs the main job.
BUILD      ?= build
BUILD_SAN  ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)

.PHONY: all deps deps-all build test test-normal test-asan fuzz demo bench clean install

all: build

deps:
	@scripts/deps.sh build

deps-all:
	@scripts/deps.sh all

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps-all
	@$(MAKE) --no-print-directory test-normal test-asan fuzz-smoke

test-normal: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DVISOR_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)
	@cd $(BUILD_SAN) && VISOR_TEST_SCALE=0.25 ctest --output-on-failure -j $(JOBS)

# libFuzzer targets, built with clang-19; fuzz-smoke replays the kept corpus
# and runs each target briefly. `make fuzz FUZZ_TIME=600` runs them longer.
FUZZ_TIME ?= 20
fuzz-build: deps-all
	@CC=clang-19 cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DVISOR_FUZZ=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS)

fuzz-smoke: fuzz-build
	@scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_TIME)

fuzz: FUZZ_TIME = 600
fuzz: fuzz-build
	@scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_TIME)

bench: build
	@for b in $(BUILD)/bench_*; do $$b; done

demo: build
	@examples/demo.sh $(BUILD)/visor

# `make install PREFIX=/some/dir` (default /usr/local): bin/visor, libvisor
# (shared and static), headers, visor.pc, the BPF-side headers, man pages.
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
