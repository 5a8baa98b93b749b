# dataplane/: poprelay-dataplane, the DPDK primary process.
#
# Features (dataplane/turn/, ...) link into the binary by adding prerequisites from their
# own fragment:  $(DP_BIN): $(TURN_OBJS)   (objects: constructors register them, see
# dataplane/dp_udp.h). Every .o and .a prerequisite of $(DP_BIN) is linked.
DP_SRCS := $(filter-out dataplane/dp_main.c,$(wildcard dataplane/*.c))
DP_OBJS := $(DP_SRCS:%.c=$(B)/%.o)
DP_LIB := $(B)/libpoprelay-dp.a
DP_BIN := $(B)/poprelay-dataplane
DP_LINK_LIBS = $(DPDK_LIBS) -lrte_net_ring $(SYSTEMD_LIBS) $(HIREDIS_LIBS) -lm
CFLAGS_dataplane = $(DPDK_CFLAGS) $(HIREDIS_CFLAGS)
LIBS_ALL += $(DP_LIB)
BINS += $(DP_BIN)

$(DP_LIB): $(DP_OBJS)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(DP_BIN): $(B)/dataplane/dp_main.o $(DP_OBJS) $(COMMON_LIB)
	$(CC) $(LDFLAGS_BASE) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(DP_LINK_LIBS)

# Unit tests: the core objects as an archive (no main); EAL only where a test needs it.
$(eval $(call unit_test,test_dp_parse,$(DP_LIB) $(COMMON_LIB),$(DP_LINK_LIBS)))

# libFuzzer target over the frame parser: no EAL, DPDK headers only.
$(eval $(call fuzzer,fuzz_l2l3,dataplane/dp_parse.c dataplane/dp_counters.c,$(DPDK_CFLAGS)))
$(eval $(call unit_test,test_dp_config,$(DP_LIB) $(COMMON_LIB),$(DP_LINK_LIBS)))
$(eval $(call unit_test,test_dp_neigh,$(DP_LIB) $(COMMON_LIB),$(DP_LINK_LIBS)))
$(eval $(call unit_test,test_dp_ha_gap,,))
$(eval $(call unit_test,test_dp_udp,$(DP_LIB) $(COMMON_LIB),$(DP_LINK_LIBS)))
$(eval $(call unit_test,test_dp_worker,$(DP_LIB) $(COMMON_LIB),$(DP_LINK_LIBS)))
