/* SPDX-License-Identifier: MIT */
/*
 * Sixteen bytes at a time with SSE2 (every x86-64; elsewhere the callers
 * keep their scalar path): which bytes of a block equal a given one, as
 * the bits of a mask whose lowest set bit marks the first such byte.
 */
#ifndef SPANPROBE_SIMD16_H
#define SPANPROBE_SIMD16_H

#if defined(__SSE2__)
#include <emmintrin.h>

/* Bit i for each byte i of `v` that is `c`. */
static inline unsigned simd16_eq(__m128i v, char c)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/* The same for the 16 bytes at `p`, any alignment. */
static inline unsigned simd16_eq_at(const void *p, char c)
{
	return simd16_eq(_mm_loadu_si128((const __m128i *)p), c);
}
#endif

#endif /* SPANPROBE_SIMD16_H */
