# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# kleak: one static binary with the BPF object embedded as a skeleton.
# Every tool and library comes from Debian packages (make deps).

OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
VERSION := 0.1.0

DEB_PACKAGES := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libzstd-dev pkg-config \
	make gcc jq iproute2

.DEFAULT_GOAL := all

# Checked when something is built, not when make starts, so that "make run"
# and "make test" on a fresh machine can install the packages first.
.PHONY: check-tools
check-tools:
	$(Q)for t in $(CLANG):clang $(BPFTOOL):bpftool $(LLVM_STRIP):llvm; do \
		command -v $${t%%:*} >/dev/null || \
		{ echo "$${t%%:*} not found: install Debian package $${t##*:} (make deps)" >&2; exit 1; }; \
	done; \
	$(PKG_CONFIG) --exists libbpf || \
		{ echo "libbpf not found by pkg-config: install libbpf-dev (make deps)" >&2; exit 1; }

ARCH := x86
INCLUDES := -I$(OUTPUT) -Isrc -Ivmlinux
# The BPF target lacks the host's system include paths; take them from clang.
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

CFLAGS ?= -g -O2
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef \
	-Wformat-security -Wno-unused-parameter
ALL_CFLAGS := $(CFLAGS) $(WARNINGS) -D_GNU_SOURCE -DKLEAK_VERSION='"$(VERSION)"' $(INCLUDES)
LIBS := $(shell $(PKG_CONFIG) --static --libs libbpf 2>/dev/null) -lzstd
LDFLAGS ?= -static

APP_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
APP_OBJS := $(patsubst src/%.c,$(OUTPUT)/%.o,$(APP_SRCS))
TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_OBJS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%.o,$(TEST_SRCS))
TOOLS := $(OUTPUT)/kleak-workload $(OUTPUT)/bench-floor $(OUTPUT)/bench-churn \
	$(OUTPUT)/bench-report1m
DEPS := $(wildcard $(OUTPUT)/*.d $(OUTPUT)/tests/*.d)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all
all: kleak $(TOOLS)

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

BPF_HDRS := bpf/allocs.bpf.h bpf/core_fixes.bpf.h bpf/filters.bpf.h bpf/sites.bpf.h \
	bpf/stack.bpf.h bpf/stats.bpf.h bpf/task.bpf.h
# Every BPF object in bpf/ builds alike: kleak.bpf.o (the tracer) and
# classify.bpf.o (the report-time iterators, classify.c), each with its skeleton.
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c src/kleak.h vmlinux/vmlinux.h | $(OUTPUT) check-tools
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(INCLUDES) -Ibpf \
		$(CLANG_BPF_SYS_INCLUDES) -Wall -Werror -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/kleak.bpf.o: $(BPF_HDRS)

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Only the loader includes the skeleton.
$(OUTPUT)/loader.o: $(OUTPUT)/kleak.skel.h

$(OUTPUT)/classify.o: $(OUTPUT)/classify.skel.h

$(OUTPUT)/%.o: src/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

kleak: $(OUTPUT)/main.o $(APP_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/tests/%.o: tests/unit/%.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -MMD -MP -c $< -o $@

# Tests register by name: each "void test_<name>(void)" in tests/unit/test_*.c
# becomes DEFINE_TEST(test_<name>). The directory is a prerequisite so that
# deleting a test file regenerates the list as well.
TEST_CASE_SRCS := $(wildcard tests/unit/test_*.c)
$(OUTPUT)/tests/tests.h: $(TEST_CASE_SRCS) tests/unit | $(OUTPUT)/tests
	$(call msg,GEN,$@)
	$(Q)sed -n 's/^void \(test_[A-Za-z0-9_]*\)(void)$$/DEFINE_TEST(\1)/p' /dev/null \
		$(TEST_CASE_SRCS) > $@

# test.h declares the tests from tests.h and main.c lists them.
$(TEST_OBJS): $(OUTPUT)/tests/tests.h

$(OUTPUT)/unit-tests: $(TEST_OBJS) $(APP_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/kleak-workload: tools/workload/kleak-workload.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARNINGS) -D_GNU_SOURCE $< -o $@

$(OUTPUT)/bench-churn: tools/bench/churn.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARNINGS) -D_GNU_SOURCE $< -o $@

# Links the report path (APP_OBJS) and opens, never loads, the skeleton.
$(OUTPUT)/bench-report1m: tools/bench/report1m.c $(APP_OBJS) $(OUTPUT)/kleak.skel.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(filter-out %.h,$^) $(LIBS) -o $@

$(OUTPUT)/bench-floor: tools/bench/floor.c $(OUTPUT)/floor.skel.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIBS) -o $@

$(OUTPUT)/floor.bpf.o: tools/bench/floor.bpf.c vmlinux/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(INCLUDES) \
		$(CLANG_BPF_SYS_INCLUDES) -Wall -Werror -c $< -o $@

$(OUTPUT)/floor.skel.h: $(OUTPUT)/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

# The quick start: install what is missing, build, one 10-second report.
.PHONY: run
run: deps
	$(Q)$(MAKE) --no-print-directory kleak
	./kleak --duration 10

# Packages first, then a fresh make that sees them.
.PHONY: test
test: deps
	$(Q)$(MAKE) --no-print-directory kleak $(TOOLS) $(OUTPUT)/unit-tests
	$(Q)tests/run.sh

.PHONY: bench
bench: deps
	$(Q)$(MAKE) --no-print-directory kleak $(TOOLS)
	$(Q)tools/bench/run.sh

.PHONY: deps
deps:
	$(Q)missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing; \
	fi

.PHONY: install
install: kleak
	install -D -m 0755 kleak $(DESTDIR)$(PREFIX)/sbin/kleak

.PHONY: clean
clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) kleak

.DELETE_ON_ERROR:
.SECONDARY:

-include $(DEPS)

include tools/vm/vm.mk
