# nmnfarm - build, test, bench, demo. See README.md.
#
#   make deps    install missing Debian packages (apt-get, as root)
#   make         build everything into build/
#   make test    deps, build, run every test (also under ASan+UBSan)
#   make bench   speed figures of this machine
#   make demo    a small sweep end to end

CC      ?= cc
BUILD   ?= build
PKGS    := libuv sqlite3 yaml-0.1 jansson libsystemd
OPT     ?= -O3
# -fno-trapping-math lets loops with float selects vectorise; it changes no
# value. Never -ffast-math: NaN checks and bitwise reproducibility need IEEE.
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) \
           -fno-trapping-math $(SAN)
# Lazily expanded: `make deps` may have to install pkg-config's packages
# before these can be read.
# OpenBLAS: Debian's pthread flavour, pinned to one thread at start-up
# (nn_blas_single_thread). Not the serial flavour: it is built without
# locking, and GEMMs called from two job threads at once return wrong
# results (tests/unit/test_nn_core checks this). The rpath keeps the
# loader from swapping in whichever flavour the alternatives system picked.
BLAS_DIR   = /usr/lib/$(shell $(CC) -print-multiarch)/openblas-pthread
BLAS_INC   = /usr/include/$(shell $(CC) -print-multiarch)/openblas-pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS)) -I$(BLAS_INC)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) \
             -lopenblas -lm -lpthread
GOLDEN_DIR ?= $(abspath ../shared/golden)
# A real one-node Slurm cluster for the Slurm executor's tests.
LOCAL_SLURM ?= $(abspath ../shared/slurm/local-slurm.sh)

LIB_SRC := $(wildcard common/*.c worker/nn/*.c worker/env/*.c worker/ppo/*.c worker/eval/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
MIGRATIONS := $(sort $(wildcard schema/[0-9][0-9][0-9][0-9]_*.sql))
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Tests that train for real: release build only (minutes under ASan).
LEARN_BIN := $(patsubst tests/learn/%.c,$(BUILD)/tests/%,$(wildcard tests/learn/test_*.c))
TEST_LIB := $(BUILD)/tests/golden.o
BINS := $(BUILD)/nmn-worker $(BUILD)/nmn-bench $(BUILD)/nmnd $(BUILD)/nmnctl \
        $(BUILD)/tests/notify-listen $(BUILD)/tests/tcp-send

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all deps test check asan bench demo clean install fuzz
all: $(BINS) $(TEST_BIN) $(LEARN_BIN)

deps:
	@./tools/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The schema's numbered migrations, compiled in (common/store.c).
$(BUILD)/gen/migrations.c: $(MIGRATIONS) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	./tools/embed-sql.sh $@ $(MIGRATIONS)

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libnmn.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

WORKER_OBJ := $(patsubst %.c,$(BUILD)/%.o,worker/main.c worker/args.c $(wildcard worker/cmd_*.c))
$(BUILD)/nmn-worker: $(WORKER_OBJ) $(BUILD)/libnmn.a
	$(CC) $(CFLAGS) $^ $(PKG_LIBS) -o $@

DAEMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemon/*.c))
$(BUILD)/nmnd: $(DAEMON_OBJ) $(BUILD)/libnmn.a
	$(CC) $(CFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/nmnctl: $(BUILD)/tools/nmnctl.o $(BUILD)/tools/ctl_query.o $(BUILD)/libnmn.a
	$(CC) $(CFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/nmn-bench: $(BUILD)/worker/bench.o $(BUILD)/libnmn.a
	$(CC) $(CFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/golden.o: tests/unit/golden.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIB) $(BUILD)/libnmn.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $< $(TEST_LIB) $(BUILD)/libnmn.a $(PKG_LIBS) -lcmocka -o $@

$(BUILD)/tests/notify-listen: tests/integ/notify_listen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@

$(BUILD)/tests/tcp-send: tests/integ/tcp_send.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@

$(BUILD)/tests/%: tests/learn/%.c $(BUILD)/libnmn.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $< $(BUILD)/libnmn.a $(PKG_LIBS) -lcmocka -o $@

# The unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  build/asan/nmn-worker build/asan/nmnd $(TEST_BIN:$(BUILD)/%=build/asan/%)

test: deps
	@$(MAKE) --no-print-directory check

check: all asan
	@GOLDEN_DIR=$(GOLDEN_DIR) LOCAL_SLURM=$(LOCAL_SLURM) BUILD=$(BUILD) ./tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/nmn-bench $(BUILD)/nmnd $(BUILD)/nmnctl $(BUILD)/nmn-worker
	@$(BUILD)/nmn-bench
	@echo
	@BUILD=$(BUILD) LOCAL_SLURM=$(LOCAL_SLURM) ./tools/bench-slurm.sh

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/nmnd $(BUILD)/nmnctl
	@BUILD=$(BUILD) ./tools/demo.sh

# Binaries, the schema (also compiled in) and the systemd unit.
install: $(BUILD)/nmnd $(BUILD)/nmnctl $(BUILD)/nmn-worker
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/nmnfarm/schema \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $^ $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MIGRATIONS) $(DESTDIR)$(PREFIX)/share/nmnfarm/schema/
	sed 's|@BINDIR@|$(PREFIX)/bin|g' tools/nmnd.service \
	  >$(DESTDIR)$(PREFIX)/lib/systemd/system/nmnd.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/nmnd.service

# libFuzzer (clang) with ASan+UBSan: each target (the sweep parser; nmnd's
# request handler; the TCP frame parser) FUZZ_SECS seconds from its corpus in tests/fuzz/corpus;
# crashes are written to build/fuzz/ (add them to the corpus once fixed).
FUZZ_SECS ?= 60
FUZZ_CC = clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
# the daemon and common/ instrumented; the training code linked as built
FUZZ_LIB_SRC = $(wildcard common/*.c) $(BUILD)/gen/migrations.c
fuzz: deps $(BUILD)/gen/migrations.c $(BUILD)/libnmn.a
	@mkdir -p build/fuzz
	$(FUZZ_CC) tests/fuzz/fuzz_sweep.c common/sweep.c common/config.c common/bench.c \
	  -lyaml -ljansson -lm -o build/fuzz/fuzz_sweep
	$(FUZZ_CC) tests/fuzz/fuzz_request.c daemon/pool.c daemon/server.c daemon/slurm.c daemon/options.c \
	  $(FUZZ_LIB_SRC) $(BUILD)/libnmn.a $(PKG_LIBS) -o build/fuzz/fuzz_request
	$(FUZZ_CC) tests/fuzz/fuzz_wire.c common/wire.c -ljansson -o build/fuzz/fuzz_wire
	@for t in sweep request wire; do \
	  mkdir -p build/fuzz/corpus-$$t && cp tests/fuzz/corpus/$$t/* build/fuzz/corpus-$$t/ && \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECS) -max_len=4096 -artifact_prefix=build/fuzz/ \
	    build/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; done

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(WORKER_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(BUILD)/tools/nmnctl.d $(BUILD)/tools/ctl_query.d $(BUILD)/worker/bench.d $(BUILD)/tests/golden.d
