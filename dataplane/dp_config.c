/* SPDX-License-Identifier: BSD-3-Clause */
/* Table-driven INI parsing on top of rte_cfgfile (which works before EAL starts). */
#include "dataplane/dp_config.h"

#include "common/redis.h"
#include "dataplane/dp.h"
#include "dataplane/dp_port.h"
#include "dataplane/dp_udp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <rte_cfgfile.h>
#include <rte_common.h>

struct dp_config dp_cfg;

#define EAL(f)	offsetof(struct dp_eal_cfg, f)
#define DPC(f)	offsetof(struct dp_dataplane_cfg, f)
#define PORT(f) offsetof(struct dp_port_cfg, f)

static const struct dp_cfg_key eal_keys[] = {
    {"lcores", DP_CFG_STR, 1, 128, "0-1", EAL(lcores), 0,
     "lcore list (EAL -l) or map (EAL --lcores, e.g. 0@0,1@1,2@1): main_lcore is the "
     "control lcore, every other one a worker"},
    {"main_lcore", DP_CFG_U32, 0, 1023, "0", EAL(main_lcore), 0,
     "the control lcore (must be in lcores)"},
    {"memory_mb", DP_CFG_U32, 64, 1048576, "512", EAL(memory_mb), 0,
     "memory to reserve at start-up in MB (EAL -m)"},
    {"huge", DP_CFG_BOOL, 0, 0, "yes", EAL(huge), 0,
     "use hugepages; no runs EAL with --no-huge (labs and CI only)"},
    {"huge_unlink", DP_CFG_BOOL, 0, 0, "yes", EAL(huge_unlink), 0,
     "remove hugepage files as soon as they are mapped (none left after any exit); no "
     "keeps them for secondary processes such as dpdk-pdump"},
    {"in_memory", DP_CFG_BOOL, 0, 0, "no", EAL(in_memory), 0,
     "EAL --in-memory: no shared runtime files (disables secondary processes)"},
    {"file_prefix", DP_CFG_STR, 1, 64, "poprelay", EAL(file_prefix), 0,
     "EAL --file-prefix; the telemetry socket is /var/run/dpdk/<file_prefix>/"},
    {"log_level", DP_CFG_U32, 1, 8, "5", EAL(log_level), 0,
     "EAL and dataplane log level, syslog numbering (3 error .. 7 debug)"},
    {"extra_args", DP_CFG_STR, 0, 255, "", EAL(extra_args), 0,
     "more EAL arguments, whitespace separated (e.g. --vdev for a second device)"},
};

static const struct dp_cfg_key dp_keys[] = {
    {"burst_size", DP_CFG_U32, 1, 256, "32", DPC(burst_size), 0, "packets per rx_burst/tx_burst"},
    {"mbuf_pool_size", DP_CFG_U32, 1023, 16777215, "16383", DPC(mbuf_pool_size), 0,
     "mbufs in the packet pool (best 2^n - 1)"},
    {"mbuf_cache_size", DP_CFG_U32, 0, 512, "256", DPC(mbuf_cache_size), 0, "per-lcore mbuf cache"},
    {"punt_ring_size", DP_CFG_U32, 64, 65536, "1024", DPC(punt_ring_size), 0,
     "slots of each worker's ring to the control lcore (power of two)"},
    {"neigh_entries", DP_CFG_U32, 64, 1048576, "4096", DPC(neigh_entries), 0,
     "neighbour (ARP/ND) table size"},
    {"neigh_timeout_s", DP_CFG_U32, 1, 86400, "300", DPC(neigh_timeout_s), 0,
     "seconds a learned neighbour is trusted before it is re-confirmed"},
    {"neigh_retry_ms", DP_CFG_U32, 10, 60000, "1000", DPC(neigh_retry_ms), 0,
     "milliseconds between ARP requests / neighbour solicitations for an unresolved hop"},
    {"neigh_probes", DP_CFG_U32, 1, 100, "3", DPC(neigh_probes), 0,
     "requests sent for an unresolved hop before giving up"},
    {"udp_echo_port", DP_CFG_U32, 0, 65535, "0", DPC(udp_echo_port), 0,
     "UDP port of the diagnostic echo service on our addresses (0 = off; labs)"},
    {"worker_idle_sleep_us", DP_CFG_U32, 0, 100000, "0", DPC(worker_idle_sleep_us), 0,
     "0 = pure polling (production); N = workers sleep N us after an empty poll (labs)"},
    {"lab_reflect", DP_CFG_BOOL, 0, 0, "no", DPC(lab_reflect), 0,
     "labs: workers send every frame back out with its MACs swapped, unparsed; no feature "
     "sees traffic (a device and generator's ceiling)"},
};

#define RED(f) offsetof(struct dp_redis_cfg, f)
/* Shared with the slowpath and poprelayctl (same keys, same meaning). */
static const struct dp_cfg_key redis_keys[] = {
    {"socket", DP_CFG_STR, 1, 107, "/run/poprelay/redis.sock", RED(socket), 0,
     "unix socket of the local Redis"},
    {"user", DP_CFG_STR, 0, 63, "", RED(user), 0, "Redis ACL user of this process"},
    {"password_file", DP_CFG_STR, 0, 255, "", RED(password_file), 0,
     "file holding that user's Redis password"},
    {"sentinels", DP_CFG_STR, 0, 255, "", RED(sentinels), 0,
     "Redis Sentinel: host:port of each sentinel, comma-separated (then socket is not used)"},
    {"master_name", DP_CFG_STR, 0, 63, "", RED(master_name), 0,
     "Redis Sentinel: the name the sentinels monitor the primary under"},
    {"wait_replicas", DP_CFG_U32, 0, 16, "0", RED(wait_replicas), 0,
     "replicas a write must reach before a client is told it succeeded (the slowpath's "
     "REGISTER, the dataplane's TURN answers)"},
    {"wait_timeout_ms", DP_CFG_U32, 10, 60000, "1000", RED(wait_timeout_ms), 0,
     "how long such a write waits for them"},
};

static const struct dp_cfg_key port_keys[] = {
    {"device", DP_CFG_STR, 1, 255, NULL, PORT(device), DP_CFG_REQUIRED,
     "PCI address (0000:01:00.0), vdev string (net_af_packet0,iface=eth1) or ring:NAME "
     "(shared-memory rings for a co-located DPDK process)"},
    {"ipv4", DP_CFG_IP4_PREFIX, 0, 0, NULL, PORT(ipv4), 0,
     "IPv4 address the appliance owns on this port, with prefix length"},
    {"ipv6", DP_CFG_IP6_PREFIX, 0, 0, NULL, PORT(ipv6), 0,
     "IPv6 address the appliance owns on this port, with prefix length"},
    {"ipv4_extra", DP_CFG_IP4_PREFIX_LIST, 0, 0, NULL, PORT(ipv4_extra), 0,
     "further IPv4 addresses the appliance owns on this port, comma-separated, each with "
     "its own prefix length (another subnet on the same link is fine); needs ipv4"},
    {"ipv6_extra", DP_CFG_IP6_PREFIX_LIST, 0, 0, NULL, PORT(ipv6_extra), 0,
     "further IPv6 addresses the appliance owns on this port, comma-separated, each with "
     "its own prefix length; needs ipv6"},
    {"gateway4", DP_CFG_IP4, 0, 0, NULL, PORT(gateway4), 0,
     "IPv4 next hop for destinations off the ipv4 prefix"},
    {"gateway6", DP_CFG_IP6, 0, 0, NULL, PORT(gateway6), 0,
     "IPv6 next hop for destinations off the ipv6 prefix"},
    {"rx_queues", DP_CFG_U32, 0, 64, "0", PORT(rx_queues), 0,
     "RX queues (RSS); 0 = one per worker lcore"},
    {"rx_desc", DP_CFG_U32, 64, 16384, "1024", PORT(rx_desc), 0, "RX descriptors per queue"},
    {"tx_desc", DP_CFG_U32, 64, 16384, "1024", PORT(tx_desc), 0, "TX descriptors per queue"},
    {"mtu", DP_CFG_U32, 576, 9600, "1500", PORT(mtu), 0, "IP MTU of the port"},
    {"promiscuous", DP_CFG_BOOL, 0, 0, "no", PORT(promiscuous), 0,
     "accept frames to any MAC (virtual ports that share a MAC with the kernel)"},
};

static struct dp_cfg_section eal_section = {
    .name = "eal", .storage = &dp_cfg.eal, .keys = eal_keys, .nkeys = RTE_DIM(eal_keys)};
static struct dp_cfg_section dp_section = {
    .name = "dataplane", .storage = &dp_cfg.dp, .keys = dp_keys, .nkeys = RTE_DIM(dp_keys)};
static struct dp_cfg_section redis_section = {
    .name = "redis", .storage = &dp_cfg.redis, .keys = redis_keys, .nkeys = RTE_DIM(redis_keys)};
static struct dp_cfg_section port_section = {.name = "port",
					     .max_instances = DP_MAX_PORTS,
					     .storage = &dp_cfg.port[0],
					     .stride = sizeof(struct dp_port_cfg),
					     .keys = port_keys,
					     .nkeys = RTE_DIM(port_keys),
					     .present = &dp_cfg.ports_present};

/* Writer: constructors and dp_config_load on the main thread, before EAL. */
static struct dp_cfg_section *sections;
static struct dp_cfg_section **sections_tail = &sections;

void dp_cfg_section_register(struct dp_cfg_section *s)
{
	struct dp_cfg_section *it;

	for (it = sections; it; it = it->next)
		if (it == s)
			return;
	s->next = NULL;
	*sections_tail = s;
	sections_tail = &s->next;
}

static void register_core(void)
{
	dp_cfg_section_register(&eal_section);
	dp_cfg_section_register(&dp_section);
	dp_cfg_section_register(&port_section);
	dp_cfg_section_register(&redis_section);
}

/* Sections of the shared file that belong to other processes (slowpath, poprelayctl,
 * poprelay-exporter): skipped here, judged by their owners. */
static const char *const foreign_sections[] = {
    "global", "sip", "tls", "slowpath", "ctl", "exporter", "alarms", "turn_front", "dtls"};

static bool is_foreign(const char *name)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(foreign_sections); i++)
		if (strcmp(name, foreign_sections[i]) == 0)
			return true;
	return false;
}

struct dp_cfg_section *dp_cfg_sections(void)
{
	register_core();
	return sections;
}

static const char *type_expect(const struct dp_cfg_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case DP_CFG_U32:
		snprintf(buf, len, "an integer from %u to %u", k->min, k->max);
		return buf;
	case DP_CFG_BOOL:
		return "yes or no";
	case DP_CFG_STR:
		snprintf(buf, len, "a string of %u to %u characters", k->min, k->max);
		return buf;
	case DP_CFG_IP4:
		return "an IPv4 address (a.b.c.d)";
	case DP_CFG_IP6:
		return "an IPv6 address";
	case DP_CFG_IP4_PREFIX:
		return "an IPv4 address with prefix length (a.b.c.d/len, len 1-32)";
	case DP_CFG_IP6_PREFIX:
		return "an IPv6 address with prefix length (x::y/len, len 1-128)";
	case DP_CFG_IP4_PREFIX_LIST:
		return "a comma-separated list of up to 8 IPv4 addresses with prefix length "
		       "(a.b.c.d/len, ...)";
	case DP_CFG_IP6_PREFIX_LIST:
		return "a comma-separated list of up to 8 IPv6 addresses with prefix length "
		       "(x::y/len, ...)";
	}
	return "?";
}

static int parse_prefix(const char *val, int family, struct dp_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;
	int maxlen = family == AF_INET ? 32 : 128;

	if (strlen(val) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, val);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	if (!isdigit((unsigned char)slash[1]))
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len < 1 || len > (unsigned long)maxlen)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->addr.family = (uint8_t)family;
	if (inet_pton(family, buf, family == AF_INET ? (void *)&p->addr.v4 : p->addr.v6) != 1)
		return -EINVAL;
	p->len = (uint8_t)len;
	p->set = true;
	return 0;
}

static bool prefix_addr_eq(const struct dp_prefix *a, const struct dp_prefix *b)
{
	return a->addr.family == b->addr.family &&
	       (a->addr.family == AF_INET ? a->addr.v4 == b->addr.v4
					  : memcmp(a->addr.v6, b->addr.v6, 16) == 0);
}

/* "A/len, B/len, ...": each element its own prefix of the key's family; empty: none. */
static int parse_prefix_list(const struct dp_cfg_key *k, const char *val, struct dp_prefix_list *l,
			     char *err, size_t errlen)
{
	int fam = k->type == DP_CFG_IP4_PREFIX_LIST ? AF_INET : AF_INET6;
	char buf[DP_CFG_STR_MAX], *tok, *save, eb[160];
	unsigned int i;

	memset(l, 0, sizeof(*l));
	if (strlen(val) >= sizeof(buf)) {
		snprintf(err, errlen, "got %zu characters, expected %s (at most %zu characters)",
			 strlen(val), type_expect(k, eb, sizeof(eb)), sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, val);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct dp_prefix p, other;
		char *end;

		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (parse_prefix(tok, fam, &p) < 0) {
			/* The other family's address says more than "bad syntax". */
			if (parse_prefix(tok, fam == AF_INET ? AF_INET6 : AF_INET, &other) == 0)
				snprintf(err, errlen, "got \"%s\", an %s address, expected %s", tok,
					 fam == AF_INET ? "IPv6" : "IPv4",
					 type_expect(k, eb, sizeof(eb)));
			else
				snprintf(err, errlen, "got \"%s\" in \"%s\", expected %s", tok, val,
					 type_expect(k, eb, sizeof(eb)));
			return -EINVAL;
		}
		for (i = 0; i < l->n; i++)
			if (prefix_addr_eq(&l->p[i], &p)) {
				snprintf(err, errlen,
					 "got \"%s\" twice, expected each address once", tok);
				return -EINVAL;
			}
		if (l->n == DP_PORT_EXTRA_MAX) {
			snprintf(err, errlen, "got more than %d addresses, expected at most %d",
				 DP_PORT_EXTRA_MAX, DP_PORT_EXTRA_MAX);
			return -EINVAL;
		}
		l->p[l->n++] = p;
	}
	return 0;
}

int dp_cfg_parse_value(const struct dp_cfg_key *k, const char *val, void *dst, char *err,
		       size_t errlen)
{
	char buf[96];

	switch (k->type) {
	case DP_CFG_U32: {
		char *end;
		unsigned long long v;

		errno = 0;
		if (!isdigit((unsigned char)val[0]))
			goto bad;
		v = strtoull(val, &end, 10);
		if (errno || *end || v < k->min || v > k->max)
			goto bad;
		*(uint32_t *)dst = (uint32_t)v;
		return 0;
	}
	case DP_CFG_BOOL:
		if (!strcasecmp(val, "yes") || !strcasecmp(val, "true") || !strcasecmp(val, "on") ||
		    !strcmp(val, "1"))
			*(bool *)dst = true;
		else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") ||
			 !strcasecmp(val, "off") || !strcmp(val, "0"))
			*(bool *)dst = false;
		else
			goto bad;
		return 0;
	case DP_CFG_STR: {
		size_t n = strlen(val);

		if (n < k->min || n > k->max || n >= DP_CFG_STR_MAX)
			goto bad;
		memcpy(dst, val, n + 1);
		return 0;
	}
	case DP_CFG_IP4:
	case DP_CFG_IP6: {
		struct dp_ipaddr *a = dst;
		int fam = k->type == DP_CFG_IP4 ? AF_INET : AF_INET6;

		memset(a, 0, sizeof(*a));
		if (inet_pton(fam, val, fam == AF_INET ? (void *)&a->v4 : a->v6) != 1)
			goto bad;
		a->family = (uint8_t)fam;
		return 0;
	}
	case DP_CFG_IP4_PREFIX:
	case DP_CFG_IP6_PREFIX:
		if (parse_prefix(val, k->type == DP_CFG_IP4_PREFIX ? AF_INET : AF_INET6, dst) < 0)
			goto bad;
		return 0;
	case DP_CFG_IP4_PREFIX_LIST:
	case DP_CFG_IP6_PREFIX_LIST:
		return parse_prefix_list(k, val, dst, err, errlen);
	}
bad:
	snprintf(err, errlen, "got \"%s\", expected %s", val, type_expect(k, buf, sizeof(buf)));
	return -EINVAL;
}

static void apply_defaults(struct dp_cfg_section *s)
{
	unsigned int inst, i, n = s->max_instances ? s->max_instances : 1;
	char err[256];

	for (inst = 0; inst < n; inst++) {
		char *base = (char *)s->storage + inst * s->stride;
		for (i = 0; i < s->nkeys; i++) {
			const struct dp_cfg_key *k = &s->keys[i];
			if (k->def == NULL)
				continue;
			/* Defaults are ours: a bad one is a bug caught by the unit test. */
			(void)dp_cfg_parse_value(k, k->def, base + k->offset, err, sizeof(err));
		}
	}
	if (s->present)
		*s->present = 0;
}

void dp_config_defaults(void)
{
	struct dp_cfg_section *s;

	memset(&dp_cfg, 0, sizeof(dp_cfg));
	snprintf(dp_cfg.realm, sizeof(dp_cfg.realm), "poprelay");
	for (s = dp_cfg_sections(); s; s = s->next)
		apply_defaults(s);
}

/* Match a file section name to a table: "eal" -> eal, "port3" -> port instance 3. */
static struct dp_cfg_section *find_section(const char *name, unsigned int *inst)
{
	struct dp_cfg_section *s;

	for (s = sections; s; s = s->next) {
		size_t n = strlen(s->name);
		if (s->max_instances <= 1) {
			if (strcmp(name, s->name) == 0) {
				*inst = 0;
				return s;
			}
			continue;
		}
		if (strncmp(name, s->name, n) == 0 && isdigit((unsigned char)name[n])) {
			char *end;
			unsigned long v = strtoul(name + n, &end, 10);
			if (*end == '\0' && v < s->max_instances &&
			    !(name[n] == '0' && name[n + 1] != '\0')) {
				*inst = (unsigned int)v;
				return s;
			}
		}
	}
	return NULL;
}

static void section_names(char *buf, size_t len)
{
	struct dp_cfg_section *s;
	size_t off = 0;

	buf[0] = '\0';
	for (s = sections; s && off < len; s = s->next)
		off += (size_t)snprintf(buf + off, len - off, "%s[%s%s]", off ? ", " : "", s->name,
					s->max_instances > 1 ? "N" : "");
}

/* ---- What the start would refuse beyond one key's range ----
 * Everything here runs from dp_config_load (or dp_config_check_host), before EAL, and
 * nowhere else: --check-config and the start judge a file by the same code. Messages are
 * "[section] key: got ..., expected ..."; the loader prefixes the file name. */

#define LCORE_MAX RTE_MAX_LCORE /* EAL: lcore ids */
#define CPU_MAX	  1024		/* EAL: CPU_SETSIZE */

/* Filled by check_lcores for dp_config_check_host. */
static bool lcore_on[LCORE_MAX];
static bool cpu_on[CPU_MAX];

static void skip_blanks(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* "N" or "N-M" (N <= M, M < max) at *p; advances *p. */
static int parse_range(const char **p, unsigned int max, unsigned int *lo, unsigned int *hi)
{
	char *end;
	unsigned long a, b;

	skip_blanks(p);
	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	a = strtoul(*p, &end, 10);
	*p = end;
	skip_blanks(p);
	b = a;
	if (**p == '-') {
		(*p)++;
		skip_blanks(p);
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		b = strtoul(*p, &end, 10);
		*p = end;
		skip_blanks(p);
	}
	if (a > b || b >= max)
		return -EINVAL;
	*lo = (unsigned int)a;
	*hi = (unsigned int)b;
	return 0;
}

/* A set as EAL's --lcores takes it: "N", "N-M" or "(N,N-M,...)"; marks on[]. */
static int parse_set(const char **p, unsigned int max, bool *on)
{
	unsigned int lo, hi, i;

	skip_blanks(p);
	if (**p != '(') {
		if (parse_range(p, max, &lo, &hi) < 0)
			return -EINVAL;
		for (i = lo; i <= hi; i++)
			on[i] = true;
		return 0;
	}
	(*p)++;
	for (;;) {
		if (parse_range(p, max, &lo, &hi) < 0)
			return -EINVAL;
		for (i = lo; i <= hi; i++)
			on[i] = true;
		if (**p == ')')
			break;
		if (**p != ',')
			return -EINVAL;
		(*p)++;
	}
	(*p)++;
	skip_blanks(p);
	return 0;
}

/* [eal] lcores, read as build_eal_args hands it to EAL: a map ("0@0,1@1,(2-3)@2") when it
 * holds '@' or parentheses, else a list for -l ("0-3,5"). Sets lcore_on[] and the CPUs
 * they run on (cpu_on[]: the map's, or the lcore ids themselves). */
static int parse_lcores(const char *spec)
{
	bool map = strpbrk(spec, "@()") != NULL;
	const char *p = spec;

	memset(lcore_on, 0, sizeof(lcore_on));
	memset(cpu_on, 0, sizeof(cpu_on));
	for (;;) {
		bool these[LCORE_MAX] = {false};
		unsigned int lo, hi, i;

		if (map) {
			if (parse_set(&p, LCORE_MAX, these) < 0)
				return -EINVAL;
		} else {
			if (parse_range(&p, LCORE_MAX, &lo, &hi) < 0)
				return -EINVAL;
			for (i = lo; i <= hi; i++)
				these[i] = true;
		}
		if (map && *p == '@') {
			p++;
			if (parse_set(&p, CPU_MAX, cpu_on) < 0)
				return -EINVAL;
		} else {
			for (i = 0; i < LCORE_MAX; i++)
				if (these[i])
					cpu_on[i] = true;
		}
		for (i = 0; i < LCORE_MAX; i++)
			if (these[i]) {
				if (map && lcore_on[i])
					return -EINVAL; /* EAL: an lcore mapped twice */
				lcore_on[i] = true;
			}
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
}

static int check_lcores(char *err, size_t errlen)
{
	unsigned int i, n = 0;

	if (parse_lcores(dp_cfg.eal.lcores) < 0) {
		snprintf(err, errlen,
			 "[eal] lcores: got \"%s\", expected a list (0-3,5) or a map (0@0,1@1,2@1) "
			 "of lcore ids below %d",
			 dp_cfg.eal.lcores, LCORE_MAX);
		return -EINVAL;
	}
	for (i = 0; i < LCORE_MAX; i++)
		n += lcore_on[i];
	if (dp_cfg.eal.main_lcore >= LCORE_MAX || !lcore_on[dp_cfg.eal.main_lcore]) {
		snprintf(err, errlen, "[eal] main_lcore: got %u, expected one of [eal] lcores (%s)",
			 dp_cfg.eal.main_lcore, dp_cfg.eal.lcores);
		return -EINVAL;
	}
	if (n < 2) {
		snprintf(err, errlen,
			 "[eal] lcores: got \"%s\", expected at least two lcores (main_lcore is "
			 "the control lcore, the others are workers)",
			 dp_cfg.eal.lcores);
		return -EINVAL;
	}
	dp_cfg.nb_workers = RTE_MIN(n - 1, (unsigned int)DP_MAX_WORKERS);
	return 0;
}

/* The ethdev/vdev name of a device string: what precedes the first comma. */
static size_t device_name_len(const char *device)
{
	return strcspn(device, ",");
}

/* net_af_packet opens one socket per qpair at probe time and reports qpairs RX and TX
 * queues; the start configures one TX queue per worker plus the control lcore's, so it
 * needs qpairs >= workers + 1. Its devargs as the PMD (DPDK 22.11) parses them. */
static int check_af_packet(unsigned int idx, const char *device, char *err, size_t errlen)
{
	static const char *const known[] = {"iface",	"qpairs",	"blocksz",    "framesz",
					    "framecnt", "qdisc_bypass", "fanout_mode"};
	char buf[DP_CFG_STR_MAX], *tok, *save;
	unsigned long qpairs = 1;
	bool iface = false;
	unsigned int i;

	snprintf(buf, sizeof(buf), "%s", device);
	tok = strtok_r(buf, ",", &save); /* the name */
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		char *eq = strchr(tok, '='), *end;
		bool ok = false;

		if (eq)
			*eq = '\0';
		for (i = 0; i < RTE_DIM(known); i++)
			ok |= strcmp(tok, known[i]) == 0;
		if (!eq || !ok) {
			snprintf(err, errlen,
				 "[port%u] device: got \"%s\" in \"%s\", expected key=value with "
				 "key one of iface, qpairs, blocksz, framesz, framecnt, "
				 "qdisc_bypass, fanout_mode",
				 idx, tok, device);
			return -EINVAL;
		}
		if (strcmp(tok, "iface") == 0)
			iface = eq[1] != '\0';
		if (strcmp(tok, "qpairs") == 0) {
			errno = 0;
			qpairs = isdigit((unsigned char)eq[1]) ? strtoul(eq + 1, &end, 10) : 0;
			if (errno || *end || qpairs < 1 || qpairs > 16) {
				snprintf(err, errlen,
					 "[port%u] device: got qpairs=%s, expected 1 to 16", idx,
					 eq + 1);
				return -EINVAL;
			}
		}
	}
	if (!iface) {
		snprintf(err, errlen,
			 "[port%u] device: got \"%s\", expected iface=NAME (the kernel interface "
			 "net_af_packet opens)",
			 idx, device);
		return -EINVAL;
	}
	if (qpairs < dp_cfg.nb_workers + 1) {
		snprintf(err, errlen,
			 "[port%u] device: got qpairs=%lu in \"%s\", expected qpairs=%u or more: "
			 "the start needs %u RX and %u TX queues (one per worker of [eal] lcores "
			 "= %s, plus one TX queue for the control lcore)",
			 idx, qpairs, device, dp_cfg.nb_workers + 1, dp_cfg.nb_workers,
			 dp_cfg.nb_workers + 1, dp_cfg.eal.lcores);
		return -EINVAL;
	}
	return 0;
}

/* Ring ports: the PMD takes at most RTE_PMD_RING_MAX_{RX,TX}_RINGS rings each way. */
#define RING_MAX_QUEUES 16

/* Address i of port pc in the order the keys name them: ipv4, ipv4_extra.., ipv6,
 * ipv6_extra..; NULL past the end or for an unset primary. *key gets the key's name. */
static const struct dp_prefix *port_addr_at(const struct dp_port_cfg *pc, unsigned int i,
					    const char **key)
{
	const unsigned int n4 = 1u + pc->ipv4_extra.n;

	if (i == 0) {
		*key = "ipv4";
		return pc->ipv4.set ? &pc->ipv4 : NULL;
	}
	if (i < n4) {
		*key = "ipv4_extra";
		return &pc->ipv4_extra.p[i - 1];
	}
	if (i == n4) {
		*key = "ipv6";
		return pc->ipv6.set ? &pc->ipv6 : NULL;
	}
	if (i - n4 - 1 < pc->ipv6_extra.n) {
		*key = "ipv6_extra";
		return &pc->ipv6_extra.p[i - n4 - 1];
	}
	return NULL;
}

static unsigned int port_addr_count(const struct dp_port_cfg *pc)
{
	return 2u + pc->ipv4_extra.n + pc->ipv6_extra.n;
}

/* [portN] ipv4_extra / ipv6_extra: beside their family's primary, and every address of
 * the appliance once (one address on two ports, or twice on one, would make "ours" and
 * ARP/ND answers ambiguous). The list's own syntax, family, count and repeats were judged
 * when it was parsed. */
static int check_port_addrs(unsigned int idx, char *err, size_t errlen)
{
	const struct dp_port_cfg *pc = &dp_cfg.port[idx];
	unsigned int i, j, q;
	char b[INET6_ADDRSTRLEN];

	if (pc->ipv4_extra.n && !pc->ipv4.set) {
		snprintf(err, errlen,
			 "[port%u] ipv4_extra: set without ipv4, expected ipv4 (the port's "
			 "primary IPv4 address) as well",
			 idx);
		return -EINVAL;
	}
	if (pc->ipv6_extra.n && !pc->ipv6.set) {
		snprintf(err, errlen,
			 "[port%u] ipv6_extra: set without ipv6, expected ipv6 (the port's "
			 "primary IPv6 address) as well",
			 idx);
		return -EINVAL;
	}
	for (i = 0; i < port_addr_count(pc); i++) {
		const char *key, *okey;
		const struct dp_prefix *a = port_addr_at(pc, i, &key), *o;

		if (!a)
			continue;
		/* Against the addresses named before it: this port's, then earlier ports'. */
		for (q = 0; q <= idx; q++) {
			const struct dp_port_cfg *oc = &dp_cfg.port[q];
			unsigned int end = q == idx ? i : port_addr_count(oc);

			for (j = 0; j < end; j++) {
				o = port_addr_at(oc, j, &okey);
				if (!o || !prefix_addr_eq(a, o))
					continue;
				inet_ntop(a->addr.family,
					  a->addr.family == AF_INET ? (const void *)&a->addr.v4
								    : a->addr.v6,
					  b, sizeof(b));
				snprintf(err, errlen,
					 "[port%u] %s: got %s, which is [port%u] %s already, "
					 "expected each address of the appliance once",
					 idx, key, b, q, okey);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_port(unsigned int idx, char *err, size_t errlen)
{
	const struct dp_port_cfg *pc = &dp_cfg.port[idx];
	size_t n = device_name_len(pc->device);
	unsigned int j;

	for (j = 0; j < idx; j++) {
		const char *o = dp_cfg.port[j].device;
		if (device_name_len(o) == n && strncmp(o, pc->device, n) == 0) {
			snprintf(err, errlen,
				 "[port%u] device: got \"%.*s\", which is [port%u]'s already, "
				 "expected a device of its own",
				 idx, (int)n, pc->device, j);
			return -EINVAL;
		}
	}
	if (dp_device_is_ring(pc->device)) {
		unsigned int rxq = pc->rx_queues ? pc->rx_queues : dp_cfg.nb_workers;

		if (!dp_ring_name_ok(pc->device)) {
			snprintf(err, errlen,
				 "[port%u] device: got \"%s\", expected ring:NAME with NAME 1 "
				 "to %d letters, digits, '_' or '-'",
				 idx, pc->device, DP_RING_NAME_MAX);
			return -EINVAL;
		}
		/* Another process maps a ring port's rings: shared hugepage files. */
		if (!dp_cfg.eal.huge || dp_cfg.eal.huge_unlink || dp_cfg.eal.in_memory) {
			snprintf(err, errlen,
				 "[port%u] device: %s needs [eal] huge = yes, huge_unlink = "
				 "no and in_memory = no (the other process maps the rings)",
				 idx, pc->device);
			return -EINVAL;
		}
		if (rxq > RING_MAX_QUEUES) {
			snprintf(err, errlen,
				 "[port%u] rx_queues: %u RX queues (rx_queues = %u, workers %u), "
				 "expected at most %d on a ring port",
				 idx, rxq, pc->rx_queues, dp_cfg.nb_workers, RING_MAX_QUEUES);
			return -EINVAL;
		}
		if (dp_cfg.nb_workers + 1 > RING_MAX_QUEUES) {
			snprintf(err, errlen,
				 "[port%u] device: %s needs %u TX queues (one per worker of [eal] "
				 "lcores plus control), a ring port has at most %d",
				 idx, pc->device, dp_cfg.nb_workers + 1, RING_MAX_QUEUES);
			return -EINVAL;
		}
	}
	if ((n == 13 || (n > 13 && isdigit((unsigned char)pc->device[13]))) &&
	    (strncmp(pc->device, "net_af_packet", 13) == 0 ||
	     strncmp(pc->device, "eth_af_packet", 13) == 0)) {
		int rc = check_af_packet(idx, pc->device, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (!pc->ipv4.set && !pc->ipv6.set) {
		snprintf(err, errlen,
			 "[port%u] ipv4: missing, expected ipv4 or ipv6 (an address the "
			 "appliance owns)",
			 idx);
		return -EINVAL;
	}
	return check_port_addrs(idx, err, errlen);
}

/* UDP port ranges the features will claim (dp_udp_claim refuses the same overlaps). */
static struct {
	const char *what;
	uint32_t lo, hi;
} reserved[DP_UDP_MAX_CLAIMS];
static unsigned int n_reserved;

int dp_cfg_udp_reserve(const char *what, uint32_t lo, uint32_t hi, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < n_reserved; i++) {
		if (lo <= reserved[i].hi && reserved[i].lo <= hi) {
			snprintf(err, errlen,
				 "%s: UDP %u-%u overlaps %s (%u-%u), expected each UDP port to "
				 "belong to one feature",
				 what, lo, hi, reserved[i].what, reserved[i].lo, reserved[i].hi);
			return -EINVAL;
		}
	}
	if (n_reserved == RTE_DIM(reserved)) {
		snprintf(err, errlen, "%s: more than %u UDP port ranges in all", what,
			 (unsigned int)RTE_DIM(reserved));
		return -EINVAL;
	}
	reserved[n_reserved].what = what;
	reserved[n_reserved].lo = lo;
	reserved[n_reserved].hi = hi;
	n_reserved++;
	return 0;
}

static int check_core(char *err, size_t errlen)
{
	unsigned int p;
	int rc;

	if ((rc = check_lcores(err, errlen)) < 0)
		return rc;
	for (p = 0; p < dp_cfg.nb_ports; p++)
		if ((rc = check_port(p, err, errlen)) < 0)
			return rc;
	if ((dp_cfg.dp.punt_ring_size & (dp_cfg.dp.punt_ring_size - 1)) != 0) {
		snprintf(err, errlen, "[dataplane] punt_ring_size: got %u, expected a power of two",
			 dp_cfg.dp.punt_ring_size);
		return -EINVAL;
	}
	/* Without hugepages EAL has exactly memory_mb; each mbuf takes at least its header
	 * and its buffer (RTE_MBUF_DEFAULT_BUF_SIZE), so a pool beyond that cannot be made.
	 * (With hugepages EAL may grow past memory_mb: nothing to judge from the file.) */
	if (!dp_cfg.eal.huge) {
		uint64_t need = (uint64_t)dp_cfg.dp.mbuf_pool_size * (128 + 2176);
		uint64_t have = (uint64_t)dp_cfg.eal.memory_mb << 20;
		if (need > have) {
			snprintf(
			    err, errlen,
			    "[dataplane] mbuf_pool_size: got %u, which needs more than %lu MB, "
			    "expected a pool that fits in [eal] memory_mb = %u (huge = no)",
			    dp_cfg.dp.mbuf_pool_size, (unsigned long)(need >> 20),
			    dp_cfg.eal.memory_mb);
			return -EINVAL;
		}
	}
	if (dp_cfg.dp.udp_echo_port &&
	    (rc = dp_cfg_udp_reserve("[dataplane] udp_echo_port", dp_cfg.dp.udp_echo_port,
				     dp_cfg.dp.udp_echo_port, err, errlen)) < 0)
		return rc;
	return 0;
}

/* The core's checks, then each section's, in registration order. */
static int check_all(const char *path, char *err, size_t errlen)
{
	struct dp_cfg_section *s;
	char why[768];
	int rc;

	n_reserved = 0;
	why[0] = '\0';
	rc = check_core(why, sizeof(why));
	for (s = sections; rc == 0 && s; s = s->next)
		if (s->check)
			rc = s->check(why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc < 0 ? -EINVAL : 0;
}

int dp_config_check_host(char *err, size_t errlen)
{
	char p[96];
	unsigned int i;

	/* EAL's test for an available CPU (eal_cpu_detected). */
	for (i = 0; i < CPU_MAX; i++) {
		if (!cpu_on[i])
			continue;
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu%u/topology/core_id", i);
		if (access(p, F_OK) != 0) {
			snprintf(
			    err, errlen,
			    "%s: [eal] lcores: got \"%s\", which runs on CPU %u, expected CPUs "
			    "this host has (%ld online)",
			    dp_cfg.path, dp_cfg.eal.lcores, i, sysconf(_SC_NPROCESSORS_ONLN));
			return -EINVAL;
		}
	}
	return 0;
}

int dp_config_load(const char *path, char *err, size_t errlen)
{
	struct rte_cfgfile_parameters params = {.comment_character = '#'};
	struct rte_cfgfile *f;
	char names[DP_MAX_PORTS * 4 + 64][CFG_NAME_LEN];
	char *snames[RTE_DIM(names)];
	int nsec, i, rc = -EINVAL;
	unsigned int p;
	struct dp_cfg_section *s;

	dp_config_defaults();
	snprintf(dp_cfg.path, sizeof(dp_cfg.path), "%s", path);
	f = rte_cfgfile_load_with_params(path, CFG_FLAG_EMPTY_VALUES, &params);
	if (f == NULL) {
		FILE *probe = fopen(path, "r");
		if (probe == NULL) {
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
			return -ENOENT;
		}
		fclose(probe);
		snprintf(err, errlen,
			 "%s: not a valid INI file (sections [name], entries key = value, "
			 "comments after #; entries before the first section are not allowed)",
			 path);
		return -EINVAL;
	}
	for (i = 0; i < (int)RTE_DIM(names); i++)
		snames[i] = names[i];
	nsec = rte_cfgfile_sections(f, snames, RTE_DIM(names));
	if (nsec < 0 || nsec > (int)RTE_DIM(names)) {
		snprintf(err, errlen, "%s: too many sections", path);
		goto out;
	}
	for (i = 0; i < nsec; i++) {
		unsigned int inst, ki;
		int ne, j;
		struct rte_cfgfile_entry *ents;

		for (j = 0; j < i; j++) {
			if (strcmp(snames[j], snames[i]) == 0) {
				snprintf(err, errlen,
					 "%s: [%s]: duplicate section, expected each section once",
					 path, snames[i]);
				goto out;
			}
		}
		s = find_section(snames[i], &inst);
		if (s == NULL && strcmp(snames[i], "global") == 0) {
			const char *realm = rte_cfgfile_get_entry(f, "global", "realm");
			if (realm && (!*realm || strlen(realm) >= sizeof(dp_cfg.realm))) {
				snprintf(
				    err, errlen,
				    "%s: [global] realm: got \"%s\", expected 1 to %zu characters",
				    path, realm, sizeof(dp_cfg.realm) - 1);
				goto out;
			}
			if (realm)
				snprintf(dp_cfg.realm, sizeof(dp_cfg.realm), "%s", realm);
			continue;
		}
		if (s == NULL && is_foreign(snames[i]))
			continue;
		if (s == NULL) {
			char known[256];
			section_names(known, sizeof(known));
			snprintf(err, errlen, "%s: [%s]: unknown section, expected one of %s", path,
				 snames[i], known);
			goto out;
		}
		if (s->present)
			*s->present |= 1u << inst;
		ne = rte_cfgfile_section_num_entries(f, snames[i]);
		if (ne < 0)
			goto out;
		ents = calloc((size_t)ne + 1, sizeof(*ents));
		if (ents == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		ne = rte_cfgfile_section_entries(f, snames[i], ents, ne);
		for (j = 0; j < ne; j++) {
			const struct dp_cfg_key *k = NULL;
			char why[256];
			int d;

			for (d = 0; d < j; d++) {
				if (strcmp(ents[d].name, ents[j].name) == 0) {
					snprintf(
					    err, errlen,
					    "%s: [%s] %s: duplicate key, expected each key once",
					    path, snames[i], ents[j].name);
					free(ents);
					goto out;
				}
			}
			for (ki = 0; ki < s->nkeys; ki++)
				if (strcmp(s->keys[ki].key, ents[j].name) == 0)
					k = &s->keys[ki];
			if (k == NULL) {
				size_t off = 0;
				why[0] = '\0';
				for (ki = 0; ki < s->nkeys && off < sizeof(why); ki++)
					off +=
					    (size_t)snprintf(why + off, sizeof(why) - off, "%s%s",
							     ki ? ", " : "", s->keys[ki].key);
				snprintf(err, errlen,
					 "%s: [%s] %s: unknown key, expected one of: %s", path,
					 snames[i], ents[j].name, why);
				free(ents);
				goto out;
			}
			if (dp_cfg_parse_value(k, ents[j].value,
					       (char *)s->storage + inst * s->stride + k->offset,
					       why, sizeof(why)) < 0) {
				snprintf(err, errlen, "%s: [%s] %s: %s (%s)", path, snames[i],
					 ents[j].name, why, k->help);
				free(ents);
				goto out;
			}
		}
		/* Required keys of this instance. */
		for (ki = 0; ki < s->nkeys; ki++) {
			if (!(s->keys[ki].flags & DP_CFG_REQUIRED))
				continue;
			if (!rte_cfgfile_has_entry(f, snames[i], s->keys[ki].key)) {
				snprintf(err, errlen, "%s: [%s] %s: missing, expected %s", path,
					 snames[i], s->keys[ki].key, s->keys[ki].help);
				free(ents);
				goto out;
			}
		}
		free(ents);
	}
	/* Ports must be [port0].. without gaps, at least one. */
	for (p = 0; p < DP_MAX_PORTS && (dp_cfg.ports_present & (1u << p)); p++)
		;
	dp_cfg.nb_ports = p;
	if (p == 0) {
		snprintf(err, errlen, "%s: [port0]: missing, expected at least one port section",
			 path);
		goto out;
	}
	if (dp_cfg.ports_present >> p) {
		snprintf(err, errlen,
			 "%s: [port%u]: missing, port sections must be numbered "
			 "from port0 without gaps",
			 path, p);
		goto out;
	}
	if (dp_cfg.redis.sentinels[0] || dp_cfg.redis.master_name[0]) {
		/* the connections then go to the primary the sentinels name */
		char why[256];
		if (pr_redis_sentinel_target(dp_cfg.redis.socket, sizeof(dp_cfg.redis.socket),
					     dp_cfg.redis.sentinels, dp_cfg.redis.master_name, why,
					     sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", path, why);
			goto out;
		}
	}
	rc = check_all(path, err, errlen);
out:
	rte_cfgfile_close(f);
	return rc;
}

void dp_config_help(FILE *out)
{
	struct dp_cfg_section *s;
	unsigned int i;
	char buf[96];

	for (s = dp_cfg_sections(); s; s = s->next) {
		fprintf(out, "[%s%s]\n", s->name, s->max_instances > 1 ? "N" : "");
		for (i = 0; i < s->nkeys; i++) {
			const struct dp_cfg_key *k = &s->keys[i];
			fprintf(out, "  %-22s %s; %s%s%s\n      %s\n", k->key,
				type_expect(k, buf, sizeof(buf)),
				k->flags & DP_CFG_REQUIRED ? "required" : "default ",
				k->flags & DP_CFG_REQUIRED
				    ? ""
				    : (k->def && k->def[0] ? k->def : "(none)"),
				"", k->help);
		}
	}
	fprintf(out, "Skipped (other processes): ");
	for (i = 0; i < RTE_DIM(foreign_sections); i++)
		fprintf(out, "%s[%s]", i ? ", " : "", foreign_sections[i]);
	fprintf(out, "\n");
}
