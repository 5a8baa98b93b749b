/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath process: one libevent loop owning every connection (flow), the registrar,
 * the guard (rate limits, lockouts, scanner refusal) and the call table of the media
 * B2BUA. Single-threaded: every structure below is written by the event loop only. */
#ifndef POPRELAY_SLOWPATH_SP_SERVER_H
#define POPRELAY_SLOWPATH_SP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/anchor.h"
#include "common/keyspace.h"
#include "common/redis.h"
#include "slowpath/sp_config.h"
#include "slowpath/sp_digest.h"
#include "slowpath/sp_msg.h"
#include "slowpath/sp_sdp.h"

/* SP_WSS: SIP over secure WebSocket (RFC 7118), a TLS flow carrying WebSocket frames: on
 * the SIP side it is a flow like a TLS one (registrar, outbound, policy), named "wss". */
enum sp_transport { SP_UDP = 0, SP_TCP, SP_TLS, SP_WSS };
const char *sp_transport_name(enum sp_transport t); /* "udp", "tcp", "tls", "wss" */
/* The value of a SIP URI's transport parameter: "ws" for SP_WSS (RFC 7118 7), else the
 * name. */
const char *sp_transport_param(enum sp_transport t);
/* A transport that authenticates the device and hides its keys (TLS, WSS): REGISTER, the
 * on-net calls and SDES keys need one. */
static inline bool sp_tp_secure(enum sp_transport t)
{
	return t == SP_TLS || t == SP_WSS;
}

struct sp_ws_flow; /* sp_transport.c: a WSS flow's WebSocket state */

/* A connection (flow). UDP "connections" are transient: id 0, only tp and peer set. */
struct sp_conn {
	uint64_t id;
	enum sp_transport tp;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_ip[48];
	uint16_t peer_port;
	char user[PR_KS_NAME_MAX]; /* user authenticated by REGISTER on this flow */
	bool peer_pop;		   /* mutual-TLS link with another PoP's slowpath */
	char peer_pop_name[64];
	bool inbound; /* accepted (vs. connected by us) */
	bool active;  /* a first message (or keepalive) arrived: the long idle timeout applies */
	struct sp_ws_flow *ws; /* SP_WSS only */
	/* sp_guard.c (sp_guard_admit): requests admitted on this flow, and the flow's own
	 * token bucket once a digest authentication succeeded on it (authed) */
	uint32_t requests;
	bool authed;
	double tokens;
	int64_t tokens_ms;
	struct sp_server *srv;
	struct sp_conn *next; /* id hash chain */
};

/* Where to send: a flow (conn_id) or a UDP address. */
struct sp_dest {
	enum sp_transport tp;
	uint64_t conn_id;
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

/* Request methods counted apart (sp_stats.c); the last is every other method. */
#define SP_REQ_METHODS 9
extern const char *const sp_req_methods[SP_REQ_METHODS]; /* "REGISTER", ..., "other" */
unsigned sp_req_method_index(const char *method);

struct sp_counters {
	uint64_t rx_msgs, rx_dropped_unparseable, rx_answered_400, rx_too_large;
	uint64_t keepalive_pongs, conns_accepted, conns_open, conns_refused, tls_failed,
	    conns_idle_closed;
	uint64_t reg_ok, reg_unreg, reg_challenged, reg_auth_failed, reg_stale, reg_replayed,
	    reg_plain_refused, reg_unknown_user;
	uint64_t lockout_refused, rate_limited, scanner_refused;
	uint64_t calls_started, calls_answered, calls_failed, calls_refused_488,
	    calls_refused_no_dtls, calls_ended, calls_flow_lost, calls_timeout, calls_plain_refused,
	    calls_media_timeout;
	uint64_t calls_refused_drain, reg_refused_drain, calls_ended_drain;
	uint64_t calls_restored, calls_restore_ended; /* sp_call_restore: dialogs from Redis */
	uint64_t redis_errors;
	uint64_t redis_unavailable; /* REGISTER/INVITE answered 503 + Retry-After: Redis failed */
	uint64_t tls_reloads, tls_reload_failed; /* sp_tls.c: SIGHUP / poprelayctl tls reload */
	/* published (sp_stats.c), not logged: */
	uint64_t tls_open; /* gauge: TLS flows open now (inbound and to peer PoPs) */
	/* SIP over WebSocket (sp_transport.c, sp_ws.h): ws_open a gauge of WSS flows whose
	 * upgrade succeeded; upgrades refused by reason (sp_ws_refusal_name), messages and
	 * pings, closes by who and code */
	uint64_t ws_open, ws_upgrades, ws_refused_malformed, ws_refused_method, ws_refused_version,
	    ws_refused_protocol, ws_refused_origin, ws_refused_too_large;
	uint64_t ws_msgs_rx, ws_msgs_tx, ws_pings_tx, ws_pongs_tx, ws_closed_by_peer, ws_close_1002,
	    ws_close_1007, ws_close_1009, ws_idle_closed;
	uint64_t rx_req[SP_REQ_METHODS]; /* well-formed requests received, by sp_req_methods */
	uint64_t rx_resp[6], tx_resp[6]; /* responses received / sent, by class 1xx..6xx */
};

/* The scalar counters by name, in the order of the log line and the stats hash. */
struct sp_counter_field {
	const char *name;
	size_t off; /* offsetof(struct sp_counters, ...) */
};
extern const struct sp_counter_field sp_counter_fields[];
extern const size_t sp_n_counter_fields;

struct sp_guard;
struct sp_call;
struct sp_aredis;
struct sp_tunables;

/* The maintenance drain (sp_drain.c): pr:drain as last read, and the stop on SIGTERM. */
struct sp_drain {
	bool on;		       /* pr:drain exists */
	int64_t since_ms, deadline_ms; /* deadline_ms 0: none */
	char actor[PR_KS_NAME_MAX];
	bool stopping;	     /* SIGTERM: drained until the calls end or stop_ms */
	int64_t stop_ms;     /* when the stop gives up waiting */
	int64_t last_log_ms; /* what remains, logged every 10 s while draining */
};

struct sp_server {
	struct sp_config cfg;
	struct event_base *base;
	SSL_CTX *ssl_srv;   /* our listener (sp_tls.c: replaced by a reload) */
	SSL_CTX *ssl_cli;   /* toward peer PoPs (mutual TLS) */
	struct sp_tls *tls; /* sp_tls.c: session ticket keys */
	struct evconnlistener *lis_tls, *lis_tcp, *lis_wss;
	int udp_fd;
	struct event *ev_udp, *ev_tick, *ev_sigint, *ev_sigterm, *ev_sigusr1, *ev_sighup;
	struct event *ev_stats;		     /* sp_stats.c: every second */
	int64_t stats_started_ms;	     /* published as started_ms */
	bool stats_failing;		     /* the last publication failed (logged once) */
	char stats_key[PR_KS_NAME_MAX + 96]; /* pr:stats:slowpath:<pop>:<instance> */
	struct pr_redis *redis;		     /* synchronous: start, restore, off-net, stats, ... */
	struct sp_aredis *ar;		     /* sp_redis.c: asynchronous: REGISTER, TLS INVITE */
	struct sp_nonce_ctx nonce;
	struct sp_nc_table *nc;
	struct sp_guard *guard;
	struct sp_tunables *tun; /* sp_tunables.c: writes the cfg fields tunables override */
	struct sp_drain drain;	 /* sp_drain.c */
	uint64_t next_conn_id;
	size_t n_conn_buckets;
	struct sp_conn **conns;
	struct sp_call *calls; /* list of live calls */
	uint64_t call_seq;
	/* sp_call.c: this slowpath among the PoP's (pr:slowpath:*, docs/redis-keyspace.md):
	 * its instance name, "" until sp_call_restore registers it */
	char sp_id[64];
	struct pr_anchor_book anchor_book; /* sp_call.c: sessions anchored since each publication */
	struct sp_counters ctr;
	struct sp_counters ctr_logged;
	uint16_t tls_port_bound, plain_port_bound, wss_port_bound;
	int64_t last_flow_limit_log_ms;
};

/* sp_transport.c */
int sp_server_open(struct sp_server *s);
void sp_server_close(struct sp_server *s);
struct sp_conn *sp_conn_find(struct sp_server *s, uint64_t id);
int sp_send(struct sp_server *s, const struct sp_dest *d, const char *buf, size_t len);
/* Reply on the connection a request came in on (UDP: to its source, rport style). */
int sp_reply(struct sp_server *s, const struct sp_conn *c, const struct sp_buf *b);
void sp_dest_from_conn(const struct sp_conn *c, struct sp_dest *d);
/* Opens (or finds) a mutual-TLS flow to a peer PoP. */
struct sp_conn *sp_conn_to_peer(struct sp_server *s, const struct sp_peer_pop *p);
void sp_counters_log(struct sp_server *s, bool force);

/* sp_dispatch.c: one parsed message from c. */
void sp_dispatch(struct sp_server *s, struct sp_conn *c, const char *raw, size_t len);
/* answer req with code (and extra headers); logs nothing */
void sp_respond(struct sp_server *s, struct sp_conn *c, const osip_message_t *req, int code,
		const char *extra);
/* A Redis command (pr_ks_*) failed with rc while handling req. Redis unreachable or
 * temporarily unable (-EIO, -ETIMEDOUT, -EAGAIN, -EROFS, -ENOMEM): 503 with Retry-After
 * (SP_REDIS_RETRY_AFTER_S), counted in redis_unavailable, at most one log line a second;
 * else (a malformed record, a refused ACL) 500 and a log line. Both count redis_errors. */
#define SP_REDIS_RETRY_AFTER_S 5
void sp_respond_redis_down(struct sp_server *s, struct sp_conn *c, const osip_message_t *req,
			   const char *what, int rc);
/* random hex token of n chars (n < 64) */
void sp_token(char *out, size_t n);

/* sp_guard.c: rate limiting, lockouts, scanner refusal */
struct sp_guard *sp_guard_new(size_t slots);
void sp_guard_free(struct sp_guard *g);
/* true when the source may send one more request now (token bucket). */
bool sp_guard_rate_ok(struct sp_server *s, const char *src_ip, int64_t now_ms);
/* The rate limit for one request on c (docs/slowpath.md, "Guard"): the first request of a
 * new inbound TLS/TCP flow is free, a flow whose digest authentication succeeded has a
 * bucket of its own, everything else takes a token from its source's bucket. */
bool sp_guard_admit(struct sp_server *s, struct sp_conn *c, int64_t now_ms);
/* true when src or user is currently locked out after failed authentications */
bool sp_guard_locked(struct sp_server *s, const char *src_ip, const char *user, int64_t now);
void sp_guard_auth_failed(struct sp_server *s, const char *src_ip, const char *user, int64_t now);
/* A digest authentication succeeded: the source gets back the tokens of the request and of
 * the challenge before it (up to its burst) and one of its failures is forgiven; the
 * user's count restarts. */
void sp_guard_auth_ok(struct sp_server *s, const char *src_ip, const char *user);
/* While a request's digest check waits for Redis, the token it took from its source is
 * lent back (hold: what was lent, at most 1, up to the burst), and taken again before
 * sp_guard_auth_ok or sp_guard_auth_failed settles it (release): the balance is the one a
 * check without waiting gives, while a storm of new devices behind one address, all in
 * flight at once, does not drain their source's bucket before the first success refunds. */
double sp_guard_auth_hold(struct sp_server *s, const char *src_ip);
void sp_guard_auth_release(struct sp_server *s, const char *src_ip, double held);
bool sp_guard_scanner(const struct sp_config *cfg, const char *user_agent);
/* Flow accounting per source address: false when src already has max_flows_per_source. */
bool sp_guard_flow_open(struct sp_server *s, const char *src_ip);
void sp_guard_flow_close(struct sp_server *s, const char *src_ip);

/* sp_redis.c: the asynchronous Redis connection on the event loop (hiredis's libevent
 * adapter), connected on first use and after a loss. fn runs once per command from the
 * loop with the reply (valid during the call only; NULL when rc < 0) and rc: 0, the
 * errno of an error reply (pr_redis_reply_errno; for an EXEC, of its first failed
 * command), -ETIMEDOUT when a command waited timeout_ms (the connection is then closed
 * and every pending command fails alike), or -EIO when the connection was lost. The
 * senders return 0 (fn will run) or a negative errno at once (fn will not run): -EIO,
 * -ECONNREFUSED (nobody at the socket), -EACCES (password file), -ENOMEM, -EINVAL.
 * flags: SP_AREDIS_REPLAY for commands that may run twice with the same outcome (reads,
 * writes that set a record whole, SADD, ZADD; not an append such as a CDR whose fields
 * the dataplane adds to, nor an SPOP): when the connection is lost (or the server turns
 * out a replica, or the sentinels name a new primary) before the reply, they are sent
 * again on the next connection, once, within [sip] redis_replay_ms, and fn runs then;
 * SP_AREDIS_ONCE: fn gets -EIO (-EROFS for a demoted server) at the loss. */
/* libevent priorities: 0 the async Redis connection, 1 (the default) everything else */
#define SP_EV_PRIORITIES 2
#define SP_AREDIS_ONCE	 0u
#define SP_AREDIS_REPLAY 1u
typedef void sp_aredis_fn(struct sp_server *s, redisReply *rep, int rc, void *arg);
int sp_aredis_open(struct sp_server *s, int timeout_ms);
/* pending and held commands fail with -EIO */
void sp_aredis_close(struct sp_server *s);
int sp_aredis_cmd(struct sp_server *s, unsigned flags, sp_aredis_fn *fn, void *arg, const char *fmt,
		  ...) __attribute__((format(printf, 5, 6)));
/* tx (pr_ks_*_tx builders) as one MULTI/EXEC: fn gets the EXEC reply. */
int sp_aredis_tx(struct sp_server *s, const struct pr_redis_tx *tx, unsigned flags,
		 sp_aredis_fn *fn, void *arg);
/* sp_aredis_tx for a write a device is then told succeeded: with [redis] wait_replicas N
 * >= 1, WAIT N wait_timeout_ms follows the EXEC, and fn gets WAIT's reply, with rc the
 * EXEC's error, or -EAGAIN when fewer than N replicas acknowledged in time (the write is
 * on the primary only). wait_replicas 0: sp_aredis_tx. A replay sends the WAIT again. */
int sp_aredis_tx_durable(struct sp_server *s, const struct pr_redis_tx *tx, unsigned flags,
			 sp_aredis_fn *fn, void *arg);

/* sp_registrar.c */
/* Takes req (frees it): answered at once, or when the async Redis link replies. */
void sp_registrar_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req);
/* Digest check of req against user (WWW- or Proxy-): 0 ok and *user filled, or a
 * response already sent (returns < 0). */
int sp_auth_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req, bool proxy,
		    struct pr_ks_user *user);
/* sp_auth_request in two halves, for a caller that loads the user's record itself (the
 * REGISTER's async continuation, an INVITE pipelining more lookups with it). begin: 0 when
 * the record (pr:user:<ctx.f.username>) is needed next, or < 0 with a response sent.
 * finish: the rest once the load gave rc and *user; c NULL when the flow closed meanwhile
 * (the lockout accounting still happens, no response). The flow's address is copied into
 * the context for that. */
struct sp_auth_ctx {
	struct sp_auth f;
	int alg;
	int64_t now;
	bool proxy;
	char peer_ip[48];
	uint16_t peer_port;
};
int sp_auth_begin(struct sp_server *s, struct sp_conn *c, osip_message_t *req, bool proxy,
		  struct sp_auth_ctx *ctx);
int sp_auth_finish(struct sp_server *s, struct sp_conn *c, osip_message_t *req,
		   struct sp_auth_ctx *ctx, int rc, struct pr_ks_user *user);
/* The flow a registered user can be reached on at this PoP (NULL if gone). */
struct sp_conn *sp_registrar_flow(struct sp_server *s, const struct pr_ks_reg *reg);

/* sp_call.c */
/* true: req is kept (an INVITE waiting for Redis, freed when done); false: the caller frees. */
bool sp_call_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req);
void sp_call_response(struct sp_server *s, struct sp_conn *c, osip_message_t *resp);
void sp_call_conn_lost(struct sp_server *s, uint64_t conn_id);
void sp_call_tick(struct sp_server *s, int64_t now);
/* Every second: the dataplane's media events (pr:sessions:events): a call whose media went
 * idle is ended with a BYE on both legs (CDR end_reason media-timeout). */
void sp_call_media_events(struct sp_server *s);
/* UDP client transactions: retransmissions and timers B/F (every 100 ms). */
void sp_call_retransmit(struct sp_server *s, int64_t now_ms);
void sp_call_shutdown(struct sp_server *s);
/* Ends every call (BYE both legs of an answered one; CANCEL the callee and 503 the caller
 * of one being set up) with CDR end_reason reason. Returns how many. */
unsigned sp_call_end_all(struct sp_server *s, const char *reason);
unsigned sp_call_count(const struct sp_server *s);
/* At start, before serving: this slowpath's instance and lease (pr:slowpath:*), then every
 * dialog record (pr:dialogs) that no other live slowpath holds back into the call table. A
 * dialog whose media session is gone, or older than SP_RESTORE_MAX_AGE_S (or max_call_s),
 * and a setup record (never answered: CDR restore-unanswered), are ended (sessions, ports,
 * CDR) instead. Counted in calls_restored / calls_restore_ended,
 * one log line. 0, or a negative errno when the list could not be read. */
#define SP_RESTORE_MAX_AGE_S 86400
int sp_call_restore(struct sp_server *s);
/* The PoP's slowpaths (docs/slowpath.md, "Two slowpaths of one PoP"): each one's lease in
 * Redis and the calls it holds; every second (sp_call_tick) the lease is refreshed and the
 * calls of a slowpath whose lease is gone are taken: the answered ones restored as at a
 * start, the ones being set up ended (CDR end_reason failover). */
#define SP_LEASE_MS 3000

/* sp_drain.c: the maintenance drain (pr:drain, `poprelayctl drain`) and the stop on SIGTERM.
 * reread: at start, after every reconnect of the pr:events subscriber, on each "drain"
 * event and every REREAD as a safety net (sp_tunables.c calls it); 0 or -EIO. refuse: true
 * when req (a REGISTER, or an INVITE that starts a call) was answered 503 because the
 * slowpath is drained or stopping. tick: every second (the deadline, the stop, the log).
 * stop: SIGTERM. */
int sp_drain_reread(struct sp_server *s);
bool sp_drain_refuse(struct sp_server *s, struct sp_conn *c, const osip_message_t *req);
void sp_drain_tick(struct sp_server *s, int64_t now_ms);
void sp_drain_stop(struct sp_server *s);

/* sp_stats.c: the counters into Redis (hash pr:stats:slowpath:<pop>:<instance>,
 * docs/slowpath.md) at start and every second after, one HSET each; stop publishes a last
 * time with stopped_ms set (a clean stop reads as down at once, not after the hash goes
 * stale). */
int sp_stats_start(struct sp_server *s);
void sp_stats_stop(struct sp_server *s);

int64_t sp_now(void);
int64_t sp_now_ms(void);
/* The first connection id of a slowpath started at now_s (UNIX seconds) with the random
 * instance tag tag: tag << 48 | now_s << 16, the ids after it counting up from there.
 * Connection ids reach Redis (a binding's and a dialog's conn_id) and every slowpath of the
 * PoP looks them up in its own table: two started in the same second differ by their tag
 * (before, both counted up from now_s << 20 and handed out the same ids, so that one could
 * route a request over the other's flow number); a restart, later, is apart from its
 * predecessor's ids even with the same tag unless that one accepted 65,536 connections per
 * second it ran. 15 bits of tag: an id stays a positive int64 for JSON readers. */
#define SP_CONN_TAG_MASK 0x7fffu
#define SP_CONN_SEQ_MASK ((UINT64_C(1) << 48) - 1)
uint64_t sp_conn_id_base(int64_t now_s, uint16_t tag);

#endif
