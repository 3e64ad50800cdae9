// SPDX-License-Identifier: MIT
#include "export/regroup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "span/span.h"
#include "util/hashprobe.h"

double regroup_bytes(uint32_t max)
{
	struct regroup *g = NULL;
	uint32_t slots;

	if (hashprobe_slots(max, &slots))
		return 0;
	return (double)max * (sizeof(*g->tmp) + sizeof(*g->group) + sizeof(*g->count)) +
	       (double)slots * (sizeof(*g->keys) + sizeof(*g->ids) + sizeof(*g->stamp));
}

/* The slots are sized and hashed as u64map's (util/hashprobe.h), but a
 * resource may be NULL, that scheme's empty key: a slot is taken when its
 * stamp says so. */
int regroup_init(struct regroup *g, uint32_t max)
{
	uint32_t slots;

	memset(g, 0, sizeof(*g));
	if (max > (1u << 24) || hashprobe_slots(max, &slots))
		return -EINVAL;
	g->mask = slots - 1;
	g->shift = (uint8_t)(64 - __builtin_ctz(slots));
	g->tmp = calloc(max, sizeof(*g->tmp));
	g->group = calloc(max, sizeof(*g->group));
	g->count = calloc(max, sizeof(*g->count));
	g->keys = calloc(slots, sizeof(*g->keys));
	g->ids = calloc(slots, sizeof(*g->ids));
	g->stamp = calloc(slots, sizeof(*g->stamp));
	if (!g->tmp || !g->group || !g->count || !g->keys || !g->ids || !g->stamp) {
		regroup_destroy(g);
		return -ENOMEM;
	}
	return 0;
}

void regroup_destroy(struct regroup *g)
{
	free(g->tmp);
	free(g->group);
	free(g->count);
	free(g->keys);
	free(g->ids);
	free(g->stamp);
	memset(g, 0, sizeof(*g));
}

/*
 * The run of `res` (NULL too: a span whose process was not read), a new
 * one when this batch has not seen it.  A slot is this batch's when its
 * stamp is, so the table is never cleared (but when the stamp wraps).
 */
static uint32_t run_of(struct regroup *g, const struct sp_resource *res, uint32_t *runs)
{
	uint32_t s = hashprobe_home((uintptr_t)res, g->shift, 8);

	for (; g->stamp[s] == g->batch; s = (s + 1) & g->mask)
		if (g->keys[s] == res)
			return g->ids[s];
	g->stamp[s] = g->batch;
	g->keys[s] = res;
	g->ids[s] = *runs;
	g->count[*runs] = 0;
	return (*runs)++;
}

static void next_batch(struct regroup *g)
{
	if (++g->batch == 0) {
		memset(g->stamp, 0, ((size_t)g->mask + 1) * sizeof(*g->stamp));
		g->batch = 1;
	}
}

void regroup_by_resource(struct regroup *g, struct sp_span **spans, uint32_t n)
{
	const struct sp_resource *last = NULL;
	uint32_t runs = 0, run = 0, at = 0;

	next_batch(g);
	for (uint32_t i = 0; i < n; i++) {
		/* Most spans follow one of their own process. */
		if (i == 0 || spans[i]->resource != last) {
			last = spans[i]->resource;
			run = run_of(g, last, &runs);
		}
		g->group[i] = run;
		g->count[run]++;
	}
	if (runs < 2)
		return;
	for (uint32_t r = 0; r < runs; r++) { /* counts become starts */
		uint32_t c = g->count[r];

		g->count[r] = at;
		at += c;
	}
	for (uint32_t i = 0; i < n; i++)
		g->tmp[g->count[g->group[i]]++] = spans[i];
	memcpy(spans, g->tmp, n * sizeof(*spans));
}
