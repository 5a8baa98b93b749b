/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/dp_counters.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

struct dp_lcore_stats dp_stats[RTE_MAX_LCORE];

#define DP_DROP_NAME(e, n) [DP_DROP_##e] = n,
/* Writer: control lcore at init (registered names); read-only once workers run. */
static const char *drop_names[DP_DROP_MAX] = {DP_DROP_REASONS(DP_DROP_NAME)};
#undef DP_DROP_NAME
static unsigned int drop_count = DP_DROP_STATIC_MAX;

#define DP_EVENT_DESC(f, n) {n, offsetof(struct dp_lcore_stats, f)},
const struct dp_event_desc dp_event_descs[] = {DP_EVENT_COUNTERS(DP_EVENT_DESC)};
#undef DP_EVENT_DESC
const unsigned int dp_event_count = RTE_DIM(dp_event_descs);

const char *dp_drop_name(unsigned int reason)
{
	return reason < drop_count ? drop_names[reason] : NULL;
}

unsigned int dp_drop_count(void)
{
	return drop_count;
}

int dp_drop_reason_register(const char *name)
{
	unsigned int i;

	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	for (i = 0; i < drop_count; i++)
		if (strcmp(drop_names[i], name) == 0)
			return (int)i;
	if (drop_count >= DP_DROP_MAX)
		return -ENOSPC;
	drop_names[drop_count] = name;
	return (int)drop_count++;
}

void dp_stats_sum(struct dp_lcore_stats *out)
{
	unsigned int l, i;

	memset(out, 0, sizeof(*out));
	for (l = 0; l < RTE_MAX_LCORE; l++) {
		const struct dp_lcore_stats *s = &dp_stats[l];
		for (i = 0; i < dp_event_count; i++)
			*(uint64_t *)((char *)out + dp_event_descs[i].offset) += *(
			    const volatile uint64_t *)((const char *)s + dp_event_descs[i].offset);
		for (i = 0; i < DP_DROP_MAX; i++)
			out->drops[i] += ((const volatile uint64_t *)s->drops)[i];
	}
}
