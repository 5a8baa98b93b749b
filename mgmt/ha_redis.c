/* SPDX-License-Identifier: BSD-3-Clause */
/* The Redis side of [ha]'s operations view (ha_redis.h): shared by poprelayctl ha status and
 * poprelay-exporter's alarms, so both judge a replica and the peer's lease alike. */
#include "mgmt/ha_redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis.h"
#include "mgmt/ctl.h"

/* "slaveN:ip=...,port=...,state=online,offset=...,lag=0" -> one entry */
static void parse_slave(const char *v, struct ha_repl *out)
{
	if (out->n >= HA_REPL_MAX)
		return;
	int i = out->n++;
	memset(&out->r[i], 0, sizeof(out->r[i]));
	out->r[i].offset = out->r[i].lag = -1;
	for (const char *p = v; *p;) {
		const char *eq = strchr(p, '='), *end = strpbrk(p, ",\r\n");
		if (!end)
			end = p + strlen(p);
		if (eq && eq < end) {
			size_t kl = (size_t)(eq - p), vl = (size_t)(end - eq - 1);
			char val[64];
			snprintf(val, sizeof(val), "%.*s", (int)(vl < 63 ? vl : 63), eq + 1);
			if (kl == 2 && !strncmp(p, "ip", 2))
				snprintf(out->r[i].ip, sizeof(out->r[i].ip), "%s", val);
			else if (kl == 4 && !strncmp(p, "port", 4))
				out->r[i].port = atoi(val);
			else if (kl == 5 && !strncmp(p, "state", 5))
				snprintf(out->r[i].state, sizeof(out->r[i].state), "%s", val);
			else if (kl == 6 && !strncmp(p, "offset", 6))
				out->r[i].offset = strtoll(val, NULL, 10);
			else if (kl == 3 && !strncmp(p, "lag", 3))
				out->r[i].lag = strtoll(val, NULL, 10);
		}
		if (*end != ',')
			break;
		p = end + 1;
	}
}

int ha_repl_parse(const char *info, struct ha_repl *out)
{
	bool role = false;

	memset(out, 0, sizeof(*out));
	for (const char *line = info; line && *line;) {
		const char *nl = strchr(line, '\n');
		char l[512];
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		snprintf(l, sizeof(l), "%.*s", (int)(n < sizeof(l) - 1 ? n : sizeof(l) - 1), line);
		l[strcspn(l, "\r")] = '\0';
		if (!strncmp(l, "role:", 5)) {
			role = true;
			out->master = !strcmp(l + 5, "master");
		} else if (!strncmp(l, "connected_slaves:", 17))
			out->connected = atoi(l + 17);
		else if (!strncmp(l, "master_repl_offset:", 19))
			out->master_offset = strtoll(l + 19, NULL, 10);
		else if (!strncmp(l, "slave", 5) && l[5] >= '0' && l[5] <= '9' && strchr(l, ':'))
			parse_slave(strchr(l, ':') + 1, out);
		line = nl ? nl + 1 : NULL;
	}
	return role ? 0 : -EBADMSG;
}

int ha_repl_read(struct pr_redis *r, struct ha_repl *out, char *why, size_t len)
{
	redisReply *rep = pr_redis_cmd(r, "INFO replication");
	int rc;

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		snprintf(why, len, "INFO replication: %s",
			 rep && rep->type == REDIS_REPLY_ERROR ? rep->str : pr_redis_errmsg(r));
		rc = rep ? -EPERM : -EIO;
		freeReplyObject(rep);
		return rc;
	}
	rc = ha_repl_parse(rep->str, out);
	if (rc < 0)
		snprintf(why, len, "INFO replication: no role in the reply");
	freeReplyObject(rep);
	return rc;
}

void ha_peer_name(const struct ctl_ctx *ctx, char *out, size_t len)
{
	const char *v = ctl_conf_get(ctx, "ha", "peer_ipv4");

	if (!v || !*v)
		v = ctl_conf_get(ctx, "ha", "peer_ipv6");
	out[0] = '\0';
	if (!v)
		return;
	v += strspn(v, " \t");
	size_t n = strcspn(v, "/, \t");
	snprintf(out, len, "%.*s", (int)n, v);
}

int ha_peer_alive(struct pr_redis *r, const char *peer, char *why, size_t len)
{
	redisReply *rep = pr_redis_cmd(r, "EXISTS pr:ha:alive:%s", peer);
	int rc;

	if (!rep || rep->type != REDIS_REPLY_INTEGER) {
		snprintf(why, len, "EXISTS pr:ha:alive:%s: %s", peer,
			 rep && rep->type == REDIS_REPLY_ERROR ? rep->str : pr_redis_errmsg(r));
		rc = rep ? -EPERM : -EIO;
		freeReplyObject(rep);
		return rc;
	}
	rc = rep->integer > 0;
	freeReplyObject(rep);
	return rc;
}
