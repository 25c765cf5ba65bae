# frep: the two commands of the README, and a few more. Drives CMake.
#   make demo   install what is missing, build, run two frepd partners
#   make test   install what is missing, build with -Werror, run every test,
#               then the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#               then a short run of every fuzz target
BUILD     ?= build
SAN_BUILD ?= build-asan
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Debian 12 packages the build, the tests and the demo need.
DEB_PACKAGES := cmake make gcc pkg-config libc6-dev \
  libnng-dev libmbedtls-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev \
  libcmocka-dev libsqlite3-dev sqlite3 libjansson-dev libssl-dev libsmartcols-dev openssl \
  python3 python3-protobuf python3-venv python3-pip python3-setuptools python3-wheel \
  clang libclang-rt-14-dev \
  kea-dhcp4-server isc-dhcp-client iproute2 clang-format git

# Debian 12 packages only the benchmarks need (the gRPC C++ baseline of
# rpc_bench); `make bench` installs them, the build and the tests never need them.
BENCH_PACKAGES := g++ libgrpc++-dev protobuf-compiler-grpc

.PHONY: all deps bench-deps build build-asan test test-plain test-asan test-fuzz fuzz demo demo-kea install bench clean format format-check fresh-check

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "run as root (or install:$$missing)"; exit 1; fi; \
	  (apt-get install -y --no-install-recommends $$missing 2>/dev/null || \
	   (apt-get update && apt-get install -y --no-install-recommends $$missing)) >/dev/null; \
	fi

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

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: build-asan
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

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
# fails CI even when this machine has it.
fresh-check:
	./.ci/fresh-check

# The benchmarks: installs BENCH_PACKAGES first, so that the build (CMake finds
# grpc++ and grpc_cpp_plugin again) includes bench/grpc_echo.
bench: bench-deps build
	BUILD=$(BUILD) ./bench/run

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
