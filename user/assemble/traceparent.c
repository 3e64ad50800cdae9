/* SPDX-License-Identifier: MIT */
#include "assemble/traceparent.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Lower-case only: the spec says upper case must be treated as invalid. */
static int lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes 2*n hex characters into n bytes; false on a bad character. */
static bool hex_decode(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = lower_hex(s[2 * i]), lo = lower_hex(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int traceparent_parse(const char *s, size_t len, struct traceparent *out)
{
	struct traceparent tp;

	if (!s || !out || len != TRACEPARENT_LEN)
		return -EINVAL;
	if (s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' ||
	    s[52] != '-')
		return -EINVAL;
	if (!hex_decode(s + 3, tp.trace_id, 16) ||
	    !hex_decode(s + 36, tp.parent_id, 8) ||
	    !hex_decode(s + 53, &tp.flags, 1))
		return -EINVAL;
	if (all_zero(tp.trace_id, 16) || all_zero(tp.parent_id, 8))
		return -EINVAL;
	*out = tp;
	return 0;
}
