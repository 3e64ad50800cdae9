// SPDX-License-Identifier: MIT
#include "export/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "span/spanpool.h"
#include "export/exporter.h"
#include "export/regroup.h"
#include "util/clock.h"
#include "util/counter.h"
#include "util/log.h"
#include "util/slice.h"

/* Shutdown began and its deadline passed (lock held). */
static bool out_of_time(const struct sp_batch *bsp)
{
	return bsp->shutdown_deadline_ns && clock_mono_ns() >= bsp->shutdown_deadline_ns;
}

static void timespec_of_ns(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

/* Wait for room; never past the shutdown deadline (lock held). */
static void wait_for_room(struct sp_batch *bsp)
{
	struct timespec until;

	while (bsp->count == bsp->opts.max_queue && !bsp->stopping &&
	       !out_of_time(bsp)) {
		pthread_cond_signal(&bsp->wake);
		if (!bsp->shutdown_deadline_ns) {
			pthread_cond_wait(&bsp->space, &bsp->lock);
			continue;
		}
		timespec_of_ns(&until, bsp->shutdown_deadline_ns);
		pthread_cond_timedwait(&bsp->space, &bsp->lock, &until);
	}
}

/* `i` (below twice the queue's size) as a place in the ring: once per
 * span each way, so a compare, not a division. */
static uint32_t ring_index(const struct sp_batch *bsp, uint32_t i)
{
	return i >= bsp->opts.max_queue ? i - bsp->opts.max_queue : i;
}

static int push(struct sp_batch *bsp, struct sp_span *span, bool wait)
{
	bool wake, late;

	pthread_mutex_lock(&bsp->lock);
	/* Written under the lock only: a plain increment, no locked one. */
	counter_set(&bsp->received, counter_get(&bsp->received) + 1);
	if (wait)
		wait_for_room(bsp);
	late = bsp->stopping || out_of_time(bsp);
	if (bsp->count == bsp->opts.max_queue || late) {
		if (late)
			counter_add(&bsp->dropped_at_shutdown, 1);
		else
			counter_add(&bsp->dropped_queue_full, 1);
		pthread_mutex_unlock(&bsp->lock);
		spanpool_put(bsp->pool, span);
		return -ENOSPC;
	}
	bsp->ring[ring_index(bsp, bsp->head + bsp->count)] = span;
	bsp->count++;
	wake = bsp->count == bsp->opts.max_batch && !bsp->exporting;
	pthread_mutex_unlock(&bsp->lock);
	if (wake)
		pthread_cond_signal(&bsp->wake);
	return 0;
}

/*
 * push() for spans[0..n), under one lock: the reader hands over its
 * finished spans a few dozen at a time.  Those that find no room are
 * dropped as push() would drop them.  Returns how many were dropped.
 */
static uint32_t push_many(struct sp_batch *bsp, struct sp_span *const *spans,
			  uint32_t n, bool wait)
{
	uint32_t q = bsp->opts.max_queue, i = 0;
	bool wake = false, late = false;

	pthread_mutex_lock(&bsp->lock);
	counter_add(&bsp->received, n);
	while (i < n) {
		uint32_t room, k, tail, first;

		if (wait)
			wait_for_room(bsp);
		late = bsp->stopping || out_of_time(bsp);
		room = q - bsp->count;
		if (!room || late)
			break;
		/* As many as fit, in at most two runs of the ring. */
		k = n - i < room ? n - i : room;
		tail = (bsp->head + bsp->count) % q;
		first = k < q - tail ? k : q - tail;
		memcpy(&bsp->ring[tail], spans + i, first * sizeof(*spans));
		memcpy(bsp->ring, spans + i + first, (k - first) * sizeof(*spans));
		/* An exporter at work looks at the queue before it waits
		 * again: only one that waits needs the wake (a futex call,
		 * and an interrupt to its CPU). */
		wake |= !bsp->exporting && bsp->count < bsp->opts.max_batch &&
			bsp->count + k >= bsp->opts.max_batch;
		bsp->count += k;
		i += k;
	}
	/* The queue stays full (or late) while the lock is held: the rest go. */
	if (i < n)
		counter_add(late ? &bsp->dropped_at_shutdown : &bsp->dropped_queue_full,
			    n - i);
	pthread_mutex_unlock(&bsp->lock);
	if (i < n)
		spanpool_put_many(bsp->pool, spans + i, n - i);
	if (wake)
		pthread_cond_signal(&bsp->wake);
	return n - i;
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

static uint32_t sink_push_many(void *ctx, struct sp_span *const *spans,
			       uint32_t n, bool wait)
{
	return push_many(ctx, spans, n, wait);
}

struct sp_span_sink batch_sink(struct sp_batch *bsp)
{
	return (struct sp_span_sink){ .push = sink_push,
				      .push_wait = sink_push_wait,
				      .push_many = sink_push_many, .ctx = bsp };
}

/* Without the lock: the counters are atomic (util/counter.h). */
void batch_get_stats(const struct sp_batch *bsp, struct sp_batch_stats *out)
{
	out->received = counter_get(&bsp->received);
	out->dropped_queue_full = counter_get(&bsp->dropped_queue_full);
	out->dropped_at_shutdown = counter_get(&bsp->dropped_at_shutdown);
	out->batches = counter_get(&bsp->batches);
}

void batch_get_fill(struct sp_batch *bsp, uint32_t *queued, uint32_t *exporting)
{
	pthread_mutex_lock(&bsp->lock);
	*queued = bsp->count;
	*exporting = bsp->exporting ? bsp->in_export : 0;
	pthread_mutex_unlock(&bsp->lock);
}

/* Take up to max_batch spans off the queue (lock held). */
static uint32_t take_batch(struct sp_batch *bsp, struct sp_span **batch)
{
	uint32_t n = bsp->count < bsp->opts.max_batch ? bsp->count
						      : bsp->opts.max_batch;
	uint32_t first = bsp->opts.max_queue - bsp->head;

	/* In at most two runs of the ring, as push_many() fills it. */
	if (first > n)
		first = n;
	memcpy(batch, &bsp->ring[bsp->head], first * sizeof(*batch));
	memcpy(batch + first, bsp->ring, (n - first) * sizeof(*batch));
	bsp->head = ring_index(bsp, bsp->head + n);
	bsp->count -= n;
	return n;
}

static void export_batch(struct sp_batch *bsp, struct sp_span **batch,
			 struct regroup *runs, uint32_t n)
{
	regroup_by_resource(runs, batch, n);
	/* The exporter counts these spans itself, whatever comes of them. */
	bsp->exporter->ops->export_spans(bsp->exporter, batch, n);
	spanpool_put_many(bsp->pool, batch, n);
}

/* Shutdown took longer than the export timeout: count what is left (lock held). */
static void drop_rest(struct sp_batch *bsp)
{
	if (bsp->count)
		sp_warn("export: export timeout passed at shutdown; %u spans not exported",
			bsp->count);
	while (bsp->count) {
		spanpool_put(bsp->pool, bsp->ring[bsp->head]);
		bsp->head = ring_index(bsp, bsp->head + 1);
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

/* Nothing to export: the exporter's own work, outside the lock (held). */
static void exporter_idle(struct sp_batch *bsp)
{
	if (!bsp->exporter->ops->idle)
		return;
	pthread_mutex_unlock(&bsp->lock);
	bsp->exporter->ops->idle(bsp->exporter);
	pthread_mutex_lock(&bsp->lock);
}

static void *export_thread(void *arg)
{
	struct sp_batch *bsp = arg;
	struct sp_span **batch = calloc(bsp->opts.max_batch, sizeof(*batch));
	struct regroup runs;
	struct timespec next;

	if (regroup_init(&runs, bsp->opts.max_batch)) {
		free(batch);
		batch = NULL;
	}

	slice_request(SLICE_SHORT_NS); /* as the reader (util/slice.h) */
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
			exporter_idle(bsp);
			deadline_after(&next, bsp->opts.delay_ms);
			continue;
		}
		if (out_of_time(bsp)) {
			drop_rest(bsp);
			continue;
		}
		uint32_t n = take_batch(bsp, batch);

		bsp->exporting = true;
		bsp->in_export = n;
		counter_add(&bsp->batches, 1);
		pthread_mutex_unlock(&bsp->lock);
		/* Room for producers that wait: told once the lock is free, or
		 * each would wake only to wait for the lock (two more futex
		 * calls and, on one CPU, two more switches a batch). */
		pthread_cond_broadcast(&bsp->space);
		export_batch(bsp, batch, &runs, n);
		pthread_mutex_lock(&bsp->lock);
		bsp->exporting = false;
		if (bsp->count < bsp->opts.max_batch)
			deadline_after(&next, bsp->opts.delay_ms);
	}
	/* Atomic: batch_shutdown() may look without the lock (a thread left
	 * behind past the deadline). */
	__atomic_store_n(&bsp->thread_done, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&bsp->idle);
	pthread_mutex_unlock(&bsp->lock);
	if (!batch)
		sp_err("export: out of memory for the export batch; exporting stopped");
	free(batch);
	regroup_destroy(&runs);
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
	/* Every timed wait is on CLOCK_MONOTONIC, as the deadlines are. */
	pthread_cond_init(&bsp->wake, &attr);
	pthread_cond_init(&bsp->idle, &attr);
	pthread_cond_init(&bsp->space, &attr);
	pthread_condattr_destroy(&attr);
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

/* Move the shutdown deadline to `ns` and tell everyone who waits (lock held). */
static void set_deadline(struct sp_batch *bsp, uint64_t ns)
{
	bsp->shutdown_deadline_ns = ns;
	exporter_set_deadline(bsp->exporter, (int64_t)(ns / 1000000ULL));
	pthread_cond_broadcast(&bsp->space);
	pthread_cond_signal(&bsp->wake);
}

void batch_begin_shutdown(struct sp_batch *bsp)
{
	if (!bsp->ring)
		return;
	pthread_mutex_lock(&bsp->lock);
	if (!bsp->shutdown_deadline_ns)
		set_deadline(bsp, clock_mono_ns() +
				  (uint64_t)bsp->opts.export_timeout_ms * 1000000ULL);
	pthread_mutex_unlock(&bsp->lock);
}

void batch_abort(struct sp_batch *bsp)
{
	if (!bsp->thread_started)
		return;
	pthread_mutex_lock(&bsp->lock);
	if (bsp->ring)
		set_deadline(bsp, clock_mono_ns());
	pthread_mutex_unlock(&bsp->lock);
}

/*
 * Wait for the export thread until the deadline and the margin have
 * passed.  Returns false when it is still in an export that ignores the
 * deadline (a name lookup, a TLS handshake): its spans are then counted
 * at shutdown and the thread is left to the process's exit.
 */
static bool join_in_time(struct sp_batch *bsp)
{
	struct timespec until;
	bool done;

	timespec_of_ns(&until, bsp->shutdown_deadline_ns +
			       BATCH_SHUTDOWN_MARGIN_MS * 1000000ULL);
	pthread_mutex_lock(&bsp->lock);
	while (!bsp->thread_done &&
	       pthread_cond_timedwait(&bsp->idle, &bsp->lock, &until) != ETIMEDOUT)
		;
	done = bsp->thread_done;
	if (!done) {
		/* Not in an export (in the exporter's idle work): its last
		 * batch was counted by the exporter already. */
		uint32_t left = (bsp->exporting ? bsp->in_export : 0) + bsp->count;

		/* The spans stay out of the pool: the thread may still put them. */
		bsp->abandoned = true;
		counter_add(&bsp->dropped_at_shutdown, left);
		bsp->count = 0;
		sp_warn("export: the export thread is still busy past the shutdown"
			" deadline; %u spans counted dropped at shutdown", left);
	}
	pthread_mutex_unlock(&bsp->lock);
	if (done)
		pthread_join(bsp->thread, NULL);
	else
		pthread_detach(bsp->thread);
	return done;
}

int batch_shutdown(struct sp_batch *bsp)
{
	if (!bsp->ring || bsp->abandoned)
		return bsp->abandoned ? -ETIMEDOUT : 0;
	batch_begin_shutdown(bsp);
	pthread_mutex_lock(&bsp->lock);
	bsp->stopping = true;
	pthread_cond_signal(&bsp->wake);
	pthread_cond_broadcast(&bsp->space);
	pthread_mutex_unlock(&bsp->lock);
	if (bsp->thread_started && !join_in_time(bsp))
		return -ETIMEDOUT; /* the thread may still use the queue */
	if (bsp->exporter->ops->flush)
		bsp->exporter->ops->flush(bsp->exporter);
	/* Spans pushed after the thread ended (none by contract) go back.
	 * The lock and conditions stay: batch_abort() may still come. */
	pthread_mutex_lock(&bsp->lock);
	drop_rest(bsp);
	free(bsp->ring);
	bsp->ring = NULL;
	pthread_mutex_unlock(&bsp->lock);
	return 0;
}
