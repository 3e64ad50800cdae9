/* SPDX-License-Identifier: MIT */
/*
 * Fixed-capacity hash table from a non-zero 64-bit key (a kernel socket
 * cookie, a hash of an address pair) to a pointer: u32map's scheme
 * (util/hashprobe.h) for wider keys, probed without SIMD.
 */
#ifndef SPANPROBE_U64MAP_H
#define SPANPROBE_U64MAP_H

#include <stdint.h>

struct sp_u64map {
	uint64_t *keys; /* 0 = empty slot */
	void **values;
	uint32_t mask;  /* slots - 1 (a power of two, >= 8) */
	uint32_t count;
	uint32_t max;   /* entries allowed: the size setting */
	uint8_t shift;  /* 64 - log2(slots) */
};

/*
 * Room for `max` entries (slots: a power of two >= 2 * max).  Returns 0,
 * -EINVAL or -ENOMEM.
 */
int u64map_init(struct sp_u64map *m, uint32_t max);
void u64map_destroy(struct sp_u64map *m); /* also after a failed init */

/* The value for `key`, or NULL. */
void *u64map_get(const struct sp_u64map *m, uint64_t key);

/*
 * Insert or replace.  Returns 0, -EINVAL for key 0, -ENOSPC when the table
 * holds `max` entries already (the caller decides what to drop).
 */
int u64map_put(struct sp_u64map *m, uint64_t key, void *value);

/* Remove `key`; returns its value or NULL when absent. */
void *u64map_del(struct sp_u64map *m, uint64_t key);

/* Call fn for every entry (the table must not change meanwhile). */
void u64map_each(const struct sp_u64map *m,
		 void (*fn)(uint64_t key, void *value, void *arg), void *arg);

#endif /* SPANPROBE_U64MAP_H */
