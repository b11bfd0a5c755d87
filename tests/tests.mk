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

bench-http: bench-deps $(filter c-build py-build java-examples,$(BUILD_TARGETS) $(HTTP_SERVER_TARGETS))
	cd tests/http && $(VPY) bench_http.py $(BENCH_HTTP_ARGS)
