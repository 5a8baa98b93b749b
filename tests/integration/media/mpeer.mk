# tests/integration/media: mpeer, the media device of tests/integration/media_relay.sh
# (RTP/SRTP and RTCP/SRTCP over plain UDP sockets, libsrtp as the reference).
MPEER := $(B)/tests/integration/media/mpeer
BINS += $(MPEER)
$(MPEER): $(B)/tests/integration/media/mpeer.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)

# dtlspeer: a browser's transport for tests/integration/media_dtls.sh (an ICE check, then a
# DTLS-SRTP handshake with OpenSSL from the same socket, the keys exported by itself).
DTLSPEER := $(B)/tests/integration/media/dtlspeer
BINS += $(DTLSPEER)
$(DTLSPEER): $(B)/tests/integration/media/dtlspeer.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS) $(SSL_LIBS)
