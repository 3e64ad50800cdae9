/* SPDX-License-Identifier: MIT */
/*
 * util/: what every stage uses -- messages, the clock, the hash tables,
 * the random ID generator, strings, hex.  It includes nothing of the
 * project's own folders.
 *
 * Messages to the user, on stderr.  Lines start with the module that
 * speaks ("export: ...").  sp_warn_once() says a recurring problem once.
 */
#ifndef SPANPROBE_LOG_H
#define SPANPROBE_LOG_H

#include <stdbool.h>

enum sp_log_level { SP_LOG_ERROR = 0, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG };

/* Messages above `level` are not printed.  Default: SP_LOG_WARN. */
void log_set_level(enum sp_log_level level);
enum sp_log_level log_get_level(void);

void log_msg(enum sp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define sp_err(...) log_msg(SP_LOG_ERROR, __VA_ARGS__)
#define sp_warn(...) log_msg(SP_LOG_WARN, __VA_ARGS__)
#define sp_info(...) log_msg(SP_LOG_INFO, __VA_ARGS__)
#define sp_debug(...) log_msg(SP_LOG_DEBUG, __VA_ARGS__)

/* Print once per call site for the life of the process. */
#define sp_warn_once(...)                                                      \
	do {                                                                   \
		static bool warned_;                                           \
		if (!__atomic_exchange_n(&warned_, true, __ATOMIC_RELAXED))    \
			sp_warn(__VA_ARGS__);                                  \
	} while (0)

#endif /* SPANPROBE_LOG_H */
