# scorch: one non-recursive Makefile. Objects go in build/ (build-asan/ for make asan).
# `make` builds ./scorch; `make check` builds and runs every test; `make demo` profiles
# a bundled workload into demo.svg. Missing Debian packages are installed when run as
# root (scripts/deps.sh), otherwise the exact apt-get line is printed.

PKG_CONFIG ?= pkg-config
DEPS       := libdw libelf libunwind-ptrace libunwind-generic zlib
CFLAGS     ?= -O2 -g
WERROR     ?= 1
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wformat=2 -Wvla -Wwrite-strings
ifeq ($(WERROR),1)
WARN       += -Werror
endif
BUILD      ?= build
PYTHON     ?= /usr/bin/python3
PREFIX     ?= /usr/local
DEPS_OK    := $(BUILD)/.deps-build
PKG_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
PKG_LIBS    = $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null)
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE -I. $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS     += $(PKG_LIBS) -liberty -lpthread -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS       := $(sort $(wildcard common/*.c profiler/*.c symbolizer/*.c render/*.c))
OBJS       := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS   := $(filter-out $(BUILD)/profiler/main.o,$(OBJS))
# the command files call die()/usage_error() of main.c: unit tests link the libraries only
LIB_OBJS   := $(filter-out $(BUILD)/profiler/cmd_%.o,$(LIB_OBJS))
UNIT_SRCS  := $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%)
FUZZ_SRCS  := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_SRCS:%.c=$(BUILD)/%-replay)

.PHONY: all check test asan fuzz bench demo install format clean deps test-deps unit

all: scorch

$(DEPS_OK): scripts/deps.sh
	$(Q)sh scripts/deps.sh build
	$(Q)mkdir -p $(BUILD) && touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/scorch: $(OBJS)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

scorch: $(BUILD)/scorch
	$(Q)cp $< $@

# Unit tests: cmocka, one binary per test/unit/test_<module>.c, linked with the library
# objects (everything but main.c).
$(BUILD)/test/unit/%: test/unit/%.c $(LIB_OBJS) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) -lcmocka

# Fuzz targets replayed over their corpus by a plain-C driver (no clang needed).
$(BUILD)/test/fuzz/%-replay: test/fuzz/%.c test/fuzz/replay.c $(LIB_OBJS) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< test/fuzz/replay.c $(LIB_OBJS) $(LDLIBS)

unit: $(UNIT_BINS) $(FUZZ_BINS)

test-deps:
	$(Q)sh scripts/deps.sh test

check test: test-deps scorch unit
	$(Q)SCORCH=$(CURDIR)/scorch BUILD=$(BUILD) PYTHON=$(PYTHON) sh test/run.sh

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" build-asan/scorch unit test-deps
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		SCORCH=$(CURDIR)/build-asan/scorch BUILD=build-asan PYTHON=$(PYTHON) SCORCH_ASAN=1 \
		sh test/run.sh

fuzz: scorch
	$(Q)sh test/fuzz/build.sh

bench: scorch
	$(Q)sh bench/run.sh

demo: scorch
	$(Q)sh scripts/demo.sh

install: scorch
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 scorch $(DESTDIR)$(PREFIX)/bin/scorch
	install -m 0644 docs/scorch.1 $(DESTDIR)$(PREFIX)/share/man/man1/scorch.1

format:
	$(Q)git clang-format

clean:
	rm -rf build build-asan scorch demo.svg

-include $(OBJS:.o=.d)
