# Cross-language tests, the HTTP servers' tests and benchmark (included by the top Makefile).

.PHONY: http-deps test-http bench-http

APT_INSTALL := DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends

# curl for the HTTP tests; nginx and wrk for the benchmark (RUNLEVEL=1 keeps Debian's nginx
# package from starting a system-wide nginx on port 80).
http-deps:
	@command -v curl >/dev/null || { apt-get update -q && $(APT_INSTALL) curl; }

bench-deps: http-deps
	@{ command -v wrk >/dev/null && test -x /usr/sbin/nginx; } || { apt-get update -q && $(APT_INSTALL) nginx-light wrk; }

TEST_TARGETS += test-http
test-http: http-deps $(filter c-build py-build java-examples,$(BUILD_TARGETS) $(HTTP_SERVER_TARGETS))
	cd tests/http && $(VPY) -m pytest -q -p no:cacheprovider test_http.py

# The tables (Markdown) are kept in target/bench/bench-http.md and become the section bench-http
# of BENCHMARKS.md (RECORD, in the top Makefile).
BENCH_HTTP_COMMAND := make bench-http$(if $(BENCH_HTTP_ARGS), BENCH_HTTP_ARGS="$(BENCH_HTTP_ARGS)")

bench-http: bench-deps $(filter c-build py-build java-examples,$(BUILD_TARGETS) $(HTTP_SERVER_TARGETS))
	mkdir -p $(BENCH_OUT)
	cd tests/http && $(VPY) bench_http.py $(BENCH_HTTP_ARGS) | tee $(BENCH_OUT)/bench-http.md
	$(call RECORD,bench-http,$(BENCH_HTTP_COMMAND),HTTP servers against nginx)

# Cross-language tests: the C tool is built against libzcopy; xfsprogs gives the reflink test
# its file system (skipped, with the reason, where apt-get or loop devices are not available).
.PHONY: test-cross xfs-deps showcase demo-deps
CROSS_OUT := $(ROOT)/target/cross

xfs-deps:
	@command -v mkfs.xfs >/dev/null || { apt-get update -q && $(APT_INSTALL) xfsprogs; } \
	  || echo "xfsprogs could not be installed: the reflink parts will be skipped"

$(CROSS_OUT)/map_tool: tests/cross/map_tool.c c-api/include/zcopy.h | c-build
	mkdir -p $(CROSS_OUT)
	cc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -Ic-api/include $< -L$(ROOT)/target/c-api/lib -lzcopy \
	  -Wl,-rpath,$(ROOT)/target/c-api/lib -o $@

TEST_TARGETS += test-cross
test-cross: xfs-deps http-deps $(CROSS_OUT)/map_tool $(filter c-build py-build java-build java-examples java-bench-build,$(BUILD_TARGETS) $(HTTP_SERVER_TARGETS))
	cd tests/cross && $(VPY) -m pytest -q -p no:cacheprovider -rs test_cross.py

# The showcase: `make demo` runs it after building everything.
DEMO_TARGETS += showcase
# matplotlib draws the showcase's chart (PNG) for README.
demo-deps: py-build
	@$(VPY) -c "import matplotlib" 2>/dev/null || $(VPY) -m pip install --quiet --disable-pip-version-check matplotlib

showcase: xfs-deps demo-deps $(filter c-build py-build java-build java-examples java-bench-build,$(BUILD_TARGETS) $(HTTP_SERVER_TARGETS))
	@mkdir -p $(BENCH_OUT)
	JAVA=$(JAVA17_HOME)/bin/java JAVA_NEW=$(JAVA_NEW_HOME)/bin/java SIZE=$(SIZE) \
	  $(VPY) tests/showcase/demo.py $(DEMO_ARGS) | tee $(BENCH_OUT)/demo.md
	$(call RECORD,demo,make demo SIZE=$(SIZE),The showcase: every strategy of every language)

# The top-level README's examples, run as written.
.PHONY: test-readme
TEST_TARGETS += test-readme
test-readme: $(filter c-build py-build java-build,$(BUILD_TARGETS))
	cd tests/readme && $(VPY) -m pytest -q -p no:cacheprovider test_readme.py

# The per-call cost of each binding against a base revision, built beside this checkout in
# target/base (a git worktree): make bench-compare BASE=<revision>.
.PHONY: bench-compare
BASE ?=
BASE_DIR := $(ROOT)/target/base
bench-compare: c-build py-build java-build
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<revision>"; exit 2; }
	@if [ -d $(BASE_DIR) ]; then git -C $(BASE_DIR) checkout -q --detach $(BASE); \
	  else git worktree add -q --detach $(BASE_DIR) $(BASE); fi
	@[ -d $(BASE_DIR)/.tools ] || cp -a $(TOOLS) $(BASE_DIR)/ 2>/dev/null || true
	$(MAKE) -C $(BASE_DIR) --no-print-directory c-build py-build java-build
	@mkdir -p $(BENCH_OUT)
	$(PYTHON) tests/bench_compare/compare.py --base $(BASE_DIR) | tee $(BENCH_OUT)/bench-compare.md
	$(call RECORD,bench-compare,make bench-compare BASE=$(BASE),Per-call cost against a base revision)
