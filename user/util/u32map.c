// SPDX-License-Identifier: MIT
#include "util/u32map.h"

#include <errno.h>
#include <immintrin.h>
#include <stdlib.h>

#include "util/hashprobe.h"

#define KEY_WIDTH 4

static inline uint32_t home_slot(const struct sp_u32map *m, uint32_t key)
{
	return hashprobe_home(key, m->shift, KEY_WIDTH);
}

int u32map_init(struct sp_u32map *m, uint32_t max, bool simd)
{
	uint32_t slots;

	if (hashprobe_slots(max, &slots))
		return -EINVAL;
	/* aligned_alloc: the AVX2 path loads 8 keys from 32-byte groups. */
	m->keys = aligned_alloc(32, slots * sizeof(uint32_t));
	m->values = calloc(slots, sizeof(void *));
	if (!m->keys || !m->values) {
		free(m->keys);
		free(m->values);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < slots; i++)
		m->keys[i] = 0;
	m->mask = slots - 1;
	m->shift = (uint8_t)(32 - __builtin_ctz(slots));
	m->count = 0;
	m->max = max;
	__builtin_cpu_init();
	m->simd = simd && __builtin_cpu_supports("avx2");
	return 0;
}

void u32map_destroy(struct sp_u32map *m)
{
	free(m->keys);
	free(m->values);
	m->keys = NULL;
	m->values = NULL;
}

/*
 * Scan aligned groups of 8 slots starting with the one holding the home
 * slot: the first slot (at or after home) that holds the key or is empty
 * ends the probe, exactly as in the scalar loop.
 */
__attribute__((target("avx2"))) static int64_t find_avx2(const struct sp_u32map *m,
							  uint32_t key)
{
	const __m256i want = _mm256_set1_epi32((int)key);
	const __m256i zero = _mm256_setzero_si256();
	uint32_t home = home_slot(m, key);
	uint32_t group = home & ~7u;
	uint32_t skip = home & 7u; /* slots of the first group before home */

	for (uint32_t seen = 0; seen <= m->mask; seen += 8) {
		__m256i k = _mm256_load_si256((const __m256i *)(m->keys + group));
		uint32_t hit = (uint32_t)_mm256_movemask_ps(
			_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, want)));
		uint32_t empty = (uint32_t)_mm256_movemask_ps(
			_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, zero)));

		hit = (hit >> skip) << skip;
		empty = (empty >> skip) << skip;
		if (hit && (!empty || __builtin_ctz(hit) < __builtin_ctz(empty)))
			return group + (uint32_t)__builtin_ctz(hit);
		if (empty)
			return -1;
		skip = 0;
		group = (group + 8) & m->mask;
	}
	return -1;
}

/* The key's home slot first: at most half full, a table mostly answers
 * there, for less than loading a group costs. */
static int64_t find_slot(const struct sp_u32map *m, uint32_t key)
{
	uint32_t home = home_slot(m, key), k = m->keys[home];

	if (k == key)
		return home;
	if (k == 0)
		return -1;
	return m->simd ? find_avx2(m, key)
		       : hashprobe_find(m->keys, m->mask, m->shift, key, KEY_WIDTH);
}

void *u32map_get(const struct sp_u32map *m, uint32_t key)
{
	int64_t i;

	if (key == 0)
		return NULL;
	i = find_slot(m, key);
	return i < 0 ? NULL : m->values[i];
}

static struct hashprobe probe_of(struct sp_u32map *m)
{
	return (struct hashprobe){ .keys = m->keys, .values = m->values,
				   .count = &m->count, .mask = m->mask,
				   .max = m->max, .shift = m->shift,
				   .width = KEY_WIDTH };
}

int u32map_put(struct sp_u32map *m, uint32_t key, void *value)
{
	struct hashprobe hp = probe_of(m);

	if (key == 0)
		return -EINVAL;
	return hashprobe_store(&hp, find_slot(m, key), key, value);
}

void *u32map_del(struct sp_u32map *m, uint32_t key)
{
	struct hashprobe hp = probe_of(m);

	return hashprobe_take(&hp, key ? find_slot(m, key) : -1);
}

void u32map_each(const struct sp_u32map *m,
		 void (*fn)(uint32_t key, void *value, void *arg), void *arg)
{
	for (uint32_t i = 0; i <= m->mask; i++)
		if (m->keys[i])
			fn(m->keys[i], m->values[i], arg);
}
