/* SPDX-License-Identifier: BSD-3-Clause */
/* The media anchor's channel to poprelay-dtls (common/dtls_chan.h): the stream front's
 * mechanism (a sealed memfd of fring rings and an eventfd handed over a unix socket,
 * dataplane/turn/turn_stream.c), one ring each way, both ends of it on the control lcore
 * here: the workers never see the channel (they punt a leg's DTLS records to control).
 * Control lcore only; the telemetry thread reads the figures. */
#ifndef POPRELAY_DP_MEDIA_DTLS_H
#define POPRELAY_DP_MEDIA_DTLS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/dtls_chan.h"

struct rte_tel_data;

int md_chan_init(const char *path, uint32_t ring_bytes);
void md_chan_teardown(void);
/* Accepts a process, notices one that went away, wakes one that sleeps. True when a
 * process attached in this call (legs waiting for a START get it now). */
bool md_chan_poll(uint64_t now_ms);
bool md_chan_attached(void);
/* A message to the process: false when none is attached or its ring is full (counted). */
bool md_chan_send(const struct pr_frec *t, const struct pr_dtls_hdr *h, const void *d, uint32_t n);
/* The next message from the process, parsed (untrusted): 1, or 0 when none. */
int md_chan_recv(struct pr_frec *t, struct pr_dtls_msg *m);
/* The channel's and the process's figures (dtls_* in /poprelay/media/stats). */
void md_chan_tel(struct rte_tel_data *d);

#endif
