# Kontor - one strict Makefile for the whole tree.
#
#   make deps     install what is missing from Debian packages (idempotent, quiet)
#   make all      build every binary (FLAVOUR=debug by default; asan, release)
#   make test     unit and integration tests under ASan/UBSan; ends "N passed, M failed"
#   make up/down  start/stop the local set (PostgreSQL, Redis, bus, services) in .kontor/
#   make demo     bring the local set up and walk through a wholesale day
#   make bench    benchmarks, side by side with the one-procedure reference
#   make clean    remove build/
#
# Out-of-tree builds per flavour in build/<flavour>/; protoc-c output in build/gen/.

FLAVOUR  ?= debug
BUILD    := build/$(FLAVOUR)
GEN      := build/gen
STAMP    := build/.deps-ok

CC       ?= cc
CSTD     := -std=gnu11
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla
VERSION  := 0.1.0
CPPFLAGS := -D_GNU_SOURCE -DKONTOR_VERSION='"$(VERSION)"' -Icommon -I$(GEN) -Itests/lib -I/usr/include/postgresql
DEPFLAGS  = -MMD -MP

ifeq ($(FLAVOUR),asan)
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=all
  LDSAN  := -fsanitize=address,undefined
else ifeq ($(FLAVOUR),release)
  OPT    := -O2 -g
  LDSAN  :=
else
  OPT    := -O0 -g3
  LDSAN  :=
endif

CFLAGS   := $(CSTD) $(WARN) $(OPT)
# Generated code is not ours to warn about beyond the defaults.
GENFLAGS := $(CSTD) -Wall -Werror $(OPT)
LDLIBS   := -lczmq -lzmq -lprotobuf-c -lpq -lhiredis -ljson-c -lsodium -lpthread -lm
LDFLAGS  := $(LDSAN)

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

# ---------------------------------------------------------------- sources
PROTOS      := $(wildcard proto/*.proto)
GEN_C       := $(PROTOS:proto/%.proto=$(GEN)/%.pb-c.c)
GEN_H       := $(PROTOS:proto/%.proto=$(GEN)/%.pb-c.h)
GEN_O       := $(PROTOS:proto/%.proto=$(BUILD)/gen/%.pb-c.o)

COMMON_C    := $(wildcard common/*.c)
COMMON_O    := $(COMMON_C:%.c=$(BUILD)/%.o)
LIBKONTOR   := $(BUILD)/libkontor.a

SERVICES    := bus clients orders logistics receivables
SERVICE_BIN := $(SERVICES:%=$(BUILD)/bin/kontor-%)

# tools/<name>/*.c -> build/<flavour>/bin/<name>
TOOLS       := $(notdir $(patsubst %/,%,$(wildcard tools/*/)))
TOOL_BIN    := $(TOOLS:%=$(BUILD)/bin/%)

UNIT_C      := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_C:tests/unit/%.c=$(BUILD)/tests/%)

# tests/integration/it_*.c -> one program each, linked with the harness in tests/lib
IT_C        := $(wildcard tests/integration/it_*.c)
IT_BIN      := $(IT_C:tests/integration/%.c=$(BUILD)/tests/%)
HARNESS_C   := $(wildcard tests/lib/*.c)
# tests/fixtures/*.c -> helper programs the integration tests start
FIXTURE_C   := $(wildcard tests/fixtures/*.c)
FIXTURE_BIN := $(FIXTURE_C:tests/fixtures/%.c=$(BUILD)/tests/fixtures/%)
HARNESS_O   := $(HARNESS_C:%.c=$(BUILD)/%.o)

ALL_O       := $(COMMON_O) $(HARNESS_O) \
               $(foreach s,$(SERVICES),$(patsubst %.c,$(BUILD)/%.o,$(wildcard services/$(s)/*.c))) \
               $(foreach t,$(TOOLS),$(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/$(t)/*.c))) \
               $(UNIT_C:%.c=$(BUILD)/%.o) $(IT_C:%.c=$(BUILD)/%.o) $(FIXTURE_C:%.c=$(BUILD)/%.o)

.PHONY: all deps test unit demo bench up down clean format lint
.DEFAULT_GOAL := all
.SECONDARY:

all: $(STAMP) $(SERVICE_BIN) $(TOOL_BIN) $(UNIT_BIN) $(IT_BIN) $(FIXTURE_BIN)

# ---------------------------------------------------------------- deps
deps: $(STAMP)

$(STAMP): deploy/local/deps.sh
	$(Q)bash deploy/local/deps.sh
	$(Q)mkdir -p $(dir $@) && touch $@

# ---------------------------------------------------------------- generated
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto | $(STAMP)
	@mkdir -p $(GEN)
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(GEN) $<

$(BUILD)/gen/%.pb-c.o: $(GEN)/%.pb-c.c $(GEN_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(GENFLAGS) -c $< -o $@

# Each service carries its migrations: services/<svc>/migrations/*.sql are
# compiled into build/gen/<svc>_migrations.c as a kt_migration_t list.
MIGRATED    := clients orders logistics receivables
$(GEN)/%_migrations.c: services/%/migrations common/embed-migrations.sh $(wildcard services/*/migrations/*.sql) | $(STAMP)
	@mkdir -p $(GEN)
	@echo "  EMBED   $@"
	$(Q)bash common/embed-migrations.sh $* services/$*/migrations > $@.tmp && mv $@.tmp $@

# The framework's own tables (outbox, offsets), in every service's schema.
$(GEN)/kontor_migrations.c: common/migrations common/embed-migrations.sh $(wildcard common/migrations/*.sql) | $(STAMP)
	@mkdir -p $(GEN)
	@echo "  EMBED   $@"
	$(Q)bash common/embed-migrations.sh kontor common/migrations > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%_migrations.o: $(GEN)/%_migrations.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(GENFLAGS) -c $< -o $@

# ---------------------------------------------------------------- objects
# Every object waits for all generated headers, so the first build is ordered.
$(BUILD)/%.o: %.c $(GEN_H) | $(STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIBKONTOR): $(COMMON_O) $(GEN_O) $(BUILD)/gen/kontor_migrations.o
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# ---------------------------------------------------------------- binaries
define service_rule
$(BUILD)/bin/kontor-$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/$(1)/*.c)) $(if $(filter $(1),$(MIGRATED)),$(BUILD)/gen/$(1)_migrations.o) $(LIBKONTOR)
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

define tool_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/$(1)/*.c)) $(if $(filter kontor,$(1)),$(BUILD)/gen/kt_registry.o) $(LIBKONTOR)
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# kontor CLI: a table of every message descriptor protoc-c generated, so that
# `kontor call` and `kontor describe` know every type of every proto/*.proto.
$(GEN)/kt_registry.c: $(GEN_C) tools/kontor/gen-registry.sh | $(STAMP)
	@mkdir -p $(GEN)
	@echo "  GEN     $@"
	$(Q)bash tools/kontor/gen-registry.sh $(GEN_C) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/kt_registry.o: $(GEN)/kt_registry.c $(GEN_H) tools/kontor/kontor_registry.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Itools/kontor $(GENFLAGS) -c $< -o $@

# Unit tests of the CLI's pure parts, tests/unit/test_kontor_*.c, link its
# objects (all but main.o) and the registry.
$(BUILD)/tests/unit/test_kontor_%.o: CPPFLAGS += -Itools/kontor
$(BUILD)/tests/test_kontor_%: $(BUILD)/tests/unit/test_kontor_%.o $(filter-out %/main.o,$(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/kontor/*.c))) $(BUILD)/gen/kt_registry.o $(LIBKONTOR)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIBKONTOR)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# A unit test of a service's pure logic, tests/unit/test_<svc>_*.c, links that
# service's objects (all but main.o) as well.
define service_test_rule
$(BUILD)/tests/test_$(1)_%: $(BUILD)/tests/unit/test_$(1)_%.o $(filter-out %/main.o,$(patsubst %.c,$(BUILD)/%.o,$(wildcard services/$(1)/*.c))) $(BUILD)/gen/$(1)_migrations.o $(LIBKONTOR)
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ -lcmocka $$(LDLIBS)
endef
$(foreach s,$(MIGRATED),$(eval $(call service_test_rule,$(s))))

$(BUILD)/tests/it_%: $(BUILD)/tests/integration/it_%.o $(HARNESS_O) $(LIBKONTOR)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/tests/fixtures/%: $(BUILD)/tests/fixtures/%.o $(LIBKONTOR)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---------------------------------------------------------------- running
# The test build runs under AddressSanitizer and UndefinedBehaviorSanitizer.
test: $(STAMP)
	$(Q)$(MAKE) --no-print-directory FLAVOUR=asan all
	$(Q)bash tests/run.sh build/asan

unit: $(STAMP)
	$(Q)$(MAKE) --no-print-directory FLAVOUR=asan all
	$(Q)KT_ONLY=unit bash tests/run.sh build/asan

up: all
	$(Q)bash deploy/local/kontor-local.sh up $(BUILD)

down:
	$(Q)bash deploy/local/kontor-local.sh down

demo: $(STAMP)
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release all
	$(Q)bash deploy/local/demo.sh build/release

bench: $(STAMP)
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release all
	$(Q)bash tests/bench/run.sh build/release

format:
	$(Q)clang-format -i $(wildcard common/*.[ch] services/*/*.[ch] tools/*/*.[ch] tests/*/*.[ch])

clean:
	$(Q)rm -rf build

-include $(ALL_O:.o=.d)
