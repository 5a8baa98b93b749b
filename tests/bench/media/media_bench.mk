# tests/bench/media: helpers of the media anchor's benchmark (tests/bench/media.sh).
#  - mediagen: SRTP traffic generator for a dataplane ring port (DPDK secondary process);
#  - crypto_bound: the crypto-only bound (crypto/'s bursts over the same streams, no I/O);
#  - rtpdrive: SRTP over plain UDP sockets, to drive rtpengine with the same packets;
#  - c2c: how long a cache line takes from one CPU to the other (printed with the figures).
MEDIA_BENCH_DIR := $(B)/tests/bench/media
BINS += $(MEDIA_BENCH_DIR)/mediagen $(MEDIA_BENCH_DIR)/crypto_bound $(MEDIA_BENCH_DIR)/rtpdrive \
	$(MEDIA_BENCH_DIR)/c2c

$(MEDIA_BENCH_DIR)/mediagen: $(MEDIA_BENCH_DIR)/mediagen.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(DPDK_LIBS) $(CRYPTO_LINK_LIBS)
$(MEDIA_BENCH_DIR)/crypto_bound: $(MEDIA_BENCH_DIR)/crypto_bound.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)
$(MEDIA_BENCH_DIR)/rtpdrive: $(MEDIA_BENCH_DIR)/rtpdrive.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)
$(MEDIA_BENCH_DIR)/c2c: $(MEDIA_BENCH_DIR)/c2c.o
	$(CC) $(LDFLAGS_BASE) $^ -o $@ -lpthread
