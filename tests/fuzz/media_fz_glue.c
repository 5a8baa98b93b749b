/* SPDX-License-Identifier: BSD-3-Clause */
/* The static code tests/fuzz/fuzz_media.c drives (see media_fz_glue.h): the media anchor,
 * the worker loop's steps and the control loop's punt handling, each source included whole
 * so that the fuzzer runs exactly the dataplane's code. Built once per part (media.mk:
 * -DFZ_GLUE_media, _worker, _control), one source per object, so that their static names
 * never meet and each object's dependency file follows its source. */
#include "tests/fuzz/media_fz_glue.h"

#if defined(FZ_GLUE_media)
#include "dataplane/media/media_dp.c"

int fz_media_init(void)
{
	/* no poprelay-dtls: the EAL of the fuzzer has no runtime directory for its socket */
	snprintf(mcfg.dtls_socket, sizeof(mcfg.dtls_socket), "off");
	return media_feature.init();
}

void fz_media_tune(bool first, uint32_t relatch_ms)
{
	clear_latch_first = first;
	mcfg.relatch_interval_ms = relatch_ms;
	relatch_cyc = dp_rt.tsc_hz / 1000 * relatch_ms;
}

uint16_t fz_media_port_min(void)
{
	return (uint16_t)mcfg.port_min;
}

int fz_sess_apply(const struct pr_ks_session *k)
{
	int rc = sess_apply(k, sess_find(k->id), NULL, NULL);

	reclaim();
	return rc;
}

void fz_sess_end(const char *id)
{
	struct media_sess *s = sess_find(id);

	if (s)
		sess_end(s);
	reclaim();
}

void fz_sess_end_all(void)
{
	while (nlist)
		sess_end(list[nlist - 1]);
	reclaim();
}

struct media_sess *fz_sess_find(const char *id)
{
	return sess_find(id);
}

unsigned fz_sess_count(void)
{
	return nlist;
}

struct media_leg *fz_slot(uint16_t port)
{
	return slot_get(port);
}

struct media_stream *fz_stream(struct media_leg *l, uint32_t ssrc)
{
	return stream_find(l, ssrc);
}

void fz_cst(uint64_t out[FZ_CST_N])
{
	const uint64_t v[FZ_CST_N] = {
	    cst.installs, cst.updates,	 cst.ends,	  cst.bad_entries,  cst.unknown,
	    cst.refused,  cst.idle_ends, cst.ctl_relayed, cst.redis_errors, cst.streams_restored};

	memcpy(out, v, sizeof(v));
}

#elif defined(FZ_GLUE_worker)
#include "dataplane/dp_worker.c"

void fz_worker_rx(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx, int way)
{
	if (way == 0) {
		input(w, m, pidx);
		return;
	}
	w->stats->rx_packets++;
	w->stats->rx_bytes += rte_pktmbuf_pkt_len(m);
	input_frame(w, m, pidx);
}

void fz_worker_end_burst(struct dp_worker *w)
{
	flush_inputs(w);
}

void fz_worker_end_iteration(struct dp_worker *w)
{
	dp_worker_flush(w);
	free_dropped(w);
}

#elif defined(FZ_GLUE_control)
#include "dataplane/dp_control.c"

/* One punted packet handled, and what control sent for it flushed to its TX queue, as the
 * loop does at the end of each step. */
void fz_control_handle(struct rte_mbuf *m)
{
	handle(m);
	dp_control_tx_flush();
}

#else
#error "build with -DFZ_GLUE_media, -DFZ_GLUE_worker or -DFZ_GLUE_control"
#endif
