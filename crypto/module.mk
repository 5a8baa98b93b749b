# crypto/: libpoprelay-crypto.a — SRTP/SRTCP engine (ipsecmb and libsrtp backends), SDES,
# STUN integrity and fingerprint, TURN REST credentials. No DPDK dependency.
# Others link it as $(CRYPTO_LIB) $(CRYPTO_LINK_LIBS).
CRYPTO_SRCS := $(wildcard crypto/*.c)
CRYPTO_LIB := $(B)/libpoprelay-crypto.a
CRYPTO_LINK_LIBS := $(IPSECMB_LIBS) $(SRTP_LIBS) $(SSL_LIBS)
CFLAGS_crypto = $(SRTP_CFLAGS)
LIBS_ALL += $(CRYPTO_LIB)

$(CRYPTO_LIB): $(CRYPTO_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

# Unit tests (tests/unit/test_*.c of this module)
$(eval $(call unit_test,test_stun_auth,$(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_srtp_vectors,$(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_srtp_cross,$(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_sdes,$(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))

# libFuzzer target: unprotect arbitrary bytes (tests/fuzz/fuzz_srtp_unprotect.c)
$(eval $(call fuzzer,fuzz_srtp_unprotect,$(CRYPTO_SRCS),$(SRTP_CFLAGS) $(CRYPTO_LINK_LIBS)))

# Benchmark driver (tests/bench/srtp.sh runs it): ours vs libsrtp2 vs raw intel-ipsec-mb.
BINS += $(B)/tests/bench/bench_srtp
$(B)/tests/bench/bench_srtp: $(B)/tests/bench/bench_srtp.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)
$(eval $(call unit_test,test_srtp_mbuf,$(CRYPTO_LIB),$(CRYPTO_LINK_LIBS)))
$(eval $(call fuzzer,fuzz_srtp_sdes,$(CRYPTO_SRCS),$(SRTP_CFLAGS) $(CRYPTO_LINK_LIBS)))
