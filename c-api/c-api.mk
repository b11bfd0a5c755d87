# The C API: libzcopy.so / libzcopy.a, the generated header, the C tests, examples and benchmark.
# Included by the top-level Makefile (which defines ROOT, CARGO, TOOLS, RELEASE, SIZE, PREFIX).
#
#   make c-build          build the libraries and stage them in target/c-api/lib
#   make c-header         regenerate c-api/include/zcopy.h with the pinned cbindgen
#   make c-header-check   fail when the committed header differs from a fresh generation
#   make test-c           header checks, C tests (plain, ASan+UBSan, valgrind), examples, the HTTP
#                         server's edge cases, the showcase runner, install
#   make soak-c           the long soak (1,000,000 map/close cycles, 100,000 transfers)
#   make bench-c          zc_transfer_to against the raw sendfile loop, and throughput per method
#   make bench-c-http     zc-http-server's choices one at a time against nginx, with wrk
#   make c-serve-demo     serve a SIZE file (default 1G) to CLIENTS concurrent clients, verified
#   make install PREFIX=  libraries (libzcopy.so.VERSION, its SONAME link libzcopy.so.0 and
#                         libzcopy.so; libzcopy.a), header and zcopy.pc

C_DIR := $(ROOT)/c-api
C_OUT := $(ROOT)/target/c-api
C_LIB := $(C_OUT)/lib
C_BIN := $(C_DIR)/build
C_PROGRAMS := $(C_BIN)/zc-http-server $(C_BIN)/zc_runner
CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(TOOLS)/bin/cbindgen
ZC_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(ROOT)/Cargo.toml | head -n 1)
# The SONAME is libzcopy.so.$(ZC_SOVERSION) (c-api/build.rs): the file libzcopy.so.$(ZC_VERSION)
# comes with that link (for the loader) and libzcopy.so (for the linker's -lzcopy).
ZC_SOVERSION := $(firstword $(subst ., ,$(ZC_VERSION)))
CC ?= cc
CXX ?= c++
C_WARN := -std=c11 -Wall -Wextra -Werror -pedantic
C_CFLAGS := $(C_WARN) -g -O2 -D_GNU_SOURCE -I$(C_DIR)/include -DZC_CARGO_VERSION='"$(ZC_VERSION)"'
C_LDFLAGS := -L$(C_LIB) -Wl,-rpath,$(C_LIB) -lzcopy -lpthread
# The test suites link the library built with the test-hooks feature (zc_debug_panic).
C_TEST_LIB := $(C_OUT)/test-lib
C_TEST_LDFLAGS := -L$(C_TEST_LIB) -Wl,-rpath,$(C_TEST_LIB) -lzcopy -lpthread
# What the static library needs besides itself (cargo rustc --print native-static-libs).
C_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
C_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
C_TESTS := test_api test_region test_transfer test_selector test_vectors test_sigpipe test_guard test_races test_soak
C_EXAMPLES := file_client mapped_rw
C_VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# The short soak run by `make test`, and the long one of `make soak-c`.
C_SOAK_SHORT := 20000 10000
C_SOAK_LONG := 1000000 100000
CLIENTS ?= 4

BUILD_TARGETS += c-build
TEST_TARGETS += c-header-check test-c
SOAK_TARGETS += soak-c
BENCH_TARGETS += bench-c

.PHONY: bench-c-http test-c-http-server test-c-runner c-build c-lib c-test-lib c-header c-header-check c-tools test-c test-c-coverage test-c-readme test-c-plain test-c-asan test-c-valgrind \
	test-c-header test-c-examples test-c-install soak-c bench-c c-examples c-serve-demo install

# --- libraries ---------------------------------------------------------------------------------

# The libraries, then the programs other parts of the build run: the HTTP server (tests/http)
# and the showcase runner (tests/showcase), in c-api/build/.
c-build: c-lib $(C_PROGRAMS)

c-lib:
	$(CARGO) build --release -p zcopy-c
	mkdir -p $(C_LIB)
	cp -fp $(RELEASE)/libzcopy.so $(C_LIB)/libzcopy.so.$(ZC_VERSION)
	ln -sf libzcopy.so.$(ZC_VERSION) $(C_LIB)/libzcopy.so.$(ZC_SOVERSION)
	ln -sf libzcopy.so.$(ZC_VERSION) $(C_LIB)/libzcopy.so
	cp -fp $(RELEASE)/libzcopy.a $(C_LIB)/libzcopy.a

# cp -p keeps cargo's time stamp, so programs relink only when the library changed.
$(C_LIB)/libzcopy.a: c-lib ;

c-test-lib: hooks-build
	mkdir -p $(C_TEST_LIB)
	cp -fp $(HOOKS_DIR)/libzcopy.so $(C_TEST_LIB)/libzcopy.so.$(ZC_VERSION)
	ln -sf libzcopy.so.$(ZC_VERSION) $(C_TEST_LIB)/libzcopy.so.$(ZC_SOVERSION)
	ln -sf libzcopy.so.$(ZC_VERSION) $(C_TEST_LIB)/libzcopy.so
	cp -fp $(HOOKS_DIR)/libzcopy.a $(C_TEST_LIB)/libzcopy.a

# Linked statically: the programs run from any directory, and the per-call cost is lower than
# through the shared library's general-dynamic thread-locals. The HTTP server is two units: the
# server and its request parser.
C_HTTP_SERVER_SRCS := $(C_DIR)/examples/http_server.c $(C_DIR)/examples/http_request.c
$(C_BIN)/zc-http-server: $(C_HTTP_SERVER_SRCS) $(C_DIR)/examples/http_request.h $(C_DIR)/include/zcopy.h \
		$(C_LIB)/libzcopy.a
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -o $@ $(C_HTTP_SERVER_SRCS) $(C_LIB)/libzcopy.a $(C_STATIC_LIBS)

$(C_BIN)/zc_runner: $(C_DIR)/bench/zc_runner.c $(C_DIR)/include/zcopy.h $(C_LIB)/libzcopy.a
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -o $@ $< $(C_LIB)/libzcopy.a $(C_STATIC_LIBS)

# --- header ------------------------------------------------------------------------------------

# Installed once into .tools/; reinstalled only when the version there is not the pinned one.
c-tools:
	@if ! $(CBINDGEN) --version 2>/dev/null | grep -qx 'cbindgen $(CBINDGEN_VERSION)'; then \
		echo "installing cbindgen $(CBINDGEN_VERSION) into $(TOOLS)"; \
		$(CARGO) install --locked --root $(TOOLS) cbindgen --version $(CBINDGEN_VERSION); \
	fi

c-header: c-tools
	$(CBINDGEN) --quiet --config $(C_DIR)/cbindgen.toml --crate zcopy-c --output $(C_DIR)/include/zcopy.h

c-header-check: c-tools
	@mkdir -p $(C_OUT)
	$(CBINDGEN) --quiet --config $(C_DIR)/cbindgen.toml --crate zcopy-c --output $(C_OUT)/zcopy.h.fresh
	@if ! diff -u $(C_DIR)/include/zcopy.h $(C_OUT)/zcopy.h.fresh; then \
		echo "c-api/include/zcopy.h is stale: run 'make c-header' and commit it"; exit 1; fi
	@echo "c-header-check: c-api/include/zcopy.h is up to date"

lint: c-header-check

# --- tests -------------------------------------------------------------------------------------

test-c: test-c-coverage test-c-readme test-c-header test-c-plain test-c-asan test-c-valgrind test-c-examples test-c-http-server \
	test-c-runner test-c-install
	@echo "test-c: all C suites passed"

C_TEST_SRCS := $(C_DIR)/tests/zc_test.h $(C_DIR)/tests/json_lite.h $(C_DIR)/include/zcopy.h

$(C_OUT)/plain/%: $(C_DIR)/tests/%.c $(C_TEST_SRCS) | c-build c-test-lib
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -o $@ $< $(C_TEST_LDFLAGS)

$(C_OUT)/asan/%: $(C_DIR)/tests/%.c $(C_TEST_SRCS) | c-build c-test-lib
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -O1 $(C_SAN) -o $@ $< $(C_TEST_LDFLAGS)

# The same API test linked against the static library, so libzcopy.a is proven too.
$(C_OUT)/static/test_api: $(C_DIR)/tests/test_api.c $(C_TEST_SRCS) | c-build c-test-lib
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -o $@ $< $(C_TEST_LIB)/libzcopy.a $(C_STATIC_LIBS)

# Each suite runs from the tests directory so that it finds tests/vectors through ROOT.
C_RUN_ENV := ZC_ROOT=$(ROOT) RUST_BACKTRACE=0

test-c-plain: $(addprefix $(C_OUT)/plain/,$(C_TESTS)) $(C_OUT)/static/test_api
	@for t in $(C_TESTS); do echo "== $$t"; \
		if [ $$t = test_soak ]; then $(C_RUN_ENV) $(C_OUT)/plain/$$t $(C_SOAK_SHORT); \
		else $(C_RUN_ENV) $(C_OUT)/plain/$$t; fi || exit 1; done
	@echo "== test_api (static library)"; $(C_RUN_ENV) $(C_OUT)/static/test_api

# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer on the C side; the Rust library
# is not instrumented, but every allocation it makes goes through the sanitizer's malloc.
test-c-asan: $(addprefix $(C_OUT)/asan/,$(C_TESTS))
	@for t in $(C_TESTS); do echo "== $$t (ASan+UBSan)"; \
		if [ $$t = test_soak ]; then args="$(C_SOAK_SHORT)"; else args=""; fi; \
		$(C_RUN_ENV) ZC_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			$(C_OUT)/asan/$$t $$args || exit 1; done

# valgrind runs the plain binaries (valgrind and the sanitizers do not mix). The soak is
# shortened, since valgrind runs code 20-50 times slower.
test-c-valgrind: $(addprefix $(C_OUT)/plain/,$(C_TESTS))
	@command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind"; \
		apt-get install -y -q valgrind >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q valgrind); }
	@for t in $(C_TESTS); do echo "== $$t (valgrind)"; \
		if [ $$t = test_soak ]; then args="500 500"; else args=""; fi; \
		$(C_RUN_ENV) ZC_UNDER_VALGRIND=1 $(C_VALGRIND) $(C_OUT)/plain/$$t $$args || exit 1; done

# Every exported function is called by a C test, every ZC_ERR_* code is expected by one (in a
# CHECK_RC, or as the result and errno that end a row of a table of cases: "ZC_ERR_IO, ENODEV}"),
# and the library users get exports nothing but zc_* functions and no test hook.
test-c-coverage: | c-build
	@missing=0; for f in $$(nm -D --defined-only $(C_LIB)/libzcopy.so | awk '$$2 == "T" {print $$3}'); do \
		case $$f in zc_*) ;; *) echo "exported symbol without the zc_ prefix: $$f"; missing=1;; esac; \
		grep -qw "$$f" $(C_DIR)/tests/*.c || { echo "no C test calls $$f"; missing=1; }; done; \
	for code in $$(sed -n 's/^#define \(ZC_ERR_[A-Z_]*\) .*/\1/p' $(C_DIR)/include/zcopy.h); do \
		grep -qE "$$code(\);|, E[A-Z0-9]+\},)" $(C_DIR)/tests/*.c || { echo "no C test expects $$code"; missing=1; }; done; \
	if nm -D --defined-only $(C_LIB)/libzcopy.so | grep -qw zc_debug_panic; then \
		echo "libzcopy.so exports the test hook zc_debug_panic"; missing=1; fi; \
	[ $$missing = 0 ] && echo "test-c-coverage: $$(nm -D --defined-only $(C_LIB)/libzcopy.so | grep -c ' T zc_') exported functions, all called by a test; every ZC_ERR_* code expected by one; no test hook exported"

# The example in c-api/README.md compiles as written and runs.
test-c-readme: | c-build
	@mkdir -p $(C_OUT)/readme
	awk '/<!-- readme-example -->/{on=1; next} on && /^```c/{grab=1; next} grab && /^```/{exit} grab' \
		$(C_DIR)/README.md > $(C_OUT)/readme/example.c
	$(CC) $(C_CFLAGS) -o $(C_OUT)/readme/example $(C_OUT)/readme/example.c $(C_LDFLAGS)
	cd $(C_OUT)/readme && ./example

# The header on its own, as C++, and included twice.
test-c-header: | c-build
	@mkdir -p $(C_OUT)/header
	$(CC) $(C_WARN) -fsyntax-only -x c $(C_DIR)/include/zcopy.h
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ $(C_DIR)/include/zcopy.h
	$(CC) $(C_CFLAGS) -o $(C_OUT)/header/twice $(C_DIR)/tests/header_twice.c $(C_LDFLAGS)
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -I$(C_DIR)/include -o $(C_OUT)/header/cpp \
		$(C_DIR)/tests/header_cpp.cpp $(C_LDFLAGS)
	$(C_OUT)/header/twice
	$(C_OUT)/header/cpp

# --- examples ----------------------------------------------------------------------------------

$(C_OUT)/examples/%: $(C_DIR)/examples/%.c $(C_DIR)/include/zcopy.h | c-build
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -o $@ $< $(C_LDFLAGS)

c-examples: $(addprefix $(C_OUT)/examples/,$(C_EXAMPLES)) $(C_BIN)/zc-http-server

# The examples end to end, small: a 64 MiB file served to 4 concurrent clients, verified; the
# same between two network namespaces joined by veth (skipped where not permitted); the
# mapped-file writer and reader.
test-c-examples: c-examples
	C_OUT=$(C_OUT) ZC_HTTP_SERVER=$(C_BIN)/zc-http-server bash $(C_DIR)/examples/serve_demo.sh 64M 4
	C_OUT=$(C_OUT) ZC_HTTP_SERVER=$(C_BIN)/zc-http-server bash $(C_DIR)/examples/netns_demo.sh 64M 4
	C_OUT=$(C_OUT) bash $(C_DIR)/examples/mapped_demo.sh

# The issue's demonstration: a 1 GiB file to several concurrent clients, every byte verified.
c-serve-demo: c-examples
	C_OUT=$(C_OUT) ZC_HTTP_SERVER=$(C_BIN)/zc-http-server bash $(C_DIR)/examples/serve_demo.sh $(SIZE) $(CLIENTS)

# The HTTP server's own parser and connection handling with raw sockets (tests/http/ checks what
# all servers share, with curl): the release build, then one under ASan+UBSan.
$(C_OUT)/asan/zc-http-server: $(C_HTTP_SERVER_SRCS) $(C_DIR)/examples/http_request.h $(C_DIR)/include/zcopy.h | c-lib
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -O1 $(C_SAN) -o $@ $(C_HTTP_SERVER_SRCS) $(C_LDFLAGS)

test-c-http-server: $(C_BIN)/zc-http-server $(C_OUT)/asan/zc-http-server
	$(PYTHON) $(C_DIR)/tests/http_server_check.py $(C_BIN)/zc-http-server
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(PYTHON) $(C_DIR)/tests/http_server_check.py $(C_OUT)/asan/zc-http-server

# The showcase runner keeps its protocol and moves the right bytes, every strategy, file and socket.
test-c-runner: $(C_BIN)/zc_runner
	$(PYTHON) $(C_DIR)/tests/runner_check.py $(C_BIN)/zc_runner

# --- install -----------------------------------------------------------------------------------

install: c-build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(C_LIB)/libzcopy.so.$(ZC_VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libzcopy.so.$(ZC_VERSION) $(DESTDIR)$(PREFIX)/lib/libzcopy.so.$(ZC_SOVERSION)
	ln -sf libzcopy.so.$(ZC_VERSION) $(DESTDIR)$(PREFIX)/lib/libzcopy.so
	install -m 0644 $(C_LIB)/libzcopy.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(C_DIR)/include/zcopy.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$${prefix}/lib|g' -e 's|@VERSION@|$(ZC_VERSION)|g' \
		-e 's|@STATIC_LIBS@|$(C_STATIC_LIBS)|g' $(C_DIR)/zcopy.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/zcopy.pc

# Installs into a scratch prefix and builds the mapped-file example from there with pkg-config
# only, dynamically and statically.
test-c-install:
	rm -rf $(C_OUT)/prefix
	$(MAKE) --no-print-directory install PREFIX=$(C_OUT)/prefix
	PKG_CONFIG_PATH=$(C_OUT)/prefix/lib/pkgconfig; export PKG_CONFIG_PATH; \
	$(CC) $(C_WARN) -D_GNU_SOURCE $$(pkg-config --cflags zcopy) -o $(C_OUT)/prefix/mapped_rw \
		$(C_DIR)/examples/mapped_rw.c $$(pkg-config --libs zcopy) -Wl,-rpath,$(C_OUT)/prefix/lib; \
	$(CC) $(C_WARN) -D_GNU_SOURCE $$(pkg-config --cflags zcopy) -o $(C_OUT)/prefix/mapped_rw_static \
		$(C_DIR)/examples/mapped_rw.c $$(pkg-config --libs --static zcopy | sed 's/-lzcopy/-l:libzcopy.a/')
	$(C_OUT)/prefix/mapped_rw version
	$(C_OUT)/prefix/mapped_rw_static version
	readelf -d $(C_OUT)/prefix/mapped_rw | grep -q 'Shared library: \[libzcopy.so.$(ZC_SOVERSION)\]'

# --- soak and benchmark ------------------------------------------------------------------------

soak-c: $(C_OUT)/plain/test_soak
	$(C_RUN_ENV) $(C_OUT)/plain/test_soak $(C_SOAK_LONG)

# The benchmark linked against the shared library (full run), then against the static one (the
# per-call part again: thread-local storage is cheaper when linked statically).
CALLS ?= 200000
bench-c: $(C_OUT)/bench/zc_bench $(C_OUT)/bench/zc_bench_static
	@mkdir -p $(BENCH_OUT)
	{ $(C_OUT)/bench/zc_bench --size $(SIZE) --calls $(CALLS) --rounds $(ROUNDS); \
	  echo; echo "The same per-call measurement, linked against libzcopy.a:"; \
	  $(C_OUT)/bench/zc_bench_static --calls-only --calls $(CALLS); } | tee $(BENCH_OUT)/bench-c.md
	$(call RECORD,bench-c,make bench-c SIZE=$(SIZE) CALLS=$(CALLS) ROUNDS=$(ROUNDS),C: zc_transfer_to against raw system calls)

$(C_OUT)/bench/zc_bench: $(C_DIR)/bench/zc_bench.c $(C_DIR)/include/zcopy.h | c-build
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -O2 -o $@ $< $(C_LDFLAGS)

$(C_OUT)/bench/zc_bench_static: $(C_DIR)/bench/zc_bench.c $(C_DIR)/include/zcopy.h | c-build
	@mkdir -p $(@D)
	$(CC) $(C_CFLAGS) -O2 -o $@ $< $(C_LIB)/libzcopy.a $(C_STATIC_LIBS)

# zc-http-server in its default shape and with one choice changed at a time, against nginx
# (bench-deps, from tests/tests.mk, installs nginx and wrk).
BENCH_C_HTTP_ARGS ?=
bench-c-http: bench-deps c-build
	$(PYTHON) $(C_DIR)/bench/http_tune.py $(BENCH_C_HTTP_ARGS)
