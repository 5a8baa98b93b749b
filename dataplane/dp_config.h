/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's INI configuration (rte_cfgfile), parsed from tables.
 *
 * Each section is described by a struct dp_cfg_section: a name, where its values are stored
 * and a table of keys {key, type, min, max, default, offset, help}. The core registers
 * [eal], [dataplane], [portN] and [redis] (shared with the other processes); sections of
 * other processes ([global], [sip], ...) are skipped; a feature adds its own section by registering
 * one more table before dp_config_load() runs (from an RTE_INIT constructor, see dp_udp.h).
 * docs/configuration.md documents every key of every table (a unit test checks it).
 *
 * Writer: dp_config_load() on the main thread before EAL starts; read-only afterwards. */
#ifndef POPRELAY_DP_CONFIG_H
#define POPRELAY_DP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/dp_parse.h"

#define DP_CONFIG_DEFAULT_PATH "/etc/poprelay/poprelay.conf"
#define DP_MAX_PORTS	       8
#define DP_CFG_STR_MAX	       256

enum dp_cfg_type {
	DP_CFG_U32,		/* uint32_t, decimal, within [min, max] */
	DP_CFG_BOOL,		/* bool: yes/no, true/false, on/off, 1/0 */
	DP_CFG_STR,		/* char[DP_CFG_STR_MAX], length within [min, max] */
	DP_CFG_IP4,		/* struct dp_ipaddr, IPv4 */
	DP_CFG_IP6,		/* struct dp_ipaddr, IPv6 */
	DP_CFG_IP4_PREFIX,	/* struct dp_prefix, a.b.c.d/len */
	DP_CFG_IP6_PREFIX,	/* struct dp_prefix, x::y/len */
	DP_CFG_IP4_PREFIX_LIST, /* struct dp_prefix_list: a.b.c.d/len, comma-separated */
	DP_CFG_IP6_PREFIX_LIST, /* struct dp_prefix_list: x::y/len, comma-separated */
};

struct dp_prefix {
	struct dp_ipaddr addr;
	uint8_t len;
	bool set;
};

/* A port's further addresses of one family ([portN] ipv4_extra, ipv6_extra): each with its
 * own prefix, which may be another subnet on the same link. */
#define DP_PORT_EXTRA_MAX 8
struct dp_prefix_list {
	uint8_t n;
	struct dp_prefix p[DP_PORT_EXTRA_MAX];
};

#define DP_CFG_REQUIRED (1u << 0)

struct dp_cfg_key {
	const char *key;
	enum dp_cfg_type type;
	uint32_t min, max; /* U32: value range; STR: length range */
	const char *def;   /* default as it would be written in the file; NULL: unset */
	size_t offset;	   /* into the section's storage */
	uint32_t flags;	   /* DP_CFG_REQUIRED */
	const char *help;  /* one line, used in error messages and checked against the docs */
};

struct dp_cfg_section {
	const char *name; /* "eal", or "port" with max_instances > 1: [port0]..[portN-1] */
	unsigned int max_instances; /* 0 or 1: a plain section; N: [name0]..[name<N-1>] */
	void *storage;		    /* where values go; instance i at storage + i * stride */
	size_t stride;
	const struct dp_cfg_key *keys;
	unsigned int nkeys;
	unsigned int *present; /* optional: set to a bitmask of instances found in the file */
	/* Optional: what the start would refuse that one key's range cannot say (relations
	 * between keys, list syntax, the UDP ports the feature will claim). dp_config_load
	 * calls it after the whole file is parsed and the core's own checks passed, so
	 * --check-config and the start run the same code. 0, or -EINVAL with "[section] key:
	 * got ..., expected ..." in err (the loader prefixes the file name). */
	int (*check)(char *err, size_t errlen);
	struct dp_cfg_section *next;
};

/* Register a section table (before dp_config_load). */
void dp_cfg_section_register(struct dp_cfg_section *s);
/* Every registered section, for docs checks and --help-config. */
struct dp_cfg_section *dp_cfg_sections(void);

/* Load FILE: apply defaults, then every entry; an unknown section or key, a bad value or a
 * missing required key fails with -EINVAL and a message naming file, section, key and what
 * was expected in err. */
int dp_config_load(const char *path, char *err, size_t errlen);
/* What the start would refuse on this host that the file alone cannot tell: every CPU that
 * [eal] lcores names exists (EAL refuses an unavailable one). After dp_config_load; the
 * start and --check-config both call it before EAL starts. 0 or -EINVAL with a message
 * naming file, section and key in err. */
int dp_config_check_host(char *err, size_t errlen);
/* From a section's .check: the UDP ports [lo, hi] a feature will claim with dp_udp_claim(),
 * named by its keys (what: a string literal such as "[turn] listen_port"). -EINVAL with
 * err naming both when another reservation of this load overlaps them. */
int dp_cfg_udp_reserve(const char *what, uint32_t lo, uint32_t hi, char *err, size_t errlen);
/* Print every registered section and key with type, range, default and help. */
void dp_config_help(FILE *out);
/* Only apply the defaults (tests). */
void dp_config_defaults(void);

/* The core's own settings. */
struct dp_eal_cfg {
	char lcores[DP_CFG_STR_MAX];
	uint32_t main_lcore;
	uint32_t memory_mb;
	bool huge;
	bool huge_unlink;
	bool in_memory;
	char file_prefix[DP_CFG_STR_MAX];
	uint32_t log_level;
	char extra_args[DP_CFG_STR_MAX];
};

struct dp_dataplane_cfg {
	uint32_t burst_size;
	uint32_t mbuf_pool_size;
	uint32_t mbuf_cache_size;
	uint32_t punt_ring_size;
	uint32_t neigh_entries;
	uint32_t neigh_timeout_s;
	uint32_t neigh_retry_ms;
	uint32_t neigh_probes;
	uint32_t worker_idle_sleep_us;
	uint32_t udp_echo_port;
	bool lab_reflect;
};

struct dp_redis_cfg {
	char socket[DP_CFG_STR_MAX]; /* with sentinels: the sentinel target (common/redis.h) */
	char user[DP_CFG_STR_MAX];
	char password_file[DP_CFG_STR_MAX];
	char sentinels[DP_CFG_STR_MAX];
	char master_name[DP_CFG_STR_MAX];
	/* parsed (the file is shared with the slowpath); the dataplane does not WAIT yet */
	uint32_t wait_replicas, wait_timeout_ms;
};

struct dp_port_cfg {
	char device[DP_CFG_STR_MAX]; /* PCI address or vdev string */
	struct dp_prefix ipv4;
	struct dp_prefix ipv6;
	struct dp_prefix_list ipv4_extra; /* beside ipv4, which they need */
	struct dp_prefix_list ipv6_extra;
	struct dp_ipaddr gateway4;
	struct dp_ipaddr gateway6;
	uint32_t rx_queues; /* 0: one per worker */
	uint32_t rx_desc;
	uint32_t tx_desc;
	uint32_t mtu;
	bool promiscuous;
};

struct dp_config {
	char path[DP_CFG_STR_MAX];
	struct dp_eal_cfg eal;
	struct dp_dataplane_cfg dp;
	struct dp_redis_cfg redis;
	struct dp_port_cfg port[DP_MAX_PORTS];
	unsigned int nb_ports;	    /* [port0]..[port<nb_ports-1>], contiguous */
	unsigned int nb_workers;    /* worker lcores the start will run: [eal] lcores but
				     * main_lcore, at most DP_MAX_WORKERS */
	unsigned int ports_present; /* bitmask */
	/* [global] realm: the one realm of the appliance's digests (owned by no process's
	 * table; the dataplane reads this key alone from [global]). */
	char realm[64];
};

extern struct dp_config dp_cfg;

/* Parse one value of a given type (exported for features and tests). 0 or -EINVAL with
 * "expected ..." in err. */
int dp_cfg_parse_value(const struct dp_cfg_key *k, const char *val, void *dst, char *err,
		       size_t errlen);

#endif
