/* SPDX-License-Identifier: BSD-3-Clause */
/* The maintenance drain and the stop on SIGTERM (sp_server.h).
 *
 * Drained (pr:drain exists, written by `poprelayctl drain`) or stopping (SIGTERM), the
 * slowpath answers a REGISTER and an INVITE that would start a call 503 Service Unavailable
 * with Retry-After (RFC 3261 21.5.4). Everything within a dialog (re-INVITE, UPDATE, BYE,
 * ACK, CANCEL of a call being set up) is served as before, so calls in progress continue.
 * A device whose REGISTER gets the 503 fails over to the next proxy or flow it is
 * configured with (RFC 3263 4.3, RFC 5626 4.5); SIP has no standard header that names
 * another server in a 503 (305 Use Proxy is deprecated by RFC 8568), so the peer PoPs
 * ([sip] peer_pops) are only named for people, in a Warning (399). At the drain's deadline
 * the remaining calls end (BYE on both legs, CDR end_reason "drain"); on SIGTERM the
 * process exits once its calls have ended, or after [sip] stop_drain_s. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

#define LOG_EVERY_MS 10000

/* pr:drain holds UNIX ms; sp_now_ms() is monotonic (timers, the stop, the log). */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sp_drain_reread(struct sp_server *s)
{
	struct sp_drain *dr = &s->drain;
	struct pr_ks_drain d;
	int rc = pr_ks_drain_get(s->redis, &d);
	int64_t now_ms = wall_ms();

	if (rc == -EINVAL)
		PR_WARN("drain: %s: draining without a deadline", pr_ks_errmsg());
	else if (rc < 0)
		return rc;
	if (d.on && (!dr->on || dr->deadline_ms != d.deadline_ms)) {
		char dl[48] = "no deadline";
		if (d.deadline_ms)
			snprintf(dl, sizeof(dl), "ended in %" PRId64 " s",
				 d.deadline_ms > now_ms ? (d.deadline_ms - now_ms) / 1000 : 0);
		PR_NOTICE("drain: on (by %s): new INVITEs and REGISTERs get 503; %u calls in "
			  "progress continue until they end, those left %s",
			  d.actor[0] ? d.actor : "?", sp_call_count(s), dl);
		dr->last_log_ms = sp_now_ms();
	} else if (!d.on && dr->on) {
		PR_NOTICE("drain: off: new calls and registrations are served again");
	}
	dr->on = d.on;
	dr->since_ms = d.since_ms;
	dr->deadline_ms = d.on ? d.deadline_ms : 0;
	snprintf(dr->actor, sizeof(dr->actor), "%s", d.actor);
	return 0;
}

/* Seconds a refused device should wait before it tries this PoP again: until the drain's
 * deadline (at least a minute), else five minutes; a minute when the process is stopping
 * (it is likely back by then). */
static int64_t retry_after_s(const struct sp_drain *dr, int64_t now_ms)
{
	if (!dr->on)
		return 60;
	if (dr->deadline_ms > now_ms + 60000)
		return (dr->deadline_ms - now_ms + 999) / 1000;
	return dr->deadline_ms ? 60 : 300;
}

bool sp_drain_refuse(struct sp_server *s, struct sp_conn *c, const osip_message_t *req)
{
	const struct sp_drain *dr = &s->drain;
	char extra[600];
	size_t off;
	bool reg;

	if (!dr->on && !dr->stopping)
		return false;
	reg = !strcmp(req->sip_method, "REGISTER");
	off = (size_t)snprintf(extra, sizeof(extra), "Retry-After: %" PRId64 "\r\n",
			       retry_after_s(dr, wall_ms()));
	if (s->cfg.n_peers) {
		off += (size_t)snprintf(extra + off, sizeof(extra) - off,
					"Warning: 399 poprelay \"%s; other PoPs:",
					dr->on ? "drained for maintenance" : "stopping");
		for (size_t i = 0; i < s->cfg.n_peers && off < sizeof(extra); i++)
			off += (size_t)snprintf(extra + off, sizeof(extra) - off, " %s:%u",
						s->cfg.peers[i].host, s->cfg.peers[i].port);
		if (off < sizeof(extra))
			snprintf(extra + off, sizeof(extra) - off, "\"\r\n");
	}
	if (off >= sizeof(extra)) /* too many peers for the line: Retry-After alone */
		snprintf(extra, sizeof(extra), "Retry-After: %" PRId64 "\r\n",
			 retry_after_s(dr, wall_ms()));
	sp_respond(s, c, req, 503, extra);
	if (reg)
		s->ctr.reg_refused_drain++;
	else
		s->ctr.calls_refused_drain++;
	PR_DEBUG("drain: %s from %s:%u answered 503", req->sip_method, c->peer_ip, c->peer_port);
	return true;
}

void sp_drain_tick(struct sp_server *s, int64_t now_ms)
{
	struct sp_drain *dr = &s->drain;
	unsigned n;

	if (dr->on && dr->deadline_ms && wall_ms() >= dr->deadline_ms && s->calls) {
		n = sp_call_end_all(s, "drain");
		s->ctr.calls_ended_drain += n;
		PR_NOTICE("drain: deadline passed: %u calls ended (BYE on both legs)", n);
	}
	if (dr->stopping) {
		n = sp_call_count(s);
		if (!n) {
			PR_NOTICE("stop: no call in progress: exiting");
			event_base_loopbreak(s->base);
			return;
		}
		if (now_ms >= dr->stop_ms) {
			PR_NOTICE("stop: %u calls still in progress after stop_drain_s (%u s): "
				  "ending them",
				  n, s->cfg.stop_drain_s);
			event_base_loopbreak(s->base);
			return;
		}
	}
	if ((dr->on || dr->stopping) && now_ms - dr->last_log_ms >= LOG_EVERY_MS) {
		dr->last_log_ms = now_ms;
		PR_NOTICE("drain: %u calls in progress; refused so far: %" PRIu64
			  " INVITEs, %" PRIu64 " REGISTERs",
			  sp_call_count(s), s->ctr.calls_refused_drain, s->ctr.reg_refused_drain);
	}
}

void sp_drain_stop(struct sp_server *s)
{
	struct sp_drain *dr = &s->drain;
	unsigned n = sp_call_count(s);

	dr->stopping = true;
	dr->stop_ms = sp_now_ms() + (int64_t)s->cfg.stop_drain_s * 1000;
	dr->last_log_ms = sp_now_ms();
	if (!n) {
		PR_NOTICE("signal %d: no call in progress: shutting down", SIGTERM);
		event_base_loopbreak(s->base);
		return;
	}
	PR_NOTICE("signal %d: stopping: new INVITEs and REGISTERs get 503; waiting up to %u s "
		  "for %u calls to end (SIGINT or another SIGTERM: now)",
		  SIGTERM, s->cfg.stop_drain_s, n);
}
