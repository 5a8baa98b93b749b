/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's side of TURN over TCP and TLS: the channel to poprelay-turnfront
 * (turn_stream.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>

#include "common/log.h"
#include "dataplane/dp.h"
#include "dataplane/turn/turn_stream.h"

enum { ST_OFF, ST_IDLE, ST_ATTACHED, ST_DETACHING };

static struct {
	int state;
	int lfd, cfd, memfd, efd;
	void *region;
	size_t region_bytes;
	uint32_t ring_bytes, n_workers, generation;
	uint64_t rcu_token;
	uint64_t next_check_ms;
	char path[108];
	/* control's figures */
	uint64_t attaches, detaches, refused;
} ts = {.state = ST_OFF, .lfd = -1, .cfd = -1, .memfd = -1, .efd = -1};

/* Workers read it at each poll; control writes it. */
static volatile int attached;
/* A worker found garbage in a ring: control detaches the front. */
static volatile int broken;

/* Per ring toward the front (workers', then control's) and per worker from it: one writer
 * each, read whole by telemetry. */
static struct {
	uint64_t sent, send_dropped, received, gone, bad;
} __rte_cache_aligned rst[DP_MAX_WORKERS + 1];

static struct pr_fring_region *hdr(void)
{
	return ts.region;
}

static struct pr_fring *ring(uint32_t i)
{
	return pr_fring_at(ts.region, ts.ring_bytes, i);
}

int ts_init(const char *path, unsigned n_workers, uint32_t ring_bytes)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		PR_ERR("turn: [turn] stream_socket: path too long (%zu bytes, at most %zu)",
		       strlen(path), sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	snprintf(ts.path, sizeof(ts.path), "%s", path);
	ts.n_workers = n_workers;
	ts.ring_bytes = ring_bytes;
	ts.region_bytes = pr_fring_region_bytes(n_workers, n_workers + 1, ring_bytes);
	ts.memfd = memfd_create("poprelay-turn-stream", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ts.memfd < 0 || ftruncate(ts.memfd, (off_t)ts.region_bytes) < 0) {
		PR_ERR("turn: stream rings (%zu bytes): %s", ts.region_bytes, strerror(errno));
		ts_teardown();
		return -errno;
	}
	/* the front may not grow or shrink the region under us */
	(void)fcntl(ts.memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	ts.region = mmap(NULL, ts.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ts.memfd, 0);
	if (ts.region == MAP_FAILED) {
		ts.region = NULL;
		PR_ERR("turn: stream rings: mmap: %s", strerror(errno));
		ts_teardown();
		return -ENOMEM;
	}
	ts.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ts.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ts.efd < 0 || ts.lfd < 0) {
		PR_ERR("turn: stream socket: %s", strerror(errno));
		ts_teardown();
		return -errno;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	(void)unlink(path);
	if (bind(ts.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ts.lfd, 4) < 0) {
		int e = errno;
		PR_ERR("turn: [turn] stream_socket %s: %s", path, strerror(e));
		ts_teardown();
		return -e;
	}
	/* the front runs as its own user, in the dataplane's group */
	(void)chmod(path, 0660);
	struct pr_fring_region *h = hdr();
	memset(h, 0, PR_FRING_REGION_HDR);
	h->magic = PR_FRING_MAGIC;
	h->version = PR_FRING_VERSION;
	h->n_in = n_workers;
	h->n_out = n_workers + 1;
	h->ring_bytes = ring_bytes;
	ts.state = ST_IDLE;
	PR_INFO("turn: stream front socket %s (rings of %u KiB, %u workers)", path,
		ring_bytes / 1024, n_workers);
	return 0;
}

void ts_teardown(void)
{
	attached = 0;
	if (ts.cfd >= 0)
		close(ts.cfd);
	if (ts.lfd >= 0) {
		close(ts.lfd);
		(void)unlink(ts.path);
	}
	if (ts.efd >= 0)
		close(ts.efd);
	if (ts.region)
		munmap(ts.region, ts.region_bytes);
	if (ts.memfd >= 0)
		close(ts.memfd);
	ts.cfd = ts.lfd = ts.efd = ts.memfd = -1;
	ts.region = NULL;
	ts.state = ST_OFF;
}

/* Every ring empty, the front's figures zero: for the next front. Only while no worker can
 * be in a ring (after the grace period). */
static void reset_rings(void)
{
	struct pr_fring_region *h = hdr();
	for (uint32_t i = 0; i < 2 * ts.n_workers + 1; i++) {
		struct pr_fring *r = ring(i);
		r->head = r->tail = 0;
	}
	memset(&h->st, 0, sizeof(h->st));
	h->want_wake = 0;
}

static void try_accept(void)
{
	int fd = accept4(ts.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct pr_fring_hello hello = {.magic = PR_FRING_MAGIC,
				       .version = PR_FRING_VERSION,
				       .n_in = ts.n_workers,
				       .n_out = ts.n_workers + 1,
				       .ring_bytes = ts.ring_bytes,
				       .generation = ++ts.generation};
	int fds[2] = {ts.memfd, ts.efd};
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = {.iov_base = &hello, .iov_len = sizeof(hello)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(hello)) {
		PR_WARN("turn: stream front: handshake failed: %s", strerror(errno));
		close(fd);
		return;
	}
	ts.cfd = fd;
	ts.attaches++;
	broken = 0;
	ts.state = ST_ATTACHED;
	__atomic_store_n(&attached, 1, __ATOMIC_RELEASE);
	PR_NOTICE("turn: stream front attached (generation %u)", ts.generation);
}

static void detach(const char *why)
{
	__atomic_store_n(&attached, 0, __ATOMIC_RELEASE);
	close(ts.cfd);
	ts.cfd = -1;
	ts.detaches++;
	ts.rcu_token = rte_rcu_qsbr_start(dp_rt.rcu);
	ts.state = ST_DETACHING;
	PR_NOTICE("turn: stream front detached (%s); its clients' allocations stay until they "
		  "expire",
		  why);
}

void ts_ctl_poll(uint64_t now_ms)
{
	if (ts.state == ST_OFF)
		return;
	if (ts.state == ST_ATTACHED) {
		struct pr_fring_region *h = hdr();
		/* the front sleeps and a ring toward it has records: wake it */
		if (h->want_wake) {
			for (uint32_t i = ts.n_workers; i < 2 * ts.n_workers + 1; i++) {
				if (pr_fring_empty(ring(i)))
					continue;
				if (__atomic_exchange_n(&h->want_wake, 0, __ATOMIC_ACQ_REL)) {
					uint64_t one = 1;
					ssize_t rc = write(ts.efd, &one, sizeof(one));
					(void)rc; /* EAGAIN: the counter is already nonzero */
				}
				break;
			}
		}
		if (broken) {
			detach("a ring held what no front writes");
			return;
		}
	}
	if (now_ms < ts.next_check_ms)
		return;
	ts.next_check_ms = now_ms + 100;
	if (ts.state == ST_ATTACHED) {
		char b[16];
		ssize_t n = recv(ts.cfd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			detach(n == 0 ? "it closed its socket" : strerror(errno));
		return;
	}
	if (ts.state == ST_DETACHING) {
		if (rte_rcu_qsbr_check(dp_rt.rcu, ts.rcu_token, false) != 1)
			return;
		reset_rings();
		ts.state = ST_IDLE;
	}
	if (ts.state == ST_IDLE)
		try_accept();
	/* a second front while one is attached is refused */
	if (ts.state == ST_ATTACHED) {
		int fd = accept4(ts.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			ts.refused++;
			close(fd);
		}
	}
}

bool ts_attached(void)
{
	return __atomic_load_n(&attached, __ATOMIC_ACQUIRE) != 0;
}

unsigned ts_ctl_ring(void)
{
	return ts.n_workers;
}

bool ts_send(unsigned r, const struct pr_taddr *cli, const struct pr_taddr *srv, const void *p1,
	     uint16_t n1, const void *p2, uint16_t n2, uint16_t pad)
{
	struct pr_frec h;

	if (!ts_attached() || r > ts.n_workers) {
		rst[r <= ts.n_workers ? r : ts.n_workers].send_dropped++;
		return false;
	}
	memset(&h, 0, sizeof(h));
	h.kind = PR_FREC_MSG;
	h.proto = cli->proto;
	h.fam = cli->fam;
	h.cli_port = cli->port;
	h.srv_port = srv->port;
	memcpy(h.cli_ip, cli->ip, 16);
	memcpy(h.srv_ip, srv->ip, 16);
	/* (pad: at most 3, a Data indication's attribute padding) */
	if (pad > 3 ||
	    !pr_fring_put_pad(ring(ts.n_workers + r), ts.ring_bytes, &h, p1, n1, p2, n2, pad)) {
		rst[r].send_dropped++;
		return false;
	}
	rst[r].sent++;
	return true;
}

int ts_recv(unsigned w, struct pr_frec *h, uint8_t *buf)
{
	if (!ts_attached() || broken)
		return 0;
	for (;;) {
		int rc = pr_fring_get(ring(w), ts.ring_bytes, h, buf, PR_FRING_MAX_MSG);
		if (rc < 0) {
			rst[w].bad++;
			broken = 1;
			return 0;
		}
		if (rc == 0)
			return 0;
		/* a record whose 5-tuple no front writes is skipped (counted) */
		if ((h->fam != 4 && h->fam != 6) ||
		    (h->proto != PR_TP_TCP && h->proto != PR_TP_TLS) ||
		    (h->kind == PR_FREC_MSG && h->len == 0)) {
			rst[w].bad++;
			continue;
		}
		if (h->kind == PR_FREC_GONE)
			rst[w].gone++;
		else
			rst[w].received++;
		return 1;
	}
}

void ts_frec_taddrs(const struct pr_frec *h, struct pr_taddr *cli, struct pr_taddr *srv)
{
	memset(cli, 0, sizeof(*cli));
	memset(srv, 0, sizeof(*srv));
	memcpy(cli->ip, h->cli_ip, h->fam == 4 ? 4 : 16);
	memcpy(srv->ip, h->srv_ip, h->fam == 4 ? 4 : 16);
	cli->fam = srv->fam = h->fam;
	cli->port = h->cli_port;
	srv->port = h->srv_port;
	cli->proto = h->proto;
}

void ts_tel_stats(struct rte_tel_data *d)
{
	uint64_t sent = 0, dropped = 0, received = 0, gone = 0, bad = 0;

	for (unsigned i = 0; i <= ts.n_workers && ts.state != ST_OFF; i++) {
		sent += rst[i].sent;
		dropped += rst[i].send_dropped;
		received += rst[i].received;
		gone += rst[i].gone;
		bad += rst[i].bad;
	}
	rte_tel_data_add_dict_int(d, "stream_front_attached", ts_attached());
	rte_tel_data_add_dict_u64(d, "stream_front_attaches", ts.attaches);
	rte_tel_data_add_dict_u64(d, "stream_front_refused", ts.refused);
	rte_tel_data_add_dict_u64(d, "stream_to_front", sent);
	rte_tel_data_add_dict_u64(d, "stream_to_front_dropped", dropped);
	rte_tel_data_add_dict_u64(d, "stream_from_front", received);
	rte_tel_data_add_dict_u64(d, "stream_closed", gone);
	rte_tel_data_add_dict_u64(d, "stream_bad_records", bad);
	if (!ts_attached())
		return;
	/* the front's own figures, from the region's header */
	const struct pr_fring_stats *s = &hdr()->st;
	static const char *const tp[3] = {"udp", "tcp", "tls"};
	char k[48];
	for (int i = 1; i <= 2; i++) {
		snprintf(k, sizeof(k), "stream_%s_connections", tp[i]);
		rte_tel_data_add_dict_u64(d, k, s->conns[i]);
		snprintf(k, sizeof(k), "stream_%s_rx_msgs", tp[i]);
		rte_tel_data_add_dict_u64(d, k, s->rx_msgs[i]);
		snprintf(k, sizeof(k), "stream_%s_rx_bytes", tp[i]);
		rte_tel_data_add_dict_u64(d, k, s->rx_bytes[i]);
		snprintf(k, sizeof(k), "stream_%s_tx_msgs", tp[i]);
		rte_tel_data_add_dict_u64(d, k, s->tx_msgs[i]);
		snprintf(k, sizeof(k), "stream_%s_tx_bytes", tp[i]);
		rte_tel_data_add_dict_u64(d, k, s->tx_bytes[i]);
	}
	rte_tel_data_add_dict_u64(d, "stream_connections_open", s->conns_open);
	rte_tel_data_add_dict_u64(d, "stream_refused_total", s->refused_total);
	rte_tel_data_add_dict_u64(d, "stream_refused_source", s->refused_source);
	rte_tel_data_add_dict_u64(d, "stream_timeout_first", s->timeout_first);
	rte_tel_data_add_dict_u64(d, "stream_timeout_idle", s->timeout_idle);
	rte_tel_data_add_dict_u64(d, "stream_tls_failed", s->tls_failed);
	rte_tel_data_add_dict_u64(d, "stream_bad_framing", s->bad_framing);
	rte_tel_data_add_dict_u64(d, "stream_too_long", s->too_long);
	rte_tel_data_add_dict_u64(d, "stream_tx_dropped_slow", s->tx_dropped_slow);
	rte_tel_data_add_dict_u64(d, "stream_tx_no_conn", s->tx_no_conn);
	rte_tel_data_add_dict_u64(d, "stream_rx_dropped_ring", s->rx_dropped_ring);
}
