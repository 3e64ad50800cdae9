/* SPDX-License-Identifier: MIT */
/*
 * The open-addressing scheme u32map and u64map share: a power-of-two
 * array of slots, key 0 marking an empty one, Fibonacci hashing, linear
 * probing and backward-shift deletion (no tombstones, so probes stay
 * short however many entries come and go).  Keys are 4 or 8 bytes wide;
 * the width is a constant at every call, so each map's functions compile
 * to code for its own keys.
 */
#ifndef SPANPROBE_HASHPROBE_H
#define SPANPROBE_HASHPROBE_H

#include <errno.h>
#include <stdint.h>

static inline uint64_t hashprobe_key(const void *keys, uint32_t i, unsigned width)
{
	return width == 4 ? ((const uint32_t *)keys)[i] : ((const uint64_t *)keys)[i];
}

static inline void hashprobe_set_key(void *keys, uint32_t i, uint64_t key,
				     unsigned width)
{
	if (width == 4)
		((uint32_t *)keys)[i] = (uint32_t)key;
	else
		((uint64_t *)keys)[i] = key;
}

/*
 * Fibonacci hashing: the high bits of the product are the well-mixed ones
 * (low bits would map keys equal modulo the size together).  `shift` is
 * the key width in bits minus log2(slots).
 */
static inline uint32_t hashprobe_home(uint64_t key, uint8_t shift, unsigned width)
{
	if (width == 4)
		return (uint32_t)((uint32_t)key * 0x9e3779b1u) >> shift;
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> shift);
}

/*
 * Slots for `max` entries: a power of two >= 2 * max (and >= 8, one AVX2
 * group of 32-bit keys).  Returns 0 or -EINVAL.
 */
static inline int hashprobe_slots(uint32_t max, uint32_t *slots)
{
	if (max == 0 || max > (1u << 29))
		return -EINVAL;
	*slots = 8;
	while (*slots < 2 * max)
		*slots *= 2;
	return 0;
}

/* The slot holding `key` (non-zero), or -1. */
static inline int64_t hashprobe_find(const void *keys, uint32_t mask, uint8_t shift,
				     uint64_t key, unsigned width)
{
	for (uint32_t i = hashprobe_home(key, shift, width);; i = (i + 1) & mask) {
		uint64_t k = hashprobe_key(keys, i, width);

		if (k == key)
			return i;
		if (k == 0)
			return -1;
	}
}

/* The first empty slot of `key`'s probe sequence (the table has room). */
static inline uint32_t hashprobe_free_slot(const void *keys, uint32_t mask,
					   uint8_t shift, uint64_t key, unsigned width)
{
	uint32_t i = hashprobe_home(key, shift, width);

	while (hashprobe_key(keys, i, width))
		i = (i + 1) & mask;
	return i;
}

/*
 * Empty slot `hole`.  Backward shift: later entries of the run move into
 * the hole when their home slot does not lie cyclically in (hole, j].
 */
static inline void hashprobe_remove(void *keys, void **values, uint32_t mask,
				    uint8_t shift, uint32_t hole, unsigned width)
{
	uint64_t k;

	for (uint32_t j = (hole + 1) & mask; (k = hashprobe_key(keys, j, width));
	     j = (j + 1) & mask) {
		uint32_t h = hashprobe_home(k, shift, width);

		if (((j - h) & mask) >= ((j - hole) & mask)) {
			hashprobe_set_key(keys, hole, k, width);
			values[hole] = values[j];
			hole = j;
		}
	}
	hashprobe_set_key(keys, hole, 0, width);
	values[hole] = NULL;
}

/* A map's fields as the functions below see them (built per call). */
struct hashprobe {
	void *keys;
	void **values;
	uint32_t *count;
	uint32_t mask;
	uint32_t max;
	uint8_t shift;
	uint8_t width;
};

/*
 * Store `value` for non-zero `key`, which hashprobe_find() found at `at`
 * (-1: absent).  Returns 0 or -ENOSPC when `max` entries are held.
 */
static inline int hashprobe_store(const struct hashprobe *hp, int64_t at,
				  uint64_t key, void *value)
{
	uint32_t i;

	if (at >= 0) {
		hp->values[at] = value;
		return 0;
	}
	if (*hp->count >= hp->max)
		return -ENOSPC;
	i = hashprobe_free_slot(hp->keys, hp->mask, hp->shift, key, hp->width);
	hashprobe_set_key(hp->keys, i, key, hp->width);
	hp->values[i] = value;
	(*hp->count)++;
	return 0;
}

/* Remove the entry at `at` (-1: none); returns its value or NULL. */
static inline void *hashprobe_take(const struct hashprobe *hp, int64_t at)
{
	void *value;

	if (at < 0)
		return NULL;
	value = hp->values[at];
	hashprobe_remove(hp->keys, hp->values, hp->mask, hp->shift, (uint32_t)at,
			 hp->width);
	(*hp->count)--;
	return value;
}

#endif /* SPANPROBE_HASHPROBE_H */
