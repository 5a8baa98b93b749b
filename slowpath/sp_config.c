/* SPDX-License-Identifier: BSD-3-Clause */
/* INI parser for the slowpath's configuration (rte_cfgfile-compatible: [section], key = value,
 * ';' or '#' comments). See docs/slowpath.md for every key. */
#include "slowpath/sp_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/anchor.h"
#include "common/log.h"
#include "common/redis.h"
#include "slowpath/sp_msg.h"

static const char *const default_scanners[] = {
    "friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipsak", "sundayddr", "iWar",
    "VaxSIPUserAgent",	"SIPScan",    "pplsip", "smap",
};

void sp_config_defaults(struct sp_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->realm, sizeof(c->realm), "poprelay");
	snprintf(c->redis_socket, sizeof(c->redis_socket), "/run/redis/redis-server.sock");
	c->redis_wait_timeout_ms = 1000;
	c->redis_replay_ms = SP_REDIS_REPLAY_MS_DEFAULT;
	snprintf(c->pop, sizeof(c->pop), "pop1");
	snprintf(c->tls_addr, sizeof(c->tls_addr), "0.0.0.0");
	c->tls_port = 5061;
	snprintf(c->plain_addr, sizeof(c->plain_addr), "0.0.0.0");
	c->plain_port = 5060;
	snprintf(c->wss_addr, sizeof(c->wss_addr), "0.0.0.0");
	c->ws_max_message = SP_MSG_MAX;
	c->ws_ping_s = 30;
	c->ws_idle_s = 90;
	snprintf(c->tls_cert, sizeof(c->tls_cert), "/etc/poprelay/tls/slowpath.crt");
	snprintf(c->tls_key, sizeof(c->tls_key), "/etc/poprelay/tls/slowpath.key");
	snprintf(c->tls_ciphers, sizeof(c->tls_ciphers), "%s", SP_TLS_CIPHERS_DEFAULT);
	snprintf(c->tls_ciphersuites, sizeof(c->tls_ciphersuites), "%s",
		 SP_TLS_CIPHERSUITES_DEFAULT);
	c->tls_ticket_rotate_s = 3600;
	snprintf(c->advertised_host, sizeof(c->advertised_host), "127.0.0.1");
	snprintf(c->media_addr, sizeof(c->media_addr), "127.0.0.1");
	c->nonce_ttl_s = 300;
	c->reg_min_expires_s = 60;
	c->reg_max_expires_s = 3600;
	c->keepalive_s = 120;
	c->max_connections = 20000;
	c->max_flows_per_source = 2000;
	c->first_message_timeout_s = 10;
	c->rate_limit_rps = 50;
	c->rate_burst = 100;
	c->lockout_failures = 5;
	c->lockout_s = 300;
	c->invite_timeout_s = 60;
	c->max_call_s = 0;
	c->stop_drain_s = 20;
	c->media_idle_s = 60;
	c->max_message_bytes = SP_MSG_MAX;
	c->log_level = 6;
	c->n_digest_algs = 2;
	c->digest_algs[0] = 2; /* SP_DIGEST_SHA256 */
	c->digest_algs[1] = 1; /* SP_DIGEST_MD5 */
	for (size_t i = 0; i < sizeof(default_scanners) / sizeof(default_scanners[0]); i++)
		snprintf(c->scanners[c->n_scanners++], sizeof(c->scanners[0]), "%s",
			 default_scanners[i]);
}

/* [sip] media_anchors: "any", or IP addresses separated by spaces or commas (at most
 * SP_MAX_ANCHORS, no repeats). */
static int set_anchors(struct sp_config *c, const char *v)
{
	char buf[SP_MAX_ANCHORS * 48 + 64], *save = NULL;
	c->anchors_any = false;
	c->n_anchors = 0;
	if (!strcmp(v, "any")) {
		c->anchors_any = true;
		return 0;
	}
	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
		if (c->n_anchors == SP_MAX_ANCHORS || !pr_anchor_addr_valid(t))
			return -EINVAL;
		for (size_t i = 0; i < c->n_anchors; i++)
			if (!strcmp(c->anchors[i], t))
				return -EINVAL;
		snprintf(c->anchors[c->n_anchors++], sizeof(c->anchors[0]), "%s", t);
	}
	return c->n_anchors ? 0 : -EINVAL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int set_str(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -EINVAL;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_u32(uint32_t *dst, const char *v, uint32_t min, uint32_t max)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
		return -EINVAL;
	*dst = (uint32_t)x;
	return 0;
}

static int set_u16(uint16_t *dst, const char *v, uint16_t min)
{
	uint32_t x;
	if (set_u32(&x, v, min, 65535) < 0)
		return -EINVAL;
	*dst = (uint16_t)x;
	return 0;
}

/* "host:port" (IPv6 as [addr]:port). */
static int parse_hostport(const char *v, char *host, size_t hlen, uint16_t *port)
{
	const char *colon;
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - v - 1) >= hlen || rb - v - 1 == 0)
			return -EINVAL;
		memcpy(host, v + 1, rb - v - 1);
		host[rb - v - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || colon == v || (size_t)(colon - v) >= hlen)
			return -EINVAL;
		memcpy(host, v, colon - v);
		host[colon - v] = '\0';
	}
	return set_u16(port, colon + 1, 0);
}

/* Comma-separated list items, trimmed, empty items skipped. Calls fn for each. */
static int for_each_item(const char *v, int (*fn)(struct sp_config *, const char *),
			 struct sp_config *c)
{
	char buf[1024];
	if (set_str(buf, sizeof(buf), v) < 0)
		return -EINVAL;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = trim(t);
		if (!*t)
			continue;
		int rc = fn(c, t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int add_scanner(struct sp_config *c, const char *t)
{
	if (c->n_scanners >= SP_MAX_SCANNERS)
		return -EINVAL;
	return set_str(c->scanners[c->n_scanners++], sizeof(c->scanners[0]), t);
}

/* PREFIX=host:port */
/* An Origin (RFC 6454): scheme "://" host [":" port], no path, as a browser sends it. */
static int add_origin(struct sp_config *c, const char *t)
{
	const char *sep = strstr(t, "://");
	if (c->n_ws_origins >= SP_MAX_WS_ORIGINS || !sep || sep == t || !sep[3] ||
	    strpbrk(sep + 3, "/?# \t") || strlen(t) >= sizeof(c->ws_origins[0]))
		return -EINVAL;
	return set_str(c->ws_origins[c->n_ws_origins++], sizeof(c->ws_origins[0]), t);
}

static int add_offnet(struct sp_config *c, const char *t)
{
	const char *eq = strchr(t, '=');
	if (!eq || c->n_offnet >= SP_MAX_OFFNET || (size_t)(eq - t) >= sizeof(c->offnet_prefix[0]))
		return -EINVAL;
	size_t i = c->n_offnet;
	memcpy(c->offnet_prefix[i], t, eq - t);
	c->offnet_prefix[i][eq - t] = '\0';
	if (parse_hostport(eq + 1, c->offnet_host[i], sizeof(c->offnet_host[i]),
			   &c->offnet_port[i]) < 0)
		return -EINVAL;
	c->n_offnet++;
	return 0;
}

/* name=host:port */
static int add_peer(struct sp_config *c, const char *t)
{
	const char *eq = strchr(t, '=');
	if (!eq || c->n_peers >= SP_MAX_PEERS || (size_t)(eq - t) >= sizeof(c->peers[0].name) ||
	    eq == t)
		return -EINVAL;
	struct sp_peer_pop *p = &c->peers[c->n_peers];
	memcpy(p->name, t, eq - t);
	p->name[eq - t] = '\0';
	if (parse_hostport(eq + 1, p->host, sizeof(p->host), &p->port) < 0 || !p->port)
		return -EINVAL;
	c->n_peers++;
	return 0;
}

static int add_alg(struct sp_config *c, const char *t)
{
	int a = !strcasecmp(t, "SHA-256") ? 2 : !strcasecmp(t, "MD5") ? 1 : -1;
	if (a < 0 || c->n_digest_algs >= 2)
		return -EINVAL;
	for (unsigned i = 0; i < c->n_digest_algs; i++)
		if (c->digest_algs[i] == a)
			return -EINVAL;
	c->digest_algs[c->n_digest_algs++] = a;
	return 0;
}

static int sip_key(struct sp_config *c, const char *k, const char *v)
{
	if (!strcmp(k, "pop"))
		return set_str(c->pop, sizeof(c->pop), v);
	if (!strcmp(k, "instance")) {
		/* a Redis key's last part: letters, digits, '.', '_', '-' */
		if (!*v ||
		    strspn(v,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			strlen(v))
			return -EINVAL;
		return set_str(c->instance, sizeof(c->instance), v);
	}
	if (!strcmp(k, "tls_listen"))
		return parse_hostport(v, c->tls_addr, sizeof(c->tls_addr), &c->tls_port);
	if (!strcmp(k, "listen"))
		return parse_hostport(v, c->plain_addr, sizeof(c->plain_addr), &c->plain_port);
	if (!strcmp(k, "wss_listen"))
		return parse_hostport(v, c->wss_addr, sizeof(c->wss_addr), &c->wss_port);
	if (!strcmp(k, "freebind")) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return -EINVAL;
		c->freebind = !strcmp(v, "yes");
		return 0;
	}
	if (!strcmp(k, "ws_origins")) {
		c->n_ws_origins = 0;
		return for_each_item(v, add_origin, c);
	}
	if (!strcmp(k, "redis_replay_ms"))
		return set_u32(&c->redis_replay_ms, v, 0, SP_REDIS_REPLAY_MS_MAX);
	if (!strcmp(k, "ws_max_message"))
		return set_u32(&c->ws_max_message, v, 1024, SP_MSG_MAX);
	if (!strcmp(k, "ws_ping_s"))
		return set_u32(&c->ws_ping_s, v, 5, 3600);
	if (!strcmp(k, "ws_idle_s"))
		return set_u32(&c->ws_idle_s, v, 10, 7200);
	if (!strcmp(k, "tls_cert"))
		return set_str(c->tls_cert, sizeof(c->tls_cert), v);
	if (!strcmp(k, "tls_key"))
		return set_str(c->tls_key, sizeof(c->tls_key), v);
	if (!strcmp(k, "tls_ca"))
		return set_str(c->tls_ca, sizeof(c->tls_ca), v);
	if (!strcmp(k, "tls_verify_client")) {
		if (!strcmp(v, "none"))
			c->verify_client = SP_VERIFY_NONE;
		else if (!strcmp(v, "optional"))
			c->verify_client = SP_VERIFY_OPTIONAL;
		else if (!strcmp(v, "require"))
			c->verify_client = SP_VERIFY_REQUIRE;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "tls_ciphers"))
		return *v ? set_str(c->tls_ciphers, sizeof(c->tls_ciphers), v) : -EINVAL;
	if (!strcmp(k, "tls_ciphersuites"))
		return *v ? set_str(c->tls_ciphersuites, sizeof(c->tls_ciphersuites), v) : -EINVAL;
	if (!strcmp(k, "tls_ticket_rotate_s"))
		return set_u32(&c->tls_ticket_rotate_s, v, 2, 86400);
	if (!strcmp(k, "advertised_host"))
		return set_str(c->advertised_host, sizeof(c->advertised_host), v);
	if (!strcmp(k, "media_addr"))
		return set_str(c->media_addr, sizeof(c->media_addr), v);
	if (!strcmp(k, "media_anchors"))
		return set_anchors(c, v);
	if (!strcmp(k, "media_ports")) {
		unsigned lo, hi;
		char tail;
		if (sscanf(v, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1024 || hi > 65535 ||
		    lo >= hi)
			return -EINVAL;
		c->media_port_lo = (uint16_t)lo;
		c->media_port_hi = (uint16_t)hi;
		return 0;
	}
	if (!strcmp(k, "nonce_ttl_s"))
		return set_u32(&c->nonce_ttl_s, v, 5, 86400);
	if (!strcmp(k, "reg_min_expires_s"))
		return set_u32(&c->reg_min_expires_s, v, 1, 86400);
	if (!strcmp(k, "reg_max_expires_s"))
		return set_u32(&c->reg_max_expires_s, v, 1, 7 * 86400);
	if (!strcmp(k, "keepalive_s"))
		return set_u32(&c->keepalive_s, v, 10, 3600);
	if (!strcmp(k, "max_connections"))
		return set_u32(&c->max_connections, v, 1, 1000000);
	if (!strcmp(k, "max_flows_per_source"))
		return set_u32(&c->max_flows_per_source, v, 1, 1000000);
	if (!strcmp(k, "first_message_timeout_s"))
		return set_u32(&c->first_message_timeout_s, v, 1, 600);
	if (!strcmp(k, "rate_limit_rps"))
		return set_u32(&c->rate_limit_rps, v, 0, 1000000);
	if (!strcmp(k, "rate_burst"))
		return set_u32(&c->rate_burst, v, 1, 1000000);
	if (!strcmp(k, "lockout_failures"))
		return set_u32(&c->lockout_failures, v, 1, 1000);
	if (!strcmp(k, "lockout_s"))
		return set_u32(&c->lockout_s, v, 1, 86400);
	if (!strcmp(k, "invite_timeout_s"))
		return set_u32(&c->invite_timeout_s, v, 1, 600);
	if (!strcmp(k, "max_call_s"))
		return set_u32(&c->max_call_s, v, 0, 7 * 86400);
	if (!strcmp(k, "stop_drain_s"))
		return set_u32(&c->stop_drain_s, v, 0, 3600);
	if (!strcmp(k, "media_idle_s")) {
		c->media_idle_set = true;
		return set_u32(&c->media_idle_s, v, 5, 3600);
	}
	if (!strcmp(k, "max_message_bytes"))
		return set_u32(&c->max_message_bytes, v, 1024, SP_MSG_MAX);
	if (!strcmp(k, "scanner_user_agents")) {
		c->n_scanners = 0;
		return for_each_item(v, add_scanner, c);
	}
	if (!strcmp(k, "offnet_routes")) {
		c->n_offnet = 0;
		return for_each_item(v, add_offnet, c);
	}
	if (!strcmp(k, "peer_pops")) {
		c->n_peers = 0;
		return for_each_item(v, add_peer, c);
	}
	if (!strcmp(k, "digest_algorithms")) {
		c->n_digest_algs = 0;
		int rc = for_each_item(v, add_alg, c);
		return rc < 0 || !c->n_digest_algs ? -EINVAL : 0;
	}
	/* the slowpath's own Redis ACL user (else [redis] user / password_file) */
	if (!strcmp(k, "redis_user")) {
		c->sip_redis_user_set = true;
		return set_str(c->redis_user, sizeof(c->redis_user), v);
	}
	if (!strcmp(k, "redis_password_file")) {
		c->sip_redis_pass_set = true;
		return set_str(c->redis_password_file, sizeof(c->redis_password_file), v);
	}
	if (!strcmp(k, "log_level")) {
		uint32_t l;
		if (set_u32(&l, v, 3, 7) < 0)
			return -EINVAL;
		c->log_level = (int)l;
		return 0;
	}
	return -ENOENT;
}

int sp_config_parse(struct sp_config *c, const char *name, const char *text, char *err,
		    size_t errlen)
{
	char section[64] = "";
	unsigned lineno = 0;
	const char *p = text;
	snprintf(c->path, sizeof(c->path), "%s", name);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];
		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "%s:%u: line too long", name, lineno);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		char *s = trim(line);
		if (!*s || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *rb = strchr(s, ']');
			if (!rb || (size_t)(rb - s - 1) >= sizeof(section)) {
				snprintf(err, errlen, "%s:%u: bad section header", name, lineno);
				return -EINVAL;
			}
			*rb = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: [%s]: expected key = value", name, lineno,
				 section);
			return -EINVAL;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		/* strip a trailing comment (rte_cfgfile treats ';' as comment start) */
		char *semi = strchr(v, ';');
		if (semi) {
			*semi = '\0';
			v = trim(v);
		}
		int rc = 0;
		if (!strcmp(section, "sip")) {
			rc = sip_key(c, k, v);
			if (rc == -ENOENT) {
				snprintf(err, errlen, "%s:%u: [sip]: unknown key '%s'", name,
					 lineno, k);
				return -EINVAL;
			}
		} else if (!strcmp(section, "global") && !strcmp(k, "realm")) {
			rc = set_str(c->realm, sizeof(c->realm), v);
			if (!rc && !*v)
				rc = -EINVAL;
		} else if (!strcmp(section, "redis") && !strcmp(k, "socket")) {
			rc = set_str(c->redis_socket, sizeof(c->redis_socket), v);
		} else if (!strcmp(section, "redis") && !strcmp(k, "user")) {
			if (!c->sip_redis_user_set)
				rc = set_str(c->redis_user, sizeof(c->redis_user), v);
		} else if (!strcmp(section, "redis") && !strcmp(k, "password_file")) {
			if (!c->sip_redis_pass_set)
				rc = set_str(c->redis_password_file, sizeof(c->redis_password_file),
					     v);
		} else if (!strcmp(section, "redis") && !strcmp(k, "sentinels")) {
			rc = set_str(c->redis_sentinels, sizeof(c->redis_sentinels), v);
		} else if (!strcmp(section, "redis") && !strcmp(k, "master_name")) {
			rc = set_str(c->redis_master_name, sizeof(c->redis_master_name), v);
		} else if (!strcmp(section, "redis") && !strcmp(k, "wait_replicas")) {
			rc = set_u32(&c->redis_wait_replicas, v, 0, 16);
		} else if (!strcmp(section, "redis") && !strcmp(k, "wait_timeout_ms")) {
			rc = set_u32(&c->redis_wait_timeout_ms, v, 10, 60000);
		}
		if (rc < 0 && !strcmp(section, "sip") && !strcmp(k, "media_anchors")) {
			snprintf(err, errlen,
				 "%s:%u: [sip]: bad value for 'media_anchors': got \"%.200s\", "
				 "expected any, or 1-%d distinct IP addresses",
				 name, lineno, v, SP_MAX_ANCHORS);
			return -EINVAL;
		}
		if (rc < 0 && !strcmp(section, "sip") && !strcmp(k, "redis_replay_ms")) {
			snprintf(err, errlen,
				 "%s:%u: [sip]: bad value for 'redis_replay_ms': got \"%.200s\", "
				 "expected milliseconds 0-%u (0: requests in flight when the Redis "
				 "connection is lost are not sent again)",
				 name, lineno, v, SP_REDIS_REPLAY_MS_MAX);
			return -EINVAL;
		}
		if (rc < 0 && !strcmp(section, "sip") && !strcmp(k, "freebind")) {
			snprintf(err, errlen,
				 "%s:%u: [sip]: bad value for 'freebind': got \"%.200s\", expected "
				 "yes or no",
				 name, lineno, v);
			return -EINVAL;
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s:%u: [%s]: bad value for '%s'", name, lineno,
				 section, k);
			return -EINVAL;
		}
	}
	if (c->redis_sentinels[0] || c->redis_master_name[0]) {
		/* [redis] socket is then not used: the sentinels name the primary */
		char why[256];
		if (pr_redis_sentinel_target(c->redis_socket, sizeof(c->redis_socket),
					     c->redis_sentinels, c->redis_master_name, why,
					     sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", name, why);
			return -EINVAL;
		}
	}
	if (c->reg_min_expires_s > c->reg_max_expires_s) {
		snprintf(err, errlen, "%s: [sip]: reg_min_expires_s > reg_max_expires_s", name);
		return -EINVAL;
	}
	if (c->wss_port && !c->n_ws_origins) {
		snprintf(err, errlen,
			 "%s: [sip] ws_origins: empty while wss_listen is set, expected the "
			 "origins (https://host[:port]) whose pages may connect",
			 name);
		return -EINVAL;
	}
	if (c->ws_idle_s <= c->ws_ping_s) {
		snprintf(err, errlen,
			 "%s: [sip] ws_idle_s: got %u, expected more than ws_ping_s (%u)", name,
			 c->ws_idle_s, c->ws_ping_s);
		return -EINVAL;
	}
	return 0;
}

int sp_config_load(struct sp_config *c, const char *path, char *err, size_t errlen)
{
	sp_config_defaults(c);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	char *buf = NULL;
	size_t cap = 0, len = 0;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = strdup("");
	else
		buf[len] = '\0';
	if (!buf)
		return -ENOMEM;
	int rc = sp_config_parse(c, path, buf, err, errlen);
	free(buf);
	return rc;
}

/* ---- What the start would refuse beyond the syntax (sp_config_check) ---- */

/* OpenSSL's reason for the last failure (a system error as strerror says it); true when it
 * is a key that does not match the certificate. Empties the error queue. */
static bool ssl_reason(char *buf, size_t len)
{
	unsigned long e, last = 0, sys = 0;
	const char *r;

	while ((e = ERR_get_error()) != 0) {
		last = e;
		if (ERR_SYSTEM_ERROR(e))
			sys = e;
	}
	r = sys ? strerror(ERR_GET_REASON(sys)) : last ? ERR_reason_error_string(last) : NULL;
	snprintf(buf, len, "%s", r ? r : "unknown error");
	return last && ERR_GET_LIB(last) == ERR_LIB_X509 &&
	       ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH;
}

int sp_config_tls_load(const struct sp_config *c, struct ssl_ctx_st *ctx, char *err, size_t errlen)
{
	char why[128];

	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen,
			 "%s: [sip] tls_cert: cannot load %s (%s), expected a readable PEM "
			 "certificate chain",
			 c->path, c->tls_cert, why);
		return -EINVAL;
	}
	/* OpenSSL checks a key against the certificate as it loads it, and again here. */
	bool mismatch = false;
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1) {
		mismatch = ssl_reason(why, sizeof(why));
		if (!mismatch) {
			snprintf(err, errlen,
				 "%s: [sip] tls_key: cannot load %s (%s), expected a readable PEM "
				 "key",
				 c->path, c->tls_key, why);
			return -EINVAL;
		}
	}
	if (mismatch || SSL_CTX_check_private_key(ctx) != 1) {
		if (!mismatch)
			ssl_reason(why, sizeof(why));
		snprintf(err, errlen,
			 "%s: [sip] tls_key: %s does not match [sip] tls_cert %s (%s), expected "
			 "the certificate's key",
			 c->path, c->tls_key, c->tls_cert, why);
		return -EINVAL;
	}
	if (c->tls_ca[0] && SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen,
			 "%s: [sip] tls_ca: cannot load %s (%s), expected readable PEM "
			 "certificates",
			 c->path, c->tls_ca, why);
		return -EINVAL;
	}
	return 0;
}

/* How many TLS 1.3 suites (tls13), or TLS 1.2 and older ones, ctx enables. */
static int count_suites(SSL_CTX *ctx, bool tls13)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int n = 0;

	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++)
		n +=
		    !strcmp(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(sk, i)), "TLSv1.3") == tls13;
	return n;
}

/* Each name of list (OpenSSL's separators ':', ',', ' ') alone must enable a suite:
 * OpenSSL skips unknown names in a list, so a typo would pass unseen. Operators ('!', '-',
 * '+', '@') are judged with the whole list. */
static int check_suite_names(const struct sp_config *c, const char *key, const char *list,
			     bool tls13, char *err, size_t errlen)
{
	char buf[512], *save = NULL;
	SSL_CTX *t = SSL_CTX_new(TLS_server_method());
	int rc = 0;

	if (!t) {
		snprintf(err, errlen, "%s: [sip] %s: no memory for a TLS context", c->path, key);
		return -ENOMEM;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *n = strtok_r(buf, ":, ", &save); n && !rc; n = strtok_r(NULL, ":, ", &save)) {
		if (strchr("!-+@", n[0]))
			continue;
		ERR_clear_error();
		bool ok = tls13 ? SSL_CTX_set_ciphersuites(t, n) == 1 && count_suites(t, true) > 0
				: SSL_CTX_set_cipher_list(t, n) == 1 && count_suites(t, false) > 0;
		if (!ok) {
			snprintf(err, errlen,
				 "%s: [sip] %s: unknown %s suite \"%s\", expected OpenSSL names "
				 "(`openssl ciphers -v %s`)",
				 c->path, key, tls13 ? "TLS 1.3" : "TLS 1.2", n,
				 tls13 ? "-tls1_3" : "-tls1_2");
			rc = -EINVAL;
		}
	}
	ERR_clear_error();
	SSL_CTX_free(t);
	return rc;
}

int sp_config_tls_policy(const struct sp_config *c, struct ssl_ctx_st *ctx, char *err,
			 size_t errlen)
{
	int rc;

	if ((rc = check_suite_names(c, "tls_ciphers", c->tls_ciphers, false, err, errlen)) < 0 ||
	    (rc = check_suite_names(c, "tls_ciphersuites", c->tls_ciphersuites, true, err,
				    errlen)) < 0)
		return rc;
	ERR_clear_error();
	if (SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1 || count_suites(ctx, false) == 0) {
		snprintf(err, errlen,
			 "%s: [sip] tls_ciphers: \"%s\" enables no TLS 1.2 suite, expected an "
			 "OpenSSL cipher list such as the default",
			 c->path, c->tls_ciphers);
		ERR_clear_error();
		return -EINVAL;
	}
	if (SSL_CTX_set_ciphersuites(ctx, c->tls_ciphersuites) != 1 ||
	    count_suites(ctx, true) == 0) {
		snprintf(err, errlen,
			 "%s: [sip] tls_ciphersuites: \"%s\" enables no TLS 1.3 suite, expected "
			 "names such as TLS_AES_128_GCM_SHA256",
			 c->path, c->tls_ciphersuites);
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

/* A listener's address: an IP address (the start takes no names) of this host. */
static int check_listen(const struct sp_config *c, const char *key, const char *host, char *err,
			size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	socklen_t len;
	int fd, e = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		len = sizeof(*s6);
	} else {
		snprintf(err, errlen,
			 "%s: [sip] %s: got \"%s\", expected an IPv4 or IPv6 address (host:port, "
			 "[v6]:port)",
			 c->path, key, host);
		return -EINVAL;
	}
	/* Port 0: what bind would say of the address alone, without taking the port. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) < 0)
		e = errno;
	if (fd >= 0)
		close(fd);
	/* freebind: an address keepalived brings here later (the listener binds it anyway) */
	if (e == EADDRNOTAVAIL && !c->freebind) {
		snprintf(err, errlen,
			 "%s: [sip] %s: got %s, which is not an address of this host (%s), "
			 "expected a local address or 0.0.0.0 / :: (or [sip] freebind = yes for "
			 "a service address that moves here at a failover)",
			 c->path, key, host, strerror(e));
		return -EINVAL;
	}
	return 0;
}

static bool is_wildcard(const char *host)
{
	return !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

int sp_config_check(const struct sp_config *c, char *err, size_t errlen)
{
	int rc;

	if (c->tls_port && (rc = check_listen(c, "tls_listen", c->tls_addr, err, errlen)) < 0)
		return rc;
	if (c->plain_port && (rc = check_listen(c, "listen", c->plain_addr, err, errlen)) < 0)
		return rc;
	if (c->wss_port && (rc = check_listen(c, "wss_listen", c->wss_addr, err, errlen)) < 0)
		return rc;
	/* the WSS listener is TCP too: not on the port of another */
	const struct {
		const char *key, *addr;
		uint16_t port;
	} others[] = {{"tls_listen", c->tls_addr, c->tls_port},
		      {"listen", c->plain_addr, c->plain_port}};
	for (size_t i = 0; c->wss_port && i < 2; i++) {
		bool fam = !strchr(c->wss_addr, ':') == !strchr(others[i].addr, ':');
		if (others[i].port == c->wss_port &&
		    (!strcmp(c->wss_addr, others[i].addr) ||
		     (fam && (is_wildcard(c->wss_addr) || is_wildcard(others[i].addr))))) {
			snprintf(err, errlen,
				 "%s: [sip] wss_listen: got %s:%u, the port of [sip] %s (%s:%u), "
				 "expected another port",
				 c->path, c->wss_addr, c->wss_port, others[i].key, others[i].addr,
				 others[i].port);
			return -EINVAL;
		}
	}
	/* Both listeners are TCP: one port cannot hold both on a shared address. */
	bool same_family = !strchr(c->tls_addr, ':') == !strchr(c->plain_addr, ':');
	if (c->tls_port && c->tls_port == c->plain_port &&
	    (!strcmp(c->tls_addr, c->plain_addr) ||
	     (same_family && (is_wildcard(c->tls_addr) || is_wildcard(c->plain_addr))))) {
		snprintf(err, errlen,
			 "%s: [sip] listen: got %s:%u, the port of [sip] tls_listen (%s:%u), "
			 "expected another port (both are TCP listeners)",
			 c->path, c->plain_addr, c->plain_port, c->tls_addr, c->tls_port);
		return -EINVAL;
	}
	/* The start builds TLS contexts for the listeners and for links to peer PoPs. */
	if (c->tls_port || c->wss_port || c->n_peers) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
		if (!ctx) {
			snprintf(err, errlen, "%s: [sip] tls_cert: no memory for a TLS context",
				 c->path);
			return -ENOMEM;
		}
		rc = sp_config_tls_policy(c, ctx, err, errlen);
		if (rc == 0)
			rc = sp_config_tls_load(c, ctx, err, errlen);
		SSL_CTX_free(ctx);
		if (rc < 0)
			return rc;
	}
	/* The start authenticates to Redis with the file's first line (pr_redis_auth). */
	if (c->redis_user[0] || c->redis_password_file[0]) {
		const char *key =
		    c->sip_redis_pass_set ? "[sip] redis_password_file" : "[redis] password_file";
		char line[512];
		size_t n = 0;
		FILE *f = c->redis_password_file[0] ? fopen(c->redis_password_file, "re") : NULL;

		if (!f) {
			snprintf(err, errlen,
				 "%s: %s: got \"%s\" (%s), expected a readable file holding the "
				 "password of Redis user \"%s\"",
				 c->path, key, c->redis_password_file,
				 c->redis_password_file[0] ? strerror(errno) : "empty",
				 c->redis_user);
			return -EINVAL;
		}
		if (fgets(line, sizeof(line), f))
			n = strcspn(line, "\r\n");
		explicit_bzero(line, sizeof(line));
		fclose(f);
		if (n == 0) {
			snprintf(err, errlen,
				 "%s: %s: %s is empty, expected the password on its first line",
				 c->path, key, c->redis_password_file);
			return -EINVAL;
		}
	}
	return 0;
}
