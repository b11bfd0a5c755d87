# Java binding (io.zcopy): -include'd by the top-level Makefile.
#
#   make java-build      cargo build of libzcopy_jni.so, then the jar (jni-bridge/target/zcopy.jar)
#   make test-java       JUnit suite on Java 17 and on the newest JDK ($(JAVA_NEW_HOME)), examples smoke run
#   make soak-java       the long soak (1,000,000 map/close, 100,000 transfers)
#   make bench-java      JMH benchmarks, zcopy vs the JDK (short runs; JMH_ARGS to change;
#                        FileChannel.map(..., Arena) only on the newest JDK, as it needs Java 22)
#   make java-examples   the runnable examples in java-examples/, a Maven project that depends on
#                        io.zcopy:zcopy from dist/maven (make dist-java writes it)
#                        (java-examples/target/zcopy-examples.jar: HttpFileServer for make test-http)
#   make java-bench-build the benchmark artifact jni-bridge/bench/target/zcopy-bench.jar (JMH and
#                        the showcase runner io.zcopy.bench.Runner; never shipped with zcopy)
#   make bench-java-virtual  VirtualThreadFileServer with zcopy bodies against the JDK's transferTo,
#                        with wrk, on the newest JDK (BENCH_VIRTUAL_ARGS="--duration 10" by default);
#                        the tables go into BENCHMARKS.md

MVN ?= mvn
JAVA_DIR := $(ROOT)/jni-bridge
ZCOPY_JAR := $(JAVA_DIR)/target/zcopy.jar
JAVA_BIN := $(JAVA17_HOME)/bin/java
MVN_FLAGS := -B --no-transfer-progress -f $(JAVA_DIR)/pom.xml
# Maven itself runs on Java 17; the test JVM is chosen per run.
MVN_RUN = JAVA_HOME=$(JAVA17_HOME) $(MVN)
JMH_ARGS ?= -f 1 -wi 2 -i 3 -w 1s -r 1s
BENCH_JAR := $(JAVA_DIR)/bench/target/zcopy-bench.jar

BUILD_TARGETS += java-build java-examples java-bench-build
HTTP_SERVER_TARGETS += java-examples
TEST_TARGETS += test-java
SOAK_TARGETS += soak-java
BENCH_TARGETS += bench-java bench-java-virtual

.PHONY: java-build java-tools test-java soak-java bench-java bench-java-virtual java-examples java-bench-build

java-tools:
	@command -v $(MVN) >/dev/null || { apt-get update -qq && apt-get install -y -qq maven; }
	@test -x "$(JAVA_BIN)" || { apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless; }

java-build: java-tools
	$(CARGO) build --release -p zcopy-jni
	$(MVN_RUN) $(MVN_FLAGS) -q -DskipTests package

# The test JVMs load target/hooks' library (test-hooks feature): see the pom's zcopy.test.library.
test-java: java-build hooks-build java-bench-build
	@echo "== Java tests on Java 17 ($(JAVA17_HOME))"
	$(MVN_RUN) $(MVN_FLAGS) surefire:test -Dtest.jvm=$(JAVA17_HOME)/bin/java
	@if [ -n "$(JAVA_NEW_HOME)" ] && [ -x "$(JAVA_NEW_HOME)/bin/java" ]; then \
		echo "== Java tests on $$($(JAVA_NEW_HOME)/bin/java -version 2>&1 | head -1) ($(JAVA_NEW_HOME))"; \
		$(MVN_RUN) $(MVN_FLAGS) surefire:test -Dtest.jvm=$(JAVA_NEW_HOME)/bin/java; \
	else \
		echo "== no newer JDK found (JAVA_NEW_HOME is empty): Java tests ran on Java 17 only"; \
	fi
	@echo "== the benchmark artifact's tests (the showcase runner)"
	$(MVN_RUN) -B --no-transfer-progress -q -f $(JAVA_DIR)/bench/pom.xml surefire:test
	$(MAKE) --no-print-directory java-examples-smoke

# The benchmark jar depends on io.zcopy:zcopy from the local Maven repository.
java-bench-build: java-build
	$(MVN_RUN) $(MVN_FLAGS) -q -DskipTests install
	$(MVN_RUN) -B --no-transfer-progress -q -f $(JAVA_DIR)/bench/pom.xml -DskipTests package

soak-java: java-build hooks-build
	$(MVN_RUN) $(MVN_FLAGS) surefire:test -Dtest=SoakTest -Dtest.args=-Dzcopy.soak=long

bench-java: java-bench-build
	@echo "== JMH on Java 17"
	$(JAVA_BIN) --enable-native-access=ALL-UNNAMED -jar $(BENCH_JAR) $(JMH_ARGS) -e ArenaMapClose -rf json -rff $(JAVA_DIR)/bench/target/jmh-17.json
	@if [ -x "$(JAVA_NEW_HOME)/bin/java" ]; then \
		echo "== JMH on $(JAVA_NEW_HOME)"; \
		$(JAVA_NEW_HOME)/bin/java --enable-native-access=ALL-UNNAMED -jar $(BENCH_JAR) $(JMH_ARGS) -rf json -rff $(JAVA_DIR)/bench/target/jmh-new.json; \
	fi
	@mkdir -p $(BENCH_OUT)
	$(JAVA_BIN) -cp $(BENCH_JAR) io.zcopy.bench.Report $(JAVA_DIR)/bench/target/jmh-17.json $(JAVA_DIR)/bench/target/jmh-new.json \
		| tee $(BENCH_OUT)/bench-java.md
	$(call RECORD,bench-java,make bench-java JMH_ARGS='$(JMH_ARGS)',Java: zcopy against the JDK (JMH))

# wrk and the tables' writer come from tests/tests.mk (bench-deps, BENCH_OUT); virtual threads need
# JDK 21+, so the servers run on $(JAVA_NEW_HOME).
BENCH_VIRTUAL_ARGS ?=
bench-java-virtual: bench-deps java-examples
	@test -x "$(JAVA_NEW_HOME)/bin/java" || { echo "bench-java-virtual: needs a JDK 21+ in JAVA_NEW_HOME"; exit 2; }
	mkdir -p $(BENCH_OUT)
	JAVA=$(JAVA_NEW_HOME)/bin/java $(PYTHON) $(ROOT)/java-examples/bench/bench_virtual.py $(BENCH_VIRTUAL_ARGS) \
	  | tee $(BENCH_OUT)/bench-java-virtual.md
	$(PYTHON) tests/benchmarks_md.py bench-java-virtual \
	  'make bench-java-virtual$(if $(BENCH_VIRTUAL_ARGS), BENCH_VIRTUAL_ARGS="$(BENCH_VIRTUAL_ARGS)")' \
	  $(BENCH_OUT)/bench-java-virtual.md --title "Java virtual threads"

# A Maven consumer of io.zcopy:zcopy from dist/maven (dist-java, in packaging/dist.mk).
java-examples: dist-java
	$(MAKE) --no-print-directory -C $(ROOT)/java-examples JAVA_HOME=$(JAVA17_HOME) MVN=$(MVN) ZCOPY_VERSION=$(ZC_VERSION) build

# The smoke run on Java 17, then VirtualThreadFileServer under slow and stalled clients on the
# newest JDK (virtual threads need 21+: skipped, saying so, without one).
java-examples-smoke: java-examples
	$(MAKE) --no-print-directory -C $(ROOT)/java-examples JAVA_HOME=$(JAVA17_HOME) MVN=$(MVN) ZCOPY_VERSION=$(ZC_VERSION) smoke
	$(MAKE) --no-print-directory -C $(ROOT)/java-examples JAVA_HOME=$(JAVA17_HOME) MVN=$(MVN) ZCOPY_VERSION=$(ZC_VERSION) \
	  JAVA_NEW=$(if $(JAVA_NEW_HOME),$(JAVA_NEW_HOME)/bin/java) check-virtual
