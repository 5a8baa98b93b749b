/* SPDX-License-Identifier: BSD-3-Clause */
#include "mgmt/telemetry_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define TEL_TIMEOUT_MS	3000
#define TEL_DEFAULT_MAX 16384

static int set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

/* One message into a fresh buffer (NUL-terminated). */
static char *recv_msg(int fd, size_t max, int *err)
{
	char *buf = malloc(max + 1);
	ssize_t n;

	if (buf == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	n = recv(fd, buf, max, 0);
	if (n <= 0) {
		*err = n == 0 ? -EPIPE : -errno;
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

int ctl_tel_open(struct ctl_tel *t, const char *prefix)
{
	return ctl_tel_open_timeout(t, prefix, TEL_TIMEOUT_MS);
}

int ctl_tel_open_timeout(struct ctl_tel *t, const char *prefix, int timeout_ms)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	json_t *greet, *ml;
	char *msg;
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (prefix == NULL || prefix[0] == '\0' || strchr(prefix, '/') || timeout_ms <= 0)
		return -EINVAL;
	snprintf(t->path, sizeof(t->path), "%s/%s/dpdk_telemetry.v2", CTL_TEL_RUNDIR, prefix);
	if (strlen(t->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, t->path);
	t->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	if (set_timeouts(t->fd, timeout_ms) ||
	    connect(t->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		ctl_tel_close(t);
		return err;
	}
	msg = recv_msg(t->fd, TEL_DEFAULT_MAX, &err);
	if (msg == NULL) {
		ctl_tel_close(t);
		return err == -EWOULDBLOCK ? -EAGAIN : err;
	}
	greet = json_loads(msg, 0, NULL);
	free(msg);
	if (!json_is_object(greet)) {
		json_decref(greet);
		ctl_tel_close(t);
		return -EPROTO;
	}
	ml = json_object_get(greet, "max_output_len");
	t->max_len = json_is_integer(ml) && json_integer_value(ml) > 0
			 ? (size_t)json_integer_value(ml)
			 : TEL_DEFAULT_MAX;
	json_decref(greet);
	return 0;
}

json_t *ctl_tel_query(struct ctl_tel *t, const char *cmd, int *err)
{
	char key[128];
	char *msg;
	json_t *reply, *val;
	size_t klen = strcspn(cmd, ",");

	*err = 0;
	if (klen >= sizeof(key)) {
		*err = -EINVAL;
		return NULL;
	}
	if (send(t->fd, cmd, strlen(cmd), 0) < 0) {
		*err = -errno;
		return NULL;
	}
	msg = recv_msg(t->fd, t->max_len, err);
	if (msg == NULL)
		return NULL;
	reply = json_loads(msg, 0, NULL);
	free(msg);
	if (!json_is_object(reply)) {
		json_decref(reply);
		*err = -EPROTO;
		return NULL;
	}
	memcpy(key, cmd, klen);
	key[klen] = '\0';
	val = json_object_get(reply, key);
	if (val == NULL || json_is_null(val)) {
		json_decref(reply);
		*err = -EINVAL;
		return NULL;
	}
	json_incref(val);
	json_decref(reply);
	return val;
}

void ctl_tel_close(struct ctl_tel *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
