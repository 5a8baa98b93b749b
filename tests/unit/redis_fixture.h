/* SPDX-License-Identifier: BSD-3-Clause */
/* A private redis-server for unit tests that need a real one: a unix socket in a fresh temp
 * dir, no TCP, no persistence. The server never outlives the test: it is stopped by
 * test_redis_stop(), on SIGINT/SIGTERM, and by a watchdog alarm. */
#ifndef POPRELAY_TEST_REDIS_FIXTURE_H
#define POPRELAY_TEST_REDIS_FIXTURE_H

#include <stddef.h>

/* Starts the server (temp dir /tmp/<tag>-XXXXXX), waits until it answers PING, arms a
 * watchdog of watchdog_s seconds; writes the socket path. 0, or -1 (no redis-server, or it
 * did not answer). */
int test_redis_start(const char *tag, unsigned int watchdog_s, char *sock_path, size_t len);
/* The server's temp dir (for files a test puts beside it), "" when none. */
const char *test_redis_dir(void);
/* Kills the server with SIGKILL (its clients see the connection reset), and removes its
 * socket file. */
void test_redis_kill(void);
/* test_redis_kill, then a fresh server (no data) on the same socket: 0 once it answers. */
int test_redis_restart(void);
/* Stops the server, removes the temp dir, disarms the watchdog. */
void test_redis_stop(void);

#endif
