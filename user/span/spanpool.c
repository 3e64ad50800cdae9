// SPDX-License-Identifier: MIT
#include "span/spanpool.h"

#include <errno.h>
#include <stdlib.h>

#include "span/resource.h"

int spanpool_init(struct sp_spanpool *pool, uint32_t size)
{
	if (size == 0)
		return -EINVAL;
	pool->slab = calloc(size, sizeof(*pool->slab));
	if (!pool->slab)
		return -ENOMEM;
	pool->size = size;
	pool->in_use = 0;
	pool->peak = 0;
	pool->fresh = 0;
	pool->free_list = NULL;
	pthread_mutex_init(&pool->lock, NULL);
	return 0;
}

void spanpool_destroy(struct sp_spanpool *pool)
{
	if (!pool->slab)
		return;
	pthread_mutex_destroy(&pool->lock);
	free(pool->slab);
	pool->slab = NULL;
}

struct sp_span *spanpool_get(struct sp_spanpool *pool)
{
	struct sp_span *span;

	pthread_mutex_lock(&pool->lock);
	span = pool->free_list;
	if (span)
		pool->free_list = span->next;
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
	span->next = pool->free_list;
	pool->free_list = span;
	pool->in_use--;
	pthread_mutex_unlock(&pool->lock);
}

void spanpool_usage(struct sp_spanpool *pool, uint32_t *in_use, uint32_t *peak)
{
	pthread_mutex_lock(&pool->lock);
	*in_use = pool->in_use;
	*peak = pool->peak;
	pthread_mutex_unlock(&pool->lock);
}
