/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl session: the pure parts of `session list` / `session show` (parsing the
 * dataplane's per-leg figures, the list row, the JSON object, the human view), apart
 * from Redis so the unit tests can drive them (tests/unit/test_ctl_session.c).
 *
 * A session is the slowpath's record (pr_ks_session, docs/redis-keyspace.md "Media
 * sessions") plus the figures the dataplane writes into the same hash every second per
 * leg X in {a, b}: X_rx_packets X_rx_bytes X_tx_packets X_tx_bytes X_lost X_jitter_us
 * X_auth_fail X_relatch X_kbps X_latched ("ip:port", "[ip6]:port" or "-") X_last_rx (unix
 * seconds, 0 never) X_dtls_suite. Nothing here ever outputs a secret field of the record
 * (the SDES keys X_key_rx / X_key_tx, the ICE password X_ice_pwd: left out entirely, not
 * even "set"), the dataplane's DTLS-exported keys (X_dtls_key_rx / X_dtls_key_tx) nor
 * X_streams (the dataplane's internal restart state); poprelayctl does not even read
 * them (ctl_session_fields). */
#ifndef POPRELAY_MGMT_CTL_SESSION_H
#define POPRELAY_MGMT_CTL_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/keyspace.h"

/* Figure fields of one leg (rx_packets ... last_rx above, then dtls_suite: the SRTP profile
 * a DTLS-SRTP leg's handshake negotiated, written by the dataplane with the leg's exported
 * keys; present: the leg is keyed. Its neighbours X_dtls_key_rx / X_dtls_key_tx are never
 * read). */
#define CTL_SESSION_NFIGS 12

struct ctl_session_live {
	bool present; /* the dataplane has reported this leg (one figure at least) */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, lost, auth_fail, relatch, kbps;
	uint32_t jitter_us;
	char latched[64];    /* "ip:port" / "[ip6]:port"; "" when not latched ("-") */
	int64_t last_rx;     /* unix seconds, 0 never */
	char dtls_suite[32]; /* "" until a DTLS-SRTP handshake keyed the leg */
};

/* One figure (name without prefix) from its text in the hash. 0 (and present = true),
 * -ENOENT for a name that is not a figure ("streams", "key_rx", ...), -EINVAL for a
 * malformed value (lv unchanged). */
int ctl_session_fig_set(struct ctl_session_live *lv, const char *name, const char *value);

/* s for a table cell or a line: control characters as '?', at most max bytes (longer:
 * cut on a UTF-8 boundary and "..." appended, within max), "-" when empty. */
void ctl_session_text(const char *s, size_t max, char *buf, size_t len);
/* "addr:port", "[addr6]:port", "-" without an address. */
void ctl_session_addr(const char *addr, unsigned port, char *buf, size_t len);
/* The encryption status of a leg: its suite, "srtp" (encrypted, suite unknown), "clear". */
const char *ctl_session_crypto(const struct pr_ks_leg *l);

/* How a leg is keyed: "dtls", "sdes" (X_keying, or an encrypted leg of a record written
 * before the field), "clear". */
const char *ctl_session_keying(const struct pr_ks_leg *l);

/* An ICE leg (X_ice_ufrag set) is nominated when the dataplane latched it (an ICE leg
 * latches only to a nominated check's source, docs/media.md). */
bool ctl_session_ice_nominated(const struct pr_ks_leg *l, const struct ctl_session_live *lv);

/* `session list`: one row per session. */
#define CTL_SESSION_COLS	 15
#define CTL_SESSION_CALLID_SHOWN 20 /* call ids are shortened to this in the list */
#define CTL_SESSION_PARTY_SHOWN	 32 /* parties (off-net: whole URIs) too */
extern const char *const ctl_session_list_header[CTL_SESSION_COLS];
struct ctl_session_row {
	char cell[CTL_SESSION_COLS][80];
};
void ctl_session_row(const struct pr_ks_session *s, const struct ctl_session_live lv[2],
		     struct ctl_session_row *row);
/* Orders sessions by creation time, then id (qsort on an array of pr_ks_session). */
int ctl_session_cmp(const void *a, const void *b);

/* The hash fields the display reads (one HMGET): "v", the record's fields but the secret
 * ones (X_key_rx, X_key_tx, X_ice_pwd), then leg a's figures and leg b's, in the order
 * above. Never X_dtls_key_rx / X_dtls_key_tx (not record fields) nor X_streams. Returns
 * how many names it wrote, 0 when max is too small. */
size_t ctl_session_fields(char names[][PR_KS_FIELD_NAME_MAX], size_t max);

/* The session as one flat JSON object named like the hash: the record's fields (keys
 * and X_ice_pwd left out), each leg followed by its figures (null when the dataplane has
 * not reported the leg yet; X_latched and X_dtls_suite null when not latched / keyed),
 * then X_ice_nominated (null on a leg without ICE) and X_dtls_keyed (null on a leg not
 * keyed by DTLS). */
json_t *ctl_session_json(const struct pr_ks_session *s, const struct ctl_session_live lv[2]);
/* `session show`: the record, then each leg's fields and figures, human readable. now
 * (unix seconds) dates X_last_rx ("N s ago"). */
void ctl_session_print(const struct pr_ks_session *s, const struct ctl_session_live lv[2],
		       int64_t now, FILE *out);

#endif
