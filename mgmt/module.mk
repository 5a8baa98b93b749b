# mgmt/: poprelayctl, the ops CLI, and poprelay-exporter. Every mgmt/*.c but exporter*.c is
# part of poprelayctl: subcommands other than `user` (status, stats, turn, cdr, session) are
# weak in ctl.c and appear when their file exists.
CTL_SRCS := $(filter-out mgmt/exporter%.c,$(wildcard mgmt/*.c))
CTL_BIN := $(B)/poprelayctl
CFLAGS_mgmt = $(HIREDIS_CFLAGS) $(MHD_CFLAGS)
BINS += $(CTL_BIN)

$(CTL_BIN): $(CTL_SRCS:%.c=$(B)/%.o) $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(HIREDIS_LIBS) $(JANSSON_LIBS) $(SSL_LIBS) $(ZXCVBN_LIBS)

# Unit test of the helpers: ctl.c without main(), plus ctl_user.c.
$(B)/mgmt/ctl_nomain.o: mgmt/ctl.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS_mgmt) -DCTL_NO_MAIN -MMD -MP -c $< -o $@
$(eval $(call unit_test,test_ctl_user,$(B)/mgmt/ctl_nomain.o $(B)/mgmt/ctl_user.o $(COMMON_LIB),$(HIREDIS_LIBS) $(JANSSON_LIBS) $(SSL_LIBS) $(ZXCVBN_LIBS)))

# Unit test of the session views (no Redis): ctl.c without main(), plus ctl_session.c.
$(eval $(call unit_test,test_ctl_session,$(B)/mgmt/ctl_nomain.o $(B)/mgmt/ctl_session.o $(COMMON_LIB),$(HIREDIS_LIBS) $(JANSSON_LIBS)))

# poprelay-exporter: Prometheus metrics over libmicrohttpd, and the alarm evaluator. It
# shares poprelayctl's config reader (ctl.c without main) and telemetry client.
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
EXPORTER_BIN := $(B)/poprelay-exporter
BINS += $(EXPORTER_BIN)

$(EXPORTER_BIN): $(B)/mgmt/exporter.o $(B)/mgmt/exporter_metrics.o $(B)/mgmt/exporter_alarms.o \
		$(B)/mgmt/ctl_nomain.o $(B)/mgmt/ha_redis.o \
		$(B)/mgmt/telemetry_client.o $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(MHD_LIBS) $(HIREDIS_LIBS) $(JANSSON_LIBS) $(SSL_LIBS) -lpthread

# poprelayctl turn secret against a private redis-server: ctl.c without main(), ctl_turn.c.
$(eval $(call unit_test,test_ctl_turn,$(B)/mgmt/ctl_nomain.o $(B)/mgmt/ctl_turn.o $(B)/mgmt/telemetry_client.o $(B)/tests/unit/redis_fixture.o $(COMMON_LIB),$(HIREDIS_LIBS) $(JANSSON_LIBS) $(SSL_LIBS)))
