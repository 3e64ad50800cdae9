/* SPDX-License-Identifier: MIT */
/*
 * Batch span processor, with the OpenTelemetry SDK's semantics: a bounded
 * queue (OTEL_BSP_MAX_QUEUE_SIZE) filled by the consumer thread, drained by
 * one export thread in batches of at most OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
 * sent when a batch is full or OTEL_BSP_SCHEDULE_DELAY has passed.  A full
 * queue drops the new span (counted); it never blocks the producer.
 */
#ifndef SPANPROBE_BATCH_H
#define SPANPROBE_BATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "span/span.h"

struct sp_exporter;
struct sp_spanpool;

/*
 * Shutdown ends this long after the export timeout at the latest, even
 * when an export ignores its deadline.
 */
#define BATCH_SHUTDOWN_MARGIN_MS 1000

struct sp_bsp_opts {
	uint32_t max_queue;
	uint32_t max_batch;
	uint32_t delay_ms;
	uint32_t export_timeout_ms; /* bounds the final drain at shutdown */
};

struct sp_batch {
	struct sp_bsp_opts opts;
	struct sp_exporter *exporter;
	struct sp_spanpool *pool;
	struct sp_span **ring;
	uint32_t head, count;
	bool stopping, flush_requested, thread_started;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle, space;
	bool exporting;
	uint32_t in_export;      /* spans of the batch being exported */
	bool thread_done, abandoned;
	uint64_t shutdown_deadline_ns; /* 0 until shutdown begins */
	/* Counters: written under lock, always atomically (util/counter.h). */
	uint64_t received, dropped_queue_full, dropped_at_shutdown, batches;
};

/*
 * Start the export thread.  Spans handed to the exporter go back to `pool`
 * afterwards.  Returns 0 or a negative errno.
 */
int batch_start(struct sp_batch *bsp, const struct sp_bsp_opts *opts,
	      struct sp_exporter *exporter, struct sp_spanpool *pool);

/*
 * Queue a finished span.  Returns 0, or -ENOSPC when the queue is full: the
 * span is then given back to the pool and counted as dropped.
 */
int batch_push(struct sp_batch *bsp, struct sp_span *span);

/*
 * Queue a finished span, waiting for room while the queue is full.  Only
 * for the final drain, when nothing upstream can be lost by waiting; never
 * past the shutdown deadline.  Returns 0, or -ENOSPC when the deadline
 * passed or the queue stopped (span dropped, counted at shutdown).
 */
int batch_push_wait(struct sp_batch *bsp, struct sp_span *span);

/* The processor as the sink of finished spans (batch_push, batch_push_wait,
 * and the same for many spans under one lock). */
struct sp_span_sink batch_sink(struct sp_batch *bsp);

/* Counters of the processor, copied at one moment. */
struct sp_batch_stats {
	uint64_t received;
	uint64_t dropped_queue_full;
	uint64_t dropped_at_shutdown;
	uint64_t batches;
};

/* Copy the counters to `out`; any thread may call it. */
void batch_get_stats(const struct sp_batch *bsp, struct sp_batch_stats *out);

/*
 * Spans waiting in the queue now (of opts.max_queue), and those of the
 * export in progress; any thread may call it (it takes the lock).
 */
void batch_get_fill(struct sp_batch *bsp, uint32_t *queued, uint32_t *exporting);

/* Export everything queued now and wait until it is done. */
void batch_flush(struct sp_batch *bsp);

/*
 * Shutdown begins: from now on, export_timeout_ms bounds everything, the
 * export in progress and waits for room included; what is not exported
 * by then is counted dropped at shutdown.  A second call changes nothing.
 */
void batch_begin_shutdown(struct sp_batch *bsp);

/*
 * Shutdown must end now (a second signal): the deadline becomes now, the
 * export in progress is cut off, what is queued is counted at shutdown.
 * Any thread may call it.
 */
void batch_abort(struct sp_batch *bsp);

/*
 * Export what is queued until the shutdown deadline (batch_begin_shutdown(),
 * called here if it was not), stop the thread and free the queue.  Returns
 * 0, or -ETIMEDOUT when the export thread was still busy
 * BATCH_SHUTDOWN_MARGIN_MS after the deadline: it is then left running,
 * its spans counted at shutdown, and the exporter and the pool must not
 * be freed.  A second call does nothing.
 */
int batch_shutdown(struct sp_batch *bsp);

#endif /* SPANPROBE_BATCH_H */
