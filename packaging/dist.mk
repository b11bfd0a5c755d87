# The artifacts a user installs without building, and the proof that they install (issue 14).
# Included by the top-level Makefile, after c-api.mk (ZC_VERSION), python.mk and java.mk.
#
#   make dist          dist/ for version $(ZC_VERSION) (the workspace Cargo.toml's): the wheel and
#                      the sdist, dist/maven (io.zcopy:zcopy: jar, -sources, -javadoc, pom), the C
#                      tarball and the libzcopy0 / libzcopy-dev .debs, SHA256SUMS; prints the
#                      sizes and writes them into BENCHMARKS.md
#   make dist-test     installs each artifact in a clean place and uses it: the wheel in fresh
#                      virtualenvs of CPython 3.11-3.13 (the Python suite against it), the sdist
#                      built by pip, a Maven consumer (java-examples) on JDK 17 and the newest
#                      JDK, the .debs and the tarball with pkg-config (part of make test)
#   make java-install  io.zcopy:zcopy:$(ZC_VERSION) from dist/maven into the local Maven repository
#                      (MAVEN_LOCAL_REPO=DIR for another one than ~/.m2/repository)
#
# The native code is built for glibc 2.17 (manylinux2014) with zig as the linker: maturin --zig
# for the wheel, cargo-zigbuild for the C and JNI libraries. Those tools come from PyPI, pinned,
# into .tools/dist-venv.

DIST := $(ROOT)/dist
DIST_WORK := $(ROOT)/target/dist
DIST_VENV := $(TOOLS)/dist-venv
DIST_TOOLS_STAMP := $(DIST_VENV)/.zcopy-dist-tools
DIST_TOOL_PINS := maturin==1.16.0 ziglang==0.17.1 cargo-zigbuild==0.24.1 auditwheel==6.8.2
# zig (python -m ziglang), cargo-zigbuild and maturin come first on PATH.
DIST_ENV := PATH=$(DIST_VENV)/bin:$$PATH
DIST_TRIPLE := x86_64-unknown-linux-gnu
DIST_GLIBC := 2.17
DIST_NATIVE := $(ROOT)/target/$(DIST_TRIPLE)/dist
DIST_MAVEN := $(DIST)/maven
DIST_MAVEN_DIR := $(DIST_MAVEN)/io/zcopy/zcopy/$(ZC_VERSION)
DIST_JAR := $(DIST_MAVEN_DIR)/zcopy-$(ZC_VERSION).jar
DIST_WHEEL_GLOB := $(DIST)/zcopy-$(ZC_VERSION)-cp311-abi3-manylinux*.whl
DIST_JAVA_BUILD := $(DIST_WORK)/java
MVN_DEPLOY := org.apache.maven.plugins:maven-deploy-plugin:3.1.2
MVN_INSTALL := org.apache.maven.plugins:maven-install-plugin:3.1.2

TEST_TARGETS += dist-test

.PHONY: dist dist-build dist-tools dist-versions dist-native dist-python dist-java dist-c dist-sums \
	dist-sizes java-install dist-test dist-test-python dist-test-java dist-test-c

dist: dist-build
	$(PYTHON) $(ROOT)/tests/benchmarks_md.py dist-sizes "make dist" $(DIST_WORK)/sizes.md --title "Artifact sizes"

# Everything of make dist but the BENCHMARKS.md section (make test builds this much).
dist-build: dist-versions dist-python dist-java dist-c dist-sums dist-sizes

dist-tools: $(DIST_TOOLS_STAMP)

$(DIST_TOOLS_STAMP): $(ROOT)/packaging/dist.mk
	test -x $(DIST_VENV)/bin/python || $(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(DIST_TOOL_PINS)
	touch $@

# Every file that spells the version out agrees with the workspace Cargo.toml.
dist-versions:
	$(PYTHON) $(ROOT)/packaging/versions.py

# libzcopy (.so, .a) and libzcopy_jni.so, in one cargo run (one feature resolution for both).
dist-native: dist-tools
	$(DIST_ENV) $(CARGO) zigbuild --profile dist -p zcopy-c -p zcopy-jni --target $(DIST_TRIPLE).$(DIST_GLIBC)

# The abi3 wheel (manylinux2014 = glibc 2.17, checked by auditwheel) and the sdist. The wheel has
# a cargo target directory of its own: maturin and cargo-zigbuild pass different flags, and in one
# directory each would rebuild everything the other built.
dist-python: dist-tools
	mkdir -p $(DIST)
	rm -f $(DIST)/zcopy-*.whl $(DIST)/zcopy-*.tar.gz
	cd $(PY_DIR) && $(DIST_ENV) CARGO_TARGET_DIR=$(ROOT)/target/dist-wheel maturin build --quiet --profile dist --zig --compatibility manylinux2014 \
		--target $(DIST_TRIPLE) --out $(DIST)
	cd $(PY_DIR) && $(DIST_ENV) maturin sdist --out $(DIST) 2>&1 | grep -v '^\s*$$' | tail -n 1
	mkdir -p $(DIST_WORK)
	$(DIST_VENV)/bin/auditwheel show $(DIST_WHEEL_GLOB) | tee $(DIST_WORK)/auditwheel.txt
	grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' <<< "$$(tr -s ' \n' ' ' < $(DIST_WORK)/auditwheel.txt)"
	$(PYTHON) $(ROOT)/packaging/wheel_contents.py $(DIST_WHEEL_GLOB)

# The jar (with the stripped glibc-2.17 JNI library), its -sources and -javadoc jars, built by the
# dist profile of jni-bridge/pom.xml, then deployed with the pom as a Maven repository.
dist-java: java-tools dist-native
	rm -rf $(DIST_JAVA_BUILD)
	$(MVN_RUN) $(MVN_FLAGS) -q -Pdist -Dmaven.test.skip=true -Dzcopy.build.dir=$(DIST_JAVA_BUILD) \
		-Dzcopy.native.dir=$(DIST_NATIVE) package
	rm -rf $(DIST_MAVEN) && mkdir -p $(DIST_MAVEN)
	cd $(DIST_WORK) && $(MVN_RUN) -B --no-transfer-progress -q $(MVN_DEPLOY):deploy-file \
		-Durl=file://$(DIST_MAVEN) -DrepositoryId=zcopy-dist -DpomFile=$(JAVA_DIR)/pom.xml \
		-Dfile=$(DIST_JAVA_BUILD)/zcopy.jar -Dsources=$(DIST_JAVA_BUILD)/zcopy-sources.jar \
		-Djavadoc=$(DIST_JAVA_BUILD)/zcopy-javadoc.jar
	@echo "dist-java: $$(cd $(DIST) && ls maven/io/zcopy/zcopy/$(ZC_VERSION)/*.jar maven/io/zcopy/zcopy/$(ZC_VERSION)/*.pom | tr '\n' ' ')"

# io.zcopy:zcopy into the local Maven repository (~/.m2/repository, or MAVEN_LOCAL_REPO=DIR), for
# a Maven or Gradle project of the user's.
MAVEN_LOCAL_REPO ?=
java-install: dist-java
	cd $(DIST_WORK) && $(MVN_RUN) -B --no-transfer-progress -q $(MVN_INSTALL):install-file \
		$(if $(MAVEN_LOCAL_REPO),-Dmaven.repo.local=$(abspath $(MAVEN_LOCAL_REPO))) \
		-Dfile=$(DIST_JAR) -DpomFile=$(DIST_MAVEN_DIR)/zcopy-$(ZC_VERSION).pom \
		-Dsources=$(DIST_MAVEN_DIR)/zcopy-$(ZC_VERSION)-sources.jar \
		-Djavadoc=$(DIST_MAVEN_DIR)/zcopy-$(ZC_VERSION)-javadoc.jar
	@echo "java-install: io.zcopy:zcopy:$(ZC_VERSION) is in the local Maven repository $(or $(MAVEN_LOCAL_REPO),~/.m2/repository)"

# libzcopy-VERSION-linux-x86_64.tar.gz and the libzcopy0 / libzcopy-dev packages.
dist-c: dist-native
	DIST_GLIBC=$(DIST_GLIBC) bash $(ROOT)/packaging/libzcopy.sh $(ZC_VERSION) $(DIST_NATIVE) $(DIST) $(DIST_WORK)/c

dist-sums:
	cd $(DIST) && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs sha256sum > SHA256SUMS

# Prints the table and fails when an artifact is over its target.
dist-sizes:
	$(PYTHON) $(ROOT)/packaging/sizes.py $(DIST) $(ZC_VERSION) $(DIST_WORK)/c | tee $(DIST_WORK)/sizes.md

# --- the proof ---------------------------------------------------------------------------------

DIST_TEST := $(ROOT)/target/dist-test
# The CPython versions the wheel is tested on (each skipped, with the reason, where missing).
DIST_PYTHONS ?= 3.11 3.12 3.13

dist-test: dist-test-c dist-test-python dist-test-java
	@echo "dist-test: every artifact installed in a clean place and used"

dist-test-python: dist-build
	DIST=$(DIST) VERSION=$(ZC_VERSION) WORK=$(DIST_TEST)/python PY_DIR=$(PY_DIR) \
		bash $(ROOT)/tests/dist/python.sh $(DIST_PYTHONS)

# make java-install is tried too, into a scratch local repository.
dist-test-java: MAVEN_LOCAL_REPO = $(DIST_TEST)/java-install-m2
dist-test-java: dist-build java-tools java-install
	DIST=$(DIST) VERSION=$(ZC_VERSION) WORK=$(DIST_TEST)/java ROOT=$(ROOT) INSTALLED_REPO=$(MAVEN_LOCAL_REPO) \
		JAVA17_HOME=$(JAVA17_HOME) JAVA_NEW_HOME=$(JAVA_NEW_HOME) \
		bash $(ROOT)/tests/dist/java.sh

dist-test-c: dist-build
	DIST=$(DIST) VERSION=$(ZC_VERSION) WORK=$(DIST_TEST)/c ROOT=$(ROOT) bash $(ROOT)/tests/dist/c.sh
