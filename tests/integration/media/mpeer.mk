# tests/integration/media: mpeer, the media device of tests/integration/media_relay.sh
# (RTP/SRTP and RTCP/SRTCP over plain UDP sockets, libsrtp as the reference).
MPEER := $(B)/tests/integration/media/mpeer
BINS += $(MPEER)
$(MPEER): $(B)/tests/integration/media/mpeer.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)
