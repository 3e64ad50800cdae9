/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the unit tests: a recording exporter (a real exporter
 * whose output is a list of span copies, with an optional gate that holds
 * the export thread inside export_spans) and a bounded wait on it.
 * Header-only: every test binary is a single .c file.
 */
#ifndef SPANPROBE_TESTS_UNIT_HELPERS_H
#define SPANPROBE_TESTS_UNIT_HELPERS_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "span/resource.h"
#include "span/span.h"
#include "export/exporter.h"

#define REC_MAX_SPANS 4096
#define REC_MAX_BATCHES 1024

struct recorder {
	struct sp_exporter exp;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	/* Copies of every exported span; each holds a resource reference. */
	struct sp_span *spans;
	size_t n_spans;
	size_t batch_sizes[REC_MAX_BATCHES];
	size_t n_batches;
	size_t n_flushes;
	/* Gate: while closed, export_spans waits inside (after counting entry). */
	bool gate_closed;
	size_t n_entered;
	/* The same for the idle work (idle()). */
	bool idle_gate_closed;
	size_t n_idle_entered;
};

static int rec_export(struct sp_exporter *exp, struct sp_span *const *spans,
		      size_t count)
{
	struct recorder *r = exp->state;

	pthread_mutex_lock(&r->lock);
	r->n_entered++;
	pthread_cond_broadcast(&r->changed);
	while (r->gate_closed)
		pthread_cond_wait(&r->changed, &r->lock);
	for (size_t i = 0; i < count && r->n_spans < REC_MAX_SPANS; i++) {
		r->spans[r->n_spans] = *spans[i];
		resource_get(spans[i]->resource);
		r->n_spans++;
	}
	if (r->n_batches < REC_MAX_BATCHES)
		r->batch_sizes[r->n_batches++] = count;
	exp->stats.spans_exported += count;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void rec_idle(struct sp_exporter *exp)
{
	struct recorder *r = exp->state;

	pthread_mutex_lock(&r->lock);
	r->n_idle_entered++;
	pthread_cond_broadcast(&r->changed);
	while (r->idle_gate_closed)
		pthread_cond_wait(&r->changed, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

static int rec_flush(struct sp_exporter *exp)
{
	struct recorder *r = exp->state;

	pthread_mutex_lock(&r->lock);
	r->n_flushes++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void rec_clear_locked(struct recorder *r)
{
	for (size_t i = 0; i < r->n_spans; i++)
		resource_put(r->spans[i].resource);
	r->n_spans = 0;
	r->n_batches = 0;
}

/* The recorder is embedded in the test's fixture: destroy frees the copies only. */
static void rec_destroy(struct sp_exporter *exp)
{
	struct recorder *r = exp->state;

	rec_clear_locked(r);
	free(r->spans);
	r->spans = NULL;
	pthread_cond_destroy(&r->changed);
	pthread_mutex_destroy(&r->lock);
}

static const struct sp_exporter_ops rec_ops = {
	.name = "recorder",
	.export_spans = rec_export,
	.flush = rec_flush,
	.idle = rec_idle,
	.destroy = rec_destroy,
};

static inline void rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	r->exp.ops = &rec_ops;
	r->exp.state = r;
	r->spans = calloc(REC_MAX_SPANS, sizeof(*r->spans));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->changed, NULL);
}

static inline void rec_set_gate(struct recorder *r, bool closed)
{
	pthread_mutex_lock(&r->lock);
	r->gate_closed = closed;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

static inline void deadline_in_ms(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait until at least `n` spans were exported or `ms` passed; the count. */
static inline size_t rec_wait_spans(struct recorder *r, size_t n, unsigned ms)
{
	struct timespec until;
	size_t got;

	deadline_in_ms(&until, ms);
	pthread_mutex_lock(&r->lock);
	while (r->n_spans < n &&
	       pthread_cond_timedwait(&r->changed, &r->lock, &until) != ETIMEDOUT)
		;
	got = r->n_spans;
	pthread_mutex_unlock(&r->lock);
	return got;
}

/* Wait until export_spans was entered `n` times or `ms` passed; the count. */
static inline size_t rec_wait_entered(struct recorder *r, size_t n, unsigned ms)
{
	struct timespec until;
	size_t got;

	deadline_in_ms(&until, ms);
	pthread_mutex_lock(&r->lock);
	while (r->n_entered < n &&
	       pthread_cond_timedwait(&r->changed, &r->lock, &until) != ETIMEDOUT)
		;
	got = r->n_entered;
	pthread_mutex_unlock(&r->lock);
	return got;
}

/* The recorded span named `name` (the `nth` such, from 0), or NULL. */
static inline const struct sp_span *rec_find(struct recorder *r,
					     const char *name, size_t nth)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < r->n_spans; i++) {
		size_t nl;
		const char *sn = span_name(&r->spans[i], &nl);

		if (nl == len && memcmp(sn, name, len) == 0 && nth-- == 0)
			return &r->spans[i];
	}
	return NULL;
}

/* A resource with no attributes and one reference (for encoder tests). */
static inline struct sp_resource *bare_resource(uint32_t pid)
{
	struct sp_resource *res = calloc(1, sizeof(*res));

	if (res) {
		res->refs = 1;
		res->pid = pid;
	}
	return res;
}

#endif /* SPANPROBE_TESTS_UNIT_HELPERS_H */
