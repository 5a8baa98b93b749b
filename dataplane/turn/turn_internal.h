/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to dataplane/turn: the server state shared by the control and worker halves. */
#ifndef POPRELAY_TURN_INTERNAL_H
#define POPRELAY_TURN_INTERNAL_H

#include "dataplane/turn/turn_server.h"

#define NONCE_COOKIE   "obMatJos2"
#define NONCE_FEATURES "gAAA" /* 24-bit security features: bit 0 = password algorithms */
#define NONCE_LEN      (9 + 4 + 32)
#define RL_BUCKETS     1024
#define RESV_MAX       64
#define RESV_LIFETIME  30   /* RFC 8656 7.1: a reservation lasts about 30 s */
#define MSG_MAX	       2048 /* requests we are willing to authenticate */

struct user_cnt {
	uint64_t h; /* 0 = empty */
	uint32_t n;
};

struct rl_bucket {
	uint32_t key;
	uint32_t last;
	uint32_t tokens;
};

struct resv {
	uint64_t token;
	uint32_t expires;
	uint16_t port;
	uint8_t fi;
	uint8_t used;
};

struct turn_server {
	struct turn_cfg cfg;
	struct turn_table *tbl;
	struct turn_cred_ops cred;
	struct turn_hooks hooks;
	uint32_t now;	 /* control writes, workers read */
	bool draining;	 /* control lcore only */
	bool store_down; /* Redis away: state-changing requests get 500 (control lcore) */
	uint64_t id_seq;
	struct turn_ctl_stats st;
	struct user_cnt *users; /* per-user allocation counts (open addressing) */
	uint32_t users_mask;
	uint32_t users_used; /* slots taken, live or at zero; rebuilt when half full */
	struct rl_bucket rl[RL_BUCKETS];
	struct resv resv[RESV_MAX];
};

struct auth {
	uint8_t key[32];
	uint8_t klen;
	uint16_t mi_type;
	char username[TURN_USERNAME_MAX];
	const char *quota_user; /* points into username */
};

#endif
