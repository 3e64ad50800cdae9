// SPDX-License-Identifier: MIT
#include "util/u64map.h"

#include <errno.h>
#include <stdlib.h>

#include "util/hashprobe.h"

#define KEY_WIDTH 8

int u64map_init(struct sp_u64map *m, uint32_t max)
{
	uint32_t slots;

	m->keys = NULL;
	m->values = NULL;
	if (hashprobe_slots(max, &slots))
		return -EINVAL;
	m->keys = calloc(slots, sizeof(*m->keys));
	m->values = calloc(slots, sizeof(*m->values));
	if (!m->keys || !m->values) {
		u64map_destroy(m);
		return -ENOMEM;
	}
	m->mask = slots - 1;
	m->shift = (uint8_t)(64 - __builtin_ctz(slots));
	m->count = 0;
	m->max = max;
	return 0;
}

void u64map_destroy(struct sp_u64map *m)
{
	free(m->keys);
	free(m->values);
	m->keys = NULL;
	m->values = NULL;
}

static struct hashprobe probe_of(struct sp_u64map *m)
{
	return (struct hashprobe){ .keys = m->keys, .values = m->values,
				   .count = &m->count, .mask = m->mask,
				   .max = m->max, .shift = m->shift,
				   .width = KEY_WIDTH };
}

static int64_t find_slot(const struct sp_u64map *m, uint64_t key)
{
	return key ? hashprobe_find(m->keys, m->mask, m->shift, key, KEY_WIDTH) : -1;
}

void *u64map_get(const struct sp_u64map *m, uint64_t key)
{
	int64_t i = find_slot(m, key);

	return i < 0 ? NULL : m->values[i];
}

int u64map_put(struct sp_u64map *m, uint64_t key, void *value)
{
	struct hashprobe hp = probe_of(m);

	if (key == 0)
		return -EINVAL;
	return hashprobe_store(&hp, find_slot(m, key), key, value);
}

void *u64map_del(struct sp_u64map *m, uint64_t key)
{
	struct hashprobe hp = probe_of(m);

	return hashprobe_take(&hp, find_slot(m, key));
}

void u64map_each(const struct sp_u64map *m,
		 void (*fn)(uint64_t key, void *value, void *arg), void *arg)
{
	for (uint32_t i = 0; i <= m->mask; i++)
		if (m->keys[i])
			fn(m->keys[i], m->values[i], arg);
}
