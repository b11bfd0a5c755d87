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
TEST_TARGETS := test-rust
DEMO_TARGETS :=

.PHONY: help build test demo rust-build test-rust bench-core lint clean

help:
	@echo "make demo        build everything and run the showcase on generated data (SIZE=$(SIZE))"
	@echo "make test        build everything and run every test suite (Rust, C, Python, Java, cross-language)"
	@echo "make bench-core  the core transfer benchmark (SIZE, ROUNDS)"
	@echo "make lint        cargo fmt --check, clippy -D warnings, header check"

-include c-api/c-api.mk
-include python/python.mk
-include jni-bridge/java.mk
-include tests/tests.mk

build: $(BUILD_TARGETS)

test: build $(TEST_TARGETS)
	@echo "make test: all suites passed"

rust-build:
	$(CARGO) build --release --workspace

test-rust:
	$(CARGO) test --workspace

ROUNDS ?= 5
bench-core:
	$(CARGO) bench -p zcopy --bench transfer -- --size $(SIZE) --rounds $(ROUNDS)

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
	rm -rf $(VENV) $(TOOLS)
