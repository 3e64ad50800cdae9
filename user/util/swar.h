/* SPDX-License-Identifier: MIT */
/*
 * Eight bytes at a time in a 64-bit word (SIMD within a register): what
 * the HTTP/1 decoder and the protobuf encoder share to find a byte in a
 * string without a loop per byte.  Words are loaded little-endian, so the
 * lowest marked bit is the first marked byte.
 */
#ifndef SPANPROBE_SWAR_H
#define SPANPROBE_SWAR_H

#include <stdint.h>
#include <string.h>

/* The byte `b` in each of the word's eight bytes. */
#define SWAR_BYTES(b) (0x0101010101010101ULL * (uint8_t)(b))

/* Eight bytes at `p`, any alignment. */
static inline uint64_t swar_load(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Bit 7 of each byte of `x` that is zero: the lowest bit set marks the
 * first such byte (a borrow may mark only bytes above a zero one). */
static inline uint64_t swar_zero_bytes(uint64_t x)
{
	return (x - SWAR_BYTES(1)) & ~x & SWAR_BYTES(0x80);
}

#endif /* SPANPROBE_SWAR_H */
