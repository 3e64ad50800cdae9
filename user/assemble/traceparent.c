/* SPDX-License-Identifier: MIT */
#include "assemble/traceparent.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Digit values + 1 of the lower-case hex digits, 0 for every other byte
 * (the spec says upper case must be treated as invalid).  A table: trace
 * IDs are random, so a test per character mispredicts every few digits.
 */
static const uint8_t hex_value[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* Decodes 2*n hex characters into n bytes; false on a bad character. */
static bool hex_decode(const char *s, uint8_t *out, size_t n)
{
	unsigned bad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned hi = hex_value[(uint8_t)s[2 * i]];
		unsigned lo = hex_value[(uint8_t)s[2 * i + 1]];

		bad |= (hi == 0) | (lo == 0);
		out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return !bad;
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
