/* SPDX-License-Identifier: BSD-3-Clause */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_ident = "poprelay";
static enum pr_log_level log_level = PR_LOG_INFO;

void pr_log_init(const char *ident, enum pr_log_level level)
{
	log_ident = ident;
	log_level = level;
}

void pr_log_set_level(enum pr_log_level level)
{
	log_level = level;
}

void pr_log(enum pr_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"", "", "", "error", "warning", "notice", "info", "debug"};
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* <N> prefix lets journald keep the priority when run under systemd. One line at a
	 * time: a process's threads (the redis sentinel watcher's, the exporter's) log too. */
	flockfile(stderr);
	fprintf(stderr, "<%d>%s.%03ldZ %s %s: ", level, ts, now.tv_nsec / 1000000, log_ident,
		names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
