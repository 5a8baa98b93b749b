# mgmt/: poprelayctl, the ops CLI. Every mgmt/*.c is part of it: subcommands other than
# `user` (status, stats, turn, cdr) are weak in ctl.c and appear when their file exists.
CTL_SRCS := $(wildcard mgmt/*.c)
CTL_BIN := $(B)/poprelayctl
CFLAGS_mgmt = $(HIREDIS_CFLAGS)
BINS += $(CTL_BIN)

$(CTL_BIN): $(CTL_SRCS:%.c=$(B)/%.o) $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(HIREDIS_LIBS) $(JANSSON_LIBS) $(SSL_LIBS) $(ZXCVBN_LIBS)
