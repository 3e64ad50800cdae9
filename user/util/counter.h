/* SPDX-License-Identifier: MIT */
/*
 * Counters written by one thread and read by others for reports: the
 * export thread counts, the main thread prints.  Every access is atomic
 * (relaxed: a report needs no snapshot across counters), since a plain
 * write, even under a lock the reader does not take, races with the read.
 */
#ifndef SPANPROBE_COUNTER_H
#define SPANPROBE_COUNTER_H

#include <stdint.h>

static inline void counter_add(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static inline void counter_sub(uint64_t *c, uint64_t n)
{
	__atomic_sub_fetch(c, n, __ATOMIC_RELAXED);
}

static inline void counter_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static inline uint64_t counter_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif /* SPANPROBE_COUNTER_H */
