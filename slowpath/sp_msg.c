/* SPDX-License-Identifier: BSD-3-Clause */
#include "slowpath/sp_msg.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_port.h>

static void osip_trace_sink(const char *fi, int li, osip_trace_level_t level, const char *chfr,
			    va_list ap)
{
	(void)fi, (void)li, (void)level, (void)chfr, (void)ap;
}

void sp_msg_init(void)
{
	static bool done;
	if (!done) {
		parser_init();
		/* libosip2's own trace would print one line per malformed message: an attacker
		 * could flood the log. We count and log at our boundary instead. */
		osip_trace_initialize_func(TRACE_LEVEL0, osip_trace_sink);
		for (int l = TRACE_LEVEL0; l < END_TRACE_LEVEL; l++)
			osip_trace_disable_level((osip_trace_level_t)l);
		done = true;
	}
}

static const char *memmem_crlf2(const char *p, size_t n)
{
	return memmem(p, n, "\r\n\r\n", 4);
}

/* Content-Length (or compact "l") in a header block; -1 absent, -2 malformed. */
static long header_content_length(const char *h, size_t n)
{
	long found = -1;
	const char *p = h, *end = h + n;
	while (p < end) {
		const char *eol = memmem(p, end - p, "\r\n", 2);
		if (!eol)
			eol = end;
		const char *colon = memchr(p, ':', eol - p);
		if (colon && p[0] != ' ' && p[0] != '\t') {
			const char *ne = colon;
			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			size_t nl = ne - p;
			if ((nl == 14 && !strncasecmp(p, "content-length", 14)) ||
			    (nl == 1 && (p[0] == 'l' || p[0] == 'L'))) {
				const char *v = colon + 1;
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				long x = 0;
				const char *d = v;
				while (d < eol && isdigit((unsigned char)*d)) {
					x = x * 10 + (*d - '0');
					if (x > SP_MSG_MAX)
						return -3;
					d++;
				}
				while (d < eol && (*d == ' ' || *d == '\t'))
					d++;
				if (d == v || d != eol)
					return -2;
				if (found >= 0 && found != x)
					return -2;
				found = x;
			}
		}
		p = eol + 2;
	}
	return found;
}

int sp_msg_frame(const char *data, size_t len, size_t *skip, unsigned *pings)
{
	return sp_msg_frame_max(data, len, SP_MSG_MAX, skip, pings);
}

int sp_msg_frame_max(const char *data, size_t len, size_t max, size_t *skip, unsigned *pings)
{
	if (max > SP_MSG_MAX)
		max = SP_MSG_MAX;
	size_t s = 0;
	unsigned pg = 0;
	while (s + 1 < len && data[s] == '\r' && data[s + 1] == '\n') {
		if (s + 3 < len && data[s + 2] == '\r' && data[s + 3] == '\n') {
			pg++;
			s += 4;
		} else {
			s += 2;
		}
	}
	*skip = s;
	*pings = pg;
	data += s;
	len -= s;
	if (!len)
		return 0;
	const char *he = memmem_crlf2(data, len < max + 4 ? len : max + 4);
	if (!he)
		return len >= max ? -EMSGSIZE : 0;
	size_t hlen = he - data + 4;
	long cl = header_content_length(data, hlen - 4);
	if (cl == -3)
		return -EMSGSIZE;
	if (cl < 0)
		return -EBADMSG;
	if (hlen + (size_t)cl > max)
		return -EMSGSIZE;
	if (len < hlen + (size_t)cl)
		return 0;
	return (int)(hlen + cl);
}

const char *sp_msg_header(const osip_message_t *m, const char *lname)
{
	osip_header_t *h = NULL;
	if (osip_message_header_get_byname(m, lname, 0, &h) < 0 || !h)
		return NULL;
	return h->hvalue;
}

const char *sp_msg_branch(const osip_message_t *m)
{
	osip_via_t *v = osip_list_get(&m->vias, 0);
	osip_generic_param_t *b = NULL;
	if (!v || osip_via_param_get_byname(v, "branch", &b) < 0 || !b)
		return NULL;
	return b->gvalue;
}

static const char *tag_of(osip_from_t *f)
{
	osip_generic_param_t *t = NULL;
	if (!f || osip_from_get_tag(f, &t) < 0 || !t)
		return NULL;
	return t->gvalue;
}

const char *sp_msg_from_tag(const osip_message_t *m)
{
	return tag_of(m->from);
}

const char *sp_msg_to_tag(const osip_message_t *m)
{
	return tag_of((osip_from_t *)m->to);
}

const char *sp_msg_body(const osip_message_t *m, size_t *len)
{
	osip_body_t *b = osip_list_get(&m->bodies, 0);
	if (!b || !b->body)
		return NULL;
	*len = b->length;
	return b->body;
}

static bool is_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-.!%*_+`'~", *s))
			return false;
	return true;
}

int sp_msg_parse(const char *buf, size_t len, osip_message_t **out, int *status, const char **why)
{
	osip_message_t *m = NULL;
	*out = NULL;
	*status = 0;
	*why = "unparseable";
	if (len > SP_MSG_MAX) {
		*why = "message too large";
		return -EBADMSG;
	}
	if (len < 8 || memchr(buf, '\0', len))
		return -EBADMSG;
	if (osip_message_init(&m) < 0)
		return -ENOMEM;
	if (osip_message_parse(m, buf, len) < 0) {
		osip_message_free(m);
		return -EBADMSG;
	}
	/* What any response needs (RFC 3261 8.1.1): otherwise it cannot be answered. */
	osip_via_t *via = osip_list_get(&m->vias, 0);
	if (!via || !via->host || !via->protocol || !m->from || !m->to || !m->call_id ||
	    !m->call_id->number || !m->cseq || !m->cseq->number || !m->cseq->method) {
		*why = "missing Via, From, To, Call-ID or CSeq";
		osip_message_free(m);
		return -EBADMSG;
	}
	*out = m;
	if (MSG_IS_RESPONSE(m)) {
		if (m->status_code < 100 || m->status_code > 699) {
			*why = "bad status code";
			osip_message_free(m);
			*out = NULL;
			return -EBADMSG;
		}
		return 0;
	}
	/* Requests from here: anything wrong is answered 400 (ACK is never answered). */
	*status = 400;
	if (!is_token(m->sip_method)) {
		*why = "bad method";
		return -EINVAL;
	}
	if (!m->req_uri || !m->req_uri->scheme ||
	    (strcasecmp(m->req_uri->scheme, "sip") && strcasecmp(m->req_uri->scheme, "sips")) ||
	    !m->req_uri->host) {
		*why = "bad Request-URI";
		*status = 416;
		if (!m->req_uri || !m->req_uri->scheme)
			*status = 400;
		return -EINVAL;
	}
	if (!m->sip_version || strcmp(m->sip_version, "SIP/2.0")) {
		*why = "bad SIP version";
		*status = 505;
		return -EINVAL;
	}
	char *e;
	unsigned long cseq = strtoul(m->cseq->number, &e, 10);
	if (*e || e == m->cseq->number || cseq > 0x7fffffffUL) {
		*why = "bad CSeq number";
		return -EINVAL;
	}
	if (strcmp(m->cseq->method, m->sip_method)) {
		*why = "CSeq method differs from request method";
		return -EINVAL;
	}
	if (!m->from->url || !m->to->url) {
		*why = "bad From or To";
		return -EINVAL;
	}
	const char *mf = sp_msg_header(m, "max-forwards");
	if (mf) {
		unsigned long x = strtoul(mf, &e, 10);
		while (*e == ' ')
			e++;
		if (*e || e == mf || x > 255) {
			*why = "bad Max-Forwards";
			return -EINVAL;
		}
		if (x == 0 && strcmp(m->sip_method, "REGISTER") &&
		    strcmp(m->sip_method, "OPTIONS")) {
			*why = "Max-Forwards exhausted";
			*status = 483;
			return -EINVAL;
		}
	}
	/* Content-Length must match the body actually present. */
	size_t blen = 0;
	const char *body = sp_msg_body(m, &blen);
	if (m->content_length && m->content_length->value) {
		unsigned long cl = strtoul(m->content_length->value, &e, 10);
		if (*e || (body ? blen : 0) != cl) {
			*why = "Content-Length does not match the body";
			return -EINVAL;
		}
	}
	*status = 0;
	*why = NULL;
	return 0;
}

void sp_buf_add(struct sp_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sp_buf_cat(struct sp_buf *b, ...)
{
	va_list ap;
	va_start(ap, b);
	for (const char *p; (p = va_arg(ap, const char *));)
		sp_buf_add(b, p, strlen(p));
	va_end(ap);
}

void sp_buf_uint(struct sp_buf *b, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);
	do
		d[--i] = (char)('0' + v % 10);
	while (v /= 10);
	sp_buf_add(b, d + i, sizeof(d) - i);
}

void sp_buf_printf(struct sp_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		sp_buf_add(b, tmp, n);
		return;
	}
	char *big = malloc(n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, n + 1, fmt, ap);
	va_end(ap);
	sp_buf_add(b, big, n);
	free(big);
}

void sp_buf_free(struct sp_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

const char *sp_msg_reason(int code)
{
	switch (code) {
	case 100:
		return "Trying";
	case 180:
		return "Ringing";
	case 183:
		return "Session Progress";
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 416:
		return "Unsupported URI Scheme";
	case 420:
		return "Bad Extension";
	case 423:
		return "Interval Too Brief";
	case 480:
		return "Temporarily Unavailable";
	case 481:
		return "Call/Transaction Does Not Exist";
	case 482:
		return "Loop Detected";
	case 483:
		return "Too Many Hops";
	case 486:
		return "Busy Here";
	case 487:
		return "Request Terminated";
	case 488:
		return "Not Acceptable Here";
	case 491:
		return "Request Pending";
	case 500:
		return "Server Internal Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Server Time-out";
	case 505:
		return "Version Not Supported";
	case 513:
		return "Message Too Large";
	case 603:
		return "Decline";
	default:
		return code < 300 ? "OK" : "Error";
	}
}

char *sp_msg_from_str(const osip_message_t *m)
{
	char *s = NULL;
	if (!m->from || osip_from_to_str(m->from, &s) < 0)
		return NULL;
	return s;
}

char *sp_msg_to_str(const osip_message_t *m)
{
	char *s = NULL;
	if (!m->to || osip_to_to_str(m->to, &s) < 0)
		return NULL;
	return s;
}

int sp_msg_response(struct sp_buf *out, const osip_message_t *req, int code, const char *reason,
		    const char *to_tag, const char *extra, const char *ctype, const char *body,
		    size_t body_len)
{
	char *s = NULL;
	if (!req->cseq || !req->call_id || !req->from || !req->to)
		return -EINVAL;
	sp_buf_cat(out, "SIP/2.0 ", NULL);
	sp_buf_uint(out, (unsigned)code);
	sp_buf_cat(out, " ", reason ? reason : sp_msg_reason(code), "\r\n", NULL);
	osip_via_t *v;
	for (int i = 0; (v = osip_list_get(&req->vias, i)); i++) {
		if (osip_via_to_str(v, &s) < 0)
			return -EINVAL;
		sp_buf_cat(out, "Via: ", s, "\r\n", NULL);
		osip_free(s);
	}
	/* RFC 3261 12.1.1: a UAS copies Record-Route into dialog-forming responses */
	osip_record_route_t *rr;
	for (int i = 0; code > 100 && code < 300 && (rr = osip_list_get(&req->record_routes, i));
	     i++) {
		if (osip_record_route_to_str(rr, &s) < 0)
			return -EINVAL;
		sp_buf_cat(out, "Record-Route: ", s, "\r\n", NULL);
		osip_free(s);
	}
	if (osip_from_to_str(req->from, &s) < 0)
		return -EINVAL;
	sp_buf_cat(out, "From: ", s, "\r\n", NULL);
	osip_free(s);
	if (osip_to_to_str(req->to, &s) < 0)
		return -EINVAL;
	if (to_tag && !sp_msg_to_tag(req) && code > 100)
		sp_buf_cat(out, "To: ", s, ";tag=", to_tag, "\r\n", NULL);
	else
		sp_buf_cat(out, "To: ", s, "\r\n", NULL);
	osip_free(s);
	if (osip_call_id_to_str(req->call_id, &s) < 0)
		return -EINVAL;
	sp_buf_cat(out, "Call-ID: ", s, "\r\nCSeq: ", req->cseq->number ? req->cseq->number : "",
		   " ", req->cseq->method ? req->cseq->method : "", "\r\n", NULL);
	osip_free(s);
	if (extra)
		sp_buf_add(out, extra, strlen(extra));
	sp_buf_cat(out, "Server: poprelay-slowpath\r\n", NULL);
	if (body && body_len) {
		sp_buf_cat(out, "Content-Type: ", ctype ? ctype : "application/sdp",
			   "\r\nContent-Length: ", NULL);
		sp_buf_uint(out, body_len);
		sp_buf_cat(out, "\r\n\r\n", NULL);
		sp_buf_add(out, body, body_len);
	} else {
		sp_buf_cat(out, "Content-Length: 0\r\n\r\n", NULL);
	}
	return out->oom ? -ENOMEM : 0;
}
