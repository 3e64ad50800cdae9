/* SPDX-License-Identifier: MIT */
/*
 * assemble/: function calls (capture/) and exchanges (protocol/) become
 * spans of the span model (span/), with context.  It may include
 * protocol/, capture/, span/ and util/; never export/.
 *
 * The pipeline every source feeds: spans come from a preallocated pool,
 * get IDs and wall-clock times here, and leave through a span sink (the
 * batch span processor, wired by the daemon).  All functions are called
 * from the ring-buffer reader thread only (the pool's release side is the
 * export thread).
 */
#ifndef SPANPROBE_PIPELINE_H
#define SPANPROBE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "span/span.h"

struct sp_pipeline;

/* Counters of the assembly stage (reported on exit and with -v). */
struct sp_pipeline_stats {
	uint64_t spans_started;
	uint64_t spans_finished;    /* handed to the span sink */
	uint64_t spans_not_sampled;
	uint64_t pool_empty;        /* a span could not start: pool exhausted */
	uint64_t queue_full;        /* a finished span was dropped: queue full */
	uint64_t unmatched_returns; /* a return whose entry was never seen */
	uint64_t abandoned;         /* calls that never returned (unwound, exit) */
	uint64_t depth_exceeded;
	uint64_t threads_full;
	uint64_t filtered;          /* outside --pid/--exe/--cgroup/--port */
	uint64_t open_at_exit;      /* calls still open when tracing ended */
	uint64_t discarded;         /* dropped unfinished by their source */
	uint64_t resources_refreshed; /* rebuilt when their pod became known */
};

/*
 * Start a span for process `pid`, thread `tid`, starting at `mono_ns`
 * (CLOCK_MONOTONIC, as bpf_ktime_get_ns()).  The span has a fresh span ID,
 * the process's resource, and, when `parent` is non-NULL, the parent's
 * trace ID and parent span ID; otherwise a fresh trace ID (sampling decided
 * from it; the parent is marked has_children).  Returns NULL (and counts
 * pool_empty) when the pool is empty.
 */
struct sp_span *pipeline_span_start(struct sp_pipeline *p, uint32_t pid,
				    uint32_t tid, uint64_t mono_ns,
				    struct sp_span *parent);

/*
 * Give a span that started as a root, and has no children yet, its parent
 * after all (a same-host client whose record came after the server's).
 */
void pipeline_span_adopt(struct sp_span *span, const struct sp_span *parent);

/*
 * Make `span` a child of the remote parent `trace_id`/`parent_span_id`,
 * whose trace is `sampled` or not: kept as the pipeline's sampler says.
 */
void pipeline_span_set_remote_parent(struct sp_pipeline *p, struct sp_span *span,
				     const uint8_t trace_id[16],
				     const uint8_t parent_span_id[8],
				     bool sampled);

/*
 * Finish `span` at `mono_ns` and hand it to the span sink (or back to the
 * pool when not sampled).  The caller must not touch `span` afterwards.
 */
void pipeline_span_end(struct sp_pipeline *p, struct sp_span *span,
		       uint64_t mono_ns);

/*
 * --port: `span` (SERVER or CLIENT) is left out unless `server_port`, the
 * server's port of its socket, is the one asked for.  Never the Host
 * header's port: a client names what it likes there.
 */
void pipeline_span_filter_port(struct sp_pipeline *p, struct sp_span *span,
			       uint16_t server_port);

/* Give an unfinished span back to the pool without exporting it (counted). */
void pipeline_span_discard(struct sp_pipeline *p, struct sp_span *span);

/* CLOCK_MONOTONIC nanoseconds -> Unix nanoseconds. */
uint64_t pipeline_unix_ns(const struct sp_pipeline *p, uint64_t mono_ns);

/*
 * Thread context: the innermost span open on thread `tid` (a function call
 * or a request being served), or NULL.  Sources use it as the parent of
 * what the thread starts.
 */
struct sp_span *pipeline_thread_context(struct sp_pipeline *p, uint32_t tid);

/*
 * Open / close a request span as thread context (a server request is being
 * handled by `tid`).  Returns 0, -ENOSPC when the thread table is full
 * (counted).  Closing a span that is not open on the thread is a no-op.
 */
int pipeline_thread_push(struct sp_pipeline *p, uint32_t tid,
			 struct sp_span *span, uint64_t key);
void pipeline_thread_pop(struct sp_pipeline *p, uint32_t tid, uint64_t key);

/* The counters, read-only; they change as events are handled. */
const struct sp_pipeline_stats *pipeline_stats(const struct sp_pipeline *p);

/* Processes whose resource is known now (at most max_processes). */
uint32_t pipeline_processes(const struct sp_pipeline *p);

#endif /* SPANPROBE_PIPELINE_H */
