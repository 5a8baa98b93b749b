/* SPDX-License-Identifier: BSD-3-Clause */
/* The media B2BUA. Each call has two legs, each its own SIP dialog (Call-ID, tags, CSeq)
 * and its own media anchor: relay ports from the dataplane's pool and fresh SDES keys per
 * leg. The sessions (one per m= line) go to Redis and the session stream; a CDR is written
 * when the call ends, whatever the path (BYE, CANCEL, error, timeout, flow loss). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <osipparser2/osip_message.h>

#include "common/anchor.h"
#include "common/log.h"
#include "slowpath/sp_server.h"

#define SP_CALL_TXNS 8
#define LEG_A	     0
#define LEG_B	     1

enum call_state { CS_CALLING = 0, CS_EARLY, CS_UP, CS_DONE };

struct sp_media {
	bool used; /* m= line anchored (port != 0) */
	char media[8];
	char family[4];
	uint16_t relay_port; /* ours, toward this leg's device */
	char peer_addr[PR_KS_ADDR_MAX];
	uint16_t peer_port;
	bool rtcp_mux;
	char profile[16];
	bool encrypted;
	struct pr_sdes_crypto rx; /* the device's key (it encrypts with it) */
	struct pr_sdes_crypto tx; /* ours toward the device */
	/* a browser's leg (issue 19): ICE-lite and DTLS-SRTP instead of SDES keys */
	bool dtls;
	char ice_ufrag[17];		       /* ours (RFC 8839 ice-chars) */
	char ice_pwd[33];		       /* ours: secret */
	char ice_remote_ufrag[SP_SDP_ICE_MAX]; /* the browser's */
	char fingerprint[SP_SDP_FPR_MAX];      /* the browser's certificate's */
	char setup[8]; /* OUR DTLS role; "" until known (we offer actpass) */
	char mid[32];  /* the browser's a=mid, echoed back */
	/* BUNDLE (RFC 8843) on a browser's leg: the group's m= lines share the relay port, the
	 * ICE credentials and the DTLS association of position 0 (the tag) */
	bool bundled;
	bool bundle_offered; /* in our offer's a=group:BUNDLE, until the browser answers */
	uint8_t bundle_pos;
	char bundle_pt[256];	/* its payload types: the dataplane's demultiplexing key */
	char bundle_ssrc[128];	/* its a=ssrc ids: RTCP's */
	uint8_t bundle_mid_ext; /* the browser's a=extmap id of the MID header extension */
	unsigned n_codecs;	/* what this leg's SDP offered or answered */
	struct sp_sdp_codec codecs[SP_SDP_MAX_CODECS];
};

struct sp_leg {
	struct sp_dest dest;
	bool onnet;
	bool dtls;	/* a browser (WSS flow, or UDP/TLS offer): DTLS-SRTP, ICE-lite (issue 19) */
	bool want_srtp; /* off-net leg of a call with an encryption_required user */
	uint32_t max_kbps;	  /* user's max_tx_kbps (on-net), 0 = none */
	char pop[PR_KS_NAME_MAX]; /* PoP the party's device is attached to */
	char user[PR_KS_NAME_MAX];
	char party[PR_KS_URI_MAX];
	char ua[PR_KS_TEXT_MAX];
	char inside_addr[PR_KS_ADDR_MAX];
	char outside_addr[PR_KS_ADDR_MAX];
	char call_id[PR_KS_TEXT_MAX];
	char local_tag[24];
	char remote_tag[PR_KS_TEXT_MAX];
	char local_uri[PR_KS_URI_MAX + 64];
	char remote_uri[PR_KS_URI_MAX + 64];
	char remote_target[PR_KS_URI_MAX];
	char routes[1024]; /* "Route: ...\r\n" lines of the dialog's route set */
	uint32_t local_cseq;
	uint32_t invite_cseq;	       /* CSeq of the last INVITE we sent on this leg */
	uint32_t remote_cseq;	       /* of the last request the party sent */
	char instance[PR_KS_TEXT_MAX]; /* the device's binding (RFC 5626), when known */
	uint32_t reg_id;
	/* restored from pr:dialog after a restart: the flow died with the process that had
	 * it, so the device's current binding names the flow (leg_dest) */
	bool restored;
	unsigned n_media;
	struct sp_media m[SP_SDP_MAX_MEDIA];
	/* UDP only (RFC 3261 13.3.1.4 / 13.2.2.4): our 2xx to its INVITE is retransmitted
	 * until its ACK; our ACK to its 2xx is resent when the 2xx is */
	struct sp_buf ok_retx;
	int64_t ok_next_ms, ok_end_ms;
	unsigned ok_ival_ms;
	uint32_t ack_cseq;
	char ack_branch[48];
};

struct sp_txn {
	bool used;
	int to_leg;
	char branch[48];
	char method[16];
	uint32_t cseq;
	osip_message_t *orig; /* request from the other leg we answer, or NULL */
	bool acked;
	/* UDP client transaction (RFC 3261 17.1): retransmit at T1, doubling (INVITE) or up
	 * to T2 (others), until a response; give up after 64*T1 */
	char *retx;
	size_t retx_len;
	int64_t retx_next_ms, retx_end_ms;
	unsigned retx_ival_ms;
};

#define SP_T1_MS 500
#define SP_T2_MS 4000

struct sp_call;
/* One entry of the Call-ID index per leg (each leg is its own dialog with its own Call-ID). */
struct call_ref {
	struct sp_call *call;
	int leg;
	struct call_ref *next;
};

struct sp_call {
	struct sp_call *next;
	struct sp_call *seq_next; /* index by seq (the id in our branches) */
	struct call_ref ref[2];
	bool indexed;
	uint64_t seq;
	char id[40];
	enum call_state state;
	char direction[16];
	int64_t start, answer, end, deadline;
	uint16_t status;
	char end_reason[32];
	bool installed;
	bool held;	/* its dialog record (a setup record until answered) is in Redis, and in
			 * pr:slowpath:calls:<us> */
	bool cancelled; /* CANCEL sent to the callee: waiting for its final response */
	char pending_reason[32];
	uint16_t pending_status;
	/* [redis] wait_replicas: the callee answered and was ACKed, its sessions are written;
	 * the answer to the caller (this code, reason and SDP, with A's INVITE transaction
	 * kept) waits for the WAIT after them (docs/scaling.md). state stays < CS_UP. */
	bool answering;
	uint16_t answer_code;
	char answer_reason[64];
	struct sp_buf answer_sdp; /* holds SDES keys: wiped */
	struct sp_leg leg[2];
	struct sp_txn txn[SP_CALL_TXNS];
	char a_invite_branch[PR_KS_TEXT_MAX];
	struct sp_buf last_a_final;    /* resent when A retransmits its INVITE (UDP) */
	char dtls_fpr[SP_SDP_FPR_MAX]; /* ours (pr:dtls:fingerprint) when a leg is dtls */
	/* the dataplane the call is anchored on ([sip] media_anchors), chosen at its INVITE
	 * and kept for its life (re-INVITEs, a restart); "": [sip] media_addr */
	char anchor[PR_ANCHOR_ADDR_MAX];
	/* relay ports a BUNDLE freed (each member had one of its own before the group was
	 * known): back to the pool with the next sessions' or the end's transaction */
	unsigned n_ports_back;
	uint16_t ports_back[2 * SP_SDP_MAX_MEDIA];
};

/* Our DTLS certificate's fingerprint, written by the DTLS process (docs/redis-keyspace.md). */
#define SP_DTLS_FPR_KEY	      "pr:dtls:fingerprint"
#define SP_DTLS_RETRY_AFTER_S 30

/* Bounded copy, truncating: records and messages have fields of different sizes (not
 * inlined, so that the compiler does not judge every size pair). */
__attribute__((noinline)) static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* The relay address of the call's sessions and SDP. */
static const char *call_relay(const struct sp_server *s, const struct sp_call *call)
{
	return call->anchor[0] ? call->anchor : s->cfg.media_addr;
}

static const char *leg_name(int l)
{
	return l == LEG_A ? "caller" : "callee";
}

/* ---- media and records ------------------------------------------------------------- */

static int key_b64(const struct pr_sdes_crypto *c, char *out, size_t len)
{
	char val[160];
	out[0] = '\0';
	if (pr_sdes_format(c, val, sizeof(val)) < 0)
		return -EINVAL;
	char *p = strstr(val, "inline:");
	if (!p)
		return -EINVAL;
	p += 7;
	size_t n = strcspn(p, "| ");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	memset(val, 0, sizeof(val));
	return 0;
}

static void leg_to_ks(const struct sp_leg *l, const struct sp_media *m, struct pr_ks_leg *k,
		      const char *relay, const char *bundle_id)
{
	copy(k->party, sizeof(k->party), l->party);
	k->onnet = l->onnet;
	copy(k->family, sizeof(k->family), m->family[0] ? m->family : "ip4");
	copy(k->peer_addr, sizeof(k->peer_addr), m->peer_addr);
	k->peer_port = m->peer_port;
	k->latch = true; /* devices behind NAT: learn the real source from authentic packets */
	copy(k->relay_addr, sizeof(k->relay_addr), relay);
	k->relay_port = m->relay_port;
	k->rtcp_mux = m->rtcp_mux;
	copy(k->profile, sizeof(k->profile), m->encrypted ? "RTP/SAVP" : "RTP/AVP");
	k->encrypted = m->encrypted;
	k->max_kbps = l->max_kbps;
	if (m->dtls) {
		/* no keys: the DTLS-SRTP handshake on the leg exports them */
		copy(k->keying, sizeof(k->keying), "dtls");
		copy(k->suite, sizeof(k->suite), pr_srtp_profile_name(PR_SRTP_AES128_CM_SHA1_80));
		copy(k->dtls_setup, sizeof(k->dtls_setup), m->setup);
		copy(k->dtls_fingerprint, sizeof(k->dtls_fingerprint), m->fingerprint);
		copy(k->ice_ufrag, sizeof(k->ice_ufrag), m->ice_ufrag);
		copy(k->ice_pwd, sizeof(k->ice_pwd), m->ice_pwd);
		copy(k->ice_remote_ufrag, sizeof(k->ice_remote_ufrag), m->ice_remote_ufrag);
		copy(k->mid, sizeof(k->mid), m->mid);
		if (m->bundled) {
			copy(k->bundle, sizeof(k->bundle), bundle_id);
			k->bundle_pos = m->bundle_pos;
			copy(k->bundle_pt, sizeof(k->bundle_pt), m->bundle_pt);
			copy(k->bundle_ssrc, sizeof(k->bundle_ssrc), m->bundle_ssrc);
			k->bundle_mid_ext = m->bundle_mid_ext;
		}
		k->rtcp_mux = true;
		k->encrypted = true;
		copy(k->profile, sizeof(k->profile), "RTP/SAVP");
	} else if (m->encrypted) {
		copy(k->keying, sizeof(k->keying), "sdes");
		copy(k->suite, sizeof(k->suite), pr_srtp_profile_name(m->tx.profile));
		key_b64(&m->rx, k->key_rx, sizeof(k->key_rx));
		key_b64(&m->tx, k->key_tx, sizeof(k->key_tx));
	}
}

static void addr_of(const struct sp_dest *d, char *ip, size_t len, uint16_t *port)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&d->addr;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&d->addr;
	ip[0] = '\0';
	*port = 0;
	if (d->addr.ss_family == AF_INET) {
		inet_ntop(AF_INET, &in4->sin_addr, ip, (socklen_t)len);
		*port = ntohs(in4->sin_port);
	} else if (d->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)len);
		*port = ntohs(in6->sin6_port);
	}
}

static void dialog_leg_to_ks(const struct sp_leg *g, struct pr_ks_dialog_leg *k)
{
	copy(k->call_id, sizeof(k->call_id), g->call_id);
	copy(k->local_tag, sizeof(k->local_tag), g->local_tag);
	copy(k->remote_tag, sizeof(k->remote_tag), g->remote_tag);
	copy(k->local_uri, sizeof(k->local_uri), g->local_uri);
	copy(k->remote_uri, sizeof(k->remote_uri), g->remote_uri);
	copy(k->remote_target, sizeof(k->remote_target), g->remote_target);
	copy(k->routes, sizeof(k->routes), g->routes);
	k->local_cseq = g->local_cseq;
	k->remote_cseq = g->remote_cseq;
	copy(k->transport, sizeof(k->transport), sp_transport_name(g->dest.tp));
	addr_of(&g->dest, k->addr, sizeof(k->addr), &k->port);
	k->conn_id = g->dest.conn_id;
	k->onnet = g->onnet;
	k->want_srtp = g->want_srtp;
	k->max_kbps = g->max_kbps;
	copy(k->pop, sizeof(k->pop), g->pop);
	copy(k->user, sizeof(k->user), g->user);
	copy(k->instance, sizeof(k->instance), g->instance);
	k->reg_id = g->reg_id;
	copy(k->party, sizeof(k->party), g->party);
	copy(k->user_agent, sizeof(k->user_agent), g->ua);
	copy(k->inside_addr, sizeof(k->inside_addr), g->inside_addr);
	copy(k->outside_addr, sizeof(k->outside_addr), g->outside_addr);
	size_t off = 0;
	for (unsigned i = 0; i < g->n_media && off < sizeof(k->relay_ports); i++) {
		int w = snprintf(k->relay_ports + off, sizeof(k->relay_ports) - off, "%s%u",
				 i ? " " : "", g->m[i].relay_port);
		if (w > 0)
			off += (size_t)w;
	}
}

static void dialog_to_ks(struct sp_server *s, const struct sp_call *call, struct pr_ks_dialog *d)
{
	memset(d, 0, sizeof(*d));
	copy(d->id, sizeof(d->id), call->id);
	copy(d->pop, sizeof(d->pop), s->cfg.pop);
	copy(d->direction, sizeof(d->direction), call->direction);
	d->start = call->start;
	d->answer = call->answer;
	d->updated = sp_now();
	d->status = call->status;
	d->n_media = (uint16_t)call->leg[LEG_A].n_media;
	for (unsigned i = 0; i < call->leg[LEG_A].n_media; i++)
		if (call->leg[LEG_A].m[i].used)
			d->media_used |= 1u << i;
	dialog_leg_to_ks(&call->leg[LEG_A], &d->a);
	dialog_leg_to_ks(&call->leg[LEG_B], &d->b);
}

/* A call's write to Redis that nothing waits for (the sessions, the dialog, the CDR):
 * sent on the async connection, in order with the call's other writes; a failure is
 * counted and logged when the reply comes (as the synchronous write did at once). flags:
 * SP_AREDIS_REPLAY for a write that may run twice (sp_server.h). */
struct call_write {
	char id[PR_KS_NAME_MAX];
	const char *what;
};

static void call_write_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	struct call_write *w = arg;
	(void)rep;
	if (rc < 0) {
		s->ctr.redis_errors++;
		PR_ERR("call %s: cannot %s: %s", w->id, w->what, pr_ks_errmsg());
	}
	free(w);
}

static void call_write(struct sp_server *s, struct sp_call *call, struct pr_redis_tx *tx,
		       unsigned flags, const char *what)
{
	struct call_write *w = malloc(sizeof(*w));
	int rc = w ? 0 : -ENOMEM;
	if (w) {
		copy(w->id, sizeof(w->id), call->id);
		w->what = what;
		rc = sp_aredis_tx(s, tx, flags, call_write_done, w);
	}
	if (rc < 0) {
		free(w);
		s->ctr.redis_errors++;
		PR_ERR("call %s: cannot %s: %s", call->id, what,
		       rc == -ENOMEM ? "out of memory" : pr_ks_errmsg());
	}
}

static void answer_durable_done(struct sp_server *s, redisReply *rep, int rc, void *arg);

/* The sessions (install, or update mid-call) and the dialog a restarted slowpath needs to
 * end the call, in one MULTI/EXEC: one round trip per change, waited for by nothing; or,
 * durable (the install while the caller's answer waits, call->answering), sent with
 * sp_aredis_tx_durable: answer_durable_done gets the WAIT's reply. Returns < 0 when a
 * durable write could not be sent (answer_durable_done will not run). */
static int store_sessions(struct sp_server *s, struct sp_call *call, bool durable)
{
	int64_t now = sp_now();
	struct pr_redis_tx *tx = pr_redis_tx_new();
	struct pr_ks_dialog *d = malloc(sizeof(*d));
	int rc = tx && d ? 0 : -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < call->leg[LEG_A].n_media; i++) {
		struct sp_media *ma = &call->leg[LEG_A].m[i], *mb = &call->leg[LEG_B].m[i];
		if (!ma->used)
			continue;
		struct pr_ks_session ses;
		memset(&ses, 0, sizeof(ses));
		snprintf(ses.id, sizeof(ses.id), "%s-%u", call->id, i);
		copy(ses.call_id, sizeof(ses.call_id), call->leg[LEG_A].call_id);
		copy(ses.cdr_id, sizeof(ses.cdr_id), call->id);
		copy(ses.media, sizeof(ses.media), ma->media);
		ses.mline = (uint16_t)i;
		/* 0: the dataplane's [media] session_idle_s, live as dp.session_idle_s; a
		 * media_idle_s written in our file wins for our sessions */
		ses.idle_timeout_s = s->cfg.media_idle_set ? s->cfg.media_idle_s : 0;
		ses.created = call->answer ? call->answer : now;
		ses.updated = now;
		char ga[PR_KS_NAME_MAX], gb[PR_KS_NAME_MAX];
		snprintf(ga, sizeof(ga), "%s-a", call->id);
		snprintf(gb, sizeof(gb), "%s-b", call->id);
		leg_to_ks(&call->leg[LEG_A], ma, &ses.leg[PR_KS_LEG_A], call_relay(s, call), ga);
		leg_to_ks(&call->leg[LEG_B], mb, &ses.leg[PR_KS_LEG_B], call_relay(s, call), gb);
		/* our fingerprint as the SDP carried it: after a rotation the DTLS process
		 * still presents that certificate to this call's browser legs */
		for (int l = 0; l < 2; l++)
			if (!strcmp(ses.leg[l].keying, "dtls"))
				copy(ses.leg[l].dtls_local_fingerprint,
				     sizeof(ses.leg[l].dtls_local_fingerprint), call->dtls_fpr);
		rc = pr_ks_session_store_tx(tx, &ses,
					    call->installed ? PR_KS_OP_UPDATE : PR_KS_OP_INSTALL);
		memset(&ses, 0, sizeof(ses));
	}
	if (rc == 0) {
		dialog_to_ks(s, call, d);
		rc = pr_ks_dialog_store_tx(tx, d);
	}
	for (unsigned i = 0; rc == 0 && i < call->n_ports_back; i++)
		rc = pr_redis_tx_add(tx, "SADD %s %u", PR_KS_PORTS_FREE_KEY, call->ports_back[i]);
	if (rc == 0)
		call->n_ports_back = 0;
	if (rc < 0) {
		s->ctr.redis_errors++;
		PR_ERR("call %s: cannot encode its sessions and dialog: %s", call->id,
		       rc == -ENOMEM ? "out of memory" : pr_ks_errmsg());
	} else if (durable) {
		uint64_t *seq = malloc(sizeof(*seq)); /* the call may end before the reply */
		rc = seq ? 0 : -ENOMEM;
		if (seq) {
			*seq = call->seq;
			rc =
			    sp_aredis_tx_durable(s, tx, SP_AREDIS_REPLAY, answer_durable_done, seq);
			if (rc < 0)
				free(seq);
		}
		if (rc == -ENOMEM)
			pr_ks_errmsg_set("out of memory");
	} else {
		call_write(s, call, tx, SP_AREDIS_REPLAY, "store its sessions and dialog");
	}
	pr_redis_tx_free(tx); /* wipes the commands: they hold SDES keys */
	free(d);
	call->installed = true;
	return durable ? rc : 0;
}

/* The PoP's slowpaths (docs/redis-keyspace.md): the instances, each one's lease while it runs
 * (refreshed every second, SP_LEASE_MS) and the ids of the calls whose dialog record it holds. */
#define SP_INSTANCES_KEY "pr:slowpath:instances"
#define SP_ALIVE_PREFIX	 "pr:slowpath:alive:"
#define SP_CALLS_PREFIX	 "pr:slowpath:calls:"

/* A call being set up, once its INVITE went to the callee: its dialog record with answer 0
 * (the setup record) and its id in our set, so that the slowpath that takes our calls if we
 * die can end it (CDR failover, ports back) instead of leaving it half open. The answer's
 * store_sessions writes the full record over it; call_finish deletes it. */
static void store_setup(struct sp_server *s, struct sp_call *call)
{
	if (!s->sp_id[0])
		return;
	struct pr_redis_tx *tx = pr_redis_tx_new();
	struct pr_ks_dialog *d = malloc(sizeof(*d));
	int rc = tx && d ? 0 : -ENOMEM;
	if (rc == 0) {
		dialog_to_ks(s, call, d);
		rc = pr_ks_dialog_store_tx(tx, d);
	}
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "SADD %s%s %s", SP_CALLS_PREFIX, s->sp_id, call->id);
	if (rc < 0) {
		s->ctr.redis_errors++;
		PR_ERR("call %s: cannot encode its setup record: %s", call->id,
		       rc == -ENOMEM ? "out of memory" : pr_ks_errmsg());
	} else {
		call_write(s, call, tx, SP_AREDIS_REPLAY, "store its setup record");
		call->held = true;
	}
	pr_redis_tx_free(tx);
	free(d);
}

/* Ports go back to the pool in call_finish's transaction; here the keys are wiped. */
static void release_media(struct sp_server *s, struct sp_call *call)
{
	(void)s;
	for (int l = 0; l < 2; l++)
		for (unsigned i = 0; i < SP_SDP_MAX_MEDIA; i++) {
			struct sp_media *m = &call->leg[l].m[i];
			m->relay_port = 0;
			pr_sdes_wipe(&m->rx);
			pr_sdes_wipe(&m->tx);
			explicit_bzero(m->ice_pwd, sizeof(m->ice_pwd));
		}
}

static void cdr_leg(const struct sp_leg *l, struct pr_ks_cdr_leg *c, const char *transport)
{
	copy(c->user, sizeof(c->user), l->onnet ? l->user : "");
	copy(c->uri, sizeof(c->uri), l->party);
	copy(c->user_agent, sizeof(c->user_agent), l->ua);
	copy(c->inside_addr, sizeof(c->inside_addr), l->inside_addr);
	copy(c->outside_addr, sizeof(c->outside_addr), l->outside_addr);
	copy(c->sig_transport, sizeof(c->sig_transport), transport);
	copy(c->media_path, sizeof(c->media_path), "relay");
	c->encrypted = l->n_media && l->m[0].encrypted;
	if (c->encrypted && l->m[0].dtls) {
		copy(c->keying, sizeof(c->keying), "dtls");
		copy(c->suite, sizeof(c->suite), pr_srtp_profile_name(PR_SRTP_AES128_CM_SHA1_80));
	} else if (c->encrypted) {
		copy(c->keying, sizeof(c->keying), "sdes");
		copy(c->suite, sizeof(c->suite), pr_srtp_profile_name(l->m[0].tx.profile));
	}
}

static void cdr_of(struct sp_server *s, struct sp_call *call, struct pr_ks_cdr *cdrp)
{
	struct pr_ks_cdr cdr;
	memset(&cdr, 0, sizeof(cdr));
	copy(cdr.id, sizeof(cdr.id), call->id);
	copy(cdr.call_id, sizeof(cdr.call_id), call->leg[LEG_A].call_id);
	copy(cdr.direction, sizeof(cdr.direction), call->direction);
	copy(cdr.pop, sizeof(cdr.pop), s->cfg.pop);
	const char *ta = sp_transport_name(call->leg[LEG_A].dest.tp);
	const char *tb = sp_transport_name(call->leg[LEG_B].dest.tp);
	snprintf(cdr.sig_path, sizeof(cdr.sig_path), "%s:%s -> %s:%s", ta,
		 call->leg[LEG_A].pop[0] ? call->leg[LEG_A].pop : s->cfg.pop, tb,
		 call->leg[LEG_B].pop[0] ? call->leg[LEG_B].pop : s->cfg.pop);
	cdr.start = call->start;
	cdr.answer = call->answer;
	cdr.end = call->end;
	cdr.duration_s = call->answer ? (uint32_t)(call->end - call->answer) : 0;
	cdr.sip_status = call->status;
	copy(cdr.end_reason, sizeof(cdr.end_reason), call->end_reason);
	cdr_leg(&call->leg[LEG_A], &cdr.caller, ta);
	cdr_leg(&call->leg[LEG_B], &cdr.callee, tb);
	*cdrp = cdr;
}

/* ---- call table -------------------------------------------------------------------- */

static void call_unindex(struct sp_call *call);

static void call_free(struct sp_server *s, struct sp_call *call)
{
	call_unindex(call);
	for (struct sp_call **pp = &s->calls; *pp; pp = &(*pp)->next)
		if (*pp == call) {
			*pp = call->next;
			break;
		}
	for (int i = 0; i < SP_CALL_TXNS; i++) {
		if (call->txn[i].orig)
			osip_message_free(call->txn[i].orig);
		free(call->txn[i].retx);
	}
	for (int l = 0; l < 2; l++) {
		if (call->leg[l].ok_retx.p)
			memset(call->leg[l].ok_retx.p, 0, call->leg[l].ok_retx.len);
		sp_buf_free(&call->leg[l].ok_retx);
	}
	sp_buf_free(&call->last_a_final);
	if (call->answer_sdp.p)
		memset(call->answer_sdp.p, 0, call->answer_sdp.len);
	sp_buf_free(&call->answer_sdp);
	memset(call, 0, sizeof(*call));
	free(call);
}

/* Ends the call: sessions end (stream op=end), ports back to the pool, CDR written. */
static void call_finish(struct sp_server *s, struct sp_call *call, const char *reason,
			uint16_t status)
{
	if (call->state == CS_DONE)
		return;
	call->end = sp_now();
	if (call->answering) /* the caller never had the 200: not answered */
		call->answer = 0;
	if (!call->status || status)
		call->status = status ? status : call->status;
	copy(call->end_reason, sizeof(call->end_reason), reason);
	/* One MULTI/EXEC: the CDR first (the dataplane adds each session's media figures to
	 * it when it applies the session's end), the sessions' ends, the dialog record, the
	 * relay ports back to the pool (they came from it by SPOP). */
	struct pr_redis_tx *tx = pr_redis_tx_new();
	struct pr_ks_cdr *cdr = malloc(sizeof(*cdr));
	int rc = tx && cdr ? 0 : -ENOMEM;
	if (rc == 0) {
		cdr_of(s, call, cdr);
		rc = pr_ks_cdr_store_tx(tx, cdr);
	}
	if (call->installed)
		for (unsigned i = 0; rc == 0 && i < call->leg[LEG_A].n_media; i++) {
			char id[PR_KS_NAME_MAX];
			snprintf(id, sizeof(id), "%s-%u", call->id, i);
			if (call->leg[LEG_A].m[i].used)
				rc = pr_ks_session_end_tx(tx, id);
		}
	if (rc == 0 && (call->installed || call->held))
		rc = pr_ks_dialog_delete_tx(tx, call->id);
	if (rc == 0 && call->held)
		rc = pr_redis_tx_add(tx, "SREM %s%s %s", SP_CALLS_PREFIX, s->sp_id, call->id);
	/* (a BUNDLE's members share one port: SADD is idempotent) */
	for (int l = 0; rc == 0 && l < 2; l++)
		for (unsigned i = 0; i < SP_SDP_MAX_MEDIA; i++)
			if (call->leg[l].m[i].relay_port)
				pr_redis_tx_add(tx, "SADD %s %u", PR_KS_PORTS_FREE_KEY,
						call->leg[l].m[i].relay_port);
	for (unsigned i = 0; rc == 0 && i < call->n_ports_back; i++)
		pr_redis_tx_add(tx, "SADD %s %u", PR_KS_PORTS_FREE_KEY, call->ports_back[i]);
	if (rc < 0) {
		s->ctr.redis_errors++;
		PR_ERR("call %s: cannot encode its CDR and end: %s", call->id,
		       rc == -ENOMEM ? "out of memory" : pr_ks_errmsg());
	} else {
		/* not sent twice: the dataplane adds each session's figures to the CDR when
		 * it applies the end; a second store would overwrite them */
		call_write(s, call, tx, SP_AREDIS_ONCE, "store its CDR and end its sessions");
	}
	pr_redis_tx_free(tx);
	free(cdr);
	release_media(s, call);
	if (call->answer)
		s->ctr.calls_ended++;
	else
		s->ctr.calls_failed++;
	PR_INFO("call %s ended: %s, status %u, %s -> %s, %llds", call->id, reason, call->status,
		call->leg[LEG_A].party, call->leg[LEG_B].party,
		(long long)(call->answer ? call->end - call->answer : 0));
	call->state = CS_DONE;
	call_free(s, call);
}

/* Call indexes (event loop only): by Call-ID of either leg, and by seq. */
#define CALL_BUCKETS 16384
static struct call_ref *by_callid[CALL_BUCKETS];
static struct sp_call *by_seq[CALL_BUCKETS];

static size_t callid_bucket(const char *call_id)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = call_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h % CALL_BUCKETS;
}

static void call_index(struct sp_call *call)
{
	for (int l = 0; l < 2; l++) {
		struct call_ref *r = &call->ref[l];
		size_t b = callid_bucket(call->leg[l].call_id);
		r->call = call;
		r->leg = l;
		r->next = by_callid[b];
		by_callid[b] = r;
	}
	call->seq_next = by_seq[call->seq % CALL_BUCKETS];
	by_seq[call->seq % CALL_BUCKETS] = call;
	call->indexed = true;
}

static void call_unindex(struct sp_call *call)
{
	if (!call->indexed)
		return;
	for (int l = 0; l < 2; l++)
		for (struct call_ref **pp = &by_callid[callid_bucket(call->leg[l].call_id)]; *pp;
		     pp = &(*pp)->next)
			if (*pp == &call->ref[l]) {
				*pp = call->ref[l].next;
				break;
			}
	for (struct sp_call **pp = &by_seq[call->seq % CALL_BUCKETS]; *pp; pp = &(*pp)->seq_next)
		if (*pp == call) {
			*pp = call->seq_next;
			break;
		}
	call->indexed = false;
}

static struct sp_call *call_by_seq(struct sp_server *s, uint64_t seq)
{
	(void)s;
	for (struct sp_call *c = by_seq[seq % CALL_BUCKETS]; c; c = c->seq_next)
		if (c->seq == seq)
			return c;
	return NULL;
}

/* The Call-ID as the party wrote it: libosip2 splits "local@host" in two. */
static const char *callid_str(const osip_call_id_t *c, char *buf, size_t len)
{
	if (c->host)
		snprintf(buf, len, "%s@%s", c->number, c->host);
	else
		snprintf(buf, len, "%s", c->number);
	return buf;
}

/* In-dialog request: Call-ID and our tag (its To tag) name the call and the leg. */
static struct sp_call *call_by_dialog(struct sp_server *s, const char *call_id, const char *tag,
				      int *leg)
{
	(void)s;
	for (struct call_ref *r = by_callid[callid_bucket(call_id)]; r; r = r->next) {
		const struct sp_leg *g = &r->call->leg[r->leg];
		if (!strcmp(g->call_id, call_id) && !strcmp(g->local_tag, tag)) {
			*leg = r->leg;
			return r->call;
		}
	}
	return NULL;
}

static struct sp_call *call_by_a_invite(struct sp_server *s, const char *call_id,
					const char *from_tag)
{
	(void)s;
	for (struct call_ref *r = by_callid[callid_bucket(call_id)]; r; r = r->next) {
		const struct sp_leg *g = &r->call->leg[LEG_A];
		if (r->leg == LEG_A && !strcmp(g->call_id, call_id) &&
		    !strcmp(g->remote_tag, from_tag ? from_tag : ""))
			return r->call;
	}
	return NULL;
}

static struct sp_txn *txn_new(struct sp_call *call, int to_leg, const char *method, uint32_t cseq,
			      osip_message_t *orig)
{
	for (int i = 0; i < SP_CALL_TXNS; i++) {
		struct sp_txn *t = &call->txn[i];
		if (t->used)
			continue;
		memset(t, 0, sizeof(*t));
		t->used = true;
		t->to_leg = to_leg;
		copy(t->method, sizeof(t->method), method);
		t->cseq = cseq;
		char rnd[9];
		sp_token(rnd, 8);
		snprintf(t->branch, sizeof(t->branch), "z9hG4bKsp%llux%dx%s",
			 (unsigned long long)call->seq, i, rnd);
		if (orig && osip_message_clone(orig, &t->orig) < 0)
			t->orig = NULL;
		return t;
	}
	return NULL;
}

static void txn_done(struct sp_txn *t)
{
	if (t->orig)
		osip_message_free(t->orig);
	free(t->retx);
	memset(t, 0, sizeof(*t));
}

/* ---- message building -------------------------------------------------------------- */

static uint16_t our_port(struct sp_server *s, enum sp_transport tp)
{
	return tp == SP_WSS   ? s->wss_port_bound
	       : tp == SP_TLS ? s->tls_port_bound
			      : s->plain_port_bound;
}

static const char *tp_upper(enum sp_transport tp)
{
	return tp == SP_WSS ? "WSS" : tp == SP_TLS ? "TLS" : tp == SP_TCP ? "TCP" : "UDP";
}

/* Where leg l's messages go. A restored leg's flow died with the process that had it: the
 * device re-registers on a new flow, and its binding at the time of sending names it (a
 * peer PoP's leg: the link to that PoP, opened again). */
static const struct sp_dest *leg_dest(struct sp_server *s, struct sp_call *call, int l)
{
	struct sp_leg *g = &call->leg[l];
	struct sp_conn *c = NULL;
	if (!g->restored || g->dest.tp == SP_UDP || sp_conn_find(s, g->dest.conn_id))
		return &g->dest;
	if (g->pop[0] && strcmp(g->pop, s->cfg.pop)) {
		for (size_t i = 0; i < s->cfg.n_peers; i++)
			if (!strcmp(s->cfg.peers[i].name, g->pop))
				c = sp_conn_to_peer(s, &s->cfg.peers[i]);
	} else if (g->user[0]) {
		struct pr_ks_reg reg;
		int rc = pr_ks_reg_load(s->redis, g->user, &reg);
		if (rc == 0)
			c = sp_registrar_flow(s, &reg);
		if (rc < 0 && rc != -ENOENT)
			s->ctr.redis_errors++;
	}
	if (c) {
		sp_dest_from_conn(c, &g->dest);
		PR_INFO("call %s: the %s (%s) is on flow %llu from %s:%u now", call->id,
			leg_name(l), g->party, (unsigned long long)c->id, c->peer_ip, c->peer_port);
	}
	return &g->dest;
}

/* A request on leg l. with_remote_tag: false for CANCEL/INVITE before the dialog exists. */
static int send_request(struct sp_server *s, struct sp_call *call, int l, const char *method,
			const char *ruri, uint32_t cseq, const char *branch, const char *extra,
			const char *ctype, const char *body, size_t body_len)
{
	struct sp_leg *g = &call->leg[l];
	struct sp_buf b = {0};
	const char *tp = sp_transport_param(g->dest.tp); /* "ws" for WSS (RFC 7118 7) */
	char port[8];
	snprintf(port, sizeof(port), "%u", our_port(s, g->dest.tp));
	sp_buf_cat(&b, method, " ", ruri, " SIP/2.0\r\nVia: SIP/2.0/", tp_upper(g->dest.tp), " ",
		   s->cfg.advertised_host, ":", port, ";branch=", branch,
		   ";rport\r\nMax-Forwards: 70\r\n", g->routes, "From: ", g->local_uri,
		   ";tag=", g->local_tag, "\r\nTo: ", g->remote_uri, NULL);
	if (g->remote_tag[0] && strcmp(method, "CANCEL"))
		sp_buf_cat(&b, ";tag=", g->remote_tag, NULL);
	sp_buf_cat(&b, "\r\nCall-ID: ", g->call_id, "\r\nCSeq: ", NULL);
	sp_buf_uint(&b, cseq);
	sp_buf_cat(&b, " ", method, "\r\nContact: <sip:poprelay@", s->cfg.advertised_host, ":",
		   port, ";transport=", tp, ">\r\nUser-Agent: poprelay-slowpath\r\n", NULL);
	if (extra)
		sp_buf_add(&b, extra, strlen(extra));
	if (body && body_len) {
		sp_buf_cat(&b, "Content-Type: ", ctype ? ctype : "application/sdp",
			   "\r\nContent-Length: ", NULL);
		sp_buf_uint(&b, body_len);
		sp_buf_cat(&b, "\r\n\r\n", NULL);
		sp_buf_add(&b, body, body_len);
	} else {
		sp_buf_cat(&b, "Content-Length: 0\r\n\r\n", NULL);
	}
	int rc = b.oom ? -ENOMEM : sp_send(s, leg_dest(s, call, l), b.p, b.len);
	if (rc == 0 && g->dest.tp == SP_UDP && strcmp(method, "ACK"))
		for (int i = 0; i < SP_CALL_TXNS; i++) {
			struct sp_txn *t = &call->txn[i];
			if (!t->used || strcmp(t->branch, branch) || strcmp(t->method, method))
				continue;
			free(t->retx);
			t->retx = malloc(b.len);
			if (t->retx) {
				memcpy(t->retx, b.p, b.len);
				t->retx_len = b.len;
				t->retx_ival_ms = SP_T1_MS;
				t->retx_next_ms = sp_now_ms() + SP_T1_MS;
				t->retx_end_ms = sp_now_ms() + 64 * SP_T1_MS;
			}
		}
	if (b.p)
		memset(b.p, 0, b.len); /* may carry SDES keys */
	sp_buf_free(&b);
	return rc;
}

/* Answer orig (a request that came from leg l) with code, optional SDP body; err_hdr: header
 * lines of an error response (code >= 300), or NULL. */
static void answer_leg_hdr(struct sp_server *s, struct sp_call *call, int l,
			   const osip_message_t *orig, int code, const char *reason,
			   const char *err_hdr, const char *body, size_t body_len)
{
	struct sp_leg *g = &call->leg[l];
	char extra[256];
	snprintf(extra, sizeof(extra), "Contact: <sip:poprelay@%s:%u;transport=%s>\r\n",
		 s->cfg.advertised_host, our_port(s, g->dest.tp), sp_transport_param(g->dest.tp));
	struct sp_buf b = {0};
	if (sp_msg_response(&b, orig, code, reason, g->local_tag, code < 300 ? extra : err_hdr,
			    "application/sdp", body, body_len) == 0)
		sp_send(s, leg_dest(s, call, l), b.p, b.len);
	if (g->dest.tp == SP_UDP && code >= 200 && code < 300 && !b.oom &&
	    !strcmp(orig->sip_method, "INVITE")) {
		sp_buf_free(&g->ok_retx);
		sp_buf_add(&g->ok_retx, b.p, b.len);
		g->ok_ival_ms = SP_T1_MS;
		g->ok_next_ms = sp_now_ms() + SP_T1_MS;
		g->ok_end_ms = sp_now_ms() + 64 * SP_T1_MS;
	}
	if (l == LEG_A && code >= 200 && !strcmp(orig->sip_method, "INVITE") &&
	    call->state < CS_UP) {
		sp_buf_free(&call->last_a_final);
		call->last_a_final = b;
		return;
	}
	if (b.p)
		memset(b.p, 0, b.len);
	sp_buf_free(&b);
}

static void answer_leg(struct sp_server *s, struct sp_call *call, int l, const osip_message_t *orig,
		       int code, const char *reason, const char *body, size_t body_len)
{
	answer_leg_hdr(s, call, l, orig, code, reason, NULL, body, body_len);
}

static void uri_of(osip_from_t *f, char *out, size_t len)
{
	char *u = NULL;
	out[0] = '\0';
	if (f && f->url && osip_uri_to_str(f->url, &u) == 0 && u) {
		if (f->displayname && *f->displayname)
			snprintf(out, len, "%s <%s>", f->displayname, u);
		else
			snprintf(out, len, "<%s>", u);
	}
	osip_free(u);
}

static void contact_of(const osip_message_t *m, char *out, size_t len, char *host, size_t hlen)
{
	osip_contact_t *ct = osip_list_get(&m->contacts, 0);
	char *u = NULL;
	out[0] = '\0';
	if (ct && ct->url && osip_uri_to_str(ct->url, &u) == 0 && u) {
		copy(out, len, u);
		if (host)
			copy(host, hlen, ct->url->host);
	}
	osip_free(u);
}

/* Route set from Record-Route (RFC 3261 12.1): as-is for the UAS side (A), reversed for
 * the UAC side (B). */
static void route_set(const osip_message_t *m, bool reverse, char *out, size_t len)
{
	out[0] = '\0';
	int n = osip_list_size(&m->record_routes);
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		osip_record_route_t *rr = osip_list_get(&m->record_routes, reverse ? n - 1 - i : i);
		char *str = NULL;
		if (osip_record_route_to_str(rr, &str) == 0 && str) {
			int w = snprintf(out + off, len - off, "Route: %s\r\n", str);
			if (w > 0 && (size_t)w < len - off)
				off += (size_t)w;
		}
		osip_free(str);
	}
}

/* ---- SDP handling ------------------------------------------------------------------ */

/* Fresh ICE credentials: n ice-chars (RFC 8839 5.4) from the slowpath's random source. */
static int ice_token(char *out, size_t n)
{
	static const char ic[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[64];
	if (n > sizeof(r) || sp_random(r, n) < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		out[i] = ic[r[i] & 63];
	out[n] = '\0';
	explicit_bzero(r, sizeof(r));
	return 0;
}

static int ice_fresh(struct sp_media *m)
{
	if (m->ice_ufrag[0])
		return 0;
	if (ice_token(m->ice_ufrag, sizeof(m->ice_ufrag) - 1) < 0 ||
	    ice_token(m->ice_pwd, sizeof(m->ice_pwd) - 1) < 0)
		return -EIO;
	return 0;
}

/* A browser's m= line (policy-checked): its ICE and DTLS values, and our role. */
static int take_dtls(struct sp_media *m, const struct sp_sdp_media *im)
{
	/* an ICE restart (a new ufrag from the peer) restarts ours too (RFC 8445 9) */
	if (m->ice_remote_ufrag[0] && strcmp(m->ice_remote_ufrag, im->ice_ufrag)) {
		m->ice_ufrag[0] = '\0';
		explicit_bzero(m->ice_pwd, sizeof(m->ice_pwd));
	}
	m->dtls = true;
	m->encrypted = true;
	m->rtcp_mux = true;
	copy(m->ice_remote_ufrag, sizeof(m->ice_remote_ufrag), im->ice_ufrag);
	copy(m->fingerprint, sizeof(m->fingerprint), im->fingerprint);
	copy(m->mid, sizeof(m->mid), im->mid);
	/* RFC 5763 5: the answerer to actpass picks; we take passive (the browser connects,
	 * as it does to every ICE-lite server). No a=setup means active (RFC 4145 4). */
	copy(m->setup, sizeof(m->setup), im->setup == SP_SETUP_PASSIVE ? "active" : "passive");
	return ice_fresh(m);
}

/* The tag's (position 0's) m= line of leg g's BUNDLE group, or -1. */
static int bundle_tag(const struct sp_leg *g)
{
	for (unsigned i = 0; i < g->n_media; i++)
		if (g->m[i].bundled && g->m[i].bundle_pos == 0)
			return (int)i;
	return -1;
}

/* The members of leg g's group take the tag's relay port (a port of their own goes back to
 * the pool) and its ICE credentials: one 5-tuple, one ICE agent. */
static void bundle_ports(struct sp_call *call, int leg)
{
	struct sp_leg *g = &call->leg[leg];
	int t = bundle_tag(g);
	if (t < 0)
		return;
	for (unsigned i = 0; i < g->n_media; i++) {
		struct sp_media *m = &g->m[i];
		if (!m->bundled || (int)i == t)
			continue;
		if (m->relay_port && m->relay_port != g->m[t].relay_port &&
		    call->n_ports_back < sizeof(call->ports_back) / sizeof(call->ports_back[0]))
			call->ports_back[call->n_ports_back++] = m->relay_port;
		m->relay_port = g->m[t].relay_port;
		copy(m->ice_ufrag, sizeof(m->ice_ufrag), g->m[t].ice_ufrag);
		copy(m->ice_pwd, sizeof(m->ice_pwd), g->m[t].ice_pwd);
	}
}

/* "111 9 0" from a codec list (into len bytes). */
static void pt_list(const struct sp_sdp_media *im, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (unsigned j = 0; j < im->n_codecs && off < len; j++) {
		int w = snprintf(out + off, len - off, "%s%u", j ? " " : "", im->codecs[j].pt);
		if (w > 0)
			off += (size_t)w;
	}
}

static void ssrc_list(const struct sp_sdp_media *im, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (unsigned j = 0; j < im->n_ssrc && off < len; j++) {
		int w = snprintf(out + off, len - off, "%s%u", j ? " " : "", im->ssrc[j]);
		if (w > 0)
			off += (size_t)w;
	}
}

/* A browser's BUNDLE group (RFC 8843, sp_sdp_bundle_plan) from its offer, or from its
 * answer to ours. Members are chosen once: in the browser's first offer (no relay port
 * yet), or among the m= lines of our offer's group; a later SDP of the same call refreshes
 * their payload types and SSRCs, but changes no membership (planned). */
static void take_bundle(struct sp_call *call, int from, const struct sp_sdp_info *info)
{
	struct sp_leg *g = &call->leg[from];
	struct sp_sdp_bundle b;
	const char *why = NULL;
	bool was = bundle_tag(g) >= 0, fresh = true;
	for (unsigned i = 0; i < info->n; i++)
		if (g->m[i].relay_port && !g->m[i].bundle_offered)
			fresh = false;
	sp_sdp_bundle_plan(info, &b, &why);
	if (why)
		PR_NOTICE("call %s: the %s's BUNDLE is not used: %s", call->id, leg_name(from),
			  why);
	if (!was) {
		unsigned n = 0;
		for (unsigned i = 0; i < info->n; i++) {
			b.member[i] = b.member[i] && fresh;
			n += b.member[i];
		}
		if (n >= 2) {
			unsigned pos = 1, t = b.member[b.tag] ? b.tag : SP_SDP_MAX_MEDIA;
			for (unsigned i = 0; i < info->n && t == SP_SDP_MAX_MEDIA; i++)
				if (b.member[i])
					t = i;
			for (unsigned i = 0; i < info->n; i++) {
				g->m[i].bundled = b.member[i];
				g->m[i].bundle_pos = (uint8_t)(i == t	     ? 0
							       : b.member[i] ? pos++
									     : 0);
			}
			PR_INFO("call %s: the %s's m= lines %u..: BUNDLE of %u on one transport",
				call->id, leg_name(from), t, n);
		}
	}
	for (unsigned i = 0; i < info->n; i++) {
		g->m[i].bundle_offered = false;
		if (g->m[i].bundled) {
			pt_list(&info->m[i], g->m[i].bundle_pt, sizeof(g->m[i].bundle_pt));
			ssrc_list(&info->m[i], g->m[i].bundle_ssrc, sizeof(g->m[i].bundle_ssrc));
			g->m[i].bundle_mid_ext = info->m[i].mid_ext;
		}
	}
	bundle_ports(call, from);
}

/* An offer or answer from leg `from` (already policy-checked): remember its media. */
static int take_media(struct sp_server *s, struct sp_call *call, int from,
		      const struct sp_sdp_info *info, const char **why)
{
	struct sp_leg *g = &call->leg[from];
	bool tls = sp_tp_secure(g->dest.tp);
	for (unsigned i = 0; i < info->n; i++) {
		bool enc;
		int idx;
		if (g->dtls ? sp_policy_dtls(&info->m[i], why) < 0
			    : sp_policy_media(g->onnet, tls, &info->m[i], &enc, &idx, why) < 0)
			return -EPROTONOSUPPORT;
	}
	(void)s;
	g->n_media = info->n;
	for (unsigned i = 0; i < info->n; i++) {
		const struct sp_sdp_media *im = &info->m[i];
		struct sp_media *m = &g->m[i];
		bool enc;
		int idx;
		m->n_codecs = im->n_codecs;
		memcpy(m->codecs, im->codecs, sizeof(m->codecs));
		if (g->dtls) {
			m->used = im->port != 0;
			copy(m->media, sizeof(m->media), im->media);
			copy(m->family, sizeof(m->family), im->family[0] ? im->family : "ip4");
			copy(m->peer_addr, sizeof(m->peer_addr), im->addr);
			m->peer_port = im->port;
			copy(m->profile, sizeof(m->profile), im->proto);
			if (take_dtls(m, im) < 0)
				return -EIO;
			if (i + 1 == info->n)
				take_bundle(call, from, info);
			continue;
		}
		sp_policy_media(g->onnet, tls, im, &enc, &idx, why);
		m->used = im->port != 0;
		copy(m->media, sizeof(m->media), im->media);
		copy(m->family, sizeof(m->family), im->family);
		copy(m->peer_addr, sizeof(m->peer_addr), im->addr);
		m->peer_port = im->port;
		m->rtcp_mux = im->rtcp_mux;
		copy(m->profile, sizeof(m->profile), im->proto);
		m->encrypted = enc;
		if (enc) {
			m->rx = im->crypto[idx];
			/* our key toward it: same suite; tag of the accepted line */
			if (!m->tx.tag || m->tx.profile != m->rx.profile)
				if (pr_sdes_generate(&m->tx, m->rx.tag, m->rx.profile) < 0)
					return -EIO;
			m->tx.tag = m->rx.tag;
		}
	}
	return 0;
}

struct invite_pre;
static bool pre_ports(struct invite_pre *pre, unsigned want, uint16_t *ports, int *rc);

/* Relay ports for m= lines that have none yet, on both legs (pre: taken already). */
static int alloc_ports(struct sp_server *s, struct sp_call *call, unsigned n,
		       struct invite_pre *pre)
{
	/* every port the call needs in one SPOP: one round trip, not one per port */
	uint16_t ports[2 * SP_SDP_MAX_MEDIA];
	unsigned want = 0;
	int rc;
	for (unsigned i = 0; i < n; i++)
		for (int l = 0; l < 2; l++)
			want += !call->leg[l].m[i].relay_port;
	if (!pre_ports(pre, want, ports, &rc))
		rc = pr_ks_port_alloc_n(s->redis, want, ports);
	if (rc < 0)
		return rc;
	want = 0;
	for (unsigned i = 0; i < n; i++)
		for (int l = 0; l < 2; l++)
			if (!call->leg[l].m[i].relay_port)
				call->leg[l].m[i].relay_port = ports[want++];
	/* (a port for each member too: the same count as new_invite took ahead; the
	 * members' own go back with the sessions' transaction) */
	bundle_ports(call, LEG_A);
	bundle_ports(call, LEG_B);
	return 0;
}

/* SDP toward leg `to`, from the SDP the other leg sent. */
static int sdp_for(struct sp_server *s, struct sp_call *call, int to, const char *sdp, size_t len,
		   struct sp_buf *out)
{
	struct sp_leg *g = &call->leg[to];
	struct sp_sdp_rewrite rw = {.relay_addr = call_relay(s, call),
				    .n = call->leg[1 - to].n_media,
				    .fingerprint = call->dtls_fpr[0] ? call->dtls_fpr : NULL};
	char mids[SP_SDP_MAX_MEDIA][12]; /* "%u" of an unsigned (the compiler cannot bound rw.n) */
	for (unsigned i = 0; i < rw.n; i++) {
		struct sp_media *m = &g->m[i];
		rw.relay_port[i] = m->relay_port;
		rw.encrypted[i] = m->encrypted;
		rw.dtls[i] = g->dtls;
		if (g->dtls) {
			/* toward a browser every m= line has a mid (JSEP): its own in an answer,
			 * else ours */
			snprintf(mids[i], sizeof(mids[i]), "%u", i);
			rw.d[i] =
			    (struct sp_sdp_dtls_out){.ice_ufrag = m->ice_ufrag,
						     .ice_pwd = m->ice_pwd,
						     .setup = m->setup[0] ? m->setup : "actpass",
						     .mid = m->mid[0] ? m->mid : mids[i]};
			rw.bundle[i] = m->bundled || m->bundle_offered;
			continue;
		}
		rw.key[i] = m->tx;
	}
	int rc = sp_sdp_rewrite(sdp, len, &rw, out);
	for (unsigned i = 0; i < rw.n; i++)
		pr_sdes_wipe(&rw.key[i]);
	return rc;
}

/* Our certificate's fingerprint (the DTLS process writes it): 0, -ENOENT (absent or
 * malformed: never invented), or -EIO (Redis). */
static int dtls_fingerprint(struct sp_server *s, char out[SP_SDP_FPR_MAX])
{
	redisReply *r = pr_redis_cmd(s->redis, "GET %s", SP_DTLS_FPR_KEY);
	int rc = -ENOENT;
	out[0] = '\0';
	if (!r || r->type == REDIS_REPLY_ERROR) {
		if (r)
			freeReplyObject(r);
		pr_ks_errmsg_set(pr_redis_errmsg(s->redis));
		return -EIO;
	}
	if (r->type == REDIS_REPLY_STRING) {
		rc = sp_sdp_fingerprint_norm(r->str, out) == 0 ? 0 : -ENOENT;
		if (rc < 0)
			PR_ERR("redis: %s is not \"sha-256 \" and 32 hex pairs: ignored",
			       SP_DTLS_FPR_KEY);
	}
	freeReplyObject(r);
	return rc;
}

/* Our first offer toward a browser offers BUNDLE (RFC 8843 7.2.1: a port of each m= line's
 * own, the group, the same ICE credentials) over the used m= lines when there are two or
 * more and their payload types are apart (the anchor tells members apart by them); the
 * browser's answer decides (take_bundle). */
static void offer_bundle(struct sp_leg *g, const struct sp_leg *from, unsigned n)
{
	unsigned used = 0, first = n;
	for (unsigned i = 0; i < n; i++)
		if (g->m[i].used && !g->m[i].relay_port) {
			used++;
			first = first < n ? first : i;
		}
	if (used < 2 || bundle_tag(g) >= 0)
		return;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; g->m[i].used && j < n; j++)
			for (unsigned p = 0; g->m[j].used && p < from->m[i].n_codecs; p++)
				for (unsigned q = 0; q < from->m[j].n_codecs; q++)
					if (from->m[i].codecs[p].pt == from->m[j].codecs[q].pt)
						return;
	for (unsigned i = 0; i < n; i++) {
		struct sp_media *m = &g->m[i];
		if (!m->used)
			continue;
		m->bundle_offered = true;
		copy(m->ice_ufrag, sizeof(m->ice_ufrag), g->m[first].ice_ufrag);
		copy(m->ice_pwd, sizeof(m->ice_pwd), g->m[first].ice_pwd);
	}
}

/* Our side of an offer toward leg `to`: encryption is our choice (on-net: SRTP always;
 * off-net: clear, the party may upgrade in a later offer of its own). */
static int prepare_offer_leg(struct sp_call *call, int to, unsigned n, const struct sp_leg *from)
{
	struct sp_leg *g = &call->leg[to];
	g->n_media = n;
	for (unsigned i = 0; i < n; i++) {
		struct sp_media *m = &g->m[i];
		m->used = from->m[i].used;
		copy(m->media, sizeof(m->media), from->m[i].media);
		if (g->dtls) { /* toward a browser: our ICE credentials; the role comes with
				  its answer (we offer actpass) */
			m->dtls = m->encrypted = m->rtcp_mux = true;
			if (ice_fresh(m) < 0)
				return -EIO;
			continue;
		}
		m->encrypted = g->onnet || g->want_srtp;
		if (m->encrypted && !m->tx.tag) {
			enum pr_srtp_profile p = from->m[i].encrypted && !from->m[i].dtls
						     ? from->m[i].rx.profile
						     : PR_SRTP_AES128_CM_SHA1_80;
			if (pr_sdes_generate(&m->tx, 1, p) < 0)
				return -EIO;
		}
	}
	if (g->dtls)
		offer_bundle(g, from, n);
	return 0;
}

/* ---- requests ---------------------------------------------------------------------- */

static bool offnet_route(struct sp_server *s, const char *user, size_t *idx)
{
	for (size_t i = 0; i < s->cfg.n_offnet; i++)
		if (!strncmp(user, s->cfg.offnet_prefix[i], strlen(s->cfg.offnet_prefix[i]))) {
			*idx = i;
			return true;
		}
	return false;
}

static void refuse(struct sp_server *s, struct sp_conn *c, osip_message_t *req, int code,
		   const char *why)
{
	char extra[200];
	snprintf(extra, sizeof(extra), "Warning: 399 poprelay \"%s\"\r\n", why);
	sp_respond(s, c, req, code, extra);
}

/* An INVITE's lookups in one MULTI/EXEC: the caller's user record (auser, unless NULL: the
 * digest's user, or the caller known by its flow) and the callee's binding and profile
 * (callee, unless NULL). Each result in its *_rc (as pr_ks_*_load's: 0, -ENOENT, ...). */
struct invite_lookup {
	bool auser, callee; /* what was asked */
	char auser_name[PR_KS_NAME_MAX], callee_name[PR_KS_NAME_MAX];
	int auth_rc, reg_rc, callee_rc;
	struct pr_ks_user auth_u, callee_u;
	struct pr_ks_reg reg;
};

static int invite_lookup_tx(struct pr_redis_tx *tx, const char *auser, const char *callee,
			    struct invite_lookup *lk)
{
	int rc = 0;
	lk->auser = auser != NULL;
	lk->callee = callee != NULL;
	copy(lk->auser_name, sizeof(lk->auser_name), auser);
	copy(lk->callee_name, sizeof(lk->callee_name), callee);
	if (rc == 0 && auser)
		rc = pr_redis_tx_add(tx, "HGETALL %s%s", PR_KS_USER_PREFIX, auser);
	if (rc == 0 && callee)
		rc = pr_redis_tx_add(tx, "HGETALL %s%s", PR_KS_REG_PREFIX, callee);
	if (rc == 0 && callee)
		rc = pr_redis_tx_add(tx, "HGETALL %s%s", PR_KS_USER_PREFIX, callee);
	return rc;
}

static size_t invite_lookup_n(const struct invite_lookup *lk)
{
	return (lk->auser ? 1 : 0) + (lk->callee ? 2 : 0);
}

/* The EXEC reply's elements from *i on (invite_lookup_n of them, checked by the caller). */
static void invite_lookup_decode(const redisReply *exec, size_t *i, struct invite_lookup *lk)
{
	if (lk->auser)
		lk->auth_rc =
		    pr_ks_user_from_reply(lk->auser_name, exec->element[(*i)++], &lk->auth_u);
	if (lk->callee) {
		lk->reg_rc = pr_ks_reg_from_reply(lk->callee_name, exec->element[(*i)++], &lk->reg);
		lk->callee_rc =
		    pr_ks_user_from_reply(lk->callee_name, exec->element[(*i)++], &lk->callee_u);
		/* the profile is what is wanted, not the digests */
		explicit_bzero(lk->callee_u.ha1_md5, sizeof(lk->callee_u.ha1_md5));
		explicit_bzero(lk->callee_u.ha1_sha256, sizeof(lk->callee_u.ha1_sha256));
	}
}

/* 0, or the transaction's failure (nothing loaded). */
static int invite_lookup(struct sp_server *s, const char *auser, const char *callee,
			 struct invite_lookup *lk)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	redisReply *exec = NULL;
	int rc = tx ? invite_lookup_tx(tx, auser, callee, lk) : -ENOMEM;
	if (rc == 0) {
		rc = pr_redis_tx_run(s->redis, tx, &exec);
		if (rc < 0)
			pr_ks_errmsg_set(pr_redis_errmsg(s->redis));
	}
	pr_redis_tx_free(tx);
	if (rc == 0 && (exec->type != REDIS_REPLY_ARRAY || exec->elements != invite_lookup_n(lk))) {
		pr_ks_errmsg_set("redis: malformed EXEC reply");
		rc = -EBADMSG;
	}
	size_t i = 0;
	if (rc == 0)
		invite_lookup_decode(exec, &i, lk);
	if (exec)
		freeReplyObject(exec);
	return rc;
}

/* An INVITE over TLS whose lookups and relay ports came asynchronously (new_invite): the
 * request is the op's, its flow named by id. */
struct invite_pre {
	uint64_t conn_id;
	osip_message_t *req;
	int rc;	   /* the transaction's: < 0, nothing came */
	bool auth; /* the INVITE's own digest: ac waits for lk.auth_u */
	struct sp_auth_ctx ac;
	double held; /* sp_guard_auth_hold */
	struct invite_lookup lk;
	unsigned nports; /* asked */
	uint16_t ports[2 * SP_SDP_MAX_MEDIA];
	int ports_rc;
	bool ports_used;
	bool anchors_asked; /* [sip] media_anchors: the live ones read in the same EXEC */
	int anchors_rc;
	size_t n_anchors;
	struct pr_anchor anchors[PR_ANCHOR_MAX];
};

static bool anchors_on(const struct sp_server *s)
{
	return s->cfg.anchors_any || s->cfg.n_anchors;
}

/* [sip] media_anchors: the live dataplane the call is anchored on (docs/scaling.md, "Past
 * one box"), from what new_invite read with the call's other lookups, or read here. 0,
 * -ENOENT (none live: not drained, lease present, capacity left), or Redis's error. */
static int choose_anchor(struct sp_server *s, struct sp_call *call, unsigned n_media,
			 struct invite_pre *pre)
{
	struct pr_anchor own[PR_ANCHOR_MAX], *a = own;
	size_t n = 0;
	int rc;
	if (pre && pre->rc == 0 && pre->anchors_asked) {
		a = pre->anchors;
		n = pre->n_anchors;
		rc = pre->anchors_rc;
	} else {
		rc = pr_anchor_read(s->redis, s->cfg.anchors_any ? NULL : s->cfg.anchors,
				    s->cfg.anchors_any ? 0 : s->cfg.n_anchors, own, PR_ANCHOR_MAX,
				    &n);
	}
	if (rc < 0)
		return rc;
	/* weight: the call's sessions (one per m= line), what its anchor will count */
	rc = pr_anchor_pick(a, n, &s->anchor_book, (unsigned)call->seq, n_media ? n_media : 1);
	if (rc < 0) {
		PR_WARN("call %s: no live media anchor (%zu live, all drained or full)", call->id,
			n);
		return -ENOENT;
	}
	copy(call->anchor, sizeof(call->anchor), a[rc].addr);
	PR_DEBUG("call %s: anchored on %s (%llu/%llu sessions)", call->id, call->anchor,
		 (unsigned long long)a[rc].sessions, (unsigned long long)a[rc].capacity);
	return 0;
}

/* The INVITE that starts a call; pre: what new_invite loaded for it (NULL: load here). */
static void new_invite_run(struct sp_server *s, struct sp_conn *c, osip_message_t *req,
			   struct invite_pre *pre)
{
	struct pr_ks_user u;
	const char *caller = NULL;
	bool onnet_a = false;
	struct invite_lookup lk_own, *lkp = pre ? &pre->lk : &lk_own;
	memset(&u, 0, sizeof(u));
	memset(&lk_own, 0, sizeof(lk_own));
	if (pre && pre->rc < 0 && !pre->auth) {
		/* the digest's check answers this case itself, below */
		sp_respond_redis_down(s, c, req, "loading the callee's binding", pre->rc);
		return;
	}
	if (c->peer_pop) {
		/* a peer PoP's slowpath (mutual TLS): it authenticated its device */
		caller = req->from->url->username;
		onnet_a = true;
		if (!caller || !pr_ks_user_name_valid(caller)) {
			sp_respond(s, c, req, 403, NULL);
			return;
		}
	} else if (sp_tp_secure(c->tp) && c->user[0]) {
		caller = c->user;
		onnet_a = true;
	} else if (sp_tp_secure(c->tp) && !c->peer_pop) {
		/* TLS but not registered on this flow: authenticate the INVITE itself, its user
		 * loaded with the callee's binding and profile (one round trip, not two) */
		int rc;
		if (pre && pre->auth) {
			sp_guard_auth_release(s, pre->ac.peer_ip, pre->held);
			rc = sp_auth_finish(s, c, req, &pre->ac,
					    pre->rc < 0 ? pre->rc : lkp->auth_rc, &lkp->auth_u);
			pre->auth = false; /* settled */
		} else {
			struct sp_auth_ctx ac;
			if (sp_auth_begin(s, c, req, true, &ac) < 0)
				return;
			const char *to = req->req_uri->username;
			size_t idx;
			bool pf = to && pr_ks_user_name_valid(to) && !offnet_route(s, to, &idx);
			rc = invite_lookup(s, ac.f.username, pf ? to : NULL, lkp);
			if (rc < 0)
				lkp->callee = false;
			rc = sp_auth_finish(s, c, req, &ac, rc < 0 ? rc : lkp->auth_rc,
					    &lkp->auth_u);
			memset(&ac, 0, sizeof(ac));
		}
		u = lkp->auth_u;
		memset(&lkp->auth_u, 0, sizeof(lkp->auth_u));
		lkp->auser = false; /* in u now */
		if (rc < 0)
			return;
		caller = u.name;
		onnet_a = true;
	}
	const char *from_user = req->from->url->username;
	if (!onnet_a && from_user && req->from->url->host &&
	    !strcasecmp(req->from->url->host, s->cfg.realm) && pr_ks_user_name_valid(from_user) &&
	    pr_ks_user_load(s->redis, from_user, &u) == 0) {
		/* an on-net identity over a plain transport: it must use TLS (no SRTP downgrade) */
		memset(&u, 0, sizeof(u));
		s->ctr.calls_plain_refused++;
		PR_WARN(
		    "call: refused INVITE from on-net user %s over %s from %s:%u (TLS required)",
		    from_user, sp_transport_name(c->tp), c->peer_ip, c->peer_port);
		refuse(s, c, req, 403, "on-net users must call over TLS");
		return;
	}
	if (onnet_a && (!from_user || strcmp(from_user, caller))) {
		PR_WARN("call: %s from %s:%u claims to be %s", caller, c->peer_ip, c->peer_port,
			from_user ? from_user : "?");
		refuse(s, c, req, 403, "From does not match the authenticated user");
		return;
	}
	const char *callee = req->req_uri->username;
	if (!callee) {
		sp_respond(s, c, req, 404, NULL);
		return;
	}
	size_t body_len = 0;
	const char *body = sp_msg_body(req, &body_len);
	if (!body) {
		refuse(s, c, req, 488, "an SDP offer is required");
		return;
	}
	/* where does the callee live? (and its profile, in the same round trip) */
	int callee_rc = 1; /* 1: not loaded */
	struct pr_ks_reg reg;
	size_t offnet_idx = 0;
	bool offnet_b = onnet_a && offnet_route(s, callee, &offnet_idx);
	struct sp_conn *flow = NULL;
	memset(&reg, 0, sizeof(reg));
	if (!offnet_b) {
		if (!pr_ks_user_name_valid(callee)) {
			sp_respond(s, c, req, 404, NULL);
			return;
		}
		int rc = lkp->callee && !strcmp(lkp->callee_name, callee)
			     ? 0
			     : invite_lookup(s, NULL, callee, lkp);
		if (rc == 0) {
			rc = lkp->reg_rc;
			reg = lkp->reg;
			callee_rc = lkp->callee_rc;
		}
		if (rc == -ENOENT || (rc == 0 && reg.expires < sp_now())) {
			sp_respond(s, c, req, onnet_a ? 480 : 404, NULL);
			return;
		}
		if (rc < 0) {
			sp_respond_redis_down(s, c, req, "loading the callee's binding", rc);
			return;
		}
		flow = sp_registrar_flow(s, &reg);
		if (!flow && strcmp(reg.pop, s->cfg.pop) && !c->peer_pop) {
			for (size_t i = 0; i < s->cfg.n_peers; i++)
				if (!strcmp(s->cfg.peers[i].name, reg.pop))
					flow = sp_conn_to_peer(s, &s->cfg.peers[i]);
		}
		if (!flow) {
			refuse(s, c, req, 480, "callee's flow is gone");
			return;
		}
	}
	struct sp_sdp_info info;
	if (sp_sdp_inspect(body, body_len, &info) < 0) {
		refuse(s, c, req, 488, "unusable SDP offer");
		return;
	}
	struct sp_call *call = calloc(1, sizeof(*call));
	if (!call) {
		sp_sdp_info_wipe(&info);
		sp_respond(s, c, req, 500, NULL);
		return;
	}
	call->seq = ++s->call_seq;
	sp_token(call->id, 32);
	call->start = sp_now();
	call->deadline = call->start + s->cfg.invite_timeout_s;
	copy(call->direction, sizeof(call->direction),
	     !onnet_a	? "offnet-in"
	     : offnet_b ? "offnet-out"
			: "onnet");
	call->next = s->calls;
	s->calls = call;
	s->ctr.calls_started++;

	struct sp_leg *a = &call->leg[LEG_A], *b = &call->leg[LEG_B];
	sp_dest_from_conn(c, &a->dest);
	a->onnet = onnet_a;
	copy(a->pop, sizeof(a->pop), c->peer_pop ? c->peer_pop_name : s->cfg.pop);
	copy(a->user, sizeof(a->user), onnet_a ? caller : "");
	uri_of(req->from, a->party, sizeof(a->party));
	if (onnet_a)
		copy(a->party, sizeof(a->party), caller);
	copy(a->ua, sizeof(a->ua), sp_msg_header(req, "user-agent"));
	copy(a->outside_addr, sizeof(a->outside_addr), c->peer_ip);
	callid_str(req->call_id, a->call_id, sizeof(a->call_id));
	sp_token(a->local_tag, 16);
	copy(a->remote_tag, sizeof(a->remote_tag), sp_msg_from_tag(req));
	a->remote_cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	uri_of(req->to, a->local_uri, sizeof(a->local_uri));
	uri_of(req->from, a->remote_uri, sizeof(a->remote_uri));
	contact_of(req, a->remote_target, sizeof(a->remote_target), a->inside_addr,
		   sizeof(a->inside_addr));
	route_set(req, false, a->routes, sizeof(a->routes));
	copy(call->a_invite_branch, sizeof(call->a_invite_branch), sp_msg_branch(req));

	if (offnet_b) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->dest.addr;
		b->dest.tp = SP_UDP;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(s->cfg.offnet_port[offnet_idx]);
		inet_pton(AF_INET, s->cfg.offnet_host[offnet_idx], &sin->sin_addr);
		b->dest.addr_len = sizeof(*sin);
		snprintf(b->remote_target, sizeof(b->remote_target), "sip:%s@%s:%u", callee,
			 s->cfg.offnet_host[offnet_idx], s->cfg.offnet_port[offnet_idx]);
		snprintf(b->party, sizeof(b->party), "%s", b->remote_target);
		copy(b->outside_addr, sizeof(b->outside_addr), s->cfg.offnet_host[offnet_idx]);
		copy(b->pop, sizeof(b->pop), "offnet");
		b->onnet = false;
	} else {
		sp_dest_from_conn(flow, &b->dest);
		b->onnet = true;
		copy(b->user, sizeof(b->user), callee);
		copy(b->party, sizeof(b->party), callee);
		if (flow->peer_pop) /* the other PoP routes on the AOR to its own flow */
			snprintf(b->remote_target, sizeof(b->remote_target), "sip:%s@%s", callee,
				 s->cfg.realm);
		else
			copy(b->remote_target, sizeof(b->remote_target), reg.contact);
		copy(b->pop, sizeof(b->pop), flow->peer_pop ? flow->peer_pop_name : s->cfg.pop);
		copy(b->ua, sizeof(b->ua), reg.user_agent);
		copy(b->instance, sizeof(b->instance), reg.instance);
		b->reg_id = reg.reg_id;
		copy(b->inside_addr, sizeof(b->inside_addr), reg.contact_addr);
		copy(b->outside_addr, sizeof(b->outside_addr), reg.src_addr);
	}
	sp_token(b->call_id, 32);
	sp_token(b->local_tag, 16);
	copy(b->local_uri, sizeof(b->local_uri), a->remote_uri);
	copy(b->remote_uri, sizeof(b->remote_uri), a->local_uri);
	call_index(call);

	/* profiles of the on-net parties: bandwidth limits, encryption_required */
	bool enc_required = false;
	int prc = 0;
	for (int l = 0; l < 2; l++) {
		struct pr_ks_user pu;
		int lrc = -ENOENT;
		/* loaded already: by the INVITE's digest check, or with the callee's binding */
		if (!call->leg[l].onnet)
			;
		else if (u.name[0] && !strcmp(u.name, call->leg[l].user))
			lrc = 0, pu = u;
		else if (callee_rc <= 0 && !strcmp(callee, call->leg[l].user))
			lrc = callee_rc, pu = lkp->callee_u;
		else if (lkp->auser && !strcmp(lkp->auser_name, call->leg[l].user))
			lrc = lkp->auth_rc, pu = lkp->auth_u;
		else
			lrc = pr_ks_user_load(s->redis, call->leg[l].user, &pu);
		if (lrc < 0 && lrc != -ENOENT)
			prc = lrc; /* a policy unread is not a policy absent */
		if (lrc < 0)
			continue;
		call->leg[l].max_kbps = pu.max_tx_kbps;
		enc_required |= pu.encryption_required;
		bool disabled = pu.disabled;
		memset(&pu, 0, sizeof(pu));
		if (disabled) {
			PR_WARN("call %s: %s %s is disabled", call->id, leg_name(l),
				call->leg[l].user);
			refuse(s, c, req, 403, "account disabled");
			call_finish(s, call, "disabled", 403);
			sp_sdp_info_wipe(&info);
			return;
		}
	}
	b->want_srtp = enc_required && !b->onnet;
	/* a browser: over WSS, or (an on-net one behind a peer PoP, or a WebRTC gateway) its
	 * offer says UDP/TLS; a WSS-registered callee is one too (issue 19) */
	a->dtls = c->tp == SP_WSS;
	for (unsigned i = 0; i < info.n; i++)
		a->dtls |= info.m[i].dtls;
	b->dtls = !offnet_b && b->dest.tp == SP_WSS;
	const char *why = NULL;
	struct sp_buf offer = {0};
	if (prc < 0) {
		sp_respond_redis_down(s, c, req, "loading the parties' profiles", prc);
		call_finish(s, call, "error", 503);
		goto out;
	}
	if (a->dtls || b->dtls) {
		int frc = dtls_fingerprint(s, call->dtls_fpr);
		if (frc == -EIO) {
			sp_respond_redis_down(s, c, req, "loading the DTLS fingerprint", frc);
			call_finish(s, call, "error", 503);
			goto out;
		}
		if (frc < 0) {
			/* the DTLS process is not (yet) up: a transient state of ours, not the
			 * offer's fault, so 503 and a retry rather than 488 */
			char extra[200];
			s->ctr.calls_refused_no_dtls++;
			PR_WARN("call %s: refused 503: a %s leg needs DTLS and %s is absent",
				call->id, a->dtls ? "caller" : "callee", SP_DTLS_FPR_KEY);
			snprintf(extra, sizeof(extra),
				 "Retry-After: %d\r\nWarning: 399 poprelay \"no DTLS certificate "
				 "yet\"\r\n",
				 SP_DTLS_RETRY_AFTER_S);
			sp_respond(s, c, req, 503, extra);
			call_finish(s, call, "no-dtls-cert", 503);
			goto out;
		}
	}
	int rc = take_media(s, call, LEG_A, &info, &why);
	if (rc == 0 && enc_required && !a->onnet)
		for (unsigned i = 0; i < a->n_media; i++)
			if (a->m[i].used && !a->m[i].encrypted) {
				why = "the callee requires SRTP and the offer is clear RTP";
				rc = -EPROTONOSUPPORT;
			}
	if (rc == -EPROTONOSUPPORT) {
		s->ctr.calls_refused_488++;
		PR_WARN("call %s: refused 488 from %s (%s:%u/%s): %s", call->id, a->party,
			c->peer_ip, c->peer_port, sp_transport_name(c->tp), why);
		refuse(s, c, req, 488, why);
		call_finish(s, call, "policy-488", 488);
		goto out;
	}
	if (rc == 0)
		rc = prepare_offer_leg(call, LEG_B, info.n, a);
	if (rc == 0 && anchors_on(s)) {
		rc = choose_anchor(s, call, info.n, pre);
		if (rc == -ENOENT) {
			refuse(s, c, req, 503, "no live media anchor");
			call_finish(s, call, "no-anchor", 503);
			goto out;
		}
		if (rc < 0) {
			sp_respond_redis_down(s, c, req, "reading the media anchors", rc);
			call_finish(s, call, "error", 503);
			goto out;
		}
	}
	if (rc == 0) {
		rc = alloc_ports(s, call, info.n, pre);
		if (rc < 0 && rc != -ENOSPC) {
			sp_respond_redis_down(s, c, req, "allocating relay ports", rc);
			call_finish(s, call, "error", 503);
			goto out;
		}
	}
	if (rc == -ENOSPC) {
		PR_ERR("call %s: media port pool exhausted", call->id);
		refuse(s, c, req, 503, "no relay ports left");
		call_finish(s, call, "no-ports", 503);
		goto out;
	}
	if (rc == 0)
		rc = sdp_for(s, call, LEG_B, body, body_len, &offer);
	if (rc < 0) {
		PR_ERR("call %s: cannot prepare the offer (%d)", call->id, rc);
		sp_respond(s, c, req, 500, NULL);
		call_finish(s, call, "error", 500);
		goto out;
	}
	sp_respond(s, c, req, 100, NULL);
	b->local_cseq = 1;
	b->invite_cseq = 1;
	struct sp_txn *t = txn_new(call, LEG_B, "INVITE", 1, req);
	if (!t || send_request(s, call, LEG_B, "INVITE", b->remote_target, 1, t->branch, NULL,
			       "application/sdp", offer.p, offer.len) < 0) {
		refuse(s, c, req, 480, "callee unreachable");
		call_finish(s, call, "flow-lost", 480);
		goto out;
	}
	PR_INFO("call %s: %s %s -> %s (%s)", call->id, call->direction, a->party, b->party,
		a->m[0].encrypted ? pr_srtp_profile_name(a->m[0].rx.profile) : "clear");
	store_setup(s, call);
out:
	if (offer.p)
		memset(offer.p, 0, offer.len);
	sp_buf_free(&offer);
	sp_sdp_info_wipe(&info);
}

/* The ports new_invite took for the call, when they are what it needs. */
static bool pre_ports(struct invite_pre *pre, unsigned want, uint16_t *ports, int *rc)
{
	if (!pre || pre->rc < 0 || pre->ports_used || pre->nports != want)
		return false;
	pre->ports_used = pre->ports_rc == 0;
	memcpy(ports, pre->ports, want * sizeof(*ports));
	*rc = pre->ports_rc;
	return true;
}

static void ports_back_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	(void)rep, (void)arg;
	if (rc < 0) {
		s->ctr.redis_errors++;
		PR_ERR("call: cannot return relay ports to the pool: %s", pr_ks_errmsg());
	}
}

static void invite_loaded(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	struct invite_pre *p = arg;
	size_t n = invite_lookup_n(&p->lk) + (p->nports ? 1 : 0) + p->anchors_asked, i = 0;
	if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements != n)) {
		pr_ks_errmsg_set("redis: malformed EXEC reply");
		rc = -EBADMSG;
	}
	p->rc = rc;
	if (rc == 0) {
		invite_lookup_decode(rep, &i, &p->lk);
		if (!p->auth) { /* the caller's profile is wanted, not its digests */
			explicit_bzero(p->lk.auth_u.ha1_md5, sizeof(p->lk.auth_u.ha1_md5));
			explicit_bzero(p->lk.auth_u.ha1_sha256, sizeof(p->lk.auth_u.ha1_sha256));
		}
		if (p->nports)
			p->ports_rc =
			    pr_ks_ports_from_reply(rep->element[i++], p->nports, p->ports);
		if (p->anchors_asked)
			p->anchors_rc = pr_anchor_from_reply(rep->element[i++], p->anchors,
							     PR_ANCHOR_MAX, &p->n_anchors);
	}
	struct sp_conn *c = sp_conn_find(s, p->conn_id);
	if (c)
		new_invite_run(s, c, p->req, p);
	else if (p->auth) { /* the flow closed meanwhile: its failure still counts */
		sp_guard_auth_release(s, p->ac.peer_ip, p->held);
		sp_auth_finish(s, NULL, p->req, &p->ac, rc < 0 ? rc : p->lk.auth_rc, &p->lk.auth_u);
	}
	/* ports that came but went to no call go back */
	struct pr_redis_tx *tx = NULL;
	for (unsigned k = 0; rc == 0 && !p->ports_used && k < p->nports; k++)
		if (p->ports[k] && (tx || (tx = pr_redis_tx_new())))
			pr_redis_tx_add(tx, "SADD %s %u", PR_KS_PORTS_FREE_KEY, p->ports[k]);
	if (tx && sp_aredis_tx(s, tx, SP_AREDIS_REPLAY, ports_back_done, NULL) < 0)
		ports_back_done(s, NULL, -EIO, NULL);
	pr_redis_tx_free(tx);
	osip_message_free(p->req);
	explicit_bzero(p, sizeof(*p)); /* digest fields, profiles */
	free(p);
}

/* An INVITE that starts a call. Over TLS its Redis work (the caller's record, for its
 * digest or its profile; the callee's binding and profile; the relay ports) goes in one
 * MULTI/EXEC on the async connection, and new_invite_run continues when it comes: true,
 * req is kept until then. Else (plain transports, rare) it runs at once, synchronously. */
static bool new_invite(struct sp_server *s, struct sp_conn *c, osip_message_t *req)
{
	const char *auser = NULL, *to = req->req_uri->username;
	if (!sp_tp_secure(c->tp) || !s->ar) {
		new_invite_run(s, c, req, NULL);
		return false;
	}
	struct invite_pre *p = calloc(1, sizeof(*p));
	if (!p) {
		sp_respond(s, c, req, 500, NULL);
		return false;
	}
	p->conn_id = c->id;
	if (c->peer_pop)
		auser = req->from->url->username;
	else if (c->user[0])
		auser = c->user;
	else if (sp_auth_begin(s, c, req, true, &p->ac) < 0) {
		free(p);
		return false;
	} else {
		p->auth = true;
		auser = p->ac.f.username;
		p->held = sp_guard_auth_hold(s, c->peer_ip); /* as a REGISTER's (sp_guard.c) */
	}
	if (auser && !pr_ks_user_name_valid(auser))
		auser = NULL; /* new_invite_run refuses it */
	size_t idx;
	if (to && (!pr_ks_user_name_valid(to) || offnet_route(s, to, &idx)))
		to = NULL;
	size_t body_len = 0;
	const char *body = sp_msg_body(req, &body_len);
	struct sp_sdp_info info;
	if (body && sp_sdp_inspect(body, body_len, &info) == 0) {
		p->nports = 2 * info.n; /* both legs' relay ports */
		sp_sdp_info_wipe(&info);
	}
	struct pr_redis_tx *tx = pr_redis_tx_new();
	int rc = tx ? invite_lookup_tx(tx, auser, to, &p->lk) : -ENOMEM;
	if (rc == 0 && p->nports)
		rc = pr_redis_tx_add(tx, "SPOP %s %u", PR_KS_PORTS_FREE_KEY, p->nports);
	if (rc == 0 && anchors_on(s)) {
		/* the live anchors with the rest: no round trip more per call */
		rc = pr_anchor_read_tx(tx, s->cfg.anchors_any ? NULL : s->cfg.anchors,
				       s->cfg.anchors_any ? 0 : s->cfg.n_anchors);
		p->anchors_asked = rc == 0;
	}
	p->req = req;
	if (rc == 0)
		/* not sent twice: its SPOP, applied before a loss, would take other ports
		 * and leave the first ones out of the pool */
		rc = sp_aredis_tx(s, tx, SP_AREDIS_ONCE, invite_loaded, p);
	pr_redis_tx_free(tx);
	if (rc < 0)
		invite_loaded(s, NULL, rc, p); /* answers 503 (or 500) at once */
	return true;
}

static void cancel_b(struct sp_server *s, struct sp_call *call)
{
	for (int i = 0; i < SP_CALL_TXNS; i++) {
		struct sp_txn *t = &call->txn[i];
		if (t->used && t->to_leg == LEG_B && !strcmp(t->method, "INVITE"))
			send_request(s, call, LEG_B, "CANCEL", call->leg[LEG_B].remote_target,
				     t->cseq, t->branch, NULL, NULL, NULL, 0);
	}
}

static void bye_leg(struct sp_server *s, struct sp_call *call, int l);

/* The caller is gone (CANCEL, timeout, flow loss) before an answer: CANCEL the callee and
 * keep the call until its final response (ACKed) or 64*T1, then finish with reason. */
static void abandon_b(struct sp_server *s, struct sp_call *call, const char *reason,
		      uint16_t status)
{
	if (call->answering) {
		/* the callee answered (ACKed) while its sessions wait for replicas: a CANCEL
		 * would not end its dialog, a BYE does */
		bye_leg(s, call, LEG_B);
		call_finish(s, call, reason, status);
		return;
	}
	cancel_b(s, call);
	call->cancelled = true;
	copy(call->pending_reason, sizeof(call->pending_reason), reason);
	call->pending_status = status;
	call->deadline = sp_now() + 32;
	(void)s;
}

static struct sp_txn *a_invite_txn(struct sp_call *call)
{
	for (int i = 0; i < SP_CALL_TXNS; i++) {
		struct sp_txn *t = &call->txn[i];
		if (t->used && t->to_leg == LEG_B && !strcmp(t->method, "INVITE") && t->orig)
			return t;
	}
	return NULL;
}

static void bye_leg(struct sp_server *s, struct sp_call *call, int l)
{
	struct sp_leg *g = &call->leg[l];
	uint32_t cseq = ++g->local_cseq;
	struct sp_txn *t = txn_new(call, l, "BYE", cseq, NULL);
	char branch[48];
	if (t)
		copy(branch, sizeof(branch), t->branch);
	else
		sp_token(branch, 24);
	send_request(s, call, l, "BYE", g->remote_target, cseq, branch, NULL, NULL, NULL, 0);
}

/* A request inside an established (or early) dialog, from leg l. */
static void in_dialog(struct sp_server *s, struct sp_conn *c, struct sp_call *call, int l,
		      osip_message_t *req)
{
	const char *method = req->sip_method;
	int o = 1 - l;
	if (req->cseq && req->cseq->number && strcmp(method, "ACK"))
		call->leg[l].remote_cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	if (!strcmp(method, "ACK")) {
		/* ends our 2xx retransmissions; we ACKed the other leg when it answered */
		sp_buf_free(&call->leg[l].ok_retx);
		return;
	}
	if (!strcmp(method, "BYE")) {
		sp_respond(s, c, req, 200, NULL);
		if (call->state < CS_UP && l == LEG_B) {
			struct sp_txn *t = a_invite_txn(call);
			if (t)
				answer_leg(s, call, LEG_A, t->orig, 487, NULL, NULL, 0);
		} else {
			bye_leg(s, call, o);
		}
		call_finish(s, call, l == LEG_A ? "bye-caller" : "bye-callee", 0);
		return;
	}
	if (call->answering && (!strcmp(method, "INVITE") || !strcmp(method, "UPDATE"))) {
		/* the caller's dialog is not confirmed yet (its 200 waits for replicas) */
		sp_respond(s, c, req, 491, NULL);
		return;
	}
	size_t body_len = 0;
	const char *body = sp_msg_body(req, &body_len);
	struct sp_buf fwd = {0};
	uint32_t cseq = ++call->leg[o].local_cseq;
	if (!strcmp(method, "INVITE") || (!strcmp(method, "UPDATE") && body)) {
		/* re-INVITE / UPDATE with a new offer: hold, resume, new media */
		if (body) {
			struct sp_sdp_info info;
			const char *why = NULL;
			int rc = sp_sdp_inspect(body, body_len, &info);
			if (rc == 0 && info.n != call->leg[l].n_media)
				rc = -E2BIG; /* adding m= lines mid-call is not supported */
			if (rc == 0)
				rc = take_media(s, call, l, &info, &why);
			sp_sdp_info_wipe(&info);
			if (rc < 0) {
				if (rc == -EPROTONOSUPPORT)
					s->ctr.calls_refused_488++;
				refuse(s, c, req, 488, why ? why : "unusable SDP offer");
				return;
			}
			if (sdp_for(s, call, o, body, body_len, &fwd) < 0) {
				sp_respond(s, c, req, 500, NULL);
				return;
			}
		}
		if (!strcmp(method, "INVITE"))
			call->leg[o].invite_cseq = cseq;
	}
	struct sp_txn *t = txn_new(call, o, method, cseq, req);
	if (!t) {
		sp_respond(s, c, req, 491, NULL);
		sp_buf_free(&fwd);
		return;
	}
	char ct[128] = "application/sdp";
	if (req->content_type && req->content_type->type && req->content_type->subtype)
		snprintf(ct, sizeof(ct), "%s/%s", req->content_type->type,
			 req->content_type->subtype);
	send_request(s, call, o, method, call->leg[o].remote_target, cseq, t->branch, NULL, ct,
		     fwd.p ? fwd.p : body, fwd.p ? fwd.len : body_len);
	if (fwd.p)
		memset(fwd.p, 0, fwd.len);
	sp_buf_free(&fwd);
}

bool sp_call_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req)
{
	const char *to_tag = sp_msg_to_tag(req);
	const char *method = req->sip_method;
	char cid[PR_KS_TEXT_MAX];
	int l;
	if (to_tag) {
		struct sp_call *call =
		    call_by_dialog(s, callid_str(req->call_id, cid, sizeof(cid)), to_tag, &l);
		if (!call) {
			if (strcmp(method, "ACK"))
				sp_respond(s, c, req, 481, NULL);
			return false;
		}
		/* a restored dialog's device speaks on a new flow: it is the leg's flow now
		 * when it registered on it as the leg's user (or it is the peer PoP's link) */
		struct sp_leg *g = &call->leg[l];
		if (g->restored && c->tp != SP_UDP && c->id != g->dest.conn_id &&
		    (c->peer_pop ? !strcmp(c->peer_pop_name, g->pop) : !strcmp(c->user, g->user)))
			sp_dest_from_conn(c, &g->dest);
		in_dialog(s, c, call, l, req);
		return false;
	}
	if (!strcmp(method, "INVITE")) {
		struct sp_call *call = call_by_a_invite(
		    s, callid_str(req->call_id, cid, sizeof(cid)), sp_msg_from_tag(req));
		if (call) { /* retransmission */
			if (call->last_a_final.p)
				sp_send(s, &call->leg[LEG_A].dest, call->last_a_final.p,
					call->last_a_final.len);
			return false;
		}
		if (sp_drain_refuse(s, c, req))
			return false;
		return new_invite(s, c, req);
	}
	if (!strcmp(method, "CANCEL")) {
		struct sp_call *call = call_by_a_invite(
		    s, callid_str(req->call_id, cid, sizeof(cid)), sp_msg_from_tag(req));
		const char *br = sp_msg_branch(req);
		if (!call || !br || strcmp(br, call->a_invite_branch)) {
			sp_respond(s, c, req, 481, NULL);
			return false;
		}
		sp_respond(s, c, req, 200, NULL);
		if (call->state >= CS_UP || call->cancelled)
			return false; /* too late (the caller will BYE) or already cancelling */
		struct sp_txn *t = a_invite_txn(call);
		if (t)
			answer_leg(s, call, LEG_A, t->orig, 487, NULL, NULL, 0);
		abandon_b(s, call, "cancel", 487);
		return false;
	}
	if (!strcmp(method, "ACK"))
		return false;
	sp_respond(s, c, req, 405,
		   "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, INFO\r\n");
	return false;
}

/* ---- responses --------------------------------------------------------------------- */

static void ack_leg(struct sp_server *s, struct sp_call *call, int l, struct sp_txn *t, bool ok)
{
	char branch[48], rnd[25];
	if (ok) {
		sp_token(rnd, 24);
		snprintf(branch, sizeof(branch), "z9hG4bK%s", rnd);
	} else
		copy(branch, sizeof(branch), t->branch); /* non-2xx ACK: same transaction */
	send_request(s, call, l, "ACK", call->leg[l].remote_target, t->cseq, branch, NULL, NULL,
		     NULL, 0);
	t->acked = true;
	if (ok) {
		call->leg[l].ack_cseq = t->cseq;
		copy(call->leg[l].ack_branch, sizeof(call->leg[l].ack_branch), branch);
	}
}

/* No transcoding: an answer must share a codec with the offer (leg o's) on one m= line at
 * least (a restored call's offer is not known: taken as shared). */
static bool codec_common(const struct sp_call *call, int o, const struct sp_sdp_info *ans)
{
	static struct sp_sdp_media off; /* 2 KiB: not on the stack */
	for (unsigned i = 0; i < ans->n && i < call->leg[o].n_media; i++) {
		const struct sp_media *om = &call->leg[o].m[i];
		if (!ans->m[i].port)
			continue;
		off.n_codecs = om->n_codecs;
		memcpy(off.codecs, om->codecs, sizeof(off.codecs));
		if (!om->n_codecs || sp_sdp_codec_common(&off, &ans->m[i]))
			return true;
	}
	return false;
}

static void answer_failed(struct sp_server *s, struct sp_call *call);

static void invite_answered(struct sp_server *s, struct sp_call *call, struct sp_txn *t,
			    osip_message_t *resp)
{
	int l = t->to_leg, o = 1 - l;
	struct sp_leg *g = &call->leg[l];
	size_t body_len = 0;
	const char *body = sp_msg_body(resp, &body_len);
	struct sp_buf ans = {0};
	const char *why = NULL;
	if (body) {
		struct sp_sdp_info info;
		int rc = sp_sdp_inspect(body, body_len, &info);
		if (rc == 0 && info.n != call->leg[o].n_media)
			rc = -EINVAL;
		if (rc == 0)
			rc = take_media(s, call, l, &info, &why);
		if (rc == 0 && !codec_common(call, o, &info)) {
			why = "no common codec";
			rc = -EPROTONOSUPPORT;
		}
		sp_sdp_info_wipe(&info);
		if (rc == 0)
			rc = sdp_for(s, call, o, body, body_len, &ans);
		if (rc < 0) {
			/* the answer breaks policy: take the call down on both sides */
			if (rc == -EPROTONOSUPPORT)
				s->ctr.calls_refused_488++;
			PR_WARN("call %s: unusable answer from the %s: %s", call->id, leg_name(l),
				why ? why : "bad SDP");
			ack_leg(s, call, l, t, true);
			bye_leg(s, call, l);
			if (t->orig)
				answer_leg(s, call, o, t->orig, 488, NULL, NULL, 0);
			if (call->state >= CS_UP) /* mid-call: the other side goes too */
				bye_leg(s, call, o);
			call_finish(s, call, "policy-488", call->state < CS_UP ? 488 : 0);
			return;
		}
	}
	ack_leg(s, call, l, t, true);
	if (call->state < CS_UP && t->orig && s->cfg.redis_wait_replicas) {
		/* [redis] wait_replicas: the caller is told the call is up once its sessions
		 * are on the replicas (a failover must not lose a call it answered). The
		 * answer waits, with A's INVITE transaction (t). */
		call->answering = true;
		call->answer = sp_now();
		call->status = (uint16_t)resp->status_code;
		call->answer_code = (uint16_t)resp->status_code;
		copy(call->answer_reason, sizeof(call->answer_reason), resp->reason_phrase);
		sp_buf_free(&call->answer_sdp);
		call->answer_sdp = ans; /* moved: wiped when the call is freed */
		if (store_sessions(s, call, true) < 0)
			answer_failed(s, call);
		return;
	}
	if (t->orig)
		answer_leg(s, call, o, t->orig, resp->status_code, resp->reason_phrase, ans.p,
			   ans.len);
	if (ans.p)
		memset(ans.p, 0, ans.len);
	sp_buf_free(&ans);
	(void)g;
	if (call->state < CS_UP) {
		call->state = CS_UP;
		call->answer = sp_now();
		call->status = (uint16_t)resp->status_code;
		s->ctr.calls_answered++;
		PR_INFO("call %s answered (%s -> %s)", call->id, call->leg[LEG_A].party,
			call->leg[LEG_B].party);
	}
	store_sessions(s, call, false);
	txn_done(t);
}

/* The sessions of an answered call did not reach the replicas (WAIT fell short, or Redis
 * failed): they are on the primary only, and a failover would lose a call the caller was
 * told is up. The call fails cleanly instead: 503 with Retry-After to the caller (it may
 * try again, here or at its next PoP), BYE to the callee, the sessions ended and the CDR
 * written unanswered with end_reason redis-wait. */
static void answer_failed(struct sp_server *s, struct sp_call *call)
{
	s->ctr.redis_errors++;
	s->ctr.redis_unavailable++;
	PR_ERR("call %s: its media sessions did not reach the replicas (%s): answering the "
	       "caller 503 (Retry-After %d), BYE to the callee",
	       call->id, pr_ks_errmsg(), SP_REDIS_RETRY_AFTER_S);
	char hdr[32];
	snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", SP_REDIS_RETRY_AFTER_S);
	struct sp_txn *t = a_invite_txn(call);
	if (t)
		answer_leg_hdr(s, call, LEG_A, t->orig, 503, NULL, hdr, NULL, 0);
	bye_leg(s, call, LEG_B);
	call_finish(s, call, "redis-wait", 503);
}

/* The WAIT after an answered call's sessions (store_sessions durable): the caller gets its
 * answer now, or the call fails (answer_failed). A call ended meanwhile (CANCEL, a BYE, a
 * flow lost) is gone: its end was written after the sessions. */
static void answer_durable_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	uint64_t seq = *(uint64_t *)arg;
	free(arg);
	(void)rep;
	struct sp_call *call = call_by_seq(s, seq);
	if (!call || !call->answering)
		return;
	if (rc < 0) {
		answer_failed(s, call);
		return;
	}
	struct sp_txn *t = a_invite_txn(call);
	if (t)
		answer_leg(s, call, LEG_A, t->orig, call->answer_code, call->answer_reason,
			   call->answer_sdp.p, call->answer_sdp.len);
	call->answering = false;
	if (call->answer_sdp.p)
		memset(call->answer_sdp.p, 0, call->answer_sdp.len);
	sp_buf_free(&call->answer_sdp);
	call->state = CS_UP;
	s->ctr.calls_answered++;
	PR_INFO("call %s answered (%s -> %s)", call->id, call->leg[LEG_A].party,
		call->leg[LEG_B].party);
	if (t)
		txn_done(t);
}

void sp_call_response(struct sp_server *s, struct sp_conn *c, osip_message_t *resp)
{
	(void)c;
	const char *br = sp_msg_branch(resp);
	unsigned long long seq;
	int idx;
	if (!br || sscanf(br, "z9hG4bKsp%llux%dx", &seq, &idx) != 2 || idx < 0 ||
	    idx >= SP_CALL_TXNS)
		return;
	struct sp_call *call = call_by_seq(s, seq);
	if (!call)
		return;
	char cid[PR_KS_TEXT_MAX];
	struct sp_txn *t = &call->txn[idx];
	if (!t->used || strcmp(t->branch, br) || strcmp(resp->cseq->method, t->method)) {
		/* a retransmitted 2xx to an INVITE we already ACKed: ACK again */
		for (int l = 0; l < 2; l++)
			if (resp->status_code >= 200 && resp->status_code < 300 &&
			    !strcmp(resp->cseq->method, "INVITE") && call->leg[l].ack_cseq &&
			    !strcmp(call->leg[l].call_id,
				    callid_str(resp->call_id, cid, sizeof(cid))) &&
			    strtoul(resp->cseq->number, NULL, 10) == call->leg[l].ack_cseq)
				send_request(s, call, l, "ACK", call->leg[l].remote_target,
					     call->leg[l].ack_cseq, call->leg[l].ack_branch, NULL,
					     NULL, NULL, 0);
		return;
	}
	int l = t->to_leg, o = 1 - l;
	struct sp_leg *g = &call->leg[l];
	int code = resp->status_code;
	if (t->retx) { /* any response ends retransmissions (INVITE: Timer A stops on 1xx) */
		free(t->retx);
		t->retx = NULL;
	}
	if (!strcmp(t->method, "INVITE")) {
		if (code == 100)
			return;
		if (call->answering) { /* its 2xx again (UDP): our ACK again, nothing else */
			if (code >= 200 && code < 300 && g->ack_cseq)
				send_request(s, call, l, "ACK", g->remote_target, g->ack_cseq,
					     g->ack_branch, NULL, NULL, NULL, 0);
			return;
		}
		const char *tt = sp_msg_to_tag(resp);
		if (tt && !g->remote_tag[0]) {
			copy(g->remote_tag, sizeof(g->remote_tag), tt);
			contact_of(resp, g->remote_target, sizeof(g->remote_target), NULL, 0);
			route_set(resp, true, g->routes, sizeof(g->routes));
		}
		if (call->cancelled && call->state < CS_UP) {
			if (code < 200)
				return;
			if (code < 300) { /* answered despite our CANCEL: take it down */
				ack_leg(s, call, l, t, true);
				bye_leg(s, call, l);
			} else {
				ack_leg(s, call, l, t, false);
			}
			call_finish(s, call, call->pending_reason, call->pending_status);
			return;
		}
		if (code < 200) {
			if (call->state == CS_CALLING)
				call->state = CS_EARLY;
			if (t->orig) /* provisional relayed without SDP (no early media) */
				answer_leg(s, call, o, t->orig, code, resp->reason_phrase, NULL, 0);
			return;
		}
		if (code < 300) {
			if (g->remote_tag[0] && tt && strcmp(tt, g->remote_tag))
				return; /* forked 2xx from a second branch: ignored */
			char target[PR_KS_URI_MAX];
			contact_of(resp, target, sizeof(target), NULL, 0);
			if (target[0])
				copy(g->remote_target, sizeof(g->remote_target), target);
			invite_answered(s, call, t, resp);
			return;
		}
		ack_leg(s, call, l, t, false);
		if (t->orig)
			answer_leg(s, call, o, t->orig, code, resp->reason_phrase, NULL, 0);
		if (call->state < CS_UP) {
			call_finish(s, call, code == 487 ? "cancel" : "rejected", (uint16_t)code);
			return;
		}
		txn_done(t);
		return;
	}
	if (code < 200)
		return;
	if (t->orig) {
		size_t bl = 0;
		const char *body = sp_msg_body(resp, &bl);
		/* only SDP-free bodies pass untouched; a 2xx to UPDATE with SDP is an answer */
		struct sp_buf ans = {0};
		if (body && !strcmp(t->method, "UPDATE") && code < 300) {
			struct sp_sdp_info info;
			const char *why;
			if (sp_sdp_inspect(body, bl, &info) == 0 &&
			    take_media(s, call, l, &info, &why) == 0)
				sdp_for(s, call, o, body, bl, &ans);
			sp_sdp_info_wipe(&info);
			store_sessions(s, call, false);
			body = ans.p;
			bl = ans.len;
		} else if (body && resp->content_type && resp->content_type->subtype &&
			   !strcmp(resp->content_type->subtype, "sdp")) {
			body = NULL;
			bl = 0;
		}
		answer_leg(s, call, o, t->orig, code, resp->reason_phrase, body, bl);
		if (ans.p)
			memset(ans.p, 0, ans.len);
		sp_buf_free(&ans);
	}
	txn_done(t);
}

/* ---- housekeeping ------------------------------------------------------------------ */

void sp_call_conn_lost(struct sp_server *s, uint64_t conn_id)
{
	struct sp_call *call = s->calls, *next;
	for (; call; call = next) {
		next = call->next;
		int lost = -1;
		for (int l = 0; l < 2; l++)
			if (call->leg[l].dest.tp != SP_UDP && call->leg[l].dest.conn_id == conn_id)
				lost = l;
		if (lost < 0)
			continue;
		int o = 1 - lost;
		s->ctr.calls_flow_lost++;
		PR_NOTICE("call %s: the %s's flow was lost", call->id, leg_name(lost));
		if (call->state >= CS_UP) {
			bye_leg(s, call, o);
		} else if (lost == LEG_A) {
			if (!call->cancelled)
				abandon_b(s, call, "flow-lost", 480);
			continue;
		} else {
			struct sp_txn *t = a_invite_txn(call);
			if (t)
				answer_leg(s, call, LEG_A, t->orig, 480, NULL, NULL, 0);
		}
		call_finish(s, call, "flow-lost", call->state >= CS_UP ? 0 : 480);
	}
}

static void peers_tick(struct sp_server *s);

void sp_call_tick(struct sp_server *s, int64_t now)
{
	struct sp_call *call = s->calls, *next;
	for (; call; call = next) {
		next = call->next;
		if (call->state < CS_UP && now >= call->deadline) {
			if (call->cancelled) { /* the callee never answered our CANCEL */
				call_finish(s, call, call->pending_reason, call->pending_status);
				continue;
			}
			s->ctr.calls_timeout++;
			struct sp_txn *t = a_invite_txn(call);
			if (t)
				answer_leg(s, call, LEG_A, t->orig, 408, NULL, NULL, 0);
			abandon_b(s, call, "timeout", 408);
		} else if (call->state == CS_UP && s->cfg.max_call_s &&
			   now - call->answer >= (int64_t)s->cfg.max_call_s) {
			bye_leg(s, call, LEG_A);
			bye_leg(s, call, LEG_B);
			call_finish(s, call, "max-duration", 0);
		}
	}
	peers_tick(s);
}

void sp_call_media_events(struct sp_server *s)
{
	static char last[32]; /* the last entry read; empty: start at the stream's end */
	redisReply *r;

	if (!last[0]) {
		r = pr_redis_cmd(s->redis, "XREVRANGE %s + - COUNT 1", PR_KS_SESSIONS_EVENTS);
		if (!r)
			return;
		snprintf(last, sizeof(last), "0-0");
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
		    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
		    r->element[0]->element[0]->type == REDIS_REPLY_STRING)
			copy(last, sizeof(last), r->element[0]->element[0]->str);
		freeReplyObject(r);
	}
	r = pr_redis_cmd(s->redis, "XREAD COUNT 256 STREAMS %s %s", PR_KS_SESSIONS_EVENTS, last);
	if (!r) {
		s->ctr.redis_errors++;
		return;
	}
	/* [[stream, [[id, [field, value, ...]], ...]]] */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
	    r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
		const redisReply *es = r->element[0]->element[1];
		for (size_t i = 0; i < es->elements; i++) {
			const redisReply *e = es->element[i];
			const char *op = NULL, *cdr = NULL;
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING ||
			    e->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			copy(last, sizeof(last), e->element[0]->str);
			const redisReply *kv = e->element[1];
			for (size_t j = 0; j + 1 < kv->elements; j += 2) {
				if (kv->element[j]->type != REDIS_REPLY_STRING ||
				    kv->element[j + 1]->type != REDIS_REPLY_STRING)
					continue;
				if (!strcmp(kv->element[j]->str, "op"))
					op = kv->element[j + 1]->str;
				else if (!strcmp(kv->element[j]->str, "cdr_id"))
					cdr = kv->element[j + 1]->str;
			}
			if (!op || !cdr || strcmp(op, "idle"))
				continue;
			for (struct sp_call *call = s->calls; call; call = call->next) {
				if (strcmp(call->id, cdr) || call->state != CS_UP)
					continue;
				PR_NOTICE("call %s: no media for the idle timeout: ending it",
					  call->id);
				s->ctr.calls_media_timeout++;
				bye_leg(s, call, LEG_A);
				bye_leg(s, call, LEG_B);
				call_finish(s, call, "media-timeout", 0);
				break;
			}
		}
	}
	freeReplyObject(r);
}

void sp_call_retransmit(struct sp_server *s, int64_t now_ms)
{
	struct sp_call *call = s->calls, *next;
	for (; call; call = next) {
		next = call->next;
		for (int l = 0; l < 2; l++) {
			struct sp_leg *g = &call->leg[l];
			if (!g->ok_retx.p || now_ms < g->ok_next_ms)
				continue;
			if (now_ms >= g->ok_end_ms) { /* Timer H: no ACK, keep the call */
				PR_NOTICE("call %s: no ACK from the %s for our 2xx", call->id,
					  leg_name(l));
				sp_buf_free(&g->ok_retx);
				continue;
			}
			sp_send(s, &g->dest, g->ok_retx.p, g->ok_retx.len);
			g->ok_ival_ms = g->ok_ival_ms * 2 > SP_T2_MS ? SP_T2_MS : g->ok_ival_ms * 2;
			g->ok_next_ms = now_ms + g->ok_ival_ms;
		}
		for (int i = 0; i < SP_CALL_TXNS; i++) {
			struct sp_txn *t = &call->txn[i];
			if (!t->used || !t->retx || now_ms < t->retx_next_ms)
				continue;
			if (now_ms >= t->retx_end_ms) { /* Timer B / F */
				free(t->retx);
				t->retx = NULL;
				PR_NOTICE("call %s: no answer to %s from the %s (timer %s)",
					  call->id, t->method, leg_name(t->to_leg),
					  strcmp(t->method, "INVITE") ? "F" : "B");
				if (!strcmp(t->method, "INVITE") && call->state < CS_UP) {
					s->ctr.calls_timeout++;
					struct sp_txn *a = a_invite_txn(call);
					if (a)
						answer_leg(s, call, LEG_A, a->orig, 408, NULL, NULL,
							   0);
					call_finish(s, call, "timeout", 408);
					break;
				}
				txn_done(t);
				continue;
			}
			sp_send(s, &call->leg[t->to_leg].dest, t->retx, t->retx_len);
			t->retx_ival_ms *= 2;
			if (strcmp(t->method, "INVITE") && t->retx_ival_ms > SP_T2_MS)
				t->retx_ival_ms = SP_T2_MS;
			t->retx_next_ms = now_ms + t->retx_ival_ms;
		}
	}
}

void sp_call_shutdown(struct sp_server *s)
{
	sp_call_end_all(s, "shutdown");
	/* a planned stop: nothing left for another slowpath to take */
	if (s->sp_id[0] && s->redis) {
		redisReply *r = pr_redis_cmd(s->redis, "SREM %s %s", SP_INSTANCES_KEY, s->sp_id);
		if (r)
			freeReplyObject(r);
		r = pr_redis_cmd(s->redis, "DEL %s%s %s%s", SP_ALIVE_PREFIX, s->sp_id,
				 SP_CALLS_PREFIX, s->sp_id);
		if (r)
			freeReplyObject(r);
	}
}

unsigned sp_call_count(const struct sp_server *s)
{
	unsigned n = 0;
	for (const struct sp_call *c = s->calls; c; c = c->next)
		n++;
	return n;
}

unsigned sp_call_end_all(struct sp_server *s, const char *reason)
{
	unsigned n = 0;
	for (; s->calls; n++) {
		struct sp_call *call = s->calls;
		if (call->state >= CS_UP) {
			bye_leg(s, call, LEG_A);
			bye_leg(s, call, LEG_B);
		} else {
			if (call->answering) /* answered and ACKed: a BYE ends its dialog */
				bye_leg(s, call, LEG_B);
			else
				cancel_b(s, call);
			struct sp_txn *t = a_invite_txn(call);
			if (t)
				answer_leg(s, call, LEG_A, t->orig, 503, NULL, NULL, 0);
		}
		call_finish(s, call, reason, 0);
	}
	return n;
}

/* ---- restore after a restart -------------------------------------------------------- */

static void leg_from_ks(struct sp_leg *g, const struct pr_ks_dialog_leg *k)
{
	copy(g->call_id, sizeof(g->call_id), k->call_id);
	copy(g->local_tag, sizeof(g->local_tag), k->local_tag);
	copy(g->remote_tag, sizeof(g->remote_tag), k->remote_tag);
	copy(g->local_uri, sizeof(g->local_uri), k->local_uri);
	copy(g->remote_uri, sizeof(g->remote_uri), k->remote_uri);
	copy(g->remote_target, sizeof(g->remote_target), k->remote_target);
	copy(g->routes, sizeof(g->routes), k->routes);
	/* requests sent after the last write (in-dialog OPTIONS, INFO) took CSeqs the record
	 * does not have: ours must stay above them (RFC 3261 12.2.1.1) */
	g->local_cseq = k->local_cseq + 1000;
	g->invite_cseq = k->local_cseq;
	g->remote_cseq = k->remote_cseq;
	g->dest.tp = !strcmp(k->transport, "udp")   ? SP_UDP
		     : !strcmp(k->transport, "tcp") ? SP_TCP
		     : !strcmp(k->transport, "wss") ? SP_WSS
						    : SP_TLS;
	g->dest.conn_id = k->conn_id;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&g->dest.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&g->dest.addr;
	if (inet_pton(AF_INET, k->addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(k->port);
		g->dest.addr_len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, k->addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(k->port);
		g->dest.addr_len = sizeof(*in6);
	}
	g->onnet = k->onnet;
	g->want_srtp = k->want_srtp;
	g->max_kbps = k->max_kbps;
	copy(g->pop, sizeof(g->pop), k->pop);
	copy(g->user, sizeof(g->user), k->user);
	copy(g->instance, sizeof(g->instance), k->instance);
	g->reg_id = k->reg_id;
	copy(g->party, sizeof(g->party), k->party);
	copy(g->ua, sizeof(g->ua), k->user_agent);
	copy(g->inside_addr, sizeof(g->inside_addr), k->inside_addr);
	copy(g->outside_addr, sizeof(g->outside_addr), k->outside_addr);
	const char *p = k->relay_ports;
	for (unsigned i = 0; i < SP_SDP_MAX_MEDIA && *p; i++) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		g->m[i].relay_port = v <= UINT16_MAX ? (uint16_t)v : 0;
		p = end;
	}
	g->restored = true;
}

/* One leg's media of m= line as the session record has it (keys included). */
static int media_from_session(struct sp_media *m, const struct pr_ks_leg *k, const char *media)
{
	char v[192];
	int rc = 0;
	m->used = true;
	copy(m->media, sizeof(m->media), media);
	copy(m->family, sizeof(m->family), k->family);
	copy(m->peer_addr, sizeof(m->peer_addr), k->peer_addr);
	m->peer_port = k->peer_port;
	m->relay_port = k->relay_port;
	m->rtcp_mux = k->rtcp_mux;
	copy(m->profile, sizeof(m->profile), k->profile);
	m->encrypted = k->encrypted;
	if (!strcmp(k->keying, "dtls")) {
		m->dtls = true;
		copy(m->ice_ufrag, sizeof(m->ice_ufrag), k->ice_ufrag);
		copy(m->ice_pwd, sizeof(m->ice_pwd), k->ice_pwd);
		copy(m->ice_remote_ufrag, sizeof(m->ice_remote_ufrag), k->ice_remote_ufrag);
		copy(m->fingerprint, sizeof(m->fingerprint), k->dtls_fingerprint);
		copy(m->setup, sizeof(m->setup), k->dtls_setup);
		copy(m->mid, sizeof(m->mid), k->mid);
		m->bundled = k->bundle[0] != '\0';
		m->bundle_pos = (uint8_t)k->bundle_pos;
		copy(m->bundle_pt, sizeof(m->bundle_pt), k->bundle_pt);
		copy(m->bundle_ssrc, sizeof(m->bundle_ssrc), k->bundle_ssrc);
		m->bundle_mid_ext = (uint8_t)k->bundle_mid_ext;
	} else if (k->encrypted) {
		snprintf(v, sizeof(v), "1 %s inline:%s", k->suite, k->key_rx);
		rc = pr_sdes_parse(v, &m->rx);
		snprintf(v, sizeof(v), "1 %s inline:%s", k->suite, k->key_tx);
		if (rc == 0)
			rc = pr_sdes_parse(v, &m->tx);
		memset(v, 0, sizeof(v));
	}
	return rc;
}

static struct sp_call *call_from_dialog(struct sp_server *s, const struct pr_ks_dialog *d)
{
	struct sp_call *call = calloc(1, sizeof(*call));
	if (!call)
		return NULL;
	call->seq = ++s->call_seq;
	copy(call->id, sizeof(call->id), d->id);
	call->state = CS_UP;
	copy(call->direction, sizeof(call->direction), d->direction);
	call->start = d->start;
	call->answer = d->answer ? d->answer : d->start;
	call->status = d->status ? d->status : 200;
	call->installed = true;
	leg_from_ks(&call->leg[LEG_A], &d->a);
	leg_from_ks(&call->leg[LEG_B], &d->b);
	unsigned n = d->n_media <= SP_SDP_MAX_MEDIA ? d->n_media : SP_SDP_MAX_MEDIA;
	call->leg[LEG_A].n_media = call->leg[LEG_B].n_media = n;
	for (unsigned i = 0; i < n; i++)
		call->leg[LEG_A].m[i].used = call->leg[LEG_B].m[i].used = d->media_used & (1u << i);
	call->next = s->calls;
	s->calls = call;
	call_index(call);
	return call;
}

/* One dialog record back into the call table (1), or its call ended (0; -ENOMEM: out of
 * memory). A setup record (answer 0: the call was being set up when its slowpath died) is
 * ended with unanswered_why: CDR unanswered, its relay ports back, the record gone; its
 * devices are not told (their flows went with that slowpath). An answered one is restored
 * as at a restart, or ended when its media session is gone or it is too old. */
static int restore_one(struct sp_server *s, const struct pr_ks_dialog *d, struct pr_ks_session *ses,
		       const char *unanswered_why)
{
	int64_t now = sp_now();
	int64_t max_age = s->cfg.max_call_s ? (int64_t)s->cfg.max_call_s : SP_RESTORE_MAX_AGE_S;
	struct sp_call *call = call_from_dialog(s, d);
	if (!call)
		return -ENOMEM;
	call->held = s->sp_id[0] != 0; /* ours now: in our set (the caller adds it) */
	if (!d->answer) {
		call->answer = 0;
		call->status = 0;
		call->installed = false; /* no session was written */
		call->held = true;	 /* the record goes with the end */
		PR_NOTICE("restore: call %s (%s -> %s) was being set up: %s: ending it", call->id,
			  call->leg[LEG_A].party, call->leg[LEG_B].party, unanswered_why);
		s->ctr.calls_restore_ended++;
		call_finish(s, call, unanswered_why, 0);
		return 0;
	}
	int rc = 0;
	const char *why = NULL;
	if (now - call->answer > max_age)
		why = "restore-too-old";
	for (unsigned m = 0; !why && m < call->leg[LEG_A].n_media; m++) {
		if (!call->leg[LEG_A].m[m].used)
			continue;
		char id[PR_KS_NAME_MAX];
		snprintf(id, sizeof(id), "%s-%u", call->id, m);
		rc = pr_ks_session_load(s->redis, id, ses);
		if (rc == 0 && (media_from_session(&call->leg[LEG_A].m[m], &ses->leg[PR_KS_LEG_A],
						   ses->media) < 0 ||
				media_from_session(&call->leg[LEG_B].m[m], &ses->leg[PR_KS_LEG_B],
						   ses->media) < 0))
			rc = -EINVAL;
		/* the dataplane it is anchored on (its re-INVITEs stay there) */
		if (rc == 0 && !call->anchor[0])
			copy(call->anchor, sizeof(call->anchor), ses->leg[PR_KS_LEG_A].relay_addr);
		/* the fingerprint of ours its browser was given, kept over a rotation */
		for (int l = 0; rc == 0 && l < 2; l++)
			if (ses->leg[l].dtls_local_fingerprint[0])
				copy(call->dtls_fpr, sizeof(call->dtls_fpr),
				     ses->leg[l].dtls_local_fingerprint);
		memset(ses, 0, sizeof(*ses));
		if (rc < 0)
			why = rc == -ENOENT ? "restore-no-media" : "restore-error";
		for (int l = 0; l < 2; l++)
			call->leg[l].dtls |= call->leg[l].m[m].dtls;
	}
	/* a browser's offer toward it carries our certificate's fingerprint */
	if (!why && (call->leg[LEG_A].dtls || call->leg[LEG_B].dtls) && !call->dtls_fpr[0] &&
	    dtls_fingerprint(s, call->dtls_fpr) < 0)
		PR_WARN("restore: call %s: no DTLS fingerprint: a re-INVITE to its browser cannot "
			"be rewritten",
			call->id);
	if (why) {
		PR_NOTICE("restore: call %s (%s -> %s, answered %llds ago): %s: ending it",
			  call->id, call->leg[LEG_A].party, call->leg[LEG_B].party,
			  (long long)(now - call->answer), why);
		s->ctr.calls_restore_ended++;
		call_finish(s, call, why, 0);
		return 0;
	}
	s->ctr.calls_restored++;
	PR_INFO("restore: call %s (%s -> %s) up for %llds", call->id, call->leg[LEG_A].party,
		call->leg[LEG_B].party, (long long)(now - call->answer));
	return 1;
}

static bool call_known(const struct sp_server *s, const char *id)
{
	for (const struct sp_call *c = s->calls; c; c = c->next)
		if (!strcmp(c->id, id))
			return true;
	return false;
}

static bool reply_has(const redisReply *r, const char *v)
{
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, v))
			return true;
	return false;
}

/* Whether our name has been in the instances (a first write can fail with Redis away). */
static bool peers_registered;

/* Our lease (SET PX) and our name in the PoP's instances. 1 when our name, written before,
 * was not there: another slowpath took our calls (our lease lapsed: a Redis outage or a
 * stall longer than SP_LEASE_MS); 0; -1 on a Redis error. */
static int peers_refresh(struct sp_server *s)
{
	redisReply *r = pr_redis_cmd(s->redis, "SET %s%s %d PX %d", SP_ALIVE_PREFIX, s->sp_id,
				     (int)getpid(), SP_LEASE_MS);
	bool ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	r = ok ? pr_redis_cmd(s->redis, "SADD %s %s", SP_INSTANCES_KEY, s->sp_id) : NULL;
	int rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer == 1 && peers_registered : -1;
	if (r)
		freeReplyObject(r);
	if (rc >= 0)
		peers_registered = true;
	return rc;
}

/* The calls of a slowpath whose lease is gone (we took its name out of the instances, so
 * no other does this too): each not in our table already is restored or ended
 * (restore_one, setups with "failover") and becomes ours. */
static void peers_take(struct sp_server *s, const char *dead, const char *unanswered_why)
{
	redisReply *r = pr_redis_cmd(s->redis, "SMEMBERS %s%s", SP_CALLS_PREFIX, dead);
	struct pr_ks_dialog *d = malloc(sizeof(*d));
	struct pr_ks_session *ses = malloc(sizeof(*ses));
	unsigned restored = 0, ended = 0;
	for (size_t i = 0; d && ses && r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *id = r->element[i]->str;
		if (r->element[i]->type != REDIS_REPLY_STRING || call_known(s, id))
			continue;
		int rc = pr_ks_dialog_load(s->redis, id, d);
		if (rc == -EINVAL || rc == -EPROTO) {
			PR_ERR("peers: dialog %s unreadable (%s): deleted", id, pr_ks_errmsg());
			pr_ks_dialog_delete(s->redis, id);
			continue;
		}
		if (rc < 0)
			continue; /* ended meanwhile (-ENOENT), or Redis: its next reader */
		rc = restore_one(s, d, ses, unanswered_why);
		if (rc < 0)
			break;
		if (rc == 1) {
			redisReply *a =
			    pr_redis_cmd(s->redis, "SADD %s%s %s", SP_CALLS_PREFIX, s->sp_id, id);
			if (a)
				freeReplyObject(a);
			restored++;
		} else {
			ended++;
		}
	}
	if (r)
		freeReplyObject(r);
	r = pr_redis_cmd(s->redis, "DEL %s%s", SP_CALLS_PREFIX, dead);
	if (r)
		freeReplyObject(r);
	PR_NOTICE("peers: slowpath %s is gone (its lease expired): %u of its calls taken over, %u "
		  "ended",
		  dead, restored, ended);
	if (d)
		memset(d, 0, sizeof(*d));
	free(d);
	free(ses);
}

/* Every second: our lease; the calls of the PoP's slowpaths whose lease is gone. */
static void peers_tick(struct sp_server *s)
{
	if (!s->sp_id[0])
		return;
	int rc = peers_refresh(s);
	if (rc == 1) {
		/* another took our calls: they are its now (one holder of each dialog) */
		unsigned n = 0;
		for (struct sp_call *c = s->calls, *next; c; c = next, n++) {
			next = c->next;
			release_media(s, c);
			call_free(s, c);
		}
		PR_WARN("peers: our lease had lapsed and another slowpath took our calls: %u "
			"forgotten here (not ended)",
			n);
	}
	if (rc < 0)
		return;
	redisReply *r = pr_redis_cmd(s->redis, "SMEMBERS %s", SP_INSTANCES_KEY);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *m = r->element[i]->str;
		if (r->element[i]->type != REDIS_REPLY_STRING || !strcmp(m, s->sp_id))
			continue;
		redisReply *e = pr_redis_cmd(s->redis, "EXISTS %s%s", SP_ALIVE_PREFIX, m);
		bool alive = !e || e->type != REDIS_REPLY_INTEGER || e->integer != 0;
		if (e)
			freeReplyObject(e);
		if (alive)
			continue;
		e = pr_redis_cmd(s->redis, "SREM %s %s", SP_INSTANCES_KEY, m);
		bool ours = e && e->type == REDIS_REPLY_INTEGER && e->integer == 1;
		if (e)
			freeReplyObject(e);
		if (ours) /* we took its name out: its calls are ours to take */
			peers_take(s, m, "failover");
	}
	if (r)
		freeReplyObject(r);
}

/* The ids of the calls held by a slowpath of the PoP whose lease lives (a start leaves
 * them to it). NULL when there are none, or on a Redis error. */
static redisReply *peers_live_calls(struct sp_server *s)
{
	redisReply *r = pr_redis_cmd(s->redis, "SMEMBERS %s", SP_INSTANCES_KEY);
	struct pr_redis_tx *tx = pr_redis_tx_new();
	size_t n = 0;
	for (size_t i = 0; tx && r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *e =
		    pr_redis_cmd(s->redis, "EXISTS %s%s", SP_ALIVE_PREFIX, r->element[i]->str);
		if (e && e->type == REDIS_REPLY_INTEGER && e->integer == 1 &&
		    pr_redis_tx_add(tx, "SMEMBERS %s%s", SP_CALLS_PREFIX, r->element[i]->str) == 0)
			n++;
		if (e)
			freeReplyObject(e);
	}
	if (r)
		freeReplyObject(r);
	redisReply *exec = NULL;
	if (tx && n && pr_redis_tx_run(s->redis, tx, &exec) < 0)
		exec = NULL;
	pr_redis_tx_free(tx);
	return exec;
}

int sp_call_restore(struct sp_server *s)
{
	/* our name among the PoP's slowpaths, and our lease */
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	char hex[2 * sizeof(rnd) + 1];
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(s->sp_id, sizeof(s->sp_id), "%.40s-%s", s->cfg.pop, hex);
	/* the live ones' calls are theirs: read before ours is written */
	redisReply *live = peers_live_calls(s);
	if (peers_refresh(s) < 0)
		PR_WARN("peers: cannot write our lease: %s", pr_redis_errmsg(s->redis));
	PR_NOTICE("peers: slowpath instance %s (lease %d ms)", s->sp_id, SP_LEASE_MS);

	struct pr_ks_names ids;
	int rc = pr_ks_dialog_list(s->redis, &ids);
	if (rc < 0) {
		if (live)
			freeReplyObject(live);
		return rc;
	}
	struct pr_ks_dialog *d = malloc(sizeof(*d));
	struct pr_ks_session *ses = malloc(sizeof(*ses));
	unsigned restored = 0, ended = 0, bad = 0, theirs = 0;
	int64_t max_age = s->cfg.max_call_s ? (int64_t)s->cfg.max_call_s : SP_RESTORE_MAX_AGE_S;
	for (size_t i = 0; d && ses && i < ids.n; i++) {
		bool held = false;
		for (size_t k = 0; live && k < live->elements && !held; k++)
			held = reply_has(live->element[k], ids.v[i]);
		if (held) {
			theirs++;
			continue;
		}
		rc = pr_ks_dialog_load(s->redis, ids.v[i], d);
		if (rc == -EINVAL || rc == -EPROTO) {
			/* nothing to end it with: the record goes, the log says which */
			PR_ERR("restore: dialog %s unreadable (%s): deleted", ids.v[i],
			       pr_ks_errmsg());
			pr_ks_dialog_delete(s->redis, ids.v[i]);
			bad++;
			continue;
		}
		if (rc < 0) {
			if (rc != -ENOENT) {
				s->ctr.redis_errors++;
				PR_ERR("restore: dialog %s: %s", ids.v[i], pr_ks_errmsg());
			}
			continue;
		}
		rc = restore_one(s, d, ses, "restore-unanswered");
		if (rc < 0)
			break;
		if (rc == 1) {
			redisReply *a = pr_redis_cmd(s->redis, "SADD %s%s %s", SP_CALLS_PREFIX,
						     s->sp_id, ids.v[i]);
			if (a)
				freeReplyObject(a);
			restored++;
		} else {
			ended++;
		}
	}
	PR_NOTICE("restore: %u dialogs restored from Redis, %u ended (media session gone, "
		  "answered more than %llds ago, or never answered), %u unreadable, %u held by "
		  "another live slowpath",
		  restored, ended, (long long)max_age, bad, theirs);
	if (live)
		freeReplyObject(live);
	free(d);
	free(ses);
	pr_ks_names_free(&ids);
	return 0;
}
