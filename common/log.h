/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging for the control paths of every poprelay process. Never call from a
 * dataplane worker's loop: workers count, they do not log. */
#ifndef POPRELAY_COMMON_LOG_H
#define POPRELAY_COMMON_LOG_H

#include <stdarg.h>

enum pr_log_level {
	PR_LOG_ERR = 3,
	PR_LOG_WARN = 4,
	PR_LOG_NOTICE = 5,
	PR_LOG_INFO = 6,
	PR_LOG_DEBUG = 7
};

/* ident names the process in each line; level is the most verbose level printed. */
void pr_log_init(const char *ident, enum pr_log_level level);
void pr_log_set_level(enum pr_log_level level);
void pr_log(enum pr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PR_ERR(...)    pr_log(PR_LOG_ERR, __VA_ARGS__)
#define PR_WARN(...)   pr_log(PR_LOG_WARN, __VA_ARGS__)
#define PR_NOTICE(...) pr_log(PR_LOG_NOTICE, __VA_ARGS__)
#define PR_INFO(...)   pr_log(PR_LOG_INFO, __VA_ARGS__)
#define PR_DEBUG(...)  pr_log(PR_LOG_DEBUG, __VA_ARGS__)

#endif
