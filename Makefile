# poprelay — top-level build. Each module adds itself through <module>/module.mk.
#
#   make deps    install every Debian package the project and its tests use (idempotent)
#   make build   all binaries and libraries into build/
#   make test    deps + build + every test (unit, fuzz regression, integration)
#   make run     deps + build + the whole appliance on virtual ports (Ctrl-C to stop)
#   make image   the bootable appliance disk image into build/image/ (docs/image.md)
#   make bench   benchmarks -> docs/performance.md and docs/bench-results.jsonl
#                (make bench BENCH=NAME runs one)
#   make asan    ASan+UBSan build into build-asan/ and the unit tests under it
#   make fuzz    libFuzzer targets into build-fuzz/, each run FUZZ_SECONDS
#   make format  clang-format every C file
#   make clean

SHELL := /bin/bash
.DEFAULT_GOAL := build

# Debian's npm, unless a nodejs that bundles its own npm (NodeSource's) is installed: the
# two conflict.
NPM_PKG := $(if $(shell command -v npm 2>/dev/null),,npm)

# Every Debian package the project, its tests and its benchmarks use.
PACKAGES := build-essential pkg-config clang clang-format llvm \
	dpdk dpdk-dev libdpdk-dev libnuma-dev libpcap-dev \
	libipsec-mb-dev libsrtp2-dev libssl-dev \
	libhiredis-dev redis-server redis-tools \
	libevent-dev libosip2-dev libjansson-dev libzxcvbn-dev libsystemd-dev libcunit1-dev \
	iproute2 ethtool iputils-ping procps psmisc file python3 python3-scapy \
	coturn baresip-core sip-tester kamailio kamailio-tls-modules kamailio-websocket-modules \
	tshark openssl keepalived \
	rtpengine-daemon libmicrohttpd-dev prometheus curl nodejs $(NPM_PKG) chromium \
	mkosi debootstrap dosfstools mtools e2fsprogs fdisk binutils qemu-utils \
	qemu-system-x86 ovmf openssh-client lintian

B ?= build
FB := build-fuzz
# the recipes below build with a job per CPU (a clean build takes half as long on 2)
NPROC := $(shell nproc 2>/dev/null || echo 1)
FUZZ_CC := clang
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined
CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif
OPT ?= -O2
SANITIZE ?=
CFLAGS_BASE := -std=gnu11 -g $(OPT) -Wall -Wextra -Werror -fno-strict-aliasing \
	-D_GNU_SOURCE -I. $(SANITIZE)
LDFLAGS_BASE := $(SANITIZE)

# Library flags (pkg-config where a .pc exists; intel-ipsec-mb has none).
DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null | sed 's/-march=corei7/-march=native/')
DPDK_LIBS := $(shell pkg-config --libs libdpdk 2>/dev/null)
IPSECMB_LIBS := -lIPSec_MB
SRTP_CFLAGS := $(shell pkg-config --cflags libsrtp2 2>/dev/null)
SRTP_LIBS := $(shell pkg-config --libs libsrtp2 2>/dev/null)
SSL_LIBS := $(shell pkg-config --libs libssl libcrypto 2>/dev/null)
HIREDIS_CFLAGS := $(shell pkg-config --cflags hiredis 2>/dev/null)
HIREDIS_LIBS := $(shell pkg-config --libs hiredis 2>/dev/null)
EVENT_LIBS := $(shell pkg-config --libs libevent libevent_openssl 2>/dev/null)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null)
OSIP_LIBS := -losipparser2 -losip2
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null)
ZXCVBN_LIBS := -lzxcvbn -lm
CUNIT_LIBS := -lcunit

# Unit tests and fuzzers compile with every library's include flags.
CFLAGS_tests = $(DPDK_CFLAGS) $(SRTP_CFLAGS) $(HIREDIS_CFLAGS)

# $(call unit_test,NAME,OBJECTS_AND_ARCHIVES,LINK_FLAGS): tests/unit/NAME.c -> $(B)/tests/unit/NAME
define unit_test
UNIT_TESTS += $(B)/tests/unit/$(1)
$(B)/tests/unit/$(1): $(B)/tests/unit/$(1).o $(2)
	$$(CC) $$(LDFLAGS_BASE) $$^ -o $$@ $(3) $$(CUNIT_LIBS)
endef

# $(call fuzzer,NAME,SOURCES,CFLAGS_AND_LIBS): tests/fuzz/NAME.c + SOURCES -> build-fuzz/NAME
define fuzzer
FUZZERS += $(FB)/$(1)
$(FB)/$(1): tests/fuzz/$(1).c $(2)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$^ -o $$@ $(3)
endef

# Each module appends to these.
LIBS_ALL :=
BINS :=
UNIT_TESTS :=
FUZZERS :=

include common/module.mk
-include crypto/module.mk
-include dataplane/module.mk
-include dataplane/turn/turn.mk
-include dataplane/media/media.mk
-include tests/integration/media/mpeer.mk
-include tests/bench/media/media_bench.mk
-include tests/bench/webrtc/webrtc_bench.mk
-include mgmt/module.mk
-include slowpath/module.mk
-include dtls/module.mk

# Per-module compile flags: CFLAGS_<top folder> (e.g. CFLAGS_dataplane).
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS_$(firstword $(subst /, ,$*))) -MMD -MP -c $< -o $@

.PHONY: build deps test unit integration run bench asan fuzz fuzz-regress format clean package image
build: $(LIBS_ALL) $(BINS) $(UNIT_TESTS)

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all packages present"; fi
	@# JsSIP and ws for the WSS tests, puppeteer-core to drive Debian's chromium in
	@# webrtc_browser.sh (it downloads no browser), pinned by tests/node/package-lock.json
	@cd tests/node && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
		PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; \
		else echo "deps: node modules present"; fi
	@# Debian starts these services on install; the project starts its own instances.
	@for s in redis-server coturn kamailio rtpengine-daemon prometheus keepalived; do \
		(command -v systemctl >/dev/null && systemctl disable --now $$s >/dev/null 2>&1) || true; \
		(command -v service >/dev/null && service $$s stop >/dev/null 2>&1) || true; done; true

test: deps
	$(MAKE) -j$(NPROC) build
	$(MAKE) -s -j$(NPROC) fuzz-build
	tests/run.sh $(B)

unit: build
	tests/run.sh --unit-only $(B)

integration: build
	tests/run.sh --integration-only $(B)

run: deps
	$(MAKE) -j$(NPROC) build
	tests/run-appliance.sh $(B)

bench: deps
	$(MAKE) -j$(NPROC) build
	tests/bench/run.sh $(B) $(BENCH)

asan:
	$(MAKE) -j$(NPROC) B=build-asan OPT=-O1 SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh --unit-only build-asan

# libFuzzer targets: built with clang into build-fuzz/ (see the fuzzer macro above).
FUZZ_SECONDS ?= 30
fuzz-build: $(FUZZERS)
fuzz: fuzz-build
	tests/fuzz/run.sh $(FB) $(FUZZ_SECONDS)

# A Debian package of the appliance (binaries, conffiles, systemd units).
VERSION ?= 0.1.0
package: build
	images/build-deb.sh $(B) $(VERSION)

# The bootable appliance disk image (raw, qcow2, package manifest) in $(B)/image/, rebuilt
# only when its inputs changed; its binaries are built in $(B)/image/bin without
# -march=native (images/build-image.sh, docs/image.md).
image: deps
	images/build-image.sh $(B) $(VERSION)

format:
	find . -name '*.[ch]' -not -path './build*' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz

# (not into $(B)/image/: the appliance image's file tree has directories named *.d)
-include $(shell find $(B) $(FB) -path $(B)/image -prune -o -name '*.d' -type f -print 2>/dev/null)
