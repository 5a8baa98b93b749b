/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP message entry point: stream framing, size limit, parsing with libosip2, the sanity
 * checks RFC 3261 section 16.3 / 8.2 asks for, and text builders for responses. No I/O:
 * everything here is a pure function of its input (fuzzed by tests/fuzz/fuzz_sip_msg.c). */
#ifndef POPRELAY_SLOWPATH_SP_MSG_H
#define POPRELAY_SLOWPATH_SP_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <osipparser2/osip_parser.h>

#define SP_MSG_MAX (64 * 1024) /* ceiling of [sip] max_message_bytes (its default): buffers */

/* Must be called once before parsing (libosip2's parser tables). */
void sp_msg_init(void);

/* Stream framing (TLS/TCP). Looks at data[0..len). Returns:
 *   > 0        length of the first complete message (headers + Content-Length body);
 *   0          more data needed;
 *   -EMSGSIZE  the message is (or will be) larger than SP_MSG_MAX;
 *   -EBADMSG   the header block has no usable Content-Length (RFC 3261 18.3: mandatory
 *              on streams) or a malformed one.
 * Leading CRLFs (RFC 5626 keepalive) are not part of a message: *skip receives how many
 * bytes of them precede it, and *pings how many "\r\n\r\n" pings they contained. */
int sp_msg_frame(const char *data, size_t len, size_t *skip, unsigned *pings);
/* Same with max (at most SP_MSG_MAX) for SP_MSG_MAX: the transport passes the
 * [sip] max_message_bytes in force. */
int sp_msg_frame_max(const char *data, size_t len, size_t max, size_t *skip, unsigned *pings);

/* Parse one whole message. Returns 0 with *out (free with osip_message_free), or:
 *   -EBADMSG  unparseable or missing what a response needs: drop it (*status = 0);
 *   -EINVAL   parseable enough to answer: *status = 400/483/513..., *out is set so that
 *             the caller can build the error response (and must free it). */
int sp_msg_parse(const char *buf, size_t len, osip_message_t **out, int *status, const char **why);

/* First value of a header not parsed into a dedicated field (e.g. "user-agent",
 * "max-forwards", "expires"); NULL if absent. */
const char *sp_msg_header(const osip_message_t *m, const char *lname);
/* Top Via's branch, From tag, To tag; NULL if absent. */
const char *sp_msg_branch(const osip_message_t *m);
const char *sp_msg_from_tag(const osip_message_t *m);
const char *sp_msg_to_tag(const osip_message_t *m);
/* The first body (SDP) and its length; NULL if none. */
const char *sp_msg_body(const osip_message_t *m, size_t *len);

/* Growable text buffer. */
struct sp_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
void sp_buf_printf(struct sp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sp_buf_add(struct sp_buf *b, const char *s, size_t n);
/* The strings up to a NULL, one after the other: what a printf chain of "%s" does, without
 * parsing a format per header (every message is built this way). */
void sp_buf_cat(struct sp_buf *b, ...) __attribute__((sentinel));
void sp_buf_uint(struct sp_buf *b, unsigned long long v); /* decimal */
void sp_buf_free(struct sp_buf *b);

/* A response to req: status line, every Via, From, To (with to_tag added when req's To has
 * none and to_tag is not NULL), Call-ID, CSeq, then extra (complete header lines, each
 * ending in CRLF, may be NULL), Server, Content-Type (when body) and Content-Length.
 * Returns 0 or -ENOMEM/-EINVAL. */
int sp_msg_response(struct sp_buf *out, const osip_message_t *req, int code, const char *reason,
		    const char *to_tag, const char *extra, const char *ctype, const char *body,
		    size_t body_len);
/* Default reason phrase of a code. */
const char *sp_msg_reason(int code);

/* Header value -> string: "From", "To", "Via", "Call-ID" as osip prints them (malloc'd). */
char *sp_msg_from_str(const osip_message_t *m);
char *sp_msg_to_str(const osip_message_t *m);

#endif
