/* SPDX-License-Identifier: MIT */
/*
 * Fixed-capacity hash table from a non-zero 32-bit ID (PID, TID) to a
 * pointer: open addressing with linear probing and backward-shift deletion.
 * Lookups compare eight keys at a time with AVX2 when the CPU has it (the
 * table is probed for every ring-buffer record), scalar otherwise.
 */
#ifndef SPANPROBE_U32MAP_H
#define SPANPROBE_U32MAP_H

#include <stdbool.h>
#include <stdint.h>

struct sp_u32map {
	uint32_t *keys; /* 0 = empty slot */
	void **values;
	uint32_t mask;  /* slots - 1 (a power of two, >= 8) */
	uint32_t count;
	uint32_t max;   /* entries allowed: the size setting */
	uint8_t shift;  /* 32 - log2(slots) */
	bool simd;
};

/*
 * Room for `max` entries (slots: a power of two >= 2 * max).  `simd`: use
 * AVX2 if the CPU has it.  Returns 0, -EINVAL or -ENOMEM.
 */
int u32map_init(struct sp_u32map *m, uint32_t max, bool simd);
void u32map_destroy(struct sp_u32map *m);

/* The value for `key`, or NULL. */
void *u32map_get(const struct sp_u32map *m, uint32_t key);

/*
 * Insert or replace.  Returns 0, -EINVAL for key 0, -ENOSPC when the table
 * holds `max` entries already (the caller decides what to drop).
 */
int u32map_put(struct sp_u32map *m, uint32_t key, void *value);

/* Remove `key`; returns its value or NULL when absent. */
void *u32map_del(struct sp_u32map *m, uint32_t key);

/* Call fn for every entry (the table must not change meanwhile). */
void u32map_each(const struct sp_u32map *m,
		 void (*fn)(uint32_t key, void *value, void *arg), void *arg);

#endif /* SPANPROBE_U32MAP_H */
