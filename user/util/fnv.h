/* SPDX-License-Identifier: MIT */
/* FNV-1a, 64 bits: a cheap hash of a few bytes, for telling apart, not
 * for tables that meet chosen input. */
#ifndef SPANPROBE_FNV_H
#define SPANPROBE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_START 0xcbf29ce484222325ULL

/* `n` bytes at `p` into `h` (FNV1A_START, or a hash to go on from). */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

#endif /* SPANPROBE_FNV_H */
