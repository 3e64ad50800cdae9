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

/* Two hex characters into one byte (the version, the flags); false on a
 * bad character. */
static inline bool hex_pair(const char *s, uint8_t *out)
{
	unsigned hi = hex_value[(uint8_t)s[0]], lo = hex_value[(uint8_t)s[1]];

	*out = (uint8_t)((hi - 1) << 4 | (lo - 1));
	return hi && lo;
}

#if defined(__SSE2__)
/*
 * 16 hex characters into 8 bytes with SSE2 (every x86-64): a request's
 * trace and parent IDs are 48 of its characters, in three such steps,
 * inline, the valid ones told by one mask.  A byte is a digit when
 * c - '0' is 0..9, a letter when c - 'a' is 0..5: unsigned, a wrapped
 * subtraction is past both.  A digit's c - 'a' + 10 wraps past 15 and a
 * letter's c - '0' is past 15 too, so the smaller of the two is the value
 * of either.  Returns the mask of the valid ones.
 */
static unsigned hex_decode16(const char *s, uint8_t *out)
{
	__m128i v = _mm_loadu_si128((const __m128i *)s);
	__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
	__m128i l = _mm_sub_epi8(v, _mm_set1_epi8('a'));
	__m128i zero = _mm_setzero_si128();
	__m128i is_d = _mm_cmpeq_epi8(_mm_subs_epu8(d, _mm_set1_epi8(9)), zero);
	__m128i is_l = _mm_cmpeq_epi8(_mm_subs_epu8(l, _mm_set1_epi8(5)), zero);
	__m128i val = _mm_min_epu8(d, _mm_add_epi8(l, _mm_set1_epi8(10)));
	/* Each 16-bit lane holds a pair: high digit in its low byte. */
	__m128i pair = _mm_or_si128(_mm_slli_epi16(val, 4), _mm_srli_epi16(val, 8));
	__m128i bytes = _mm_packus_epi16(_mm_and_si128(pair, _mm_set1_epi16(0xff)),
					 zero);

	_mm_storel_epi64((__m128i *)out, bytes);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(is_d, is_l));
}

/* The 48 hex digits of the IDs, 16 at a time. */
static bool decode_ids(const char *s, struct traceparent *tp)
{
	unsigned ok = hex_decode16(s + 3, tp->trace_id) &
		      hex_decode16(s + 19, tp->trace_id + 8) &
		      hex_decode16(s + 36, tp->parent_id);

	return ok == 0xffff;
}
#else
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

static bool decode_ids(const char *s, struct traceparent *tp)
{
	return hex_decode_scalar(s + 3, tp->trace_id, 16) &
	       hex_decode_scalar(s + 36, tp->parent_id, 8);
}
#endif

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
	if (!hex_pair(s, &version) || version == 0xff ||
	    (version == 0 && len != TRACEPARENT_LEN) ||
	    (len > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-'))
		return -EINVAL;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -EINVAL;
	if (!decode_ids(s, &tp) || !hex_pair(s + 53, &tp.flags))
		return -EINVAL;
	if (all_zero(tp.trace_id, 16) || all_zero(tp.parent_id, 8))
		return -EINVAL;
	*out = tp;
	return 0;
}
