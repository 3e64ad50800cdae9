// SPDX-License-Identifier: MIT
#include "span/spanpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"

int spanpool_init(struct sp_spanpool *pool, uint32_t size)
{
	if (size == 0)
		return -EINVAL;
	pool->slab = calloc(size, sizeof(*pool->slab));
	pool->free = calloc(size, sizeof(*pool->free));
	if (!pool->slab || !pool->free) {
		free(pool->slab);
		free(pool->free);
		pool->slab = NULL;
		return -ENOMEM;
	}
	pool->size = size;
	pool->in_use = 0;
	pool->peak = 0;
	pool->fresh = 0;
	pool->n_free = 0;
	pthread_mutex_init(&pool->lock, NULL);
	return 0;
}

void spanpool_destroy(struct sp_spanpool *pool)
{
	if (!pool->slab)
		return;
	pthread_mutex_destroy(&pool->lock);
	free(pool->slab);
	free(pool->free);
	pool->slab = NULL;
}

struct sp_span *spanpool_get(struct sp_spanpool *pool)
{
	struct sp_span *span;

	pthread_mutex_lock(&pool->lock);
	span = NULL;
	if (pool->n_free)
		span = pool->free[--pool->n_free];
	else if (pool->fresh < pool->size)
		span = &pool->slab[pool->fresh++];
	if (span && ++pool->in_use > pool->peak)
		pool->peak = pool->in_use;
	pthread_mutex_unlock(&pool->lock);
	if (span)
		span_reset(span);
	return span;
}

void spanpool_put(struct sp_spanpool *pool, struct sp_span *span)
{
	if (!span)
		return;
	resource_put(span->resource);
	span->resource = NULL;
	pthread_mutex_lock(&pool->lock);
	pool->free[pool->n_free++] = span;
	pool->in_use--;
	pthread_mutex_unlock(&pool->lock);
}

void spanpool_put_many(struct sp_spanpool *pool, struct sp_span *const *spans, uint32_t n)
{
	/* Resources dropped outside the lock, one count per run of spans of
	 * one process (the batch is grouped by resource); the pointers
	 * stacked under the lock once: the exporter gives back a batch while
	 * the reader takes spans one by one. */
	for (uint32_t i = 0, run; i < n; i += run) {
		struct sp_resource *res = spans[i]->resource;

		for (run = 0; i + run < n && spans[i + run]->resource == res; run++)
			spans[i + run]->resource = NULL;
		resource_put_n(res, (int)run);
	}
	pthread_mutex_lock(&pool->lock);
	memcpy(&pool->free[pool->n_free], spans, n * sizeof(*spans));
	pool->n_free += n;
	pool->in_use -= n;
	pthread_mutex_unlock(&pool->lock);
}

void spanpool_usage(struct sp_spanpool *pool, uint32_t *in_use, uint32_t *peak)
{
	pthread_mutex_lock(&pool->lock);
	*in_use = pool->in_use;
	*peak = pool->peak;
	pthread_mutex_unlock(&pool->lock);
}
