# dataplane/media: the media anchor. media_sess.c is pure C (a session from its Redis
# record), unit-tested alone; media_dp.c is the feature inside poprelay-dataplane.
MEDIA_CORE_SRCS := dataplane/media/media_sess.c dataplane/media/media_ice.c
# media_load.c publishes the anchor's health and load for the PoP's slowpaths.
MEDIA_DP_OBJS := $(MEDIA_CORE_SRCS:%.c=$(B)/%.o) $(B)/dataplane/media/media_dp.o \
	$(B)/dataplane/media/media_dtls.o $(B)/dataplane/media/media_load.o
$(DP_BIN): $(MEDIA_DP_OBJS) $(CRYPTO_LIB)
DP_LINK_LIBS += $(IPSECMB_LIBS) $(SRTP_LIBS)

# libFuzzer target over the anchor's packet path (tests/fuzz/fuzz_media.c): the worker's way
# in, media_burst/media_punt and the ring port's TX queues against a live session table, with
# EAL (no hugepages, no PCI). tests/fuzz/media_fz_glue.c includes media_dp.c, dp_worker.c and
# dp_control.c whole (their static code), one per object, each with a dependency file that
# follows its source; the rest of the dataplane, common/ and crypto/ are built in.
FUZZ_MEDIA_GLUE := $(patsubst %,$(FB)/obj/media_fz_glue_%.o,media worker control)
$(FUZZ_MEDIA_GLUE): $(FB)/obj/media_fz_glue_%.o: tests/fuzz/media_fz_glue.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DPDK_CFLAGS) $(HIREDIS_CFLAGS) -DFZ_GLUE_$* -MMD -MP -c $< -o $@
FUZZ_MEDIA_SRCS := $(filter-out dataplane/dp_main.c dataplane/dp_worker.c dataplane/dp_control.c \
	dataplane/dp_echo.c dataplane/dp_telemetry.c,$(wildcard dataplane/*.c)) \
	$(MEDIA_CORE_SRCS) dataplane/media/media_dtls.c dataplane/media/media_load.c dataplane/turn/stun_msg.c $(COMMON_SRCS) \
	$(CRYPTO_SRCS) $(FUZZ_MEDIA_GLUE)
FUZZ_MEDIA_FLAGS := $(DPDK_CFLAGS) $(HIREDIS_CFLAGS) $(SRTP_CFLAGS) $(DPDK_LIBS) -lrte_net_ring \
	$(HIREDIS_LIBS) $(CRYPTO_LINK_LIBS) -lm
$(eval $(call fuzzer,fuzz_media,$(FUZZ_MEDIA_SRCS),$(FUZZ_MEDIA_FLAGS)))

# Unit test of the pure parts (no EAL): the session from its record, the RFC 3550 figures.
$(eval $(call unit_test,test_media_sess,$(B)/dataplane/media/media_sess.o $(B)/dataplane/media/media_ice.o $(B)/dataplane/turn/stun_msg.o $(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))

# ICE-lite checks on an anchor leg (media_ice.c, pure C): answers, integrity, nomination.
$(eval $(call unit_test,test_media_ice,$(B)/dataplane/media/media_ice.o $(B)/dataplane/turn/stun_msg.o $(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))

# libFuzzer target over media_ice_check alone (tests/fuzz/fuzz_media_ice.c): any datagram
# against an ICE leg's credentials; an answer only for a request that authenticates.
$(eval $(call fuzzer,fuzz_media_ice,dataplane/media/media_ice.c dataplane/turn/stun_msg.c crypto/stun_auth.c,$(SSL_LIBS)))
# libFuzzer target over the RTP header extension parser a BUNDLE group's MID is read with
# (tests/fuzz/fuzz_rtp_ext.c)
$(eval $(call fuzzer,fuzz_rtp_ext,,$(DPDK_CFLAGS)))

# Every dataplane tunable against the configuration key it overrides (range, default): the
# core's, TURN's and the anchor's configuration tables, registered by their constructors.
$(eval $(call unit_test,test_dp_tunables,$(TURN_DP_OBJS) $(MEDIA_DP_OBJS) $(DP_LIB) $(CRYPTO_LIB) $(COMMON_LIB),$(DP_LINK_LIBS) $(CRYPTO_LINK_LIBS)))
