# zcopy: `make demo` runs the showcase, `make test` runs every test suite.
# Everything a fresh Linux machine lacks (Python tools, cbindgen, Debian packages) is installed
# by the targets that need it, into .venv/ and .tools/ inside the checkout where possible.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
CARGO ?= cargo
PYTHON ?= python3
VENV := $(ROOT)/.venv
VPY := $(VENV)/bin/python
TOOLS := $(ROOT)/.tools
RELEASE := $(ROOT)/target/release
# The JDK to build and test with, and the newest JDK beside it (tests run on both).
JAVA17_HOME ?= $(firstword $(wildcard /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/temurin-17-jdk-amd64 /usr/lib/jvm/java-17*))
JAVA_NEW_HOME ?= $(lastword $(sort $(wildcard /usr/lib/jvm/temurin-2*-jdk-amd64)))
# Size of the data the demo generates (K, M, G suffixes).
SIZE ?= 1G
PREFIX ?= /usr/local

BUILD_TARGETS := rust-build
TEST_TARGETS := test-rust fuzz-short
DEMO_TARGETS :=
SOAK_TARGETS :=
BENCH_TARGETS := bench-core

.PHONY: help build test demo soak bench rust-build test-rust bench-core lint clean fuzz fuzz-short tools-fuzz

help:
	@echo "make demo        build everything and run the showcase on generated data (SIZE=$(SIZE))"
	@echo "make test        build everything and run every test suite (Rust, C, Python, Java, cross-language)"
	@echo "make bench-core  the core transfer benchmark (SIZE, ROUNDS) and route matrix (ROUTES_SIZE, ROUTES_ROUNDS)"
	@echo "make lint        cargo fmt --check, clippy -D warnings, header check"
	@echo "make fuzz        fuzz the core's map and transfer argument handling (FUZZ_TIME=300 s each)"
	@echo "make soak        the long leak/soak runs of every binding (1,000,000 map/close, 100,000 transfers)"
	@echo "make bench       every benchmark (core, C, Python, Java); make bench-http: HTTP servers vs nginx"
	@echo "make install     libzcopy (.so, .a), zcopy.h and zcopy.pc under PREFIX=$(PREFIX)"
	@echo "make dist        dist/: the wheel and sdist, dist/maven (io.zcopy:zcopy), the C tarball and .debs"
	@echo "make dist-test   installs each artifact of dist/ in a clean place and uses it (part of make test)"
	@echo "make java-install  io.zcopy:zcopy from dist/maven into the local Maven repository"

# Every benchmark prints Markdown; RECORD files it as its own section of BENCHMARKS.md, with the
# command, the date and the machine: $(call RECORD,section,command,title[,--pre]).
BENCH_OUT := $(ROOT)/target/bench
RECORD = $(PYTHON) $(ROOT)/tests/benchmarks_md.py $(1) "$(2)" $(BENCH_OUT)/$(1).md --title "$(3)" $(4)

-include c-api/c-api.mk
-include python/python.mk
-include jni-bridge/java.mk
-include tests/tests.mk
-include packaging/dist.mk

build: $(BUILD_TARGETS)

test: build $(TEST_TARGETS)
	@echo "make test: all suites passed"

soak: build $(SOAK_TARGETS)

bench: build $(BENCH_TARGETS)

rust-build:
	$(CARGO) build --release --workspace

# The C and Java test suites load the libraries built with the test-hooks feature (zc_debug_panic,
# io.zcopy.NativeTestHooks), into a target directory of their own: the libraries users get (and
# that make dist ships) never export a test hook.
HOOKS_DIR := $(ROOT)/target/hooks/release
.PHONY: hooks-build
hooks-build:
	$(CARGO) build --release -p zcopy-c -p zcopy-jni --features zcopy-c/test-hooks,zcopy-jni/test-hooks \
		--target-dir $(ROOT)/target/hooks

test-rust:
	$(CARGO) test --workspace

# Fuzzing (cargo fuzz needs a nightly toolchain for its sanitizer flags).
FUZZ_TARGETS := map_args transfer_args
FUZZ_TIME ?= 300
FUZZ_SHORT_TIME ?= 15
HAVE_NIGHTLY := $(shell cargo +nightly --version >/dev/null 2>&1 && echo yes)

tools-fuzz:
	@test -x $(TOOLS)/bin/cargo-fuzz || $(CARGO) install --locked --root $(TOOLS) cargo-fuzz --version 0.13.2

define run_fuzz
	@if [ "$(HAVE_NIGHTLY)" != yes ]; then \
	  echo "fuzz: SKIPPED: no nightly Rust toolchain here (cargo fuzz needs -Zsanitizer)"; \
	else \
	  for t in $(FUZZ_TARGETS); do \
	    echo "fuzz: $$t for $(1) s"; \
	    (cd core && PATH=$(TOOLS)/bin:$$PATH cargo +nightly fuzz run $$t -- -max_total_time=$(1) -print_final_stats=0 2>&1 \
	      | grep -E "Done [0-9]+ runs|panicked|ERROR|SUMMARY" ) || exit 1; \
	  done; \
	fi
endef

fuzz-short: $(if $(HAVE_NIGHTLY),tools-fuzz)
	$(call run_fuzz,$(FUZZ_SHORT_TIME))

fuzz: $(if $(HAVE_NIGHTLY),tools-fuzz)
	$(call run_fuzz,$(FUZZ_TIME))

ROUNDS ?= 5
# The route matrix moves this much per round (smaller than SIZE: it runs every method on seven
# pairs), in more rounds than the others: it compares methods a few percent apart.
ROUTES_SIZE ?= 256M
ROUTES_ROUNDS ?= 21

bench-core:
	@mkdir -p $(BENCH_OUT)
	$(CARGO) bench -p zcopy --bench transfer -- --size $(SIZE) --rounds $(ROUNDS) | tee $(BENCH_OUT)/bench-core.md
	$(call RECORD,bench-core,make bench-core SIZE=$(SIZE) ROUNDS=$(ROUNDS),Core: transfers against raw system-call loops)
	$(CARGO) bench -p zcopy --bench routes -- --size $(ROUTES_SIZE) --rounds $(ROUTES_ROUNDS) | tee $(BENCH_OUT)/bench-routes.md
	$(call RECORD,bench-routes,make bench-core ROUTES_SIZE=$(ROUTES_SIZE) ROUTES_ROUNDS=$(ROUTES_ROUNDS),Core: the route matrix (is auto the best route?))

ifeq ($(strip $(DEMO_TARGETS)),)
demo: rust-build bench-core
else
demo: build $(DEMO_TARGETS)
endif

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(TOOLS) $(ROOT)/dist
