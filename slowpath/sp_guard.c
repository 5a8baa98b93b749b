/* SPDX-License-Identifier: BSD-3-Clause */
/* Abuse guard: a token bucket per source address, failed-authentication lockout per source
 * and per user, and refusal of known scanner User-Agents. Fixed-size tables indexed by a
 * hash (a collision evicts the older entry: the guard may forget, never wrongly block a
 * different key, because entries are compared by key).
 *
 * The limits per source tell failures from successes, so that a thousand devices behind
 * one carrier-grade NAT address can all come back at once: a new flow's first request is
 * free (its TLS handshake paid for it), a flow that authenticated gets a bucket of its own,
 * a success gives its source back the tokens of its request and challenge and forgives
 * one of its failures. The price: an attacker behind that address guesses faster while the
 * devices around him succeed; the lockout per user still bounds the guesses per account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

struct guard_slot {
	char key[PR_KS_NAME_MAX];
	double tokens;
	int64_t last_ms;
	uint32_t failures;
	int64_t locked_until;
	int64_t first_failure;
	uint32_t flows;
};

struct sp_guard {
	size_t n;
	struct guard_slot *src;
	struct guard_slot *user;
};

struct sp_guard *sp_guard_new(size_t slots)
{
	struct sp_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->n = slots;
	g->src = calloc(slots, sizeof(*g->src));
	g->user = calloc(slots, sizeof(*g->user));
	if (!g->src || !g->user) {
		sp_guard_free(g);
		return NULL;
	}
	return g;
}

void sp_guard_free(struct sp_guard *g)
{
	if (!g)
		return;
	free(g->src);
	free(g->user);
	free(g);
}

static struct guard_slot *slot(struct guard_slot *t, size_t n, const char *key, bool create)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	struct guard_slot *s = &t[h % n];
	if (!strcmp(s->key, key))
		return s;
	if (!create)
		return NULL;
	memset(s, 0, sizeof(*s));
	snprintf(s->key, sizeof(s->key), "%s", key);
	return s;
}

/* One token from a bucket of rate_limit_rps and rate_burst; last_ms 0: a new, full one. */
static bool bucket_take(const struct sp_config *cfg, double *tokens, int64_t *last_ms,
			int64_t now_ms)
{
	if (!*last_ms) {
		*tokens = cfg->rate_burst;
		*last_ms = now_ms;
	}
	*tokens += (double)(now_ms - *last_ms) * cfg->rate_limit_rps / 1000.0;
	if (*tokens > cfg->rate_burst)
		*tokens = cfg->rate_burst;
	*last_ms = now_ms;
	if (*tokens < 1.0)
		return false;
	*tokens -= 1.0;
	return true;
}

bool sp_guard_rate_ok(struct sp_server *s, const char *src_ip, int64_t now_ms)
{
	if (!s->cfg.rate_limit_rps)
		return true;
	struct guard_slot *g = slot(s->guard->src, s->guard->n, src_ip, true);
	return bucket_take(&s->cfg, &g->tokens, &g->last_ms, now_ms);
}

bool sp_guard_admit(struct sp_server *s, struct sp_conn *c, int64_t now_ms)
{
	if (c->peer_pop || !s->cfg.rate_limit_rps)
		return true;
	if (c->tp == SP_UDP || !c->inbound)
		return sp_guard_rate_ok(s, c->peer_ip, now_ms);
	/* A storm of new devices is paced by TLS handshakes and capped by
	 * max_flows_per_source, not by one bucket shared by everyone behind a NAT. */
	if (c->requests++ == 0)
		return true;
	/* A device that proved its password gets its own rate, not its neighbours'. */
	if (c->authed)
		return bucket_take(&s->cfg, &c->tokens, &c->tokens_ms, now_ms);
	return sp_guard_rate_ok(s, c->peer_ip, now_ms);
}

bool sp_guard_locked(struct sp_server *s, const char *src_ip, const char *user, int64_t now)
{
	struct guard_slot *a = slot(s->guard->src, s->guard->n, src_ip, false);
	if (a && a->locked_until > now)
		return true;
	if (user && *user) {
		struct guard_slot *b = slot(s->guard->user, s->guard->n, user, false);
		if (b && b->locked_until > now)
			return true;
	}
	return false;
}

static void fail_one(struct sp_server *s, struct guard_slot *g, const char *what, int64_t now)
{
	/* failures count within one lockout window */
	if (now - g->first_failure > (int64_t)s->cfg.lockout_s) {
		g->failures = 0;
		g->first_failure = now;
	}
	if (++g->failures >= s->cfg.lockout_failures && g->locked_until <= now) {
		g->locked_until = now + s->cfg.lockout_s;
		PR_WARN("lockout: %s %s locked for %us after %u failed authentications", what,
			g->key, s->cfg.lockout_s, g->failures);
	}
}

void sp_guard_auth_failed(struct sp_server *s, const char *src_ip, const char *user, int64_t now)
{
	struct guard_slot *a = slot(s->guard->src, s->guard->n, src_ip, true);
	if (a->first_failure == 0)
		a->first_failure = now;
	fail_one(s, a, "source", now);
	if (user && *user) {
		struct guard_slot *b = slot(s->guard->user, s->guard->n, user, true);
		if (b->first_failure == 0)
			b->first_failure = now;
		fail_one(s, b, "user", now);
	}
}

void sp_guard_auth_ok(struct sp_server *s, const char *src_ip, const char *user)
{
	struct guard_slot *a = slot(s->guard->src, s->guard->n, src_ip, false);
	if (a) {
		/* the request and the 401/407 before it: a source whose requests authenticate
		 * is not throttled by its challenges */
		a->tokens += 2.0;
		if (a->tokens > s->cfg.rate_burst)
			a->tokens = s->cfg.rate_burst;
		/* a success forgives one failure, not all: behind a NAT an attacker gets one
		 * more guess per device's success, not unlimited ones (a lockout in force
		 * runs its course) */
		if (a->failures)
			a->failures--;
	}
	struct guard_slot *b = user ? slot(s->guard->user, s->guard->n, user, false) : NULL;
	if (b && b->locked_until == 0)
		b->failures = 0;
}

double sp_guard_auth_hold(struct sp_server *s, const char *src_ip)
{
	struct guard_slot *a = slot(s->guard->src, s->guard->n, src_ip, false);
	if (!a)
		return 0.0;
	double give = s->cfg.rate_burst - a->tokens;
	give = give > 1.0 ? 1.0 : give < 0.0 ? 0.0 : give;
	a->tokens += give;
	return give;
}

void sp_guard_auth_release(struct sp_server *s, const char *src_ip, double held)
{
	struct guard_slot *a = slot(s->guard->src, s->guard->n, src_ip, false);
	if (a)
		a->tokens -= held;
}

bool sp_guard_scanner(const struct sp_config *cfg, const char *ua)
{
	if (!ua)
		return false;
	for (size_t i = 0; i < cfg->n_scanners; i++)
		if (strcasestr(ua, cfg->scanners[i]))
			return true;
	return false;
}

bool sp_guard_flow_open(struct sp_server *s, const char *src_ip)
{
	struct guard_slot *g = slot(s->guard->src, s->guard->n, src_ip, true);
	if (g->flows >= s->cfg.max_flows_per_source)
		return false;
	g->flows++;
	return true;
}

void sp_guard_flow_close(struct sp_server *s, const char *src_ip)
{
	struct guard_slot *g = slot(s->guard->src, s->guard->n, src_ip, false);
	if (g && g->flows)
		g->flows--;
}
