# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The sanitizer and fuzz builds, included from the top Makefile: every
# source once more with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer, linked dynamically (the sanitizer runtimes do
# not link statically), in $(SAN_OUTPUT). The objects carry libFuzzer's
# coverage too, so that the same build gives the fuzz targets (tests/fuzz/)
# and the kleak and unit-tests that tests/sh/sanitize.sh runs.
#
#   make fuzz              each target for FUZZ_SECONDS (default 60) over its
#                          corpus in tests/fuzz/corpus/TARGET; new inputs go to
#                          $(SAN_OUTPUT)/corpus/TARGET, crashes to $(SAN_OUTPUT)/
#   make san               the sanitizer build (make test builds it)

SAN_OUTPUT := .output-san
SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
SAN_CFLAGS := $(SAN_FLAGS) -fsanitize=fuzzer-no-link $(WARNINGS) -D_GNU_SOURCE \
	-DKLEAK_VERSION='"$(VERSION)"' -I$(SAN_OUTPUT) $(INCLUDES)
SAN_LIBS := -ldw $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null) -liberty -lelf -lprotobuf-c -lz \
	-lzstd
# profile.pb-c.o is generated code (protoc-c), taken from the main build as it is
SAN_APP_OBJS := $(patsubst src/%.c,$(SAN_OUTPUT)/%.o,$(APP_SRCS)) $(OUTPUT)/profile.pb-c.o
SAN_TEST_OBJS := $(patsubst tests/unit/%.c,$(SAN_OUTPUT)/tests/%.o,$(TEST_SRCS))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix $(SAN_OUTPUT)/,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60
-include $(wildcard $(SAN_OUTPUT)/*.d $(SAN_OUTPUT)/tests/*.d)

$(SAN_OUTPUT) $(SAN_OUTPUT)/tests:
	$(Q)mkdir -p $@

$(SAN_OUTPUT)/loader.o $(SAN_OUTPUT)/allocators.o: $(OUTPUT)/kleak.skel.h
$(SAN_OUTPUT)/classify.o: $(OUTPUT)/classify.skel.h
$(SAN_OUTPUT)/pprof.o $(SAN_OUTPUT)/tests/test_export.o: $(OUTPUT)/profile.pb-c.h

$(SAN_OUTPUT)/%.o: src/%.c | $(SAN_OUTPUT)
	$(call msg,CC-SAN,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -MMD -MP -c $< -o $@

$(SAN_OUTPUT)/tests/%.o: tests/unit/%.c $(OUTPUT)/tests/tests.h | $(SAN_OUTPUT)/tests
	$(call msg,CC-SAN,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -Itests/unit -MMD -MP -c $< -o $@

$(SAN_OUTPUT)/kleak: $(SAN_OUTPUT)/main.o $(SAN_APP_OBJS)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CLANG) $(SAN_FLAGS) $^ $(SAN_LIBS) -o $@

$(SAN_OUTPUT)/unit-tests: $(SAN_TEST_OBJS) $(SAN_APP_OBJS)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CLANG) $(SAN_FLAGS) $^ $(SAN_LIBS) -o $@

# opts.c's exit() on a usage error or --help comes back to the target (fuzz_opts.c)
$(SAN_OUTPUT)/fuzz_opts: LDWRAP := -Wl,--wrap=exit,--wrap=argp_parse
$(SAN_OUTPUT)/fuzz_%: tests/fuzz/fuzz_%.c $(SAN_APP_OBJS) | $(SAN_OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer $(LDWRAP) $< $(SAN_APP_OBJS) $(SAN_LIBS) -o $@

.PHONY: san
san: $(SAN_OUTPUT)/kleak $(SAN_OUTPUT)/unit-tests $(FUZZ_BINS)

.PHONY: fuzz
fuzz: deps
	$(Q)$(MAKE) --no-print-directory san
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
