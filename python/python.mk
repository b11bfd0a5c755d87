# The Python binding: the `zcopy` package built with PyO3 + maturin into $(VENV).
# Included by the top-level Makefile, which defines ROOT, PYTHON, VENV, VPY, SIZE and the
# *_TARGETS lists. Every target works from a fresh clone and is idempotent.

PY_DIR := $(ROOT)/python
PY_WHEELS := $(ROOT)/target/wheels
# Rebuilt when this file changes, so a new tool pin reaches existing checkouts.
PY_TOOLS_STAMP := $(VENV)/.zcopy-python-tools
PY_TOOLS := "maturin>=1.16,<2" "pytest>=8" "hypothesis>=6" "numpy>=1.26" "aiohttp>=3.14,<4" "uvloop>=0.21"
# Long soak sizes: `make soak-python`. The test suite runs a short version.
PY_SOAK_CYCLES ?= 1000000
PY_SOAK_TRANSFERS ?= 100000

BUILD_TARGETS += py-build
TEST_TARGETS += test-python
SOAK_TARGETS += soak-python
BENCH_TARGETS += bench-python bench-asyncio

.PHONY: py-venv py-build test-python soak-python bench-python bench-asyncio

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(PY_TOOLS_STAMP): $(PY_DIR)/python.mk | $(VPY)
	$(VPY) -m pip install --quiet --disable-pip-version-check $(PY_TOOLS)
	touch $@

py-venv: $(PY_TOOLS_STAMP)

# Builds the abi3 wheel (as `pip install ./python` does) and installs it into the venv.
py-build: py-venv
	rm -f $(PY_WHEELS)/zcopy-*.whl
	cd $(PY_DIR) && VIRTUAL_ENV=$(VENV) $(VENV)/bin/maturin build --release --quiet \
		--interpreter $(VPY) --out $(PY_WHEELS)
	$(VPY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		$(PY_WHEELS)/zcopy-*.whl

# Run from python/ with the venv's pytest (not `python -m pytest`, which would put python/ on
# sys.path and import the source tree instead of the installed wheel).
test-python: py-build
	cd $(PY_DIR) && $(VENV)/bin/pytest -q

soak-python: py-build
	cd $(PY_DIR) && ZCOPY_SOAK_CYCLES=$(PY_SOAK_CYCLES) ZCOPY_SOAK_TRANSFERS=$(PY_SOAK_TRANSFERS) \
		$(VENV)/bin/pytest -q tests/test_soak.py

bench-python: py-build
	@mkdir -p $(BENCH_OUT)
	cd /tmp && $(VPY) $(PY_DIR)/bench/bench.py --size $(SIZE) | tee $(BENCH_OUT)/bench-python.md
	$(call RECORD,bench-python,make bench-python SIZE=$(SIZE),Python: zcopy against the standard library,--pre)

# asyncio and aiohttp: aiohttp's add_static on asyncio's default loop, uvloop,
# zcopy.asyncio.EventLoop and uvloop + zcopy, driven by wrk (bench-deps installs it).
BENCH_ASYNCIO_ARGS ?=
bench-asyncio: bench-deps py-build
	@mkdir -p $(BENCH_OUT)
	$(VPY) $(PY_DIR)/bench/bench_asyncio.py $(BENCH_ASYNCIO_ARGS) | tee $(BENCH_OUT)/bench-asyncio.md
	$(call RECORD,bench-asyncio,make bench-asyncio$(if $(strip $(BENCH_ASYNCIO_ARGS)), BENCH_ASYNCIO_ARGS='$(BENCH_ASYNCIO_ARGS)'),asyncio and aiohttp)
