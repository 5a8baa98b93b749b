/* SPDX-License-Identifier: BSD-3-Clause */
/* The maintenance drain as the dataplane sees it: see dp_drain.h. */
#include "dataplane/dp_drain.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "common/keyspace.h"
#include "common/log.h"

static bool draining;	    /* control writes; control and telemetry read (atomic) */
static int64_t deadline_ms; /* idem */

int dp_drain_reread(struct pr_redis *rw)
{
	struct pr_ks_drain d;
	int rc = pr_ks_drain_get(rw, &d);

	if (rc == -EINVAL)
		PR_WARN("drain: %s: draining without a deadline", pr_ks_errmsg());
	else if (rc < 0)
		return rc;
	bool was = __atomic_load_n(&draining, __ATOMIC_RELAXED);
	int64_t was_dl = __atomic_load_n(&deadline_ms, __ATOMIC_RELAXED);
	if (d.on && (!was || was_dl != d.deadline_ms)) {
		if (d.deadline_ms) {
			int64_t left = d.deadline_ms - (int64_t)time(NULL) * 1000;
			PR_NOTICE("drain: on (by %s): no new TURN allocations; what remains ends "
				  "in %" PRId64 " s",
				  d.actor[0] ? d.actor : "?", left > 0 ? left / 1000 : 0);
		} else {
			PR_NOTICE("drain: on (by %s): no new TURN allocations, no deadline",
				  d.actor[0] ? d.actor : "?");
		}
	} else if (!d.on && was) {
		PR_NOTICE("drain: off: new TURN allocations are served again");
	}
	__atomic_store_n(&deadline_ms, d.on ? d.deadline_ms : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&draining, d.on, __ATOMIC_RELAXED);
	return 0;
}

bool dp_draining(void)
{
	return __atomic_load_n(&draining, __ATOMIC_RELAXED);
}

int64_t dp_drain_deadline_ms(void)
{
	return __atomic_load_n(&deadline_ms, __ATOMIC_RELAXED);
}
