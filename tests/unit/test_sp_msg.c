/* SPDX-License-Identifier: BSD-3-Clause */
/* Message entry point: stream framing (keepalives, Content-Length, 64 KiB limit), parse
 * checks and their status codes, response building; and the [sip] configuration parser. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slowpath/sp_config.h"
#include "slowpath/sp_msg.h"

#define REQ_HDRS                                                                                   \
	"Via: SIP/2.0/TLS 10.0.0.5:5061;branch=z9hG4bK776asdhds;rport\r\n"                         \
	"Max-Forwards: 70\r\n"                                                                     \
	"To: <sip:bob@poprelay>\r\n"                                                               \
	"From: \"Alice\" <sip:alice@poprelay>;tag=1928301774\r\n"                                  \
	"Call-ID: a84b4c76e66710@pc33\r\n"

static const char options[] =
    "OPTIONS sip:bob@poprelay SIP/2.0\r\n" REQ_HDRS "CSeq: 63104 OPTIONS\r\n"
    "User-Agent: test/1\r\n"
    "Content-Length: 0\r\n\r\n";

static void framing(void)
{
	size_t skip;
	unsigned pings;
	size_t n = strlen(options);
	CU_ASSERT_EQUAL(sp_msg_frame(options, n, &skip, &pings), (int)n);
	CU_ASSERT_EQUAL(skip, 0);
	CU_ASSERT_EQUAL(sp_msg_frame(options, n - 1, &skip, &pings), 0); /* partial */
	CU_ASSERT_EQUAL(sp_msg_frame("\r\n\r\n", 4, &skip, &pings), 0);
	CU_ASSERT_EQUAL(skip, 4);
	CU_ASSERT_EQUAL(pings, 1);
	char two[2048];
	int l = snprintf(two, sizeof(two), "\r\n\r\n%s%s", options, options);
	CU_ASSERT_EQUAL(sp_msg_frame(two, l, &skip, &pings), (int)n);
	CU_ASSERT_EQUAL(skip, 4);
	CU_ASSERT_EQUAL(pings, 1);
	/* body counted through Content-Length (compact form too) */
	static const char withbody[] = "MESSAGE sip:b@x SIP/2.0\r\nl: 5\r\n\r\nhelloEXTRA";
	CU_ASSERT_EQUAL(sp_msg_frame(withbody, strlen(withbody), &skip, &pings),
			(int)strlen(withbody) - 5);
	static const char nocl[] = "MESSAGE sip:b@x SIP/2.0\r\nTo: x\r\n\r\n";
	CU_ASSERT_EQUAL(sp_msg_frame(nocl, strlen(nocl), &skip, &pings), -EBADMSG);
	static const char badcl[] = "MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 5x\r\n\r\n";
	CU_ASSERT_EQUAL(sp_msg_frame(badcl, strlen(badcl), &skip, &pings), -EBADMSG);
	static const char hugecl[] = "MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 70000\r\n\r\n";
	CU_ASSERT_EQUAL(sp_msg_frame(hugecl, strlen(hugecl), &skip, &pings), -EMSGSIZE);
	/* headers that never end within 64 KiB */
	char *big = malloc(SP_MSG_MAX + 10);
	memset(big, 'a', SP_MSG_MAX + 10);
	CU_ASSERT_EQUAL(sp_msg_frame(big, SP_MSG_MAX + 10, &skip, &pings), -EMSGSIZE);
	free(big);
}

static void parse_ok(void)
{
	osip_message_t *m;
	int st;
	const char *why;
	CU_ASSERT_EQUAL_FATAL(sp_msg_parse(options, strlen(options), &m, &st, &why), 0);
	CU_ASSERT_STRING_EQUAL(m->sip_method, "OPTIONS");
	CU_ASSERT_STRING_EQUAL(sp_msg_branch(m), "z9hG4bK776asdhds");
	CU_ASSERT_STRING_EQUAL(sp_msg_from_tag(m), "1928301774");
	CU_ASSERT_PTR_NULL(sp_msg_to_tag(m));
	CU_ASSERT_STRING_EQUAL(sp_msg_header(m, "user-agent"), "test/1");

	struct sp_buf b = {0};
	CU_ASSERT_EQUAL(
	    sp_msg_response(&b, m, 200, NULL, "xyz", "Allow: INVITE\r\n", NULL, NULL, 0), 0);
	CU_ASSERT_TRUE(!strncmp(b.p, "SIP/2.0 200 OK\r\n", 16));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "branch=z9hG4bK776asdhds"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "To: <sip:bob@poprelay>;tag=xyz\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "CSeq: 63104 OPTIONS\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "Allow: INVITE\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "Content-Length: 0\r\n\r\n"));
	/* and the response parses back */
	osip_message_t *r;
	CU_ASSERT_EQUAL(sp_msg_parse(b.p, b.len, &r, &st, &why), 0);
	if (r) {
		CU_ASSERT_EQUAL(r->status_code, 200);
		CU_ASSERT_STRING_EQUAL(sp_msg_to_tag(r), "xyz");
		osip_message_free(r);
	}
	sp_buf_free(&b);
	osip_message_free(m);
}

/* A response byte for byte (the format the printf chain it replaced wrote): both Vias, the
 * Record-Route of a 2xx, the tag added to To, the body with its type and length. */
static void response_bytes(void)
{
	static const char req[] =
	    "INVITE sip:bob@poprelay SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 10.0.0.5:5061;branch=z9hG4bK776asdhds;rport\r\n"
	    "Via: SIP/2.0/TLS 10.0.0.9:5061;branch=z9hG4bKabc;received=1.2.3.4\r\n"
	    "Record-Route: <sip:10.0.0.9;lr>\r\n"
	    "Max-Forwards: 70\r\n"
	    "To: <sip:bob@poprelay>\r\n"
	    "From: \"Alice\" <sip:alice@poprelay>;tag=1928301774\r\n"
	    "Call-ID: a84b4c76e66710@pc33\r\n"
	    "CSeq: 2 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char want[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/TLS 10.0.0.5:5061;branch=z9hG4bK776asdhds;rport\r\n"
	    "Via: SIP/2.0/TLS 10.0.0.9:5061;branch=z9hG4bKabc;received=1.2.3.4\r\n"
	    "Record-Route: <sip:10.0.0.9;lr>\r\n"
	    "From: \"Alice\" <sip:alice@poprelay>;tag=1928301774\r\n"
	    "To: <sip:bob@poprelay>;tag=tt\r\n"
	    "Call-ID: a84b4c76e66710@pc33\r\n"
	    "CSeq: 2 INVITE\r\n"
	    "Allow: INVITE\r\n"
	    "Server: poprelay-slowpath\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n\r\n"
	    "v=0\r\n";
	static const char want_486[] = "SIP/2.0 486 Busy Here Now\r\n";
	osip_message_t *m;
	int st;
	const char *why;
	CU_ASSERT_EQUAL_FATAL(sp_msg_parse(req, strlen(req), &m, &st, &why), 0);
	struct sp_buf b = {0};
	CU_ASSERT_EQUAL(sp_msg_response(&b, m, 200, NULL, "tt", "Allow: INVITE\r\n", "text/plain",
					"v=0\r\n", 5),
			0);
	CU_ASSERT_EQUAL(b.len, strlen(want));
	CU_ASSERT_STRING_EQUAL(b.p, want);
	sp_buf_free(&b);
	CU_ASSERT_EQUAL(sp_msg_response(&b, m, 486, "Busy Here Now", "tt", NULL, NULL, NULL, 0), 0);
	CU_ASSERT_TRUE(b.p && !strncmp(b.p, want_486, strlen(want_486)));
	CU_ASSERT_PTR_NULL(strstr(b.p, "Record-Route")); /* not in a non-2xx final */
	sp_buf_free(&b);
	osip_message_free(m);

	sp_buf_uint(&b, 0);
	sp_buf_cat(&b, " ", "a", "", "b", NULL);
	sp_buf_uint(&b, 18446744073709551615ULL);
	CU_ASSERT_STRING_EQUAL(b.p, "0 ab18446744073709551615");
	sp_buf_free(&b);
}

static int parse_status(const char *txt, const char **why)
{
	osip_message_t *m;
	int st;
	int rc = sp_msg_parse(txt, strlen(txt), &m, &st, why);
	if (m)
		osip_message_free(m);
	if (rc == 0)
		return 0;
	return rc == -EINVAL ? st : -1; /* -1: dropped */
}

static void parse_bad(void)
{
	const char *why;
	CU_ASSERT_EQUAL(parse_status("garbage\r\n\r\n", &why), -1);
	CU_ASSERT_EQUAL(parse_status("INVITE sip:bob@x SIP/2.0\r\nContent-Length: 0\r\n\r\n", &why),
			-1); /* nothing to answer with */
	CU_ASSERT_EQUAL(parse_status("OPTIONS sip:bob@poprelay SIP/2.0\r\n" REQ_HDRS
				     "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
				     &why),
			400);
	CU_ASSERT_STRING_EQUAL(why, "CSeq method differs from request method");
	CU_ASSERT_EQUAL(parse_status("OPTIONS sip:bob@poprelay SIP/2.0\r\n" REQ_HDRS
				     "CSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n",
				     &why),
			400);
	CU_ASSERT_EQUAL(parse_status("OPTIONS sip:bob@poprelay SIP/2.0\r\n" REQ_HDRS
				     "CSeq: 1 OPTIONS\r\nContent-Length: 10\r\n\r\nabc",
				     &why),
			400);
	CU_ASSERT_EQUAL(parse_status("INVITE sip:bob@poprelay SIP/2.0\r\n"
				     "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
				     "Max-Forwards: 0\r\nTo: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\n"
				     "Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
				     &why),
			483);
	CU_ASSERT_EQUAL(parse_status("INVITE sip:bob@poprelay SIP/3.0\r\n"
				     "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
				     "To: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\n"
				     "Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
				     &why),
			505);
	CU_ASSERT_EQUAL(parse_status("INVITE tel:+1555 SIP/2.0\r\n"
				     "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
				     "To: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\n"
				     "Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
				     &why),
			416);
}

static void config(void)
{
	struct sp_config c;
	char err[256];
	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(sp_config_parse(&c, "t.conf",
					"[global]\nrealm = example\n[redis]\nsocket=/tmp/x.sock\n"
					"[eal]\nlcores = 1-3 ; not ours\n"
					"[sip]\ntls_listen = 127.0.0.1:15061\nlisten=[::1]:15060\n"
					"pop = par1\nmedia_ports = 20000-20100\n"
					"offnet_routes = +33=192.0.2.1:5060, 00=192.0.2.2:5070\n"
					"peer_pops = ams1=10.1.0.1:5061\n"
					"tls_verify_client = optional\n"
					"digest_algorithms = MD5\n"
					"max_flows_per_source = 7\nfirst_message_timeout_s = 3\n",
					err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(c.realm, "example");
	CU_ASSERT_STRING_EQUAL(c.redis_socket, "/tmp/x.sock");
	CU_ASSERT_STRING_EQUAL(c.tls_addr, "127.0.0.1");
	CU_ASSERT_EQUAL(c.tls_port, 15061);
	CU_ASSERT_STRING_EQUAL(c.plain_addr, "::1");
	CU_ASSERT_EQUAL(c.plain_port, 15060);
	CU_ASSERT_STRING_EQUAL(c.pop, "par1");
	CU_ASSERT_EQUAL(c.media_port_lo, 20000);
	CU_ASSERT_EQUAL(c.media_port_hi, 20100);
	CU_ASSERT_EQUAL(c.n_offnet, 2);
	CU_ASSERT_STRING_EQUAL(c.offnet_prefix[1], "00");
	CU_ASSERT_EQUAL(c.offnet_port[1], 5070);
	CU_ASSERT_EQUAL(c.n_peers, 1);
	CU_ASSERT_STRING_EQUAL(c.peers[0].name, "ams1");
	CU_ASSERT_EQUAL(c.verify_client, SP_VERIFY_OPTIONAL);
	CU_ASSERT_EQUAL(c.n_digest_algs, 1);
	CU_ASSERT_EQUAL(c.max_flows_per_source, 7);
	CU_ASSERT_EQUAL(c.first_message_timeout_s, 3);
	CU_ASSERT_EQUAL(c.digest_algs[0], 1);
	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(c.n_digest_algs, 2);
	CU_ASSERT_EQUAL(
	    sp_config_parse(&c, "t.conf", "[sip]\ndigest_algorithms = SHA-512\n", err, sizeof(err)),
	    -EINVAL);

	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(sp_config_parse(&c, "t.conf", "[sip]\nfoo = 1\n", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2: [sip]: unknown key 'foo'"));
	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(
	    sp_config_parse(&c, "t.conf", "[sip]\nnonce_ttl_s = -5\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nonce_ttl_s"));
	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(
	    sp_config_parse(&c, "t.conf", "[sip]\ntls_listen = 5061\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(sp_config_load(&c, "/nonexistent/sp.conf", err, sizeof(err)), -ENOENT);
	/* [sip] redis_user wins over [redis] user, in either order */
	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(sp_config_parse(&c, "t.conf",
					"[sip]\nredis_user = slowpath\n[redis]\nuser = shared\n"
					"password_file = /etc/shared.pass\n",
					err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(c.redis_user, "slowpath");
	CU_ASSERT_STRING_EQUAL(c.redis_password_file, "/etc/shared.pass");
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	sp_msg_init();
	CU_pSuite s = CU_add_suite("sp_msg", NULL, NULL);
	CU_add_test(s, "framing", framing);
	CU_add_test(s, "parse ok + response", parse_ok);
	CU_add_test(s, "response bytes", response_bytes);
	CU_add_test(s, "parse errors", parse_bad);
	CU_add_test(s, "config", config);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
