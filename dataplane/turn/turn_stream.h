/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's side of TURN over TCP and TLS (docs/turn.md, "TURN over TCP and TLS").
 *
 * TCP and TLS are terminated by the kernel and OpenSSL in poprelay-turnfront, a process of
 * its own; the allocations, their relayed addresses and the data to and from peers stay
 * here. The front hands each STUN message or ChannelData a client sent to the dataplane as
 * a record of common/fring.h, named by the connection's 5-tuple (transport PR_TP_TCP or
 * PR_TP_TLS), and writes to the connection what comes back under the same 5-tuple. To the
 * TURN server such a record is a datagram from that 5-tuple: the same authentication,
 * quotas, peer policy and allocation rules as over UDP.
 *
 * The channel: a unix SOCK_SEQPACKET socket ([turn] stream_socket) on which the control
 * lcore accepts one front at a time and passes it a memfd with the rings and an eventfd.
 * Workers read the ring front -> worker of their own index and write theirs toward the
 * front; the control lcore writes its answers on the last ring. No system call on a worker:
 * the control lcore wakes the front (the eventfd) when it sleeps and a ring toward it has
 * records. When the front goes away (its socket closes, or a ring holds garbage), workers
 * stop at once; after an RCU grace period the rings are reset and the next front is
 * accepted. The allocations stay: they live on until their lifetime ends, or until a
 * client of a live front closes its connection. */
#ifndef POPRELAY_DP_TURN_STREAM_H
#define POPRELAY_DP_TURN_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_telemetry.h>

#include "common/fring.h"
#include "dataplane/turn/stun_msg.h"

/* Control, at init: the socket at path (replaced if it exists), rings of ring_bytes for
 * n_workers workers. 0 or a negative errno (logged). */
int ts_init(const char *path, unsigned n_workers, uint32_t ring_bytes);
void ts_teardown(void);
/* Control, every loop iteration: accept, detach, wake the front. */
void ts_ctl_poll(uint64_t now_ms);

/* Whether a front is attached (workers: read at each poll). */
bool ts_attached(void);
/* The ring index of control's answers (the workers' are their index). */
unsigned ts_ctl_ring(void);

/* Worker w (or control with ts_ctl_ring()): a record toward the front for the client
 * cli (its proto PR_TP_TCP/TLS) of listener srv, the payload p1[n1], p2[n2], then pad zero
 * bytes. false (counted) when no front is attached or the ring is full. */
bool ts_send(unsigned ring, const struct pr_taddr *cli, const struct pr_taddr *srv, const void *p1,
	     uint16_t n1, const void *p2, uint16_t n2, uint16_t pad);
/* Worker w: the next record from the front into *h and buf (PR_FRING_MAX_MSG bytes). 1, or
 * 0 when there is none (or no front). A ring holding garbage is counted and detaches the
 * front. */
int ts_recv(unsigned w, struct pr_frec *h, uint8_t *buf);
/* The record's 5-tuple as the TURN server's context addresses. */
void ts_frec_taddrs(const struct pr_frec *h, struct pr_taddr *cli, struct pr_taddr *srv);

/* Telemetry: stream_* fields into d (a dict). */
void ts_tel_stats(struct rte_tel_data *d);

#endif
