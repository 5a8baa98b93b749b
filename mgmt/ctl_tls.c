/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl tls reload: the slowpath reads its certificate and key files again
 * (docs/slowpath.md "TLS"). Like drain and tunables, through Redis: PUBLISH pr:events
 * "tls-reload", which the slowpath's subscriber follows; the outcome is read back from the
 * stats hash of this appliance's slowpath (pr:stats:slowpath:<pop>:<instance>), whose
 * tls_reloads or tls_reload_failed grows by one. */
#include "mgmt/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common/redis.h"

#define WAIT_MS 5000 /* the slowpath publishes its stats every second */

static void tls_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: poprelayctl tls reload   the slowpath reads [sip] tls_cert, tls_key and\n"
	    "                                tls_ca again\n"
	    "New TLS handshakes use the new certificate; connections already up keep theirs.\n"
	    "When the new files do not load, the certificate in force stays and the\n"
	    "slowpath's log names the file. Exit 0 when reloaded, 1 when refused, 3 when the\n"
	    "slowpath ([sip] pop) did not answer within %d s. Same as SIGHUP to the slowpath.\n",
	    WAIT_MS / 1000);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The slowpath's reload counters; -1 each when its stats hash holds none. */
static int counters(struct ctl_ctx *ctx, const char *key, int64_t *ok, int64_t *failed)
{
	redisReply *r = pr_redis_cmd(ctx->redis, "HMGET %s tls_reloads tls_reload_failed", key);

	*ok = *failed = -1;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		if (r)
			freeReplyObject(r);
		return -EIO;
	}
	if (r->element[0]->type == REDIS_REPLY_STRING)
		*ok = strtoll(r->element[0]->str, NULL, 10);
	if (r->element[1]->type == REDIS_REPLY_STRING)
		*failed = strtoll(r->element[1]->str, NULL, 10);
	freeReplyObject(r);
	return 0;
}

static int tls_reload(struct ctl_ctx *ctx)
{
	const char *pop = ctl_conf_get(ctx, "sip", "pop");
	char key[PR_KS_NAME_MAX + 96];
	int64_t ok0, failed0, ok, failed, t0;
	const char *result = "no answer";
	redisReply *r;
	int ec;

	if (!ctl_redis(ctx, &ec))
		return ec;
	/* this appliance's slowpath answers for the PoP's (each gets the event) */
	if (pr_ks_slowpath_stats_key(key, sizeof(key), pop && *pop ? pop : "pop1",
				     ctl_conf_get(ctx, "sip", "instance")) < 0) {
		ctl_err(ctx, "[sip] pop and instance: too long");
		return CTL_EXIT_USAGE;
	}
	if (counters(ctx, key, &ok0, &failed0) < 0)
		goto redis_down;
	r = pr_redis_cmd(ctx->redis, "PUBLISH %s tls-reload", PR_KS_EVENTS_CHANNEL);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			freeReplyObject(r);
		goto redis_down;
	}
	freeReplyObject(r);
	for (t0 = mono_ms(); mono_ms() - t0 < WAIT_MS; usleep(100000)) {
		if (counters(ctx, key, &ok, &failed) < 0)
			goto redis_down;
		/* a restarted slowpath counts from 0 again: any change is its answer */
		if (ok >= 0 && ok != ok0 && failed == failed0) {
			result = "ok";
			break;
		}
		if (failed >= 0 && failed != failed0) {
			result = "failed";
			break;
		}
	}
	ctl_audit(ctx, "tls.reload", "slowpath", result,
		  !strcmp(result, "ok")	      ? 0
		  : !strcmp(result, "failed") ? -EINVAL
					      : -EIO);
	if (ctx->json) {
		json_t *o =
		    json_pack("{s:s, s:s}", "pop", pop && *pop ? pop : "pop1", "result", result);
		return o ? ctl_json_print(o) : CTL_EXIT_ERR;
	}
	if (!strcmp(result, "ok")) {
		printf("reloaded: new TLS handshakes use the new certificate; connections up keep "
		       "theirs\n");
		return CTL_EXIT_OK;
	}
	if (!strcmp(result, "failed")) {
		ctl_err(ctx, "the slowpath refused the new certificate or key and keeps the one in "
			     "force; its log names the file and the reason");
		return CTL_EXIT_ERR;
	}
	ctl_err(ctx, "the slowpath of pop %s did not answer within %d s: is it running?",
		pop && *pop ? pop : "pop1", WAIT_MS / 1000);
	return CTL_EXIT_DOWN;
redis_down:
	ctl_err(ctx, "redis: %s", pr_redis_errmsg(ctx->redis));
	return CTL_EXIT_DOWN;
}

int ctl_tls_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else {
			tls_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		tls_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "reload")) {
		tls_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	return tls_reload(ctx);
}
