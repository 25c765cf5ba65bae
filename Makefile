# frep: the two commands of the README, and a few more. Drives CMake.
#   make demo   install what is missing, build, run two frepd partners
#   make test   install what is missing, build with -Werror, run every test,
#               then the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#               then a short run of every fuzz target; fails if a test was
#               skipped unless FREP_ALLOW_SKIP names its tag (docs/TESTS.md)
BUILD     ?= build
SAN_BUILD ?= build-asan
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Debian 12 packages the build, the tests and the demo need.
DEB_PACKAGES := cmake make gcc pkg-config libc6-dev \
  libnng-dev libmbedtls-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev \
  libcmocka-dev libsqlite3-dev sqlite3 libjansson-dev libssl-dev libsmartcols-dev openssl \
  python3 python3-protobuf python3-venv python3-pip python3-setuptools python3-wheel \
  clang libclang-rt-14-dev \
  kea-dhcp4-server isc-dhcp-client iproute2 clang-format git curl \
  help2man
# Test-only: promtool (prometheus, about 100 MB), which checks /metrics
# (ctest http_metrics_test skips that check without it, and a skip fails
# make test), and groff (groff-base), with which man_test renders the man
# pages. make test installs them.
TEST_DEB_PACKAGES := prometheus groff-base

# What `make deb` needs besides DEB_PACKAGES (Debian's packaging tools);
# installed only by make deb / deb-test, to keep make test lean.
DEB_BUILD_PACKAGES := debhelper dpkg-dev fakeroot dh-python python3-all python3-setuptools \
  lintian
DEB_DIR ?= build-deb

# Debian 12 packages only the benchmarks need (the gRPC C++ baseline of
# rpc_bench); `make bench` installs them, the build and the tests never need them.
BENCH_PACKAGES := g++ libgrpc++-dev protobuf-compiler-grpc

.PHONY: all deps deps-test bench-deps deb-deps deb deb-test build build-asan test test-plain test-asan test-fuzz fuzz demo demo-kea install bench clean format format-check fresh-check

all: build

deps deb-deps: PACKAGES = $(DEB_PACKAGES)
deb-deps: PACKAGES = $(DEB_PACKAGES) $(DEB_BUILD_PACKAGES)
deps deb-deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "run as root (or install:$$missing)"; exit 1; fi; \
	  (apt-get install -y --no-install-recommends $$missing 2>/dev/null || \
	   (apt-get update && apt-get install -y --no-install-recommends $$missing)) >/dev/null; \
	fi

deps-test:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(TEST_DEB_PACKAGES)"

bench-deps:
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing (bench only):$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "run as root (or install:$$missing); the gRPC column is skipped without them"; exit 1; fi; \
	  (apt-get install -y --no-install-recommends $$missing 2>/dev/null || \
	   (apt-get update && apt-get install -y --no-install-recommends $$missing)) >/dev/null; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DFREP_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(SAN_BUILD) -DFREP_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
	  -DFREP_SANITIZER=address,undefined -DFREP_BUILD_BENCH=OFF >/dev/null
	cmake --build $(SAN_BUILD) -j$(JOBS)

# tests/ctest_run.sh runs ctest with two guards. A skip is not a pass: each
# run writes JUnit and tests/skip_guard.sh lists the skipped tests with
# their reasons and fails unless FREP_ALLOW_SKIP names every skip's tag
# (e.g. FREP_ALLOW_SKIP=netns,root; docs/TESTS.md). CI and the fresh-root
# check run with nothing allowed. And the tests clean up: they run with
# TMPDIR=$(BUILD)/test-tmp (emptied first), and anything left there fails.
test-plain: build deps-test
	cd $(BUILD) && $(CURDIR)/tests/ctest_run.sh -j$(JOBS)

test-asan: build-asan deps-test
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CURDIR)/tests/ctest_run.sh -j$(JOBS)

# A short run of every fuzz target (clang's libFuzzer, ASan+UBSan), about a
# minute in all; `make fuzz` runs them long.
test-fuzz: deps
	./tests/fuzz/run.sh short

fuzz: deps
	./tests/fuzz/run.sh long

# The house style is .clang-format's: `make format` applies it, `make test`
# checks it first.
C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format: deps
	clang-format -i $(C_SOURCES)

format-check: deps
	@clang-format --dry-run --Werror $(C_SOURCES) && echo "format: every C file follows .clang-format"

test: format-check test-plain test-asan test-fuzz

demo: build
	FREPD=$(BUILD)/rpc/frepd FREPCTL=$(BUILD)/clients/frepctl ./clients/demo.sh

# The same, served: two Kea DHCP servers driven by the two frepd, and a real
# DHCP client in a network namespace given the replicated reservation by the
# partner's Kea. Needs root (network namespaces).
demo-kea: build
	./clients/demo_kea.sh $(BUILD)

install: build
	cmake --install $(BUILD)

# The README's first commands on a bare Debian 12 root (mmdebstrap minbase +
# git + make, chroot): `make demo` and `make test-plain` from a clone of HEAD.
# Needs root; CI runs it (.ci/run), so a package missing from DEB_PACKAGES
# fails CI even when this machine has it. FRESH_DROP_PACKAGES="pkg ..."
# first shows that `make demo` fails without them; FRESH_DEB=1 then installs
# `make deb`'s packages on a second bare root, boots it (systemd-nspawn) and
# starts frepd.service there. CI sets both (.ci/fresh-check says more).
fresh-check:
	./.ci/fresh-check

# Debian packages (debian/, dh with the cmake buildsystem): frep,
# libfrep-client0, libfrep-client-dev, python3-frep in $(DEB_DIR)/, built
# from a copy of the tree (dpkg-buildpackage writes next to the source),
# then lintian (fails on errors). `make deb-test` installs them, checks
# them and purges them (tests/deb_test.sh).
deb: deb-deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	git ls-files -co --exclude-standard | grep -v '^$(DEB_DIR)/' | \
	  while read -r f; do [ -e "$$f" ] && echo "$$f"; done | \
	  tar -cf - -T - | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc -j$(JOBS) >../build.log 2>&1 || \
	  { tail -40 ../build.log; exit 1; }
	mkdir -p $(DEB_DIR)/tmp && TMPDIR=$(CURDIR)/$(DEB_DIR)/tmp \
	  lintian --fail-on error --tag-display-limit 0 $(DEB_DIR)/*.changes >$(DEB_DIR)/lintian.log; \
	  rc=$$?; cat $(DEB_DIR)/lintian.log; exit $$rc
	@ls $(DEB_DIR)/*.deb

deb-test: deb
	DEB_DIR=$(DEB_DIR) FREP_SOURCE_DIR=$(CURDIR) ./tests/deb_test.sh

# The benchmarks: installs BENCH_PACKAGES first, so that the build (CMake finds
# grpc++ and grpc_cpp_plugin again) includes bench/grpc_echo.
bench: bench-deps build
	BUILD=$(BUILD) ./bench/run

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(DEB_DIR)
