/* SPDX-License-Identifier: MIT */
#include "assemble/traceparent.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
static bool hex_decode_scalar(const char *s, uint8_t *out, size_t n)
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

#if defined(__SSE2__)
/*
 * 16 hex characters into 8 bytes with SSE2 (every x86-64): a request's
 * trace and parent IDs are 48 of its characters, a table lookup each.
 * A byte is a digit when c - '0' is 0..9, a letter when c - 'a' is 0..5,
 * compared as signed bytes: any other byte lands outside both ranges
 * (below zero after the subtraction wraps, or past the top).
 */
static bool hex_decode16(const char *s, uint8_t *out)
{
	__m128i v = _mm_loadu_si128((const __m128i *)s);
	__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
	__m128i l = _mm_sub_epi8(v, _mm_set1_epi8('a'));
	__m128i none = _mm_set1_epi8(-1);
	__m128i is_d = _mm_and_si128(_mm_cmpgt_epi8(d, none),
				     _mm_cmplt_epi8(d, _mm_set1_epi8(10)));
	__m128i is_l = _mm_and_si128(_mm_cmpgt_epi8(l, none),
				     _mm_cmplt_epi8(l, _mm_set1_epi8(6)));
	__m128i val = _mm_or_si128(_mm_and_si128(is_d, d),
				   _mm_and_si128(is_l, _mm_add_epi8(l, _mm_set1_epi8(10))));
	/* Each 16-bit lane holds a pair: high digit in its low byte. */
	__m128i pair = _mm_or_si128(_mm_slli_epi16(val, 4), _mm_srli_epi16(val, 8));
	__m128i bytes = _mm_packus_epi16(_mm_and_si128(pair, _mm_set1_epi16(0xff)),
					 _mm_setzero_si128());

	_mm_storel_epi64((__m128i *)out, bytes);
	return _mm_movemask_epi8(_mm_or_si128(is_d, is_l)) == 0xffff;
}
#endif

static bool hex_decode(const char *s, uint8_t *out, size_t n)
{
#if defined(__SSE2__)
	bool ok = true;

	for (; n >= 8; n -= 8, s += 16, out += 8)
		ok &= hex_decode16(s, out);
	return ok & hex_decode_scalar(s, out, n);
#else
	return hex_decode_scalar(s, out, n);
#endif
}

/* Whether n (a multiple of 8) bytes are all zero, eight at a time. */
static bool all_zero(const uint8_t *b, size_t n)
{
	uint64_t any = 0, w;

	for (size_t i = 0; i < n; i += 8) {
		memcpy(&w, b + i, 8);
		any |= w;
	}
	return !any;
}

int traceparent_parse(const char *s, size_t len, struct traceparent *out)
{
	struct traceparent tp;
	uint8_t version;

	if (!s || !out || len < TRACEPARENT_LEN)
		return -EINVAL;
	if (!hex_decode(s, &version, 1) || version == 0xff ||
	    (version == 0 && len != TRACEPARENT_LEN) ||
	    (len > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-'))
		return -EINVAL;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
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
