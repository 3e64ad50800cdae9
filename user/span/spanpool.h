/* SPDX-License-Identifier: MIT */
/*
 * Preallocated spans.  The consumer thread takes spans, the export thread
 * gives them back; when the pool is empty a new span is dropped (and the
 * caller counts it) rather than allocated.  The slab is calloc()ed and
 * its spans are handed out in order before any is reused, most recently
 * freed first: a span never used is a page never touched, so the pool
 * costs resident memory for the most spans ever in use at once (`peak`),
 * not for its size.  The spans given back wait on a stack of pointers,
 * not on a list through the spans: taking one reads the stack, not the
 * span the export thread last wrote on another CPU.
 */
#ifndef SPANPROBE_SPANPOOL_H
#define SPANPROBE_SPANPOOL_H

#include <pthread.h>
#include <stdint.h>

#include "span/span.h"

struct sp_spancache;

struct sp_spanpool {
	struct sp_span *slab;
	struct sp_span **free; /* given back, the last on top */
	uint32_t n_free;
	uint32_t size;
	uint32_t fresh;   /* slab[fresh..size) never handed out */
	/* Out of the pool, the spans of caches (below) included: written
	 * under the lock, read by a cache without it (atomic). */
	uint32_t in_use;
	uint32_t peak;    /* the most in use at once, caches' spans left out */
	struct sp_spancache *caches; /* under the lock */
	pthread_mutex_t lock;
};

/* Allocate `size` spans up front.  Returns 0, -EINVAL or -ENOMEM. */
int spanpool_init(struct sp_spanpool *pool, uint32_t size);
void spanpool_destroy(struct sp_spanpool *pool);

/* A reset span, or NULL when the pool is empty. */
struct sp_span *spanpool_get(struct sp_spanpool *pool);

/* Give `span` back; drops its resource reference.  Accepts NULL. */
void spanpool_put(struct sp_spanpool *pool, struct sp_span *span);
/* Give back spans[0..n) at once (one lock). */
void spanpool_put_many(struct sp_spanpool *pool, struct sp_span *const *spans, uint32_t n);

/*
 * Spans in use now (out of the pool and of every cache) and the most at
 * once.  The peak is exact with one cache; with several, a cache's own
 * update of it counts the others' free spans as in use.
 */
void spanpool_usage(struct sp_spanpool *pool, uint32_t *in_use, uint32_t *peak);

/*
 * A thread's own stock of free spans, taken from the pool and given back
 * to it SPANCACHE_BATCH at a time, so that the thread that takes spans one
 * by one (the reader) takes the pool's lock once per batch and not once
 * per span: the lock's line is shared with the export thread on the other
 * CPU, and every locked instruction waits for the stores before it.  A
 * span in a cache is free, but only its thread can take it: at most
 * SPANCACHE_MAX of them.  One thread uses a cache.
 */
#define SPANCACHE_MAX 64
#define SPANCACHE_BATCH 32

struct sp_spancache {
	struct sp_spanpool *pool;
	struct sp_spancache *next;  /* the pool's caches, under its lock */
	uint32_t n;                 /* atomic: spanpool_usage() reads it */
	struct sp_span *spans[SPANCACHE_MAX]; /* the newest on top */
};

/* Make `c` a cache of `pool`. */
void spancache_init(struct sp_spancache *c, struct sp_spanpool *pool);
/* Give its spans back to the pool and forget it. */
void spancache_destroy(struct sp_spancache *c);

/* A reset span, or NULL when both the cache and the pool are empty. */
struct sp_span *spancache_get(struct sp_spancache *c);

/* Give `span` back (to the cache); drops its resource reference.
 * Accepts NULL. */
void spancache_put(struct sp_spancache *c, struct sp_span *span);

#endif /* SPANPROBE_SPANPOOL_H */
