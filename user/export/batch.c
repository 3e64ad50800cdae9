// SPDX-License-Identifier: MIT
#include "export/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "span/spanpool.h"
#include "export/exporter.h"
#include "util/clock.h"
#include "util/counter.h"
#include "util/log.h"

static int push(struct sp_batch *bsp, struct sp_span *span, bool wait)
{
	bool wake;

	pthread_mutex_lock(&bsp->lock);
	counter_add(&bsp->received, 1);
	while (wait && bsp->count == bsp->opts.max_queue && !bsp->stopping) {
		pthread_cond_signal(&bsp->wake);
		pthread_cond_wait(&bsp->space, &bsp->lock);
	}
	if (bsp->count == bsp->opts.max_queue || bsp->stopping) {
		counter_add(&bsp->dropped_queue_full, 1);
		pthread_mutex_unlock(&bsp->lock);
		spanpool_put(bsp->pool, span);
		return -ENOSPC;
	}
	bsp->ring[(bsp->head + bsp->count) % bsp->opts.max_queue] = span;
	bsp->count++;
	wake = bsp->count == bsp->opts.max_batch;
	pthread_mutex_unlock(&bsp->lock);
	if (wake)
		pthread_cond_signal(&bsp->wake);
	return 0;
}

int batch_push(struct sp_batch *bsp, struct sp_span *span)
{
	return push(bsp, span, false);
}

int batch_push_wait(struct sp_batch *bsp, struct sp_span *span)
{
	return push(bsp, span, true);
}

static int sink_push(void *ctx, struct sp_span *span)
{
	return push(ctx, span, false);
}

static int sink_push_wait(void *ctx, struct sp_span *span)
{
	return push(ctx, span, true);
}

struct sp_span_sink batch_sink(struct sp_batch *bsp)
{
	return (struct sp_span_sink){ .push = sink_push,
				      .push_wait = sink_push_wait, .ctx = bsp };
}

/* Without the lock: the counters are atomic (util/counter.h). */
void batch_get_stats(const struct sp_batch *bsp, struct sp_batch_stats *out)
{
	out->received = counter_get(&bsp->received);
	out->dropped_queue_full = counter_get(&bsp->dropped_queue_full);
	out->dropped_at_shutdown = counter_get(&bsp->dropped_at_shutdown);
	out->batches = counter_get(&bsp->batches);
}

/*
 * Put spans of one resource next to each other (the encoders make one
 * ResourceSpans per run), keeping the order in which spans finished.
 * A batch holds few processes, so a pass per resource is cheap.
 */
static void group_by_resource(struct sp_span **batch, struct sp_span **tmp,
			      uint32_t n)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < n; i++)
		batch[i]->next = NULL; /* marks "not yet placed" below */
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_resource *res = batch[i]->resource;

		if (batch[i]->next)
			continue;
		for (uint32_t j = i; j < n; j++) {
			if (batch[j]->resource != res || batch[j]->next)
				continue;
			batch[j]->next = batch[j]; /* placed */
			tmp[out++] = batch[j];
		}
	}
	memcpy(batch, tmp, n * sizeof(*batch));
}

/* Take up to max_batch spans off the queue (lock held). */
static uint32_t take_batch(struct sp_batch *bsp, struct sp_span **batch)
{
	uint32_t n = bsp->count < bsp->opts.max_batch ? bsp->count
						      : bsp->opts.max_batch;

	for (uint32_t i = 0; i < n; i++) {
		batch[i] = bsp->ring[bsp->head];
		bsp->head = (bsp->head + 1) % bsp->opts.max_queue;
	}
	bsp->count -= n;
	pthread_cond_broadcast(&bsp->space);
	return n;
}

static void export_batch(struct sp_batch *bsp, struct sp_span **batch,
			 struct sp_span **tmp, uint32_t n)
{
	group_by_resource(batch, tmp, n);
	bsp->exporter->ops->export_spans(bsp->exporter, batch, n);
	for (uint32_t i = 0; i < n; i++)
		spanpool_put(bsp->pool, batch[i]);
}

/* Shutdown took longer than the export timeout: count what is left (lock held). */
static void drop_rest(struct sp_batch *bsp)
{
	if (bsp->count)
		sp_warn("export: export timeout passed at shutdown; %u spans not exported",
			bsp->count);
	while (bsp->count) {
		spanpool_put(bsp->pool, bsp->ring[bsp->head]);
		bsp->head = (bsp->head + 1) % bsp->opts.max_queue;
		bsp->count--;
		counter_add(&bsp->dropped_at_shutdown, 1);
	}
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
	clock_mono_timespec(ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *export_thread(void *arg)
{
	struct sp_batch *bsp = arg;
	/* One allocation: the batch, then scratch room to regroup it. */
	struct sp_span **batch = calloc(2 * (size_t)bsp->opts.max_batch, sizeof(*batch));
	struct timespec next;

	pthread_mutex_lock(&bsp->lock);
	deadline_after(&next, bsp->opts.delay_ms);
	while (batch) {
		bool due = bsp->count >= bsp->opts.max_batch ||
			   bsp->flush_requested || bsp->stopping;

		if (!due && pthread_cond_timedwait(&bsp->wake, &bsp->lock,
						   &next) != ETIMEDOUT)
			continue;
		if (bsp->count == 0) {
			bsp->flush_requested = false;
			pthread_cond_broadcast(&bsp->idle);
			if (bsp->stopping)
				break;
			deadline_after(&next, bsp->opts.delay_ms);
			continue;
		}
		if (bsp->stopping && clock_mono_ns() > bsp->shutdown_deadline_ns) {
			drop_rest(bsp);
			continue;
		}
		uint32_t n = take_batch(bsp, batch);

		bsp->exporting = true;
		counter_add(&bsp->batches, 1);
		pthread_mutex_unlock(&bsp->lock);
		export_batch(bsp, batch, batch + bsp->opts.max_batch, n);
		pthread_mutex_lock(&bsp->lock);
		bsp->exporting = false;
		if (bsp->count < bsp->opts.max_batch)
			deadline_after(&next, bsp->opts.delay_ms);
	}
	pthread_mutex_unlock(&bsp->lock);
	if (!batch)
		sp_err("export: out of memory for the export batch; exporting stopped");
	free(batch);
	return NULL;
}

int batch_start(struct sp_batch *bsp, const struct sp_bsp_opts *opts,
	      struct sp_exporter *exporter, struct sp_spanpool *pool)
{
	int err;

	memset(bsp, 0, sizeof(*bsp));
	if (!opts->max_queue || !opts->max_batch)
		return -EINVAL;
	bsp->opts = *opts;
	/* The SDK specification: the batch is never larger than the queue. */
	if (bsp->opts.max_batch > bsp->opts.max_queue)
		bsp->opts.max_batch = bsp->opts.max_queue;
	bsp->exporter = exporter;
	bsp->pool = pool;
	bsp->ring = calloc(bsp->opts.max_queue, sizeof(*bsp->ring));
	if (!bsp->ring)
		return -ENOMEM;
	pthread_mutex_init(&bsp->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&bsp->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&bsp->idle, NULL);
	pthread_cond_init(&bsp->space, NULL);
	err = pthread_create(&bsp->thread, NULL, export_thread, bsp);
	if (err) {
		free(bsp->ring);
		bsp->ring = NULL;
		return -err;
	}
	bsp->thread_started = true;
	return 0;
}

void batch_flush(struct sp_batch *bsp)
{
	pthread_mutex_lock(&bsp->lock);
	bsp->flush_requested = true;
	pthread_cond_signal(&bsp->wake);
	while ((bsp->count > 0 || bsp->exporting) && !bsp->stopping)
		pthread_cond_wait(&bsp->idle, &bsp->lock);
	pthread_mutex_unlock(&bsp->lock);
	if (bsp->exporter->ops->flush)
		bsp->exporter->ops->flush(bsp->exporter);
}

void batch_shutdown(struct sp_batch *bsp)
{
	if (!bsp->ring)
		return;
	pthread_mutex_lock(&bsp->lock);
	bsp->shutdown_deadline_ns =
		clock_mono_ns() + (uint64_t)bsp->opts.export_timeout_ms * 1000000ULL;
	bsp->stopping = true;
	pthread_cond_signal(&bsp->wake);
	pthread_cond_broadcast(&bsp->space);
	pthread_mutex_unlock(&bsp->lock);
	if (bsp->thread_started)
		pthread_join(bsp->thread, NULL);
	if (bsp->exporter->ops->flush)
		bsp->exporter->ops->flush(bsp->exporter);
	/* Spans pushed after the thread ended (none by contract) go back. */
	drop_rest(bsp);
	free(bsp->ring);
	bsp->ring = NULL;
	pthread_cond_destroy(&bsp->wake);
	pthread_cond_destroy(&bsp->idle);
	pthread_cond_destroy(&bsp->space);
	pthread_mutex_destroy(&bsp->lock);
}
