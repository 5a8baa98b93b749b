/* SPDX-License-Identifier: BSD-3-Clause */
#include "tests/unit/redis_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/redis.h"

static char tmpdir[64];
static pid_t redis_pid;

static void on_signal(int sig)
{
	if (redis_pid > 0)
		kill(redis_pid, SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int answers_ping(const char *sock_path)
{
	struct pr_redis *r = NULL;
	redisReply *rep;
	int ok;

	if (pr_redis_connect(&r, sock_path, 2000) != 0)
		return 0;
	rep = pr_redis_cmd(r, "PING");
	ok = rep && rep->type == REDIS_REPLY_STATUS;
	if (rep)
		freeReplyObject(rep);
	pr_redis_close(r);
	return ok;
}

static char sock[128];

static int spawn(void)
{
	const char *sock_path = sock;
	int i;

	redis_pid = fork();
	if (redis_pid < 0)
		return -1;
	if (redis_pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock_path,
		       "--unixsocketperm", "700", "--dir", tmpdir, "--save", "", "--appendonly",
		       "no", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		if (answers_ping(sock_path))
			return 0;
		if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid) {
			redis_pid = 0; /* exited: not installed, or it refused to start */
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

int test_redis_start(const char *tag, unsigned int watchdog_s, char *sock_path, size_t len)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGALRM, on_signal);
	alarm(watchdog_s);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s-XXXXXX", tag);
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/redis.sock", tmpdir);
	snprintf(sock_path, len, "%s", sock);
	return spawn();
}

void test_redis_kill(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = 0;
	}
	unlink(sock); /* as a crash leaves it: nobody listening behind it */
}

int test_redis_restart(void)
{
	test_redis_kill();
	return spawn();
}

const char *test_redis_dir(void)
{
	return tmpdir;
}

void test_redis_stop(void)
{
	char cmd[128];

	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
		redis_pid = 0;
	}
	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		tmpdir[0] = '\0';
	}
	alarm(0);
}
