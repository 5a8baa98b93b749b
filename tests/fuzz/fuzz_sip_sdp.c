/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the SDP side of the B2BUA: inspection (libosip2 SDP grammar + SDES
 * lines + WebRTC's ICE/DTLS/BUNDLE lines), the encryption policy on every m= line (SDES
 * and the browser legs' DTLS policy), codecs in common, and the relay rewrite both ways:
 * toward a device (SDES) and toward a browser (ICE-lite, DTLS), which must never carry the
 * source's ICE password. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slowpath/sp_sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		sp_msg_init();
		init = 1;
	}
	struct sp_sdp_info info;
	if (sp_sdp_inspect((const char *)data, size, &info) < 0)
		return 0;
	struct sp_sdp_rewrite rw = {.relay_addr = "203.0.113.1", .n = info.n};
	for (unsigned i = 0; i < info.n; i++) {
		bool enc;
		int idx;
		const char *why;
		sp_policy_media(i & 1, true, &info.m[i], &enc, &idx, &why);
		rw.relay_port[i] = (uint16_t)(20000 + 2 * i);
		rw.encrypted[i] = enc;
		if (enc)
			rw.key[i] = info.m[i].crypto[idx];
	}
	struct sp_buf out = {0};
	if (sp_sdp_rewrite((const char *)data, size, &rw, &out) == 0) {
		struct sp_sdp_info again;
		if (sp_sdp_inspect(out.p, out.len, &again) == 0) {
			if (again.n != info.n)
				__builtin_trap(); /* the rewrite must keep every m= line */
			sp_sdp_info_wipe(&again);
		}
	}
	sp_buf_free(&out);

	/* toward a browser: every m= line DTLS with our credentials */
	static const char fpr[] = "sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:"
				  "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9";
	rw.fingerprint = fpr;
	for (unsigned i = 0; i < info.n; i++) {
		const char *why;
		sp_policy_dtls(&info.m[i], &why);
		if (i)
			sp_sdp_codec_common(&info.m[0], &info.m[i]);
		rw.dtls[i] = true;
		rw.d[i] =
		    (struct sp_sdp_dtls_out){"Ufrg", "OurPwdOurPwdOurPwdOurPw",
					     i & 1 ? "actpass" : "passive", i & 2 ? "m" : NULL};
	}
	if (sp_sdp_rewrite((const char *)data, size, &rw, &out) == 0) {
		struct sp_sdp_info again;
		if (sp_sdp_inspect(out.p, out.len, &again) == 0) {
			if (again.n != info.n)
				__builtin_trap();
			/* the only ICE password left is ours: the source's never goes on */
			for (unsigned i = 0; i < again.n; i++)
				if (again.m[i].ice_pwd[0] &&
				    strcmp(again.m[i].ice_pwd, "OurPwdOurPwdOurPwdOurPw"))
					__builtin_trap();
			sp_sdp_info_wipe(&again);
		}
	}
	sp_buf_free(&out);
	/* BUNDLE: what the plan takes, the anchor can tell apart (payload types apart, unless
	 * every member has the MID header extension, one id, a MID of 16 bytes at most; SSRCs
	 * and mids apart); our group, on one port, reads back with every member in it */
	struct sp_sdp_bundle b;
	const char *bwhy;
	if (sp_sdp_bundle_plan(&info, &b, &bwhy)) {
		if (b.n < 2 || !b.member[b.tag] || bwhy)
			__builtin_trap();
		bool by_mid = true;
		for (unsigned i = 0; i < info.n; i++)
			if (b.member[i])
				by_mid = by_mid && info.m[i].mid_ext &&
					 info.m[i].mid_ext == info.m[b.tag].mid_ext &&
					 strlen(info.m[i].mid) <= 16;
		for (unsigned i = 0; i < info.n; i++)
			for (unsigned j = i + 1; b.member[i] && j < info.n; j++) {
				const struct sp_sdp_media *x = &info.m[i], *y = &info.m[j];
				if (!b.member[j])
					continue;
				if (!strcmp(x->mid, y->mid))
					__builtin_trap();
				for (unsigned p = 0; p < x->n_codecs && !by_mid; p++)
					for (unsigned q = 0; q < y->n_codecs; q++)
						if (x->codecs[p].pt == y->codecs[q].pt)
							__builtin_trap();
				for (unsigned p = 0; p < x->n_ssrc; p++)
					for (unsigned q = 0; q < y->n_ssrc; q++)
						if (x->ssrc[p] == y->ssrc[q])
							__builtin_trap();
			}
		for (unsigned i = 0; i < info.n; i++) {
			rw.bundle[i] = b.member[i];
			rw.relay_port[i] = b.member[i] ? 20000 : rw.relay_port[i];
			rw.d[i].mid = NULL; /* theirs */
		}
		if (sp_sdp_rewrite((const char *)data, size, &rw, &out) != 0)
			__builtin_trap(); /* the plan's members are always writable */
		struct sp_sdp_info again;
		if (sp_sdp_inspect(out.p, out.len, &again) == 0) {
			if (!again.bundle)
				__builtin_trap();
			for (unsigned i = 0; i < again.n; i++)
				if (b.member[i] &&
				    (!again.m[i].bundled || again.m[i].port != 20000))
					__builtin_trap();
			sp_sdp_info_wipe(&again);
		}
		sp_buf_free(&out);
	}
	char fp[SP_SDP_FPR_MAX], in[128];
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	memcpy(in, data, n);
	in[n] = '\0';
	sp_sdp_fingerprint_norm(in, fp);
	sp_sdp_info_wipe(&info);
	return 0;
}
