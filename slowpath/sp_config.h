/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-slowpath configuration: the [sip] section of the INI file (rte_cfgfile syntax),
 * plus [global] realm and [redis] socket/user/password_file. Other sections belong to other
 * processes and are skipped; an unknown key in [sip] is refused. Writer: sp_config_load at
 * start, then sp_tunables (the fields a runtime tunable overrides: see sp_tunables.h), on
 * the event loop. Readers: every slowpath module, on the event loop. */
#ifndef POPRELAY_SLOWPATH_SP_CONFIG_H
#define POPRELAY_SLOWPATH_SP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_DEFAULT_CONFIG "/etc/poprelay/poprelay.conf"
#define SP_MAX_OFFNET	  8
#define SP_MAX_PEERS	  8
#define SP_MAX_SCANNERS	  16
#define SP_MAX_ANCHORS	  16 /* [sip] media_anchors */
#define SP_MAX_WS_ORIGINS 16
/* [sip] redis_replay_ms: a Sentinel failover with down-after-milliseconds 1000 names the
 * new primary 2-3 s after the old one died; a device's transaction over TCP/TLS gives up
 * after 32 s (RFC 3261 timer F), so the window stays well below that */
#define SP_REDIS_REPLAY_MS_DEFAULT 5000
#define SP_REDIS_REPLAY_MS_MAX	   20000

enum sp_verify_client { SP_VERIFY_NONE = 0, SP_VERIFY_OPTIONAL, SP_VERIFY_REQUIRE };

struct sp_peer_pop {
	char name[64];
	char host[64]; /* address of its slowpath's TLS listener */
	uint16_t port;
};

struct sp_config {
	char path[256];
	/* [global] */
	char realm[64];
	/* [redis] */
	char redis_socket[256];
	char redis_user[64];
	char redis_password_file[256];
	bool sip_redis_user_set, sip_redis_pass_set; /* [sip] redis_* override [redis] */
	/* Redis under Sentinel: sentinels set makes redis_socket the sentinel target that
	 * common/redis.h describes ("sentinel:<master_name>@host:port,...") */
	char redis_sentinels[256];
	char redis_master_name[64];
	/* WAIT <wait_replicas> <wait_timeout_ms> after a write a device is told succeeded
	 * (sp_aredis_tx_durable); 0: no WAIT */
	uint32_t redis_wait_replicas, redis_wait_timeout_ms;
	/* [sip] redis_replay_ms: how long a request in flight when the async connection was
	 * lost waits for the next one, to be sent again (sp_redis.c); 0: not replayed */
	uint32_t redis_replay_ms;
	/* [sip] */
	char pop[64];
	char instance[64]; /* names its stats hash among the PoP's slowpaths; "": the host's */
	char tls_addr[64];
	uint16_t tls_port; /* 0 disables the TLS listener */
	char plain_addr[64];
	uint16_t plain_port; /* UDP and TCP, off-net parties only; 0 disables */
	/* SIP over secure WebSocket (RFC 7118, sp_ws.h): wss_port 0 (no wss_listen) = off */
	char wss_addr[64];
	uint16_t wss_port;
	/* [sip] freebind: the listeners may bind an address this host does not hold yet (a
	 * service address keepalived moves here when the peer appliance dies: IP_FREEBIND /
	 * IPV6_FREEBIND); off, such an address is refused at the start */
	bool freebind;
	size_t n_ws_origins;
	char ws_origins[SP_MAX_WS_ORIGINS][128]; /* Origin values allowed to upgrade */
	uint32_t ws_max_message;		 /* largest WebSocket message (all fragments) */
	uint32_t ws_ping_s;			 /* silence before the server pings */
	uint32_t ws_idle_s;			 /* silence that closes the flow */
	char tls_cert[256];
	char tls_key[256];
	char tls_ca[256]; /* CA for client certificates (and peer PoPs) */
	enum sp_verify_client verify_client;
	char tls_ciphers[512];	      /* TLS 1.2 suites (OpenSSL cipher list) */
	char tls_ciphersuites[256];   /* TLS 1.3 suites */
	uint32_t tls_ticket_rotate_s; /* session ticket key lifetime as the current key */
	char advertised_host[64];     /* host written in our Via/Contact */
	char media_addr[64];	      /* relay address written into SDP */
	/* [sip] media_anchors (docs/scaling.md, "Past one box"): each new call anchored on the
	 * least loaded live one of these (pr:media:anchor:<address>), or of every live
	 * dataplane of the PoP (any); neither: media_addr, as before */
	bool anchors_any;
	size_t n_anchors;
	char anchors[SP_MAX_ANCHORS][48];
	uint16_t media_port_lo, media_port_hi; /* pool initialised when both set */
	uint32_t nonce_ttl_s;
	uint32_t reg_min_expires_s, reg_max_expires_s;
	uint32_t keepalive_s; /* RFC 5626 Flow-Timer granted */
	uint32_t max_connections;
	uint32_t max_flows_per_source;	  /* open TCP/TLS flows from one address */
	uint32_t first_message_timeout_s; /* a new flow must complete TLS and send a message */
	uint32_t rate_limit_rps;	  /* per source address; 0 = off */
	uint32_t rate_burst;
	uint32_t lockout_failures; /* per source and per user */
	uint32_t lockout_s;
	uint32_t invite_timeout_s; /* unanswered INVITE -> 408 */
	uint32_t max_call_s;	   /* hard cap on a call's duration, 0 = none */
	uint32_t stop_drain_s;	   /* SIGTERM: wait this long for the calls to end, 0 = none */
	uint32_t media_idle_s; /* a call whose media stops this long ends (the dataplane tells) */
	bool media_idle_set;   /* media_idle_s is in the file: else sessions take the dataplane's */
	uint32_t max_message_bytes; /* largest message accepted, headers and body (<= SP_MSG_MAX) */
	size_t n_scanners;
	char scanners[SP_MAX_SCANNERS][48]; /* User-Agent substrings refused (case-insensitive) */
	size_t n_offnet;
	char offnet_prefix[SP_MAX_OFFNET][32]; /* user part prefix routed off-net */
	char offnet_host[SP_MAX_OFFNET][64];
	uint16_t offnet_port[SP_MAX_OFFNET];
	size_t n_peers;
	struct sp_peer_pop peers[SP_MAX_PEERS];
	int log_level;
	/* digest challenges offered, in preference order (RFC 8760 2.4); some older UAs
	 * (libre < 2.x, so baresip 1.0) abort on any SHA-256 challenge: list MD5 alone there */
	unsigned n_digest_algs;
	int digest_algs[2]; /* enum sp_digest_alg */
};

void sp_config_defaults(struct sp_config *c);
/* Parses path into c (defaults first). 0, or -ENOENT/-EINVAL with a message naming the file,
 * line, section and key written to err. */
int sp_config_load(struct sp_config *c, const char *path, char *err, size_t errlen);
/* Same, from a string (tests). */
int sp_config_parse(struct sp_config *c, const char *name, const char *text, char *err,
		    size_t errlen);
/* What the start would refuse that parsing alone does not see, judged before anything
 * starts by both --check-config and the start: listen addresses that are not IP addresses
 * (or not this host's), TCP listeners on one port twice, the TLS certificate, key (and that
 * they match) and CA when TLS is used, an unreadable or empty Redis password file. 0 or
 * -EINVAL with "FILE: [section] key: ..." in err. */
int sp_config_check(const struct sp_config *c, char *err, size_t errlen);
/* Loads [sip] tls_cert (a chain), tls_key (checked against the certificate) and tls_ca into
 * ctx: the start's TLS contexts and sp_config_check use this one function. 0 or -EINVAL
 * with err naming the file, the key and OpenSSL's reason. */
struct ssl_ctx_st;
int sp_config_tls_load(const struct sp_config *c, struct ssl_ctx_st *ctx, char *err, size_t errlen);
/* Sets [sip] tls_ciphers (TLS 1.2) and tls_ciphersuites (TLS 1.3) on ctx. Every name in
 * them must be one OpenSSL knows (it would skip an unknown one silently), and each list
 * must enable at least one suite. 0 or -EINVAL with "FILE: [sip] KEY: ..." in err. The
 * start's TLS contexts and sp_config_check use this one function. */
int sp_config_tls_policy(const struct sp_config *c, struct ssl_ctx_st *ctx, char *err,
			 size_t errlen);

/* Forward secrecy (ECDHE) and AEAD only, for ECDSA and RSA certificates: no static RSA key
 * exchange, no CBC, no SHA-1 MAC; no DHE (slow, and weak groups in the wild). */
#define SP_TLS_CIPHERS_DEFAULT                                                                     \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define SP_TLS_CIPHERSUITES_DEFAULT                                                                \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

#endif
