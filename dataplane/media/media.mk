# dataplane/media: the media anchor. media_sess.c is pure C (a session from its Redis
# record), unit-tested alone; media_dp.c is the feature inside poprelay-dataplane.
MEDIA_CORE_SRCS := dataplane/media/media_sess.c
MEDIA_DP_OBJS := $(MEDIA_CORE_SRCS:%.c=$(B)/%.o) $(B)/dataplane/media/media_dp.o
$(DP_BIN): $(MEDIA_DP_OBJS) $(CRYPTO_LIB)
DP_LINK_LIBS += $(IPSECMB_LIBS) $(SRTP_LIBS)

# Unit test of the pure parts (no EAL): the session from its record, the RFC 3550 figures.
$(eval $(call unit_test,test_media_sess,$(B)/dataplane/media/media_sess.o $(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))
