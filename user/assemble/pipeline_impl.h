/* SPDX-License-Identifier: MIT */
/*
 * Creating and tearing down the pipeline, and what the daemon (not the
 * event sources) needs of it: process resources and thread life cycle.
 */
#ifndef SPANPROBE_PIPELINE_IMPL_H
#define SPANPROBE_PIPELINE_IMPL_H

#include <stdbool.h>

#include "assemble/pipeline.h"
#include "span/resource.h"

struct sp_thread;

/* Keep or drop a new trace, decided from its ID (OTEL_TRACES_SAMPLER). */
/*
 * Keep the trace?  A root span's (`has_parent` false), or a span whose
 * parent is remote (a traceparent): the sampler decides whether to follow
 * the parent's `parent_sampled` flag (its parentbased_ forms) or not.
 */
typedef bool (*sp_sample_fn)(void *ctx, const uint8_t trace_id[16], bool has_parent,
			     bool parent_sampled);

/* What `run` is narrowed to (--pid, --exe, --cgroup, --port); empty: all. */
struct sp_filter {
	const uint32_t *pids;
	size_t n_pids;
	const char *const *exes; /* globs: the executable, its link or comm */
	size_t n_exes;
	const char *cgroup;   /* a cgroup path prefix */
	uint32_t port;        /* HTTP spans whose server socket has this port */
};

struct sp_pipeline_opts {
	uint32_t span_pool;
	uint32_t max_threads;
	uint32_t max_depth;
	uint32_t max_processes;
	struct sp_resource_defaults resource_defaults;
	struct sp_span_sink sink;  /* where finished spans go */
	struct sp_spanpool *pool;  /* shared with the batch processor */
	sp_sample_fn sample;       /* NULL: keep every trace */
	void *sample_ctx;
	uint64_t id_seed;          /* 0: seed from getrandom() */
	/* Finished spans handed to the sink this many at a time (its
	 * push_many, one lock), at most PIPELINE_PUSH_MAX; 0 or 1: one by
	 * one.  Above 1 the caller must call pipeline_flush() whenever it has
	 * read what there was to read. */
	uint32_t push_batch;
	struct sp_filter filter;
};

#define PIPELINE_PUSH_MAX 64

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct sp_pipeline *pipeline_create(const struct sp_pipeline_opts *opts);
void pipeline_destroy(struct sp_pipeline *p); /* accepts NULL */

/*
 * Use `res` as the resource of `pid` (the pipeline takes the reference).
 * Returns 0 or -ENOSPC when max_processes are known already.
 */
int pipeline_set_resource(struct sp_pipeline *p, uint32_t pid,
			  struct sp_resource *res);

/*
 * When the resource enricher's generation moved (a pod became known or
 * changed): rebuild the resources it would now describe otherwise; spans
 * started afterwards get the new one, spans in flight keep theirs.  One
 * atomic load when nothing changed: call it once per poll.
 */
void pipeline_refresh_resources(struct sp_pipeline *p);

/*
 * The resource of `pid`: known, or read from /proc now.  Returns a new
 * reference (resource_put() it), or NULL when out of memory.
 */
struct sp_resource *pipeline_resource(struct sp_pipeline *p, uint32_t pid);

/*
 * Thread `tid` of `pid` exited: its open calls are abandoned (counted).
 * When it was the process's last thread (`process_exit`), the process's
 * state goes too.
 */
void pipeline_thread_exit(struct sp_pipeline *p, uint32_t pid, uint32_t tid,
			  bool process_exit);

/*
 * The process exec'd `filename`: its resource is read now from /proc, or,
 * when the process is already gone, built from the file name.
 */
void pipeline_process_exec(struct sp_pipeline *p, uint32_t pid,
			   const char *filename);

/*
 * With a filter by cgroup or executable: read now the resources of the
 * processes running (up to half of max_processes).  One that ran before
 * spanprobe started has no exec record to name it, and if it is
 * short-lived its /proc entry may be gone by the time its first records
 * are read: the filter could not tell it is wanted, and would drop its
 * spans.  (Without such a filter nothing is read: each read costs, and
 * such a process's spans keep their pid.)  Returns how many were read.
 */
unsigned pipeline_prime_processes(struct sp_pipeline *p);

struct sp_threads *pipeline_threads(struct sp_pipeline *p);

/*
 * threads_abandon_calls() on `th`, with the pipeline's cache, counting the
 * calls removed as abandoned.  Returns their number.
 */
uint32_t pipeline_abandon_calls(struct sp_pipeline *p, struct sp_thread *th,
				uint32_t from, const uint64_t *sp);

/* What the function-span source counts in the pipeline's stats. */
void pipeline_count_unmatched_return(struct sp_pipeline *p);
void pipeline_count_threads_full(struct sp_pipeline *p);
void pipeline_count_depth_exceeded(struct sp_pipeline *p);

/*
 * Hand the finished spans held back (push_batch) to the sink now.  Cheap
 * when there are none: call it after every read of the ring buffer.
 */
void pipeline_flush(struct sp_pipeline *p);

/* Measure the monotonic-to-Unix offset again (the wall clock may step). */
void pipeline_sync_clock(struct sp_pipeline *p);

/*
 * The probes are detached and what they wrote is being read: from now on a
 * full export queue makes the reader wait instead of dropping, since
 * waiting can no longer cost kernel records.
 */
void pipeline_set_draining(struct sp_pipeline *p);

/*
 * Tracing ended with these calls open (their return, or their thread's
 * exit, never read): they have no end, so no span; counted open_at_exit,
 * so that every span started is accounted for in the report.  The spans
 * finished are handed to the sink (pipeline_flush()).
 */
void pipeline_end_open_calls(struct sp_pipeline *p);

#endif /* SPANPROBE_PIPELINE_IMPL_H */
