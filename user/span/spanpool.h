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

struct sp_spanpool {
	struct sp_span *slab;
	struct sp_span **free; /* given back, the last on top */
	uint32_t n_free;
	uint32_t size;
	uint32_t fresh;   /* slab[fresh..size) never handed out */
	uint32_t in_use;
	uint32_t peak;    /* the most in use at once */
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

/* Spans in use now and the most at once, read under the pool's lock. */
void spanpool_usage(struct sp_spanpool *pool, uint32_t *in_use, uint32_t *peak);

#endif /* SPANPROBE_SPANPOOL_H */
