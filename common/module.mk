# common/: libpoprelay-common.a, linked by every process (log, Redis keyspace codec,
# Redis connection handling).
COMMON_SRCS := $(wildcard common/*.c)
COMMON_LIB := $(B)/libpoprelay-common.a
CFLAGS_common = $(HIREDIS_CFLAGS)
LIBS_ALL += $(COMMON_LIB)

$(COMMON_LIB): $(COMMON_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(eval $(call unit_test,test_keyspace,$(B)/tests/unit/redis_fixture.o $(COMMON_LIB),$(HIREDIS_LIBS)))
$(eval $(call unit_test,test_fring,,))
$(eval $(call unit_test,test_redis_sentinel,$(COMMON_LIB),$(HIREDIS_LIBS)))
# The synchronous client's cooldown after a timeout, against a real (paused) redis-server.
$(eval $(call unit_test,test_redis_cooldown,$(B)/tests/unit/redis_fixture.o $(COMMON_LIB),$(HIREDIS_LIBS)))
# The choice of a media anchor among the PoP's dataplanes, and their leases on a real Redis.
$(eval $(call unit_test,test_anchor,$(B)/tests/unit/redis_fixture.o $(COMMON_LIB),$(HIREDIS_LIBS)))
