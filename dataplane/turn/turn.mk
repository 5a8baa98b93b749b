# dataplane/turn: the TURN relay. libpoprelay-turn.a is pure C (no EAL): codec, peer
# policy, tables, request state machine and data path, unit-tested and fuzzed alone.
TURN_CORE_SRCS := dataplane/turn/stun_msg.c dataplane/turn/turn_policy.c \
	dataplane/turn/turn_table.c dataplane/turn/turn_server.c dataplane/turn/turn_relay.c
TURN_LIB := $(B)/libpoprelay-turn.a
LIBS_ALL += $(TURN_LIB)

$(TURN_LIB): $(TURN_CORE_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

TURN_TEST_LINK := $(TURN_LIB) $(CRYPTO_LIB)
$(eval $(call unit_test,test_turn_codec,$(TURN_TEST_LINK),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_turn_policy,$(TURN_TEST_LINK),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_turn_table,$(TURN_TEST_LINK),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_turn_server,$(TURN_TEST_LINK),$(CRYPTO_LINK_LIBS)))
$(eval $(call unit_test,test_turn_store,$(B)/dataplane/turn/turn_store.o $(B)/dataplane/turn/turn_follow.o $(B)/tests/unit/redis_fixture.o $(TURN_TEST_LINK) $(COMMON_LIB),$(CRYPTO_LINK_LIBS) $(HIREDIS_LIBS)))

$(eval $(call fuzzer,fuzz_stun,$(TURN_CORE_SRCS) crypto/stun_auth.c,$(SSL_LIBS)))

# The feature inside poprelay-dataplane (objects, so its constructors are kept).
TURN_DP_OBJS := $(TURN_CORE_SRCS:%.c=$(B)/%.o) $(B)/dataplane/turn/turn_dp.o \
	$(B)/dataplane/turn/turn_store.o $(B)/dataplane/turn/turn_follow.o \
	$(B)/dataplane/turn/turn_stream.o
$(DP_BIN): $(TURN_DP_OBJS) $(CRYPTO_LIB)
DP_LINK_LIBS += $(SSL_LIBS)

# Benchmark helper (tests/bench/turn.sh): the data path alone over 10,000 allocations.
TURN_BENCH := $(B)/tests/bench/turn/relay_bench
BINS += $(TURN_BENCH)
$(TURN_BENCH): $(B)/tests/bench/turn/relay_bench.o $(TURN_LIB) $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)

# Benchmark helper: traffic generator for a dataplane ring port (device = ring:NAME), a DPDK
# secondary process replaying a pcap through the shared rings and checking what comes back.
TURN_RINGGEN := $(B)/tests/bench/turn/ringgen
BINS += $(TURN_RINGGEN)
$(TURN_RINGGEN): $(B)/tests/bench/turn/ringgen.o
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(DPDK_LIBS)

# Benchmark helper (tests/bench/turn_alloc.sh): TURN Allocate load over plain UDP sockets
# (challenge, authenticated Allocate, Refresh 0), STUN integrity and fingerprint from crypto/.
TURN_ALLOCGEN := $(B)/tests/bench/turn/allocgen
BINS += $(TURN_ALLOCGEN)
$(TURN_ALLOCGEN): $(B)/tests/bench/turn/allocgen.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)

# Benchmark helper (tests/bench/turn_tcp.sh): TURN over TCP and TLS relay load (N connections
# allocating and binding a channel, then ChannelData to a UDP peer in the same process that
# echoes it back), STUN integrity and fingerprint from crypto/, TLS from OpenSSL.
TURN_TCPGEN := $(B)/tests/bench/turn/tcpgen
BINS += $(TURN_TCPGEN)
$(TURN_TCPGEN): $(B)/tests/bench/turn/tcpgen.o $(CRYPTO_LIB)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(CRYPTO_LINK_LIBS)
