# dtls/: poprelay-dtls, the DTLS-SRTP handshakes of the media anchor's browser legs (OpenSSL,
# never linked into the dataplane): dtls_leg.c is pure (a leg over datagram queues, the
# certificate, the key layout), dtls_main.c the process on the dataplane's channel.
DTLS_BIN := $(B)/poprelay-dtls
BINS += $(DTLS_BIN)
CFLAGS_dtls = $(HIREDIS_CFLAGS)
$(DTLS_BIN): $(B)/dtls/dtls_main.o $(B)/dtls/dtls_leg.o $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(COMMON_LIB) $(HIREDIS_LIBS) $(SSL_LIBS)

# The key layout, fingerprints, handshakes between two legs and against plain OpenSSL, the
# channel's parser.
$(eval $(call unit_test,test_dtls_leg,$(B)/dtls/dtls_leg.o,$(SSL_LIBS)))

# libFuzzer target over what either side parses from the channel (common/dtls_chan.h).
$(eval $(call fuzzer,fuzz_dtls_chan,,))
