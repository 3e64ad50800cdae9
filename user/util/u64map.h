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
 * The functions of u32map (util/u32map.h) with the same contracts, for
 * 64-bit keys: init returns 0, -EINVAL or -ENOMEM; get returns NULL when
 * absent; put returns 0, -EINVAL (key 0) or -ENOSPC (`max` held); del
 * returns the value removed or NULL; the table must not change during each.
 */
int u64map_init(struct sp_u64map *m, uint32_t max);
void u64map_destroy(struct sp_u64map *m); /* also after a failed init */
void *u64map_get(const struct sp_u64map *m, uint64_t key);
int u64map_put(struct sp_u64map *m, uint64_t key, void *value);
void *u64map_del(struct sp_u64map *m, uint64_t key);
void u64map_each(const struct sp_u64map *m,
		 void (*fn)(uint64_t key, void *value, void *arg), void *arg);

#endif /* SPANPROBE_U64MAP_H */
