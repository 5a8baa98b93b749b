# mgmt/: poprelayctl, the ops CLI. Every mgmt/*.c is part of it: subcommands other than
# `user` (status, stats, turn, cdr, session) are weak in ctl.c and appear when their file exists.
CTL_SRCS := $(wildcard mgmt/*.c)
CTL_BIN := $(B)/poprelayctl
CFLAGS_mgmt = $(HIREDIS_CFLAGS)
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
