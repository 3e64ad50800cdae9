// SPDX-License-Identifier: MIT
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum sp_log_level current_level = SP_LOG_WARN;

void log_set_level(enum sp_log_level level)
{
	current_level = level;
}

enum sp_log_level log_get_level(void)
{
	return current_level;
}

void log_msg(enum sp_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t len;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so lines from two threads never interleave. */
	len = strnlen(line, sizeof(line) - 2);
	if (len == 0 || line[len - 1] != '\n')
		line[len++] = '\n';
	fprintf(stderr, "spanprobe: %.*s", (int)len, line);
	fflush(stderr);
}
