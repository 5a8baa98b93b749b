# tests/bench/webrtc: dtlsload, the load client of tests/bench/webrtc.sh (many concurrent
# DTLS-SRTP client handshakes with OpenSSL, each from its own UDP socket, after the ICE
# check the anchor needs); the same client drives poprelay and rtpengine.
DTLSLOAD := $(B)/tests/bench/webrtc/dtlsload
BINS += $(DTLSLOAD)
$(DTLSLOAD): $(B)/tests/bench/webrtc/dtlsload.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS) $(SSL_LIBS)
