/* SPDX-License-Identifier: BSD-3-Clause */
/* A client of DPDK's telemetry socket (v2 protocol: SOCK_SEQPACKET, a JSON greeting, then
 * one command per message, one JSON reply {"<cmd>": value} each). Used by `poprelayctl
 * status|stats` to read the dataplane's /poprelay/... commands (docs/telemetry.md). */
#ifndef POPRELAY_MGMT_TELEMETRY_CLIENT_H
#define POPRELAY_MGMT_TELEMETRY_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define CTL_TEL_RUNDIR "/var/run/dpdk"

struct ctl_tel {
	int fd;
	size_t max_len; /* the server's max_output_len */
	char path[256];
};

/* Connect to /var/run/dpdk/<prefix>/dpdk_telemetry.v2. 0, or -ENOENT (no socket: not
 * running), -ECONNREFUSED (stale socket), -EAGAIN (no greeting within the timeout: a
 * frozen or hung dataplane), other negative errno. The timeout (3 s here) bounds the
 * greeting and each later send and reply. */
int ctl_tel_open(struct ctl_tel *t, const char *prefix);
/* The same with a timeout of its own, in milliseconds (> 0): for callers that must answer
 * within a bound (`poprelayctl status`, the exporter's alarm evaluator). */
int ctl_tel_open_timeout(struct ctl_tel *t, const char *prefix, int timeout_ms);
/* Send cmd ("/poprelay/stats", "/poprelay/port,0") and return the value of its reply (a
 * new reference), or NULL with *err set (-EIO, -EPROTO, -EINVAL when the server answered
 * null: unknown command or bad parameter). */
json_t *ctl_tel_query(struct ctl_tel *t, const char *cmd, int *err);
void ctl_tel_close(struct ctl_tel *t);

#endif
