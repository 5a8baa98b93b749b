/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's side of the channel to poprelay-dtls (media_dtls.h). */
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

#include <rte_telemetry.h>

#include "common/log.h"
#include "dataplane/media/media_dtls.h"

static struct {
	bool on, up;
	int lfd, cfd, memfd, efd;
	void *region;
	size_t bytes;
	uint32_t ring_bytes, generation;
	uint64_t next_check_ms;
	char path[108];
	uint64_t attaches, sent, send_dropped, received, bad;
} ch = {.lfd = -1, .cfd = -1, .memfd = -1, .efd = -1};

static struct pr_fring *ring_from(void) /* the process -> control */
{
	return pr_fring_at(ch.region, ch.ring_bytes, 0);
}

static struct pr_fring *ring_to(void)
{
	return pr_fring_at(ch.region, ch.ring_bytes, 1);
}

static struct pr_fring_region *hdr(void)
{
	return ch.region;
}

int md_chan_init(const char *path, uint32_t ring_bytes)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		PR_ERR("media: [media] dtls_socket: path too long (%zu bytes, at most %zu)",
		       strlen(path), sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	snprintf(ch.path, sizeof(ch.path), "%s", path);
	ch.ring_bytes = ring_bytes;
	ch.bytes = pr_fring_region_bytes(1, 1, ring_bytes);
	ch.memfd = memfd_create("poprelay-dtls", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ch.memfd < 0 || ftruncate(ch.memfd, (off_t)ch.bytes) < 0)
		goto fail;
	/* the process may not grow or shrink the region under us */
	(void)fcntl(ch.memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	ch.region = mmap(NULL, ch.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ch.memfd, 0);
	if (ch.region == MAP_FAILED) {
		ch.region = NULL;
		goto fail;
	}
	ch.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ch.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ch.efd < 0 || ch.lfd < 0)
		goto fail;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	(void)unlink(path);
	if (bind(ch.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ch.lfd, 4) < 0)
		goto fail;
	/* the process runs as its own user, in the dataplane's group */
	(void)chmod(path, 0660);
	memset(ch.region, 0, PR_FRING_REGION_HDR);
	hdr()->magic = PR_FRING_MAGIC;
	hdr()->version = PR_FRING_VERSION;
	hdr()->n_in = 1;
	hdr()->n_out = 1;
	hdr()->ring_bytes = ring_bytes;
	ch.on = true;
	PR_INFO("media: DTLS process socket %s", path);
	return 0;
fail:;
	int e = errno;
	PR_ERR("media: [media] dtls_socket %s: %s", path, strerror(e));
	md_chan_teardown();
	return -e;
}

void md_chan_teardown(void)
{
	ch.up = false;
	if (ch.cfd >= 0)
		close(ch.cfd);
	if (ch.lfd >= 0) {
		close(ch.lfd);
		(void)unlink(ch.path);
	}
	if (ch.efd >= 0)
		close(ch.efd);
	if (ch.region)
		munmap(ch.region, ch.bytes);
	if (ch.memfd >= 0)
		close(ch.memfd);
	ch.cfd = ch.lfd = ch.efd = ch.memfd = -1;
	ch.region = NULL;
	ch.on = false;
}

static void detach(const char *why)
{
	ch.up = false;
	close(ch.cfd);
	ch.cfd = -1;
	/* both ends of the rings are control's and the process's: nobody else to wait for */
	pr_fring_at(ch.region, ch.ring_bytes, 0)->head = 0;
	pr_fring_at(ch.region, ch.ring_bytes, 0)->tail = 0;
	ring_to()->head = ring_to()->tail = 0;
	memset((uint8_t *)ch.region + PR_DTLS_STATS_OFF, 0, sizeof(struct pr_dtls_stats));
	hdr()->want_wake = 0;
	PR_NOTICE("media: DTLS process detached (%s); handshakes in progress start again", why);
}

static bool try_accept(void)
{
	int fd = accept4(ch.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return false;
	if (ch.up) { /* one process at a time */
		close(fd);
		return false;
	}
	struct pr_fring_hello hello = {.magic = PR_FRING_MAGIC,
				       .version = PR_FRING_VERSION,
				       .n_in = 1,
				       .n_out = 1,
				       .ring_bytes = ch.ring_bytes,
				       .generation = ++ch.generation};
	int fds[2] = {ch.memfd, ch.efd};
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
		PR_WARN("media: DTLS process: handshake failed: %s", strerror(errno));
		close(fd);
		return false;
	}
	ch.cfd = fd;
	ch.up = true;
	ch.attaches++;
	PR_NOTICE("media: DTLS process attached (generation %u)", ch.generation);
	return true;
}

bool md_chan_poll(uint64_t now_ms)
{
	bool attached_now = false;

	if (!ch.on)
		return false;
	if (ch.up && hdr()->want_wake && !pr_fring_empty(ring_to()) &&
	    __atomic_exchange_n(&hdr()->want_wake, 0, __ATOMIC_ACQ_REL)) {
		uint64_t one = 1;
		ssize_t rc = write(ch.efd, &one, sizeof(one));
		(void)rc; /* EAGAIN: the counter is already nonzero */
	}
	if (now_ms < ch.next_check_ms)
		return false;
	ch.next_check_ms = now_ms + 100;
	if (ch.up) {
		char b[16];
		ssize_t n = recv(ch.cfd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			detach(n == 0 ? "it closed its socket" : strerror(errno));
	}
	attached_now = try_accept();
	return attached_now;
}

bool md_chan_attached(void)
{
	return ch.up;
}

bool md_chan_send(const struct pr_frec *t, const struct pr_dtls_hdr *h, const void *d, uint32_t n)
{
	if (!ch.up || !pr_fring_put(ring_to(), ch.ring_bytes, t, h, sizeof(*h), d, n)) {
		ch.send_dropped++;
		return false;
	}
	ch.sent++;
	return true;
}

int md_chan_recv(struct pr_frec *t, struct pr_dtls_msg *m)
{
	static uint8_t buf[PR_FRING_MAX_MSG];

	while (ch.up) {
		int rc = pr_fring_get(ring_from(), ch.ring_bytes, t, buf, sizeof(buf));
		if (rc < 0) {
			ch.bad++;
			detach("its ring held what no DTLS process writes");
			return 0;
		}
		if (rc == 0)
			return 0;
		if (pr_dtls_msg_parse(t, buf, t->len, false, m) < 0) {
			ch.bad++;
			continue;
		}
		ch.received++;
		return 1;
	}
	return 0;
}

void md_chan_tel(struct rte_tel_data *d)
{
	rte_tel_data_add_dict_int(d, "dtls_process_attached", ch.up);
	rte_tel_data_add_dict_u64(d, "dtls_process_attaches", ch.attaches);
	rte_tel_data_add_dict_u64(d, "dtls_to_process", ch.sent);
	rte_tel_data_add_dict_u64(d, "dtls_to_process_dropped", ch.send_dropped);
	rte_tel_data_add_dict_u64(d, "dtls_from_process", ch.received);
	rte_tel_data_add_dict_u64(d, "dtls_bad_records", ch.bad);
	struct pr_dtls_stats s;
	if (ch.up)
		memcpy(&s, (uint8_t *)ch.region + PR_DTLS_STATS_OFF, sizeof(s));
	else
		memset(&s, 0, sizeof(s));
	rte_tel_data_add_dict_u64(d, "dtls_handshakes_started", s.started);
	rte_tel_data_add_dict_u64(d, "dtls_handshakes_completed", s.completed);
	rte_tel_data_add_dict_u64(d, "dtls_handshakes_in_progress", s.in_handshake);
	rte_tel_data_add_dict_u64(d, "dtls_failed_fingerprint", s.failed[PR_DTLS_F_FINGERPRINT]);
	rte_tel_data_add_dict_u64(d, "dtls_failed_timeout", s.failed[PR_DTLS_F_TIMEOUT]);
	rte_tel_data_add_dict_u64(d, "dtls_failed_alert", s.failed[PR_DTLS_F_ALERT]);
	rte_tel_data_add_dict_u64(d, "dtls_failed_no_srtp", s.failed[PR_DTLS_F_NO_SRTP]);
	rte_tel_data_add_dict_u64(d, "dtls_failed_busy", s.failed[PR_DTLS_F_BUSY]);
	rte_tel_data_add_dict_u64(d, "dtls_failed_cert", s.failed[PR_DTLS_F_CERT]);
	rte_tel_data_add_dict_u64(d, "dtls_rate_limited", s.rate_limited);
}
