/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl drain [--deadline S] | drain --status | drain --handover | undrain: the
 * maintenance drain (pr:drain, docs/slowpath.md "Maintenance drain"). Writing pr:drain
 * publishes "drain" on pr:events; the slowpath and the dataplane follow it within a second.
 * pr:drain is the PoP's (every process on that Redis follows it), so on an [ha] appliance
 * --handover does not write it: the dataplane hands its addresses, media sessions and TURN
 * allocations to its peer (ctl_ha.c, docs/scaling.md "Drain handover"), and undrain takes
 * them back. */
#include "mgmt/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#define DEADLINE_MAX_S (7 * 86400)

int ctl_ha_handover(struct ctl_ctx *ctx);
int ctl_ha_undrain(struct ctl_ctx *ctx, bool *done);

static void drain_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: poprelayctl drain [--deadline S]   take the appliance out of service\n"
	    "       poprelayctl drain --status [--json]  since when, the deadline, what remains\n"
	    "       poprelayctl drain --handover         [ha]: hand our addresses, media\n"
	    "                                            sessions, TURN allocations to the peer\n"
	    "       poprelayctl undrain                  serve new calls, registrations and\n"
	    "                                            TURN allocations again (and take back\n"
	    "                                            our addresses from the [ha] peer)\n"
	    "Drained, the slowpath answers new INVITEs and REGISTERs 503 with Retry-After and\n"
	    "the TURN relay answers new Allocates 300 Try Alternate ([turn] alternate_server)\n"
	    "or 486; calls and allocations in progress continue. With --deadline, those left\n"
	    "after S seconds (1..%d) are ended: calls with a BYE on both legs (CDR\n"
	    "end_reason drain), allocations deleted. 'drain' again changes the deadline.\n"
	    "--handover (an appliance with [ha] peer addresses, its peer running) ends nothing\n"
	    "and drains nothing else: the peer takes our addresses, calls' media and allocations\n"
	    "over as they are, and this dataplane forwards to it what still reaches it until\n"
	    "none comes for [ha] handover_quiet_ms; no packet is lost. pr:drain, which the\n"
	    "whole PoP follows, is not written. Media and TURN only: the slowpath's SIP\n"
	    "listeners are not moved.\n",
	    DEADLINE_MAX_S);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *count_json(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

int ctl_drain_summary(struct ctl_ctx *ctx, json_t *out)
{
	struct pr_ks_drain d;
	struct pr_ks_drain_left left;
	int ec, rc;

	if (!ctl_redis(ctx, &ec))
		return -EIO;
	rc = pr_ks_drain_get(ctx->redis, &d);
	if (rc < 0 && rc != -EINVAL)
		return rc;
	json_object_set_new(out, "draining", json_boolean(d.on));
	if (!d.on)
		return 0;
	rc = pr_ks_drain_left(ctx->redis, ctl_conf_get(ctx, "sip", "pop"), &left);
	if (rc < 0)
		return rc;
	json_object_set_new(out, "since_ms", json_integer(d.since_ms));
	json_object_set_new(out, "deadline_ms", json_integer(d.deadline_ms));
	json_object_set_new(out, "actor", json_string(d.actor));
	json_object_set_new(out, "calls", count_json(left.calls));
	json_object_set_new(out, "registrations", count_json(left.regs));
	json_object_set_new(out, "turn_allocations", count_json(left.turn_allocs));
	json_object_set_new(out, "media_sessions", count_json(left.sessions));
	return 0;
}

static void ms_text(int64_t ms, char *buf, size_t len)
{
	ctl_format_time(ms / 1000, buf, len);
}

static void count_text(const json_t *o, const char *k, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, len, "?");
}

static int drain_status(struct ctl_ctx *ctx)
{
	json_t *o = json_object();
	char since[32], dl[64], c[4][24];
	int rc;

	if (!o)
		return CTL_EXIT_ERR;
	rc = ctl_drain_summary(ctx, o);
	if (rc < 0) {
		json_decref(o);
		if (rc != -EIO || ctx->redis)
			ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	ctl_audit(ctx, "drain.status", "drain", NULL, 0);
	if (ctx->json)
		return ctl_json_print(o);
	if (!json_is_true(json_object_get(o, "draining"))) {
		printf("not draining\n");
		json_decref(o);
		return CTL_EXIT_OK;
	}
	int64_t d = json_integer_value(json_object_get(o, "deadline_ms"));
	ms_text(json_integer_value(json_object_get(o, "since_ms")), since, sizeof(since));
	if (d) {
		char at[32];
		int64_t left = d - now_ms();
		ms_text(d, at, sizeof(at));
		if (left > 0)
			snprintf(dl, sizeof(dl), "%s (in %" PRId64 " s)", at, (left + 999) / 1000);
		else
			snprintf(dl, sizeof(dl), "%s (passed)", at);
	} else {
		snprintf(dl, sizeof(dl), "none");
	}
	count_text(o, "calls", c[0], sizeof(c[0]));
	count_text(o, "registrations", c[1], sizeof(c[1]));
	count_text(o, "turn_allocations", c[2], sizeof(c[2]));
	count_text(o, "media_sessions", c[3], sizeof(c[3]));
	printf("draining since %s by %s\n"
	       "deadline: %s\n"
	       "remaining: %s calls, %s registrations, %s TURN allocations, %s media sessions\n",
	       since, json_string_value(json_object_get(o, "actor")), dl, c[0], c[1], c[2], c[3]);
	json_decref(o);
	return CTL_EXIT_OK;
}

int ctl_drain_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct pr_ks_drain cur, d;
	bool status = false, have_dl = false, handover = false;
	uint32_t dl_s = 0;
	char detail[64];
	int ec, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			drain_usage(stdout);
			return CTL_EXIT_OK;
		} else if (!strcmp(argv[i], "--status")) {
			status = true;
		} else if (!strcmp(argv[i], "--handover")) {
			handover = true;
		} else if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else if (!strcmp(argv[i], "--deadline") && i + 1 < argc) {
			if (ctl_parse_u32(argv[++i], DEADLINE_MAX_S, &dl_s) < 0 || dl_s == 0) {
				ctl_err(ctx, "--deadline: want seconds in 1..%d, got '%s'",
					DEADLINE_MAX_S, argv[i]);
				return CTL_EXIT_USAGE;
			}
			have_dl = true;
		} else {
			drain_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (status && have_dl) {
		ctl_err(ctx, "--status takes no --deadline");
		return CTL_EXIT_USAGE;
	}
	if (handover && (status || have_dl)) {
		ctl_err(ctx, "--handover takes neither --status nor --deadline (nothing is ended: "
			     "the peer takes everything over)");
		return CTL_EXIT_USAGE;
	}
	if (handover)
		return ctl_ha_handover(ctx);
	if (!ctl_redis(ctx, &ec))
		return ec;
	if (status)
		return drain_status(ctx);
	rc = pr_ks_drain_get(ctx->redis, &cur);
	if (rc < 0 && rc != -EINVAL) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	if (cur.on && !have_dl) {
		printf("already draining (a new --deadline changes it; 'undrain' ends it)\n");
		return drain_status(ctx);
	}
	memset(&d, 0, sizeof(d));
	d.on = true;
	d.since_ms = cur.on && cur.since_ms ? cur.since_ms : now_ms();
	d.deadline_ms = have_dl ? now_ms() + (int64_t)dl_s * 1000 : 0;
	snprintf(d.actor, sizeof(d.actor), "%s", ctx->actor);
	if (have_dl)
		snprintf(detail, sizeof(detail), "deadline %u s%s", dl_s,
			 cur.on ? " (changed)" : "");
	else
		snprintf(detail, sizeof(detail), "no deadline");
	rc = pr_ks_drain_set(ctx->redis, &d);
	ctl_audit(ctx, "drain.on", "drain", detail, rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	printf("%s: %s\n", cur.on ? "drain deadline changed" : "draining", detail);
	return CTL_EXIT_OK;
}

int ctl_undrain_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	int ec, rc;

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			drain_usage(stdout);
			return CTL_EXIT_OK;
		}
		drain_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	bool back = false;
	if (ctl_conf_get(ctx, "ha", "peer_ipv4") || ctl_conf_get(ctx, "ha", "peer_ipv6")) {
		/* our addresses handed over (drain --handover) or held by the peer: back first
		 * (a dataplane that is not running has nothing to take back: said, not fatal) */
		int hx = ctl_ha_undrain(ctx, &back);
		if (back && hx != CTL_EXIT_OK)
			return hx;
	}
	if (!ctl_redis(ctx, &ec))
		return ec;
	rc = pr_ks_drain_clear(ctx->redis);
	if (rc == -ENOENT) {
		if (!back)
			printf("not draining\n");
		return CTL_EXIT_OK;
	}
	ctl_audit(ctx, "drain.off", "drain", NULL, rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	printf("undrained: new calls, registrations and TURN allocations are served again\n");
	return CTL_EXIT_OK;
}
