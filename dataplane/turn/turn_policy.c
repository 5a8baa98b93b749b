/* SPDX-License-Identifier: BSD-3-Clause */
/* Peer-address policy: IANA special-purpose registries (RFC 6890 and successors). */
#include "dataplane/turn/turn_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int turn_cidr_parse(struct turn_cidr *c, const char *s)
{
	char buf[64];
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	char *slash = strchr(buf, '/');
	long plen = -1;
	if (slash) {
		char *end;
		*slash = 0;
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		plen = strtol(slash + 1, &end, 10);
		if (*end)
			return -EINVAL;
	}
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->ip) == 1) {
		c->fam = 4;
		if (plen < 0)
			plen = 32;
		if (plen > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, c->ip) == 1) {
		c->fam = 6;
		if (plen < 0)
			plen = 128;
		if (plen > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	c->plen = (uint8_t)plen;
	return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned full = plen / 8, rem = plen % 8;
	if (memcmp(a, b, full))
		return false;
	if (!rem)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rem));
	return (a[full] & mask) == (b[full] & mask);
}

bool turn_cidr_match(const struct turn_cidr *c, const uint8_t *ip, uint8_t fam)
{
	return c->fam == fam && prefix_eq(c->ip, ip, c->plen);
}

void turn_policy_init(struct turn_policy *p)
{
	memset(p, 0, sizeof(*p));
}

static int add(struct turn_cidr *arr, uint16_t *n, const char *s)
{
	struct turn_cidr c;
	int rc = turn_cidr_parse(&c, s);
	if (rc)
		return rc;
	if (*n >= TURN_POLICY_MAX_CIDRS)
		return -ENOSPC;
	arr[(*n)++] = c;
	return 0;
}

int turn_policy_allow(struct turn_policy *p, const char *cidr)
{
	return add(p->allow, &p->n_allow, cidr);
}

int turn_policy_deny(struct turn_policy *p, const char *cidr)
{
	return add(p->deny, &p->n_deny, cidr);
}

static int add_list(struct turn_policy *p, const char *list, bool allow)
{
	char tok[64];
	const char *s = list;
	while (*s) {
		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		size_t n = strcspn(s, " ,\t");
		if (!n)
			break;
		if (n >= sizeof(tok))
			return -EINVAL;
		memcpy(tok, s, n);
		tok[n] = 0;
		int rc = allow ? turn_policy_allow(p, tok) : turn_policy_deny(p, tok);
		if (rc)
			return rc;
		s += n;
	}
	return 0;
}

int turn_policy_allow_list(struct turn_policy *p, const char *list)
{
	return add_list(p, list, true);
}

int turn_policy_deny_list(struct turn_policy *p, const char *list)
{
	return add_list(p, list, false);
}

static bool v4_special(const uint8_t *a)
{
	uint8_t b0 = a[0], b1 = a[1], b2 = a[2];
	if (b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224) /* this-net, 1918, loop, mcast, 240/4 */
		return true;
	if (b0 == 100 && (b1 & 0xC0) == 64) /* CGNAT 100.64/10 */
		return true;
	if (b0 == 169 && b1 == 254) /* link-local, cloud metadata */
		return true;
	if (b0 == 172 && (b1 & 0xF0) == 16)
		return true;
	if (b0 == 192 && b1 == 168)
		return true;
	if (b0 == 192 && b1 == 0 && (b2 == 0 || b2 == 2)) /* IETF assignments, TEST-NET-1 */
		return true;
	if (b0 == 192 && b1 == 88 && b2 == 99) /* 6to4 relay anycast */
		return true;
	if (b0 == 198 && (b1 & 0xFE) == 18) /* benchmarking 198.18/15 */
		return true;
	if (b0 == 198 && b1 == 51 && b2 == 100) /* TEST-NET-2 */
		return true;
	if (b0 == 203 && b1 == 0 && b2 == 113) /* TEST-NET-3 */
		return true;
	return false;
}

/* The IPv4 address a routable IPv6 form stands for (6to4, NAT64 well-known prefix), or
 * NULL. Mapped, compatible and SIIT forms are not routable peers at all (::/8). */
static const uint8_t *v6_embedded_routable(const uint8_t *a)
{
	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	if (a[0] == 0x20 && a[1] == 0x02)
		return a + 2;
	if (!memcmp(a, nat64, 12))
		return a + 12;
	return NULL;
}

/* Any IPv4 address carried in the IPv6 address, routable or not (for denied-peer). */
static const uint8_t *v6_embedded_any(const uint8_t *a)
{
	static const uint8_t z[10];
	const uint8_t *e = v6_embedded_routable(a);
	if (e)
		return e;
	if (!memcmp(a, z, 10) && ((a[10] == 0xff && a[11] == 0xff) || (a[10] == 0 && a[11] == 0)))
		return a + 12; /* ::ffff:a.b.c.d mapped, ::a.b.c.d compatible */
	if (!memcmp(a, z, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
		return a + 12; /* ::ffff:0:a.b.c.d SIIT */
	return NULL;
}

bool turn_addr_is_special(const uint8_t *a, uint8_t fam)
{
	if (fam == 4)
		return v4_special(a);
	if (fam != 6)
		return true;
	const uint8_t *e = v6_embedded_routable(a);
	if (e)
		return v4_special(e);
	if ((a[0] & 0xE0) != 0x20) /* outside 2000::/3 global unicast: ::/8, fc00::/7, fe80::/10,
				       fec0::/10, ff00::/8, 100::/64, 64:ff9b:1::/48, ... */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02) /* 2001::/23 IETF, incl. Teredo */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* 2001:db8::/32 */
		return true;
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xF0) == 0) /* 3fff::/20 documentation */
		return true;
	return false;
}

static bool list_match(const struct turn_cidr *l, unsigned n, const uint8_t *ip, uint8_t fam)
{
	for (unsigned i = 0; i < n; i++)
		if (turn_cidr_match(&l[i], ip, fam))
			return true;
	return false;
}

enum turn_policy_verdict turn_policy_check(const struct turn_policy *p, const uint8_t *ip,
					   uint8_t fam)
{
	const uint8_t *emb_any = fam == 6 ? v6_embedded_any(ip) : NULL;
	const uint8_t *emb_rt = fam == 6 ? v6_embedded_routable(ip) : NULL;
	if (list_match(p->deny, p->n_deny, ip, fam) ||
	    (emb_any && list_match(p->deny, p->n_deny, emb_any, 4)))
		return TURN_PEER_DENIED_CONFIG;
	if (list_match(p->allow, p->n_allow, ip, fam) ||
	    (emb_rt && list_match(p->allow, p->n_allow, emb_rt, 4)))
		return TURN_PEER_OK;
	return turn_addr_is_special(ip, fam) ? TURN_PEER_DENIED_DEFAULT : TURN_PEER_OK;
}
