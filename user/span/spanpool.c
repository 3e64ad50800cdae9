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
	pool->caches = NULL;
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

/* Spans out of the pool now (lock held, or a cache's own look). */
static uint32_t out_of_pool(const struct sp_spanpool *pool)
{
	return __atomic_load_n(&pool->in_use, __ATOMIC_RELAXED);
}

static void set_out_of_pool(struct sp_spanpool *pool, uint32_t v)
{
	__atomic_store_n(&pool->in_use, v, __ATOMIC_RELAXED);
}

/* `now` spans are in use: raise the peak (any thread). */
static void note_peak(struct sp_spanpool *pool, uint32_t now)
{
	uint32_t peak = __atomic_load_n(&pool->peak, __ATOMIC_RELAXED);

	while (now > peak &&
	       !__atomic_compare_exchange_n(&pool->peak, &peak, now, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Free spans the caches hold (lock held). */
static uint32_t cached(const struct sp_spanpool *pool)
{
	uint32_t n = 0;

	for (const struct sp_spancache *c = pool->caches; c; c = c->next)
		n += __atomic_load_n(&c->n, __ATOMIC_RELAXED);
	return n;
}

/* Up to `max` spans off the pool into out[], the first to hand out last
 * (lock held): those given back, the most recent first; fresh ones only
 * when none was given back, so that no more of the slab is touched than
 * needed. */
static uint32_t take(struct sp_spanpool *pool, struct sp_span **out, uint32_t max)
{
	uint32_t n;

	if (pool->n_free) {
		n = pool->n_free < max ? pool->n_free : max;
		pool->n_free -= n;
		memcpy(out, &pool->free[pool->n_free], n * sizeof(*out));
	} else {
		n = pool->size - pool->fresh < max ? pool->size - pool->fresh : max;
		for (uint32_t i = 0; i < n; i++) /* the slab in order */
			out[n - 1 - i] = &pool->slab[pool->fresh + i];
		pool->fresh += n;
	}
	set_out_of_pool(pool, out_of_pool(pool) + n);
	return n;
}

/* Stack spans[0..n) on the free list (lock held). */
static void stack_free(struct sp_spanpool *pool, struct sp_span *const *spans,
		       uint32_t n)
{
	memcpy(&pool->free[pool->n_free], spans, n * sizeof(*spans));
	pool->n_free += n;
	set_out_of_pool(pool, out_of_pool(pool) - n);
}

struct sp_span *spanpool_get(struct sp_spanpool *pool)
{
	struct sp_span *span = NULL;

	pthread_mutex_lock(&pool->lock);
	if (take(pool, &span, 1))
		note_peak(pool, out_of_pool(pool) - cached(pool));
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
	stack_free(pool, &span, 1);
	pthread_mutex_unlock(&pool->lock);
}

void spanpool_put_many(struct sp_spanpool *pool, struct sp_span *const *spans, uint32_t n)
{
	/* Resources dropped outside the lock, one count per run of spans of
	 * one process (the batch is grouped by resource); the pointers
	 * stacked under the lock once: the exporter gives back a batch while
	 * the reader takes spans.  The spans are only read here: a line the
	 * reader writes again is not taken over by this CPU. */
	for (uint32_t i = 0, run; i < n; i += run) {
		struct sp_resource *res = spans[i]->resource;

		for (run = 1; i + run < n && spans[i + run]->resource == res; run++)
			;
		resource_put_n(res, (int)run);
	}
	pthread_mutex_lock(&pool->lock);
	stack_free(pool, spans, n);
	pthread_mutex_unlock(&pool->lock);
}

void spanpool_usage(struct sp_spanpool *pool, uint32_t *in_use, uint32_t *peak)
{
	pthread_mutex_lock(&pool->lock);
	*in_use = out_of_pool(pool) - cached(pool);
	*peak = __atomic_load_n(&pool->peak, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pool->lock);
}

void spancache_init(struct sp_spancache *c, struct sp_spanpool *pool)
{
	c->pool = pool;
	c->n = 0;
	pthread_mutex_lock(&pool->lock);
	c->next = pool->caches;
	pool->caches = c;
	pthread_mutex_unlock(&pool->lock);
}

void spancache_destroy(struct sp_spancache *c)
{
	struct sp_spanpool *pool = c->pool;

	pthread_mutex_lock(&pool->lock);
	stack_free(pool, c->spans, c->n);
	__atomic_store_n(&c->n, 0, __ATOMIC_RELAXED);
	for (struct sp_spancache **pp = &pool->caches; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&pool->lock);
}

/*
 * The spans handed out next were last written, or read, on the export
 * thread's CPU: ask now for the lines the reader writes in every span,
 * for writing, so that they have arrived when it does (a line from
 * another CPU takes longer than filling in one span: SPANCACHE_PREFETCH
 * spans ahead).  PREFETCHW is a hint, a no-op on CPUs without it.
 */
#define SPANCACHE_PREFETCH 4

static inline void prefetch_for_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

static void prefetch_span(const struct sp_span *span)
{
	const char *p = (const char *)span;

	prefetch_for_write(p);
	prefetch_for_write(p + 64);
	prefetch_for_write(p + 128);
	prefetch_for_write(p + 192); /* a function span's attributes end there */
	prefetch_for_write(span->arena);
}

struct sp_span *spancache_get(struct sp_spancache *c)
{
	struct sp_spanpool *pool = c->pool;
	struct sp_span *span;
	uint32_t n = c->n;

	if (!n) {
		pthread_mutex_lock(&pool->lock);
		n = take(pool, c->spans, SPANCACHE_BATCH);
		__atomic_store_n(&c->n, n, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&pool->lock);
		if (!n)
			return NULL;
		for (uint32_t i = 1; i < SPANCACHE_PREFETCH && i < n; i++)
			prefetch_span(c->spans[n - 1 - i]);
	}
	span = c->spans[--n];
	__atomic_store_n(&c->n, n, __ATOMIC_RELAXED);
	if (n >= SPANCACHE_PREFETCH)
		prefetch_span(c->spans[n - SPANCACHE_PREFETCH]);
	/* In use: out of the pool, and not here.  No locked instruction:
	 * it would wait for the stores to the spans before it. */
	note_peak(pool, out_of_pool(pool) - n);
	span_reset(span);
	return span;
}

void spancache_put(struct sp_spancache *c, struct sp_span *span)
{
	uint32_t n = c->n;

	if (!span)
		return;
	resource_put(span->resource);
	span->resource = NULL;
	if (n == SPANCACHE_MAX) {
		/* The oldest go back: the newest are the warmest here. */
		pthread_mutex_lock(&c->pool->lock);
		stack_free(c->pool, c->spans, SPANCACHE_BATCH);
		__atomic_store_n(&c->n, n - SPANCACHE_BATCH, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&c->pool->lock);
		n -= SPANCACHE_BATCH;
		memmove(c->spans, c->spans + SPANCACHE_BATCH, n * sizeof(c->spans[0]));
	}
	c->spans[n] = span;
	__atomic_store_n(&c->n, n + 1, __ATOMIC_RELAXED);
}
