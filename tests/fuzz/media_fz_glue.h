/* SPDX-License-Identifier: BSD-3-Clause */
/* What tests/fuzz/fuzz_media.c reaches of the dataplane's static code, through
 * tests/fuzz/media_fz_glue.c (which includes dataplane/media/media_dp.c, dp_worker.c and
 * dp_control.c whole): the control lcore's session install/update/end (sess_apply,
 * sess_end, reclaim), the worker's way in for one received frame and the end of its burst
 * and loop iteration, and the control loop's handling of one punted mbuf. */
#ifndef POPRELAY_TESTS_FUZZ_MEDIA_FZ_GLUE_H
#define POPRELAY_TESTS_FUZZ_MEDIA_FZ_GLUE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/keyspace.h"
#include "dataplane/dp.h"
#include "dataplane/media/media.h"

/* media_feature.init() (config from dp_cfg's [media] defaults). */
int fz_media_init(void);
/* [media] clear_latch = first (else sdp-host) and relatch_interval_ms, changed at run time. */
void fz_media_tune(bool clear_latch_first, uint32_t relatch_interval_ms);
uint16_t fz_media_port_min(void);

/* Control: install record k, or update the live session of the same id with it (sess_apply).
 * 0 or a negative errno. */
int fz_sess_apply(const struct pr_ks_session *k);
/* Control: end the session id if live, and free what was retired (RCU grace period). */
void fz_sess_end(const char *id);
/* Control: end every live session, free everything retired. */
void fz_sess_end_all(void);
struct media_sess *fz_sess_find(const char *id);
unsigned fz_sess_count(void);
/* Worker view: the leg that owns relay port `port` (RTP or RTCP) and a leg's stream. */
struct media_leg *fz_slot(uint16_t port);
struct media_stream *fz_stream(struct media_leg *l, uint32_t ssrc);

#define FZ_CST_N 10
/* The anchor's control counters (struct cst), in declaration order. */
void fz_cst(uint64_t out[FZ_CST_N]);

/* Worker w receives frame m on port index pidx: way 0 as dp_worker.c's input() (the short
 * way when it takes it, else the full parse), way 1 the full parse alone (input_frame). */
void fz_worker_rx(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx, int way);
/* The end of a received burst (flush_inputs: the short way's batches, then the feature's). */
void fz_worker_end_burst(struct dp_worker *w);
/* The end of a loop iteration: transmit buffers flushed, dropped mbufs freed. */
void fz_worker_end_iteration(struct dp_worker *w);
/* The control loop's handling of one mbuf from a worker's punt ring. */
void fz_control_handle(struct rte_mbuf *m);

#endif
