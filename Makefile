# spanprobe build.  `make` builds build/spanprobe; `make test` runs every
# test tier; `make run` builds and traces.  Both install missing Debian
# packages first (deploy/deps.sh).

VERSION   := 0.1.0
BUILD     := build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      := x86

CFLAGS    ?= -O2 -g
# Link-time optimisation of the daemon and the benchmarks, with gcc: about
# 8 % less CPU per span in bench/throughput, 12 % in its reader (README,
# "Throughput and compiler flags").  The objects are fat: the tests link their machine
# code, without LTO's time.  LTO= builds without it.
LTO       ?= $(if $(filter gcc cc,$(notdir $(CC))),-flto=auto -ffat-lto-objects)
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread \
             -Iinclude -Iuser -I$(BUILD) -I$(BUILD)/proto -MMD -MP \
             -DSP_VERSION=\"$(VERSION)\" -D_GNU_SOURCE $(LTO)
LDLIBS    := -lbpf -lelf -ldeflate -lz -lnghttp2 -lprotobuf-c -lssl -lcrypto -lyaml -ljson-c -lm -pthread
# gzip by ISA-L (levels 1-3) where its headers are here, else by libdeflate.
ifneq ($(wildcard /usr/include/isa-l/igzip_lib.h),)
override CFLAGS += -DSP_HAVE_ISAL
LDLIBS    += -lisal
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
              -Ivmlinux -Iinclude -Ibpf $(BPF_DEFS)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

PROTO_SRCS := $(shell find proto -name '*.proto' 2>/dev/null)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTO_SRCS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_OBJS := $(PROTO_C:.c=.o)

USER_SRCS := $(shell find user -name '*.c' ! -name main.c | sort)
USER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(USER_SRCS))
LIB       := $(BUILD)/libspanprobe.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
PROG_SRCS := $(filter-out tests/programs/lib%.c,$(wildcard tests/programs/*.c))
PROG_BINS := $(patsubst tests/programs/%.c,$(BUILD)/tests/programs/%,$(PROG_SRCS))
PROG_LIBS := $(patsubst tests/programs/%.c,$(BUILD)/tests/programs/%.so,$(wildcard tests/programs/lib*.c))
# Go test programs, when the Go toolchain is here (deploy/deps.sh installs
# golang-go); each also as NAME.stripped, without its symbol table.
GO        ?= $(shell command -v go 2>/dev/null)
ifneq ($(GO),)
GO_BINS   := $(patsubst tests/programs/%.go,$(BUILD)/tests/programs/%,$(wildcard tests/programs/*.go))
PROG_BINS += $(GO_BINS) $(addsuffix .stripped,$(GO_BINS))
endif
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

# The build's jobs: one per CPU.
NPROC     := $(shell nproc 2>/dev/null || echo 1)

# Node-wide HTTP tracing; `make run RUN_ARGS="trace -u outer -- prog"` for others.
RUN_ARGS  ?= run

# A recipe that fails leaves no half-written target behind.
.DELETE_ON_ERROR:

.PHONY: all deps run test unit integration bench bench-https bench-h2 bench-kernels bench-growth bench-stages soak clean format lint asan tsan vmlinux fuzz fuzz-run install image
all: $(BUILD)/spanprobe

deps:
	@deploy/deps.sh

run: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all tests-programs
	$(BUILD)/spanprobe $(RUN_ARGS)

# The fuzz targets run FUZZ_TEST_SECONDS each in the test run (a crash fails).
FUZZ_TEST_SECONDS ?= 5
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all tests-build fuzz
	@SP_BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) tests/run.sh

tests-build: $(UNIT_BINS) $(PROG_BINS) $(TOOL_BINS) $(PROG_LIBS)
tests-programs: $(PROG_BINS) $(PROG_LIBS)
# The export and throughput benchmarks have an integration test.
tests-build: $(BUILD)/bench/otlp_sink $(BUILD)/bench/export $(BUILD)/bench/throughput

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS) $(PROG_BINS)
	@SP_BUILD=$(BUILD) bench/run.sh

# HTTPS: what tracing adds per request to nginx + TLS under wrk, and ns per
# SSL_write/SSL_read untraced, under a bare uprobe pair and under spanprobe.
bench-https: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/ssl_calls $(BUILD)/bench/bare_uprobe
	@SP_BUILD=$(BUILD) python3 bench/https_overhead.py
	@SP_BUILD=$(BUILD) python3 bench/ssl_calls.py

# HTTP/2: what tracing costs nginx (h2c) under h2load, and the spans made
# against the streams served (bench/h2_overhead.py).
bench-h2: deps
	@$(MAKE) --no-print-directory all
	@SP_BUILD=$(BUILD) python3 bench/h2_overhead.py

# How the daemon's CPU per span and RSS grow with connections, processes
# and traced functions, at a fixed rate of spans (bench/growth.py).
bench-growth: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/growth_load $(BUILD)/tests/programs/calls64
	@SP_BUILD=$(BUILD) python3 bench/growth.py

# Where an HTTP call's BPF time goes: spanprobe built again (in
# $(BUILD)/stages) with its socket path cut at a stage the bench moves
# between rounds (bench/bpf_stages.py).
bench-stages: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/bare_uprobe
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/stages BPF_DEFS=-DSP_BPF_STAGES all
	@SP_BUILD=$(BUILD) SP_STAGES_BUILD=$(BUILD)/stages python3 bench/bpf_stages.py

# The node-wide tax inside each kernel of the kernel matrix (QEMU), per
# HTTP capture path: the ratio with/without spanprobe (bench/kernels.py).
bench-kernels: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/syscall_tax
	@SP_BUILD=$(BUILD) python3 bench/kernels.py

# 30 minutes of mixed load and a flapping collector (bench/soak.py);
# SOAK_SECONDS=180 for a trial.
SOAK_SECONDS ?= 1800
soak: deps
	@$(MAKE) --no-print-directory all
	@SP_BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) python3 bench/soak.py

# --- BPF objects and skeletons -------------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/common.bpf.h include/spanprobe/events.h $(wildcard bpf/*.bpf.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# --- protobuf-c ------------------------------------------------------------
$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.o: $(BUILD)/proto/%.c
	$(CC) $(CFLAGS) -w -c $< -o $@

# A generated .c includes the headers of the .proto files it imports.
$(PROTO_OBJS): | $(PROTO_C) $(PROTO_H)

# --- userspace --------------------------------------------------------------
$(USER_OBJS) $(BUILD)/user/main.o: | $(SKELS) $(PROTO_C) $(PROTO_H)

$(BUILD)/user/%.o: user/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(USER_OBJS) $(PROTO_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/spanprobe: $(BUILD)/user/main.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# --- tests and benchmarks ---------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-lto -Itests $< -o $@ $(LIB) $(LDLIBS) -lcmocka $(UNIT_LDFLAGS)

# Tests that make malloc() fail where they choose (tests/unit/fail_malloc.h):
# the rings of open requests and pending exchanges when they must grow.
$(BUILD)/tests/test_exchange $(BUILD)/tests/test_http2: UNIT_LDFLAGS = -Wl,--wrap=malloc

# The counters threads share, under ThreadSanitizer in every build: the
# files that write and read them are compiled into the test instrumented
# (the library's uninstrumented copies are then not linked in).  Not in
# the AddressSanitizer build, which cannot have both: there the test
# runs under AddressSanitizer like the others (a build that sets its own
# -fsanitize= keeps it as it is: the ThreadSanitizer build has it already).
TSAN_UNIT_SRCS := user/export/batch.c user/export/exporter.c user/export/console.c user/export/export_health.c
STATS_RACE_SAN := $(if $(findstring -fsanitize=,$(CFLAGS)),,-fsanitize=thread)
$(BUILD)/tests/test_stats_race: tests/unit/test_stats_race.c $(TSAN_UNIT_SRCS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-lto $(STATS_RACE_SAN) -Itests $< $(TSAN_UNIT_SRCS) -o $@ $(LIB) $(LDLIBS) -lcmocka

# Test programs keep their symbols and frames: they are traced by name.
$(BUILD)/tests/programs/%: tests/programs/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fno-inline -fno-omit-frame-pointer -Wall -Wextra -pthread $< -o $@ -L$(BUILD)/tests/programs -Wl,-rpath,'$$ORIGIN',--enable-new-dtags $(PROG_LDLIBS_$*)

# Go programs: standard library only, built offline, with the toolchain's
# caches in the build tree (nothing written to $$HOME); no cgo, so the
# result does not depend on the C toolchain.  -s drops the symbol table as
# `go build -ldflags=-s` users ship it.
GO_ENV := GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go/path \
	  GOENV=off GOPROXY=off GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0
$(BUILD)/tests/programs/%: tests/programs/%.go
	@mkdir -p $(@D)
	$(GO_ENV) $(GO) build -o $@ $<
$(BUILD)/tests/programs/%.stripped: tests/programs/%.go
	@mkdir -p $(@D)
	$(GO_ENV) $(GO) build -ldflags=-s -o $@ $<

$(BUILD)/tests/programs/%.so: tests/programs/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fPIC -shared -Wall -Wextra $< -o $@

# The programs of 64 functions share them.
$(BUILD)/tests/programs/many $(BUILD)/tests/programs/calls64: tests/programs/fn64.h

# uselib finds libspwork.so through its RUNPATH ($$ORIGIN), as the loader does.
PROG_LDLIBS_uselib := -lspwork
$(BUILD)/tests/programs/uselib: $(BUILD)/tests/programs/libspwork.so
# tls_dlopen loads libssl itself, later (dlopen is in libdl before glibc 2.34).
PROG_LDLIBS_tls_dlopen := -ldl

# Test-only tools that drive library code (not traced, not run as tests).
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-lto -Itests $< -o $@ $(LIB) $(LDLIBS)

# The benchmarks' own BPF programs: the bare floors (bench/bare_uprobe)
# and the kernel's helper prices (bench/kprice), each with its skeleton.
$(BUILD)/bench/%.bpf.o: bench/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/bench/%.skel.h: $(BUILD)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@
$(BUILD)/bench/bare_uprobe: $(BUILD)/bench/bare.skel.h
$(BUILD)/bench/kprice: $(BUILD)/bench/kprice.skel.h
$(BUILD)/bench/bare_uprobe $(BUILD)/bench/kprice: CFLAGS += -I$(BUILD)/bench

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDLIBS)

# The export and throughput benchmarks run the sink built next to them.
$(BUILD)/bench/export $(BUILD)/bench/throughput: | $(BUILD)/bench/otlp_sink

# Node-wide service (systemd).  PREFIX and DESTDIR as usual.
PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(BUILD)/spanprobe $(DESTDIR)$(PREFIX)/bin/spanprobe
	install -D -m 0644 deploy/spanprobe.service $(DESTDIR)/etc/systemd/system/spanprobe.service
	test -e $(DESTDIR)/etc/default/spanprobe || \
	  install -D -m 0644 deploy/spanprobe.env $(DESTDIR)/etc/default/spanprobe

# The container image, built here without pulling a base image: the Debian
# packages of the libraries the binary loads and $(BUILD)/spanprobe, as the
# OCI archive $(BUILD)/image/spanprobe-oci.tar (spanprobe:$(VERSION)).
# deploy/Containerfile builds the same image where a registry is at hand.
image: deps
	@$(MAKE) --no-print-directory all
	deploy/image.sh $(BUILD) $(VERSION)

# vmlinux.h is committed so builds do not depend on the build host's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

# Fuzzing (libFuzzer, clang's runtime from libclang-rt-14-dev): `make fuzz`
# builds every target, `make fuzz-run FUZZ_SECONDS=300` runs each in turn
# for that long; `make test` runs each for FUZZ_TEST_SECONDS (tests/run.sh).
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -Itests
FUZZ_SECONDS ?= 300
FUZZ_HTTP1   := user/protocol/http1.c user/protocol/http1_parse.c user/protocol/route.c user/assemble/traceparent.c user/util/hex.c user/util/ring.c
fuzz: $(BUILD)/fuzz/fuzz_http1
$(BUILD)/fuzz/fuzz_http1: tests/fuzz/fuzz_http1.c $(FUZZ_HTTP1) $(wildcard user/protocol/*.h user/assemble/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $< $(FUZZ_HTTP1) -o $@
# The HTTP/2 decoder: frames, HPACK (nghttp2), streams as spans.
FUZZ_HTTP2 := user/protocol/http2.c user/protocol/hpack.c user/protocol/http2_frame.c user/protocol/http2_fields.c \
	user/protocol/http2_proto.c user/protocol/grpc_attrs.c user/protocol/http_attrs.c \
	user/protocol/registry.c user/protocol/route.c user/protocol/http1.c \
	user/protocol/http1_parse.c user/protocol/http1_proto.c user/capture/stream.c user/util/hex.c user/util/ring.c user/util/strbuf.c \
	user/protocol/redis.c user/protocol/redis_reply.c user/protocol/redis_commands.c user/protocol/resp.c \
	user/protocol/db_attrs.c user/protocol/sql.c \
	user/protocol/sql_lex.c user/protocol/mysql.c user/protocol/mysql_resp.c user/protocol/mysql_wire.c \
	user/protocol/pgsql.c user/protocol/pgsql_calls.c
fuzz: $(BUILD)/fuzz/fuzz_http2
$(BUILD)/fuzz/fuzz_http2: tests/fuzz/fuzz_http2.c $(FUZZ_HTTP2) $(wildcard user/protocol/*.h user/capture/*.h user/util/*.h tests/fuzz/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $< $(FUZZ_HTTP2) -o $@ -lnghttp2
# The SQL sanitiser and summary (every literal gone, stable when run again).
FUZZ_SQL := user/protocol/sql.c user/protocol/sql_lex.c
fuzz: $(BUILD)/fuzz/fuzz_sql
$(BUILD)/fuzz/fuzz_sql: tests/fuzz/fuzz_sql.c $(FUZZ_SQL) $(wildcard user/protocol/sql*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $< $(FUZZ_SQL) -o $@
# The database decoders, each through its protocol interface: Redis (the
# RESP walk, the queue of commands), MySQL/MariaDB (packets, handshake,
# commands and responses), PostgreSQL (framing both ways, statements by
# name); calls and their database attributes.  The registry links every
# decoder: the HTTP/2 target's files.
FUZZ_DB := redis mysql pgsql
FUZZ_DB_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_DB))
fuzz: $(FUZZ_DB_BINS)
$(FUZZ_DB_BINS): $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HTTP2) $(wildcard user/protocol/*.h user/capture/*.h user/util/*.h tests/fuzz/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $< $(FUZZ_HTTP2) -o $@ -lnghttp2
# The Kubernetes API's answers: HTTP framing, the JSON stream of a list or
# a watch, the pod table and the attributes a pod gives.
FUZZ_K8S := user/k8s/httpresp.c user/k8s/watch.c user/k8s/pod.c user/k8s/podtable.c \
	user/span/resource.c user/util/hex.c user/util/log.c user/util/utf8.c
fuzz: $(BUILD)/fuzz/fuzz_k8s_watch
$(BUILD)/fuzz/fuzz_k8s_watch: tests/fuzz/fuzz_k8s_watch.c $(FUZZ_K8S) $(wildcard user/k8s/*.h user/span/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -DSP_VERSION=\"fuzz\" $< $(FUZZ_K8S) -o $@ -ljson-c -pthread
# The exporter's parsers of a collector's answers (HTTP/1.1, HTTP/2 and
# what nghttp2 hands h2.c's callbacks, OTLP responses) and of its settings:
# tests/fuzz/fuzz_<name>.c with FUZZ_SRCS_<name>, a seed corpus
# tests/fuzz/corpus_<name>/ and a dictionary tests/fuzz/<name>.dict.
FUZZ_EXPORT := otlp_response net_h1 net_h2 config metrics_request otlp_encode compress
FUZZ_SRCS_otlp_response := user/export/otlp_response.c user/transport/pbwire.c user/transport/grpc.c user/transport/exchange.c user/util/hex.c
FUZZ_SRCS_net_h1 := user/transport/h1.c user/transport/exchange.c user/transport/conn.c user/transport/url.c user/util/clock.c user/util/log.c
FUZZ_LIBS_net_h1 := -lnghttp2 -lssl -lcrypto
FUZZ_SRCS_net_h2 := user/transport/h2.c user/transport/exchange.c user/transport/conn.c user/transport/url.c user/util/clock.c user/util/log.c
FUZZ_LIBS_net_h2 := -lnghttp2 -lssl -lcrypto
FUZZ_SRCS_config := user/export/otlp_config.c user/export/otlp_headers.c user/export/retry.c user/transport/url.c user/transport/tlsctx.c user/util/files.c user/util/hex.c user/util/env.c
FUZZ_LIBS_config := -lssl -lcrypto
# The metrics server's request heads and listening addresses (daemon/httpserve.c).
FUZZ_SRCS_metrics_request := user/daemon/httpserve.c user/util/clock.c user/util/strbuf.c user/util/log.c
# What the exporter writes: the fast protobuf encoder against protobuf-c's
# bytes, gzip at every level (ISA-L as the daemon has it) against zlib.
FUZZ_SRCS_otlp_encode := user/export/otlp_pb_fast.c user/export/otlp_pb.c user/span/span.c user/span/resource.c user/util/hex.c user/util/log.c user/util/utf8.c $(PROTO_C)
FUZZ_CFLAGS_otlp_encode := -I$(BUILD)/proto -DSP_VERSION=\"$(VERSION)\"
FUZZ_LIBS_otlp_encode := -lprotobuf-c -pthread
FUZZ_SRCS_compress := user/export/compress.c
FUZZ_CFLAGS_compress := $(filter -DSP_HAVE_ISAL,$(CFLAGS))
FUZZ_LIBS_compress := $(filter -lisal,$(LDLIBS)) -ldeflate -lz
FUZZ_EXPORT_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_EXPORT))
fuzz: $(FUZZ_EXPORT_BINS)
$(foreach t,$(FUZZ_EXPORT),$(eval $(BUILD)/fuzz/fuzz_$(t): $(FUZZ_SRCS_$(t))))
$(FUZZ_EXPORT_BINS): $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h user/transport/*.h user/export/*.h user/span/*.h user/util/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $(FUZZ_CFLAGS_$*) $< $(FUZZ_SRCS_$*) -o $@ $(FUZZ_LIBS_$*)
fuzz-run: fuzz
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_http1 -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/http1.dict $(BUILD)/fuzz/corpus tests/fuzz/corpus_http1
	@mkdir -p $(BUILD)/fuzz/corpus_http2
	$(BUILD)/fuzz/fuzz_http2 -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/http2.dict $(BUILD)/fuzz/corpus_http2 tests/fuzz/corpus_http2
	@set -e; for t in $(FUZZ_DB); do \
		mkdir -p $(BUILD)/fuzz/corpus_$$t; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/$$t.dict $(BUILD)/fuzz/corpus_$$t tests/fuzz/corpus_$$t; \
	done
	@mkdir -p $(BUILD)/fuzz/corpus_k8s_watch
	$(BUILD)/fuzz/fuzz_k8s_watch -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/k8s_watch.dict $(BUILD)/fuzz/corpus_k8s_watch tests/fuzz/corpus_k8s_watch
	@mkdir -p $(BUILD)/fuzz/corpus_sql
	$(BUILD)/fuzz/fuzz_sql -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/sql.dict $(BUILD)/fuzz/corpus_sql tests/fuzz/corpus_sql
	@set -e; for t in $(FUZZ_EXPORT); do \
	  mkdir -p $(BUILD)/fuzz/corpus_$$t; \
	  echo "$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) ..."; \
	  $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -dict=tests/fuzz/$$t.dict $(BUILD)/fuzz/corpus_$$t tests/fuzz/corpus_$$t; \
	done

format:
	clang-format -i $$(find user include tests bench bpf -name '*.[ch]')

# The generated skeletons (large byte arrays) are not read: they slow
# cppcheck down by minutes and are not ours to lint.  tests/lint/layers.py
# fails when a folder of user/ includes one that is not below it.
lint:
	python3 tests/lint/layers.py
	cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
	  --max-configs=1 -D__x86_64__ -Iinclude -Iuser \
	  --suppress=missingIncludeSystem --suppress=missingInclude --suppress=unknownMacro user

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" LTO= all tests-build

# The reader, batch and export threads share state: run the suite on this
# build with TSAN_OPTIONS=halt_on_error=1:exitcode=66 (SP_BUILD=build-tsan).
tsan:
	$(MAKE) BUILD=build-tsan CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" LTO= all tests-build

clean:
	rm -rf $(BUILD) build-asan build-tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
