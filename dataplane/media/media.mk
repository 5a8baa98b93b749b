# dataplane/media: the media anchor. media_sess.c is pure C (a session from its Redis
# record), unit-tested alone; media_dp.c is the feature inside poprelay-dataplane.
MEDIA_CORE_SRCS := dataplane/media/media_sess.c
MEDIA_DP_OBJS := $(MEDIA_CORE_SRCS:%.c=$(B)/%.o) $(B)/dataplane/media/media_dp.o
$(DP_BIN): $(MEDIA_DP_OBJS) $(CRYPTO_LIB)
DP_LINK_LIBS += $(IPSECMB_LIBS) $(SRTP_LIBS)

# libFuzzer target over the anchor's packet path (tests/fuzz/fuzz_media.c): the worker's way
# in, media_burst/media_punt and the ring port's TX queues against a live session table, with
# EAL (no hugepages, no PCI). media_fz_glue.c includes media_dp.c, dp_worker.c and
# dp_control.c whole (their static code), so it is an object of its own whose dependency file
# follows them; the rest of the dataplane, common/ and crypto/ are built in.
FUZZ_MEDIA_GLUE := $(FB)/obj/media_fz_glue.o
$(FUZZ_MEDIA_GLUE): tests/fuzz/media_fz_glue.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DPDK_CFLAGS) $(HIREDIS_CFLAGS) -MMD -MP -c $< -o $@
FUZZ_MEDIA_SRCS := $(filter-out dataplane/dp_main.c dataplane/dp_worker.c dataplane/dp_control.c \
	dataplane/dp_echo.c dataplane/dp_telemetry.c,$(wildcard dataplane/*.c)) \
	$(MEDIA_CORE_SRCS) $(COMMON_SRCS) $(CRYPTO_SRCS) $(FUZZ_MEDIA_GLUE)
$(eval $(call fuzzer,fuzz_media,$(FUZZ_MEDIA_SRCS),$(DPDK_CFLAGS) $(HIREDIS_CFLAGS) $(SRTP_CFLAGS) \
	$(DPDK_LIBS) -lrte_net_ring $(HIREDIS_LIBS) $(CRYPTO_LINK_LIBS) -lm))
