// SPDX-License-Identifier: MIT
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

/* Bytes 2..4 of a sequence led by `c`: the range of the second byte (the
 * others are 0x80..0xbf) and the sequence's length; 0 for no lead byte. */
static size_t lead(uint8_t c, uint8_t *lo, uint8_t *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			*lo = 0xa0; /* no overlong form */
		else if (c == 0xed)
			*hi = 0x9f; /* no surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			*lo = 0x90;
		else if (c == 0xf4)
			*hi = 0x8f; /* nothing above U+10FFFF */
		return 4;
	}
	return 0;
}

/* The length of the valid sequence at s[i], 0 when it is not one, or
 * SIZE_MAX when it is a valid start cut short by the end at n. */
static size_t sequence(const uint8_t *s, size_t i, size_t n)
{
	uint8_t lo, hi;
	size_t len = lead(s[i], &lo, &hi);

	for (size_t k = 1; k < len; k++) {
		if (i + k == n)
			return SIZE_MAX;
		if (s[i + k] < lo || s[i + k] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

/* Where the first byte above 0x7f is, eight bytes at a time: text is
 * mostly ASCII, and this is all it costs then. */
static size_t ascii_prefix(const char *s, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ULL)
			break;
	}
	while (i < n && !((uint8_t)s[i] & 0x80))
		i++;
	return i;
}

size_t utf8_mend(char *s, size_t n)
{
	uint8_t *u = (uint8_t *)s;

	for (size_t i = ascii_prefix(s, n); i < n;) {
		size_t len;

		if (u[i] < 0x80) {
			i++;
			continue;
		}
		len = sequence(u, i, n);
		if (len == SIZE_MAX)
			return i;
		if (!len) {
			u[i++] = '?';
			continue;
		}
		i += len;
	}
	return n;
}
