# slowpath/: poprelay-slowpath, the SIP over TLS registrar and media B2BUA.
# The objects (all but sp_main.c) form libpoprelay-sp.a so unit tests can link them.
SP_SRCS := $(filter-out slowpath/sp_main.c slowpath/tf_main.c,$(wildcard slowpath/*.c))
SP_OBJS := $(SP_SRCS:%.c=$(B)/%.o)
SP_LIB := $(B)/libpoprelay-sp.a
SP_BIN := $(B)/poprelay-slowpath
SP_LINK_LIBS = $(CRYPTO_LIB) $(COMMON_LIB) $(CRYPTO_LINK_LIBS) $(EVENT_LIBS) $(OSIP_LIBS) \
	$(HIREDIS_LIBS) $(SSL_LIBS)
CFLAGS_slowpath = $(HIREDIS_CFLAGS)
LIBS_ALL += $(SP_LIB)
BINS += $(if $(wildcard slowpath/sp_main.c),$(SP_BIN))

$(SP_LIB): $(SP_OBJS)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(SP_BIN): $(B)/slowpath/sp_main.o $(SP_LIB) $(CRYPTO_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $(B)/slowpath/sp_main.o $(SP_LIB) -o $@ $(SP_LINK_LIBS)

# poprelay-turnfront: TURN over TCP and TLS (slowpath/tf_main.c, docs/turn.md).
TF_BIN := $(B)/poprelay-turnfront
BINS += $(TF_BIN)
$(TF_BIN): $(B)/slowpath/tf_main.o $(B)/slowpath/tf_frame.o $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(COMMON_LIB) $(EVENT_LIBS) $(SSL_LIBS)
$(eval $(call fuzzer,fuzz_turn_frame,slowpath/tf_frame.c,))
$(eval $(call unit_test,test_tf_frame,$(B)/slowpath/tf_frame.o,))

$(eval $(call unit_test,test_sp_digest,$(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_sdp,$(SP_LIB) $(CRYPTO_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_msg,$(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_guard,$(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_conn_id,$(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_tunables,$(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_tls_config,$(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_durable,$(B)/tests/unit/redis_fixture.o $(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_replay,$(B)/tests/unit/redis_fixture.o $(SP_LIB),$(SP_LINK_LIBS)))
$(eval $(call unit_test,test_sp_ws,$(B)/slowpath/sp_ws.o,$(SSL_LIBS)))

# libFuzzer target over the message entry point (framing + parse + error response).
$(eval $(call fuzzer,fuzz_sip_msg,slowpath/sp_msg.c,-losipparser2))
# ... and over the WebSocket handshake and framing of the WSS listener.
$(eval $(call fuzzer,fuzz_ws,slowpath/sp_ws.c,-lcrypto))

# Load generator for tests/bench/sip.sh (SIP over TLS; Debian's sipp has no TLS).
SP_LOAD := $(B)/tests/bench/sipload
BINS += $(SP_LOAD)
$(SP_LOAD): $(B)/tests/bench/sip/sipload.o $(SP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ -losipparser2 $(SSL_LIBS)

# libFuzzer target over SDP inspection, policy and rewrite (with the crypto SDES parser).
$(eval $(call fuzzer,fuzz_sip_sdp,slowpath/sp_sdp.c slowpath/sp_msg.c crypto/sdes.c crypto/stun_auth.c crypto/srtp_profile.c,-losipparser2 -lcrypto))
