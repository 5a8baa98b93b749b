/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the SDP side of the B2BUA: inspection (libosip2 SDP grammar + SDES
 * lines), the encryption policy on every m= line, and the relay rewrite. */
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
	sp_sdp_info_wipe(&info);
	return 0;
}
