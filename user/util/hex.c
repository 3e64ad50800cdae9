// SPDX-License-Identifier: MIT
#include "util/hex.h"

#include <errno.h>
#include <immintrin.h>

static const char digits[] = "0123456789abcdef";

void hex_encode_scalar(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

/*
 * 16 input bytes -> 32 hex digits per step: split nibbles, map each through
 * a 16-entry table with a byte shuffle, interleave high and low nibbles.
 */
__attribute__((target("avx2"))) static void hex_encode_avx2(char *out,
							    const uint8_t *in,
							    size_t len)
{
	const __m128i table = _mm_loadu_si128((const __m128i *)digits);
	const __m128i mask = _mm_set1_epi8(0x0f);
	size_t i = 0;

	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i));
		__m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
		__m128i lo = _mm_and_si128(v, mask);
		__m128i hd = _mm_shuffle_epi8(table, hi);
		__m128i ld = _mm_shuffle_epi8(table, lo);
		__m256i both = _mm256_set_m128i(_mm_unpackhi_epi8(hd, ld),
						_mm_unpacklo_epi8(hd, ld));

		_mm256_storeu_si256((__m256i *)(out + 2 * i), both);
	}
	if (i + 8 <= len) {
		__m128i v = _mm_loadl_epi64((const __m128i *)(in + i));
		__m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
		__m128i lo = _mm_and_si128(v, mask);
		__m128i d = _mm_unpacklo_epi8(_mm_shuffle_epi8(table, hi),
					      _mm_shuffle_epi8(table, lo));

		_mm_storeu_si128((__m128i *)(out + 2 * i), d);
		i += 8;
	}
	hex_encode_scalar(out + 2 * i, in + i, len - i);
}

typedef void (*hex_fn)(char *, const uint8_t *, size_t);

static hex_fn pick_impl(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") ? hex_encode_avx2
					      : hex_encode_scalar;
}

void hex_encode(char *out, const uint8_t *in, size_t len)
{
	static hex_fn impl;

	if (!impl)
		impl = pick_impl(); /* idempotent: a race picks the same one */
	impl(out, in, len);
}

const char *hex_impl(void)
{
	return pick_impl() == hex_encode_scalar ? "scalar" : "avx2";
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(uint8_t *out, const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int h = hex_digit(in[2 * i]), l = hex_digit(in[2 * i + 1]);

		if (h < 0 || l < 0)
			return -EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

int percent_decode(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0)
			return -EINVAL;
		out[o++] = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
		i += 2;
	}
	out[o] = 0;
	return (int)o;
}
