/* SPDX-License-Identifier: MIT */
/*
 * Function span assembly: synthetic entry/return records through
 * funcspan_handle() and a real pipeline, span pool and batch processor,
 * with a recording exporter at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "assemble/funcspan.h"
#include "assemble/pipeline_impl.h"
#include "span/spanpool.h"
#include "assemble/threads.h"
#include "export/batch.h"
#include "unit/unit_helpers.h"

#define PID 100
#define OUTER 0
#define INNER 1
#define RECURSE 2

static const char *const probe_names[] = { "outer", "inner", "recurse" };

struct fx_cfg {
	uint32_t pool;
	uint32_t max_threads;
	uint32_t max_depth;
	uint64_t seed;
	uint32_t max_queue; /* of the batch processor; max_batch is the same */
	uint32_t push_batch;
	sp_sample_fn sample;
	void *sample_ctx;
};

struct fx {
	struct sp_spanpool pool;
	struct recorder rec;
	struct sp_batch bsp;
	struct sp_pipeline *p;
	struct sp_funcspan fs;
	struct sp_resource *res; /* borrowed: the pipeline holds it */
};

static struct fx *fx_open(const struct fx_cfg *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint32_t queue = cfg->max_queue ? cfg->max_queue : 4096;
	struct sp_bsp_opts bo = { .max_queue = queue, .max_batch = queue,
				  .delay_ms = 600000, .export_timeout_ms = 5000 };
	struct sp_pipeline_opts po = {
		.span_pool = cfg->pool ? cfg->pool : 64,
		.max_threads = cfg->max_threads ? cfg->max_threads : 8,
		.max_depth = cfg->max_depth ? cfg->max_depth : 16,
		.max_processes = 4,
		.id_seed = cfg->seed ? cfg->seed : 42,
		.sample = cfg->sample,
		.sample_ctx = cfg->sample_ctx,
		.push_batch = cfg->push_batch,
	};
	struct sp_process_info info = { .pid = PID,
					.exe_path = "/opt/demo/bin/demo" };
	struct sp_resource_defaults defs = { .service_name = "svc" };

	assert_non_null(f);
	assert_int_equal(spanpool_init(&f->pool, po.span_pool), 0);
	rec_init(&f->rec);
	assert_int_equal(batch_start(&f->bsp, &bo, &f->rec.exp, &f->pool), 0);
	po.sink = batch_sink(&f->bsp);
	po.pool = &f->pool;
	f->p = pipeline_create(&po);
	assert_non_null(f->p);
	f->res = resource_build(&info, &defs);
	assert_non_null(f->res);
	assert_int_equal(pipeline_set_resource(f->p, PID, f->res), 0);
	funcspan_init(&f->fs, f->p, probe_names, 3);
	return f;
}

/* Spans in use: out of the pool and of the pipeline's cache of free ones. */
static uint32_t in_use(struct fx *f)
{
	uint32_t n, peak;

	spanpool_usage(&f->pool, &n, &peak);
	return n;
}

static void fx_close(struct fx *f)
{
	pipeline_destroy(f->p);
	batch_shutdown(&f->bsp);
	assert_int_equal(in_use(f), 0);
	rec_destroy(&f->rec.exp);
	spanpool_destroy(&f->pool);
	free(f);
}

static void feed(struct fx *f, uint16_t type, uint32_t tid, uint32_t probe,
		 uint64_t ts, uint64_t entry_sp)
{
	struct sp_func_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.hdr.type = type;
	ev.hdr.size = sizeof(ev);
	ev.hdr.version = SP_EVENT_VERSION;
	ev.hdr.pid = PID;
	ev.hdr.tid = tid;
	ev.hdr.ts_ns = ts;
	ev.probe_id = probe;
	/* The return probe sees the stack pointer after `ret` popped 8 bytes. */
	ev.stack_ptr = type == SP_EV_FUNC_ENTRY ? entry_sp : entry_sp + 8;
	funcspan_handle(&f->fs, &ev);
}

static void enter(struct fx *f, uint32_t tid, uint32_t probe, uint64_t ts,
		  uint64_t sp)
{
	feed(f, SP_EV_FUNC_ENTRY, tid, probe, ts, sp);
}

static void leave(struct fx *f, uint32_t tid, uint32_t probe, uint64_t ts,
		  uint64_t sp)
{
	feed(f, SP_EV_FUNC_RETURN, tid, probe, ts, sp);
}

/* Export everything queued; the pool must then be empty again. */
static void flush_all(struct fx *f)
{
	batch_flush(&f->bsp);
	assert_int_equal(in_use(f), 0);
}

static const struct sp_span *must_find(struct fx *f, const char *name, size_t nth)
{
	const struct sp_span *s = rec_find(&f->rec, name, nth);

	assert_non_null(s);
	return s;
}

static void assert_attr_str(const struct sp_span *s, const char *key,
			    const char *want)
{
	const struct sp_attr *a = span_find_attr(s, key);

	assert_non_null(a);
	assert_int_equal(a->type, SP_ATTR_STRING);
	assert_int_equal(a->v.str.len, strlen(want));
	assert_memory_equal(span_str(s, a->v.str.off), want, strlen(want));
}

static void assert_attr_int(const struct sp_span *s, const char *key,
			    int64_t want)
{
	const struct sp_attr *a = span_find_attr(s, key);

	assert_non_null(a);
	assert_int_equal(a->type, SP_ATTR_INT);
	assert_int_equal(a->v.i, want);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void assert_child_of(const struct sp_span *child,
			    const struct sp_span *parent)
{
	assert_memory_equal(child->trace_id, parent->trace_id, 16);
	assert_memory_equal(child->parent_span_id, parent->span_id, 8);
	assert_memory_not_equal(child->span_id, parent->span_id, 8);
}

static void assert_root(const struct sp_span *s)
{
	assert_true(is_zero(s->parent_span_id, 8));
	assert_false(is_zero(s->trace_id, 16));
	assert_false(is_zero(s->span_id, 8));
}

static void assert_function_span(struct fx *f, const struct sp_span *s,
				 const char *name, uint32_t tid,
				 uint64_t start, uint64_t end)
{
	size_t len;
	const char *n = span_name(s, &len);

	assert_int_equal(len, strlen(name));
	assert_memory_equal(n, name, len);
	assert_int_equal(s->kind, SP_KIND_INTERNAL);
	assert_int_equal(s->status_code, SP_STATUS_UNSET);
	assert_int_equal(s->pid, PID);
	assert_int_equal(s->tid, tid);
	assert_int_equal(s->start_unix_ns, pipeline_unix_ns(f->p, start));
	assert_int_equal(s->end_unix_ns, pipeline_unix_ns(f->p, end));
	assert_int_equal(s->n_attrs, 3);
	assert_attr_str(s, "code.function.name", name);
	assert_attr_int(s, "thread.id", tid);
	assert_attr_int(s, "process.pid", PID);
	assert_ptr_equal(s->resource, f->res);
}

static void test_nesting(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	const struct sp_span *outer, *inner;

	(void)state;
	enter(f, PID, OUTER, 1000, 0x7ffc1000);
	enter(f, PID, INNER, 1100, 0x7ffc0fd0);
	assert_non_null(pipeline_thread_context(f->p, PID));
	leave(f, PID, INNER, 1200, 0x7ffc0fd0);
	leave(f, PID, OUTER, 1500, 0x7ffc1000);
	assert_null(pipeline_thread_context(f->p, PID));
	assert_null(threads_find(pipeline_threads(f->p), PID));
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 2);
	/* Spans are exported in the order they finished. */
	inner = &f->rec.spans[0];
	outer = &f->rec.spans[1];
	assert_function_span(f, outer, "outer", PID, 1000, 1500);
	assert_function_span(f, inner, "inner", PID, 1100, 1200);
	assert_root(outer);
	assert_child_of(inner, outer);
	assert_int_equal(outer->sampled, 1);
	assert_int_equal(pipeline_unix_ns(f->p, 1500) - pipeline_unix_ns(f->p, 1000), 500);

	assert_int_equal(st->spans_started, 2);
	assert_int_equal(st->spans_finished, 2);
	assert_int_equal(st->unmatched_returns + st->abandoned + st->pool_empty +
				 st->queue_full + st->depth_exceeded +
				 st->threads_full + st->spans_not_sampled,
			 0);
	fx_close(f);
}

static void test_resource_attached(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_resattr *a;

	(void)state;
	enter(f, PID, OUTER, 10, 0x1000);
	leave(f, PID, OUTER, 20, 0x1000);
	/* The main thread exits before export: the queued span keeps the
	 * process's resource alive by its own reference. */
	pipeline_thread_exit(f->p, PID, PID, true);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 1);
	a = resource_find(f->rec.spans[0].resource, "service.name");
	assert_non_null(a);
	assert_string_equal(a->str, "svc");
	fx_close(f);
}

static void test_recursion(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_span *level[5];

	(void)state;
	for (int k = 0; k < 5; k++)
		enter(f, PID, RECURSE, 1000 + k, 0x8000 - 0x40 * k);
	for (int k = 4; k >= 0; k--)
		leave(f, PID, RECURSE, 2000 + (4 - k), 0x8000 - 0x40 * k);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 5);
	/* The innermost call returns first. */
	for (int k = 0; k < 5; k++) {
		level[k] = &f->rec.spans[4 - k];
		assert_function_span(f, level[k], "recurse", PID, 1000 + k,
				     2000 + (4 - k));
	}
	assert_root(level[0]);
	for (int k = 1; k < 5; k++)
		assert_child_of(level[k], level[k - 1]);
	assert_int_equal(pipeline_stats(f->p)->spans_finished, 5);
	assert_int_equal(pipeline_stats(f->p)->unmatched_returns, 0);
	fx_close(f);
}

static void test_threads_interleaved(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const uint32_t t1 = PID, t2 = PID + 1;
	const struct sp_span *o1, *o2, *i1, *i2;

	(void)state;
	/* Both threads use the same stack addresses: pairing is per thread. */
	enter(f, t1, OUTER, 100, 0x5000);
	enter(f, t2, OUTER, 101, 0x5000);
	enter(f, t1, INNER, 102, 0x4f00);
	enter(f, t2, INNER, 103, 0x4f00);
	leave(f, t1, INNER, 104, 0x4f00);
	leave(f, t2, INNER, 105, 0x4f00);
	leave(f, t2, OUTER, 106, 0x5000);
	leave(f, t1, OUTER, 107, 0x5000);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 4);
	i1 = &f->rec.spans[0];
	i2 = &f->rec.spans[1];
	o2 = &f->rec.spans[2];
	o1 = &f->rec.spans[3];
	assert_function_span(f, i1, "inner", t1, 102, 104);
	assert_function_span(f, i2, "inner", t2, 103, 105);
	assert_function_span(f, o2, "outer", t2, 101, 106);
	assert_function_span(f, o1, "outer", t1, 100, 107);
	assert_root(o1);
	assert_root(o2);
	assert_memory_not_equal(o1->trace_id, o2->trace_id, 16);
	assert_child_of(i1, o1);
	assert_child_of(i2, o2);
	fx_close(f);
}

static void test_lost_entry(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	/* A return on a thread with nothing open. */
	leave(f, PID, INNER, 50, 0x3000);
	assert_int_equal(st->unmatched_returns, 1);
	assert_null(threads_find(pipeline_threads(f->p), PID));
	/* A return matching no open call leaves the open ones alone. */
	enter(f, PID, OUTER, 100, 0x4000);
	leave(f, PID, INNER, 150, 0x3f00);
	assert_int_equal(st->unmatched_returns, 2);
	assert_non_null(pipeline_thread_context(f->p, PID));
	leave(f, PID, OUTER, 200, 0x4000);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 1);
	assert_function_span(f, &f->rec.spans[0], "outer", PID, 100, 200);
	assert_int_equal(st->spans_started, 1);
	assert_int_equal(st->abandoned, 0);
	fx_close(f);
}

static void test_lost_return(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID, INNER, 110, 0x3f00);
	/* inner's return record is lost; outer's return closes both. */
	leave(f, PID, OUTER, 200, 0x4000);
	assert_null(threads_find(pipeline_threads(f->p), PID));
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 1);
	assert_function_span(f, &f->rec.spans[0], "outer", PID, 100, 200);
	assert_root(&f->rec.spans[0]);
	assert_int_equal(st->spans_started, 2);
	assert_int_equal(st->spans_finished, 1);
	assert_int_equal(st->abandoned, 1);
	assert_int_equal(st->unmatched_returns, 0);
	fx_close(f);
}

static void test_longjmp_unwinding(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	const struct sp_span *o, *i;

	(void)state;
	enter(f, PID, OUTER, 100, 0x9000);
	enter(f, PID, RECURSE, 110, 0x8f00);
	enter(f, PID, RECURSE, 120, 0x8e00);
	enter(f, PID, RECURSE, 130, 0x8d00);
	/* longjmp from the deepest call back into outer, which then calls
	 * inner (at the address its first call had) and returns normally. */
	enter(f, PID, INNER, 140, 0x8f00);
	leave(f, PID, INNER, 150, 0x8f00);
	leave(f, PID, OUTER, 200, 0x9000);
	flush_all(f);

	assert_int_equal(st->spans_started, 5);
	assert_int_equal(st->abandoned, 3);
	assert_int_equal(st->spans_finished, 2);
	assert_int_equal(f->rec.n_spans, 2);
	i = must_find(f, "inner", 0);
	o = must_find(f, "outer", 0);
	assert_function_span(f, o, "outer", PID, 100, 200);
	assert_function_span(f, i, "inner", PID, 140, 150);
	assert_memory_equal(i->trace_id, o->trace_id, 16);
	assert_null(rec_find(&f->rec, "recurse", 0));
	fx_close(f);
}

static void test_thread_exit_mid_call(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	const uint32_t tid = PID + 7;

	(void)state;
	enter(f, tid, OUTER, 100, 0x4000);
	enter(f, tid, INNER, 110, 0x3f00);
	assert_int_equal(in_use(f), 2);
	pipeline_thread_exit(f->p, PID, tid, false);
	assert_int_equal(st->abandoned, 2);
	assert_int_equal(in_use(f), 0);
	assert_null(threads_find(pipeline_threads(f->p), tid));
	assert_null(pipeline_thread_context(f->p, tid));
	/* A return arriving after the exit record pairs with nothing. */
	leave(f, tid, INNER, 120, 0x3f00);
	assert_int_equal(st->unmatched_returns, 1);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 0);
	/* The other threads of the process are untouched. */
	enter(f, PID, OUTER, 300, 0x4000);
	leave(f, PID, OUTER, 400, 0x4000);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 1);
	fx_close(f);
}

static void test_open_calls_at_destroy(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });

	(void)state;
	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID + 1, OUTER, 100, 0x4000);
	assert_int_equal(in_use(f), 2);
	/* fx_close asserts the pool got both back from pipeline_destroy. */
	fx_close(f);
}

static void test_pool_exhausted(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .pool = 2 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID, INNER, 110, 0x3f00);
	enter(f, PID, RECURSE, 120, 0x3e00); /* no span left */
	assert_int_equal(st->pool_empty, 1);
	leave(f, PID, RECURSE, 130, 0x3e00);
	assert_int_equal(st->unmatched_returns, 1);
	leave(f, PID, INNER, 140, 0x3f00);
	leave(f, PID, OUTER, 150, 0x4000);
	/* Exported spans come back to the pool. */
	flush_all(f);
	/* A thread whose first call finds the pool empty is not kept. */
	enter(f, PID, OUTER, 160, 0x4000);
	enter(f, PID, INNER, 170, 0x3f00);
	enter(f, PID + 1, OUTER, 180, 0x4000);
	assert_int_equal(st->pool_empty, 2);
	assert_null(threads_find(pipeline_threads(f->p), PID + 1));
	leave(f, PID, INNER, 190, 0x3f00);
	leave(f, PID, OUTER, 200, 0x4000);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 4);
	assert_child_of(must_find(f, "inner", 0), must_find(f, "outer", 0));
	assert_child_of(must_find(f, "inner", 1), must_find(f, "outer", 1));
	assert_int_equal(st->spans_started, 4);
	fx_close(f);
}

static void test_depth_limit(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_depth = 3 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	for (int k = 0; k < 4; k++)
		enter(f, PID, RECURSE, 100 + k, 0x8000 - 0x100 * k);
	assert_int_equal(st->depth_exceeded, 1);
	for (int k = 3; k >= 0; k--)
		leave(f, PID, RECURSE, 200 - k, 0x8000 - 0x100 * k);
	assert_int_equal(st->unmatched_returns, 1);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 3);
	assert_function_span(f, &f->rec.spans[2], "recurse", PID, 100, 200);
	assert_function_span(f, &f->rec.spans[1], "recurse", PID, 101, 199);
	assert_function_span(f, &f->rec.spans[0], "recurse", PID, 102, 198);
	assert_child_of(&f->rec.spans[1], &f->rec.spans[2]);
	assert_child_of(&f->rec.spans[0], &f->rec.spans[1]);
	fx_close(f);
}

static void test_thread_table_full(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_threads = 2 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	enter(f, 201, OUTER, 100, 0x4000);
	enter(f, 202, OUTER, 100, 0x4000);
	enter(f, 203, OUTER, 110, 0x4000);
	assert_int_equal(st->threads_full, 1);
	leave(f, 203, OUTER, 120, 0x4000);
	assert_int_equal(st->unmatched_returns, 1);
	/* A thread with nothing open gives its slot back. */
	leave(f, 201, OUTER, 130, 0x4000);
	enter(f, 203, OUTER, 140, 0x4000);
	leave(f, 203, OUTER, 150, 0x4000);
	leave(f, 202, OUTER, 160, 0x4000);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 3);
	assert_function_span(f, &f->rec.spans[0], "outer", 201, 100, 130);
	assert_function_span(f, &f->rec.spans[1], "outer", 203, 140, 150);
	assert_function_span(f, &f->rec.spans[2], "outer", 202, 100, 160);
	assert_int_equal(st->threads_full, 1);
	fx_close(f);
}

/* A thread whose calls all returned keeps its slot until the slot is wanted. */
static void test_idle_threads(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_threads = 2 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	struct sp_threads *t = pipeline_threads(f->p);
	struct sp_thread *a;

	(void)state;
	enter(f, 201, OUTER, 100, 0x4000);
	a = threads_find(t, 201);
	assert_non_null(a);
	leave(f, 201, OUTER, 110, 0x4000);
	/* No open spans: not found as context, but kept, idle. */
	assert_null(threads_find(t, 201));
	assert_ptr_equal(threads_lookup(t, 201), a);
	assert_true(a->idle);
	enter(f, 201, OUTER, 120, 0x4000);
	assert_ptr_equal(threads_find(t, 201), a);
	assert_false(a->idle);
	leave(f, 201, OUTER, 130, 0x4000);
	enter(f, 202, OUTER, 140, 0x4000);
	leave(f, 202, OUTER, 150, 0x4000);
	/* New threads take the longest idle's slot first. */
	enter(f, 203, OUTER, 160, 0x4000);
	assert_null(threads_lookup(t, 201));
	assert_non_null(threads_lookup(t, 202));
	enter(f, 204, OUTER, 170, 0x4000);
	assert_null(threads_lookup(t, 202));
	/* None idle: the table is full. */
	enter(f, 205, OUTER, 180, 0x4000);
	assert_int_equal(st->threads_full, 1);
	leave(f, 203, OUTER, 190, 0x4000);
	leave(f, 204, OUTER, 200, 0x4000);
	/* An exit takes an idle thread out of the table. */
	pipeline_thread_exit(f->p, PID, 203, false);
	assert_null(threads_lookup(t, 203));
	assert_non_null(threads_lookup(t, 204));
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 5);
	assert_function_span(f, &f->rec.spans[4], "outer", 204, 170, 200);
	assert_int_equal(st->abandoned, 0);
	fx_close(f);
}

static void test_many_threads_no_leak(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_threads = 4, .pool = 8 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	/* 1000 short-lived threads: a slot per thread would run out at 4. */
	for (uint32_t t = 0; t < 1000; t++) {
		enter(f, 1000 + t, OUTER, 10 * t, 0x4000);
		enter(f, 1000 + t, INNER, 10 * t + 1, 0x3f00);
		leave(f, 1000 + t, INNER, 10 * t + 2, 0x3f00);
		leave(f, 1000 + t, OUTER, 10 * t + 3, 0x4000);
		batch_flush(&f->bsp);
	}
	flush_all(f);
	assert_int_equal(st->threads_full, 0);
	assert_int_equal(st->pool_empty, 0);
	assert_int_equal(st->spans_finished, 2000);
	assert_int_equal(f->rec.n_spans, 2000);
	fx_close(f);
}

static void test_unknown_probe(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });

	(void)state;
	enter(f, PID, 3, 100, 0x4000);
	leave(f, PID, 1000, 110, 0x4000);
	assert_int_equal(f->fs.unknown_probe, 2);
	assert_int_equal(pipeline_stats(f->p)->spans_started, 0);
	assert_int_equal(pipeline_stats(f->p)->unmatched_returns, 0);
	assert_null(threads_find(pipeline_threads(f->p), PID));
	fx_close(f);
}

static void test_return_before_entry_time(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });

	(void)state;
	/* Timestamps of different CPUs may disagree slightly: the return's
	 * clock is behind the entry's.  The duration is 0, not negative. */
	enter(f, PID, OUTER, 5000, 0x4000);
	leave(f, PID, OUTER, 4990, 0x4000);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 1);
	assert_int_equal(f->rec.spans[0].start_unix_ns, pipeline_unix_ns(f->p, 5000));
	assert_int_equal(f->rec.spans[0].end_unix_ns, pipeline_unix_ns(f->p, 5000));
	fx_close(f);
}

static bool drop_all(void *ctx, const uint8_t trace_id[16], bool has_parent,
		     bool parent_sampled)
{
	(*(int *)ctx)++;
	return false;
}

static void test_not_sampled(void **state)
{
	int decisions = 0;
	struct fx *f = fx_open(&(struct fx_cfg){ .sample = drop_all,
						 .sample_ctx = &decisions });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID, INNER, 110, 0x3f00);
	leave(f, PID, INNER, 120, 0x3f00);
	leave(f, PID, OUTER, 130, 0x4000);
	flush_all(f);
	/* One decision per trace; the child follows its parent. */
	assert_int_equal(decisions, 1);
	assert_int_equal(st->spans_started, 2);
	assert_int_equal(st->spans_not_sampled, 2);
	assert_int_equal(st->spans_finished, 0);
	assert_int_equal(f->rec.n_spans, 0);
	fx_close(f);
}

/* IDs of the spans of a fixed call sequence, exported in finish order. */
static void run_ids(uint64_t seed, uint8_t ids[4][8], uint8_t traces[4][16])
{
	struct fx *f = fx_open(&(struct fx_cfg){ .seed = seed });

	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID, INNER, 110, 0x3f00);
	leave(f, PID, INNER, 120, 0x3f00);
	enter(f, PID, INNER, 130, 0x3f00);
	leave(f, PID, INNER, 140, 0x3f00);
	leave(f, PID, OUTER, 150, 0x4000);
	enter(f, PID, OUTER, 200, 0x4000);
	leave(f, PID, OUTER, 250, 0x4000);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 4);
	for (int i = 0; i < 4; i++) {
		memcpy(ids[i], f->rec.spans[i].span_id, 8);
		memcpy(traces[i], f->rec.spans[i].trace_id, 16);
	}
	fx_close(f);
}

static void test_ids_deterministic(void **state)
{
	uint8_t a[4][8], b[4][8], c[4][8];
	uint8_t ta[4][16], tb[4][16], tc[4][16];

	(void)state;
	run_ids(7, a, ta);
	run_ids(7, b, tb);
	run_ids(8, c, tc);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_equal(ta, tb, sizeof(ta));
	assert_memory_not_equal(a[0], c[0], 8);
	/* Two traces: the first three spans share one, the last has its own. */
	assert_memory_equal(ta[0], ta[1], 16);
	assert_memory_equal(ta[0], ta[2], 16);
	assert_memory_not_equal(ta[0], ta[3], 16);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			assert_memory_not_equal(a[i], a[j], 8);
}

static void test_queue_full_counted(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_queue = 2 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	rec_set_gate(&f->rec, true);
	/* Two spans fill a batch; the exporter holds them. */
	for (int i = 0; i < 2; i++) {
		enter(f, PID, OUTER, 100 + i, 0x4000);
		leave(f, PID, OUTER, 110 + i, 0x4000);
	}
	assert_int_equal(rec_wait_entered(&f->rec, 1, 5000), 1);
	/* Two more fill the queue, the fifth is dropped and counted. */
	for (int i = 0; i < 3; i++) {
		enter(f, PID, INNER, 200 + i, 0x4000);
		leave(f, PID, INNER, 210 + i, 0x4000);
	}
	assert_int_equal(st->spans_finished, 5);
	assert_int_equal(st->queue_full, 1);
	assert_int_equal(f->bsp.dropped_queue_full, 1);
	assert_int_equal(in_use(f), 4);
	rec_set_gate(&f->rec, false);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 4);
	fx_close(f);
}

/* Finished spans held back are handed over at push_batch, or at a flush. */
static void test_push_batch(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .push_batch = 3 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	for (int i = 0; i < 2; i++) {
		enter(f, PID, OUTER, 100 + i, 0x4000);
		leave(f, PID, OUTER, 110 + i, 0x4000);
	}
	assert_int_equal(st->spans_finished, 2);
	batch_flush(&f->bsp);
	assert_int_equal(f->bsp.received, 0);
	assert_int_equal(f->rec.n_spans, 0);
	assert_int_equal(in_use(f), 2);
	enter(f, PID, INNER, 200, 0x4000);
	leave(f, PID, INNER, 210, 0x4000);
	assert_int_equal(f->bsp.received, 3);
	enter(f, PID, OUTER, 300, 0x4000);
	leave(f, PID, OUTER, 310, 0x4000);
	batch_flush(&f->bsp);
	assert_int_equal(f->rec.n_spans, 3);
	assert_int_equal(in_use(f), 1);
	pipeline_flush(f->p);
	pipeline_flush(f->p); /* nothing left: nothing pushed */
	flush_all(f);
	assert_int_equal(f->bsp.received, 4);
	assert_int_equal(f->rec.n_spans, 4);
	/* In the order they finished. */
	assert_function_span(f, &f->rec.spans[0], "outer", PID, 100, 110);
	assert_function_span(f, &f->rec.spans[1], "outer", PID, 101, 111);
	assert_function_span(f, &f->rec.spans[2], "inner", PID, 200, 210);
	assert_function_span(f, &f->rec.spans[3], "outer", PID, 300, 310);
	assert_int_equal(st->queue_full, 0);
	fx_close(f);
}

/* Handed over at once, the spans that find no room are dropped and counted. */
static void test_push_batch_queue_full(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_queue = 2, .push_batch = 5 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	rec_set_gate(&f->rec, true);
	for (int i = 0; i < 5; i++) {
		enter(f, PID, OUTER, 100 + i, 0x4000);
		leave(f, PID, OUTER, 110 + i, 0x4000);
	}
	/* Under one lock: two fit in the queue, three do not. */
	assert_int_equal(st->spans_finished, 5);
	assert_int_equal(st->queue_full, 3);
	assert_int_equal(f->bsp.received, 5);
	assert_int_equal(f->bsp.dropped_queue_full, 3);
	assert_int_equal(in_use(f), 2);
	rec_set_gate(&f->rec, false);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 2);
	assert_function_span(f, &f->rec.spans[0], "outer", PID, 100, 110);
	assert_function_span(f, &f->rec.spans[1], "outer", PID, 101, 111);
	fx_close(f);
}

/* Draining: a batch larger than the queue waits for room, nothing is lost. */
static void test_push_batch_draining(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ .max_queue = 2, .push_batch = 6 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);

	(void)state;
	pipeline_set_draining(f->p);
	for (int i = 0; i < 7; i++) {
		enter(f, PID, OUTER, 100 + i, 0x4000);
		leave(f, PID, OUTER, 110 + i, 0x4000);
	}
	/* The seventh is held until the open calls are ended. */
	pipeline_end_open_calls(f->p);
	flush_all(f);
	assert_int_equal(st->queue_full, 0);
	assert_int_equal(f->bsp.dropped_queue_full, 0);
	assert_int_equal(f->rec.n_spans, 7);
	for (int i = 0; i < 7; i++)
		assert_function_span(f, &f->rec.spans[i], "outer", PID, 100 + i, 110 + i);
	fx_close(f);
}

/* A request being served is the thread's context: calls become its children. */
static void test_request_frame_parent(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	struct sp_span *req;
	const struct sp_span *r, *o;

	(void)state;
	req = pipeline_span_start(f->p, PID, PID, 50, NULL);
	assert_non_null(req);
	req->kind = SP_KIND_SERVER;
	span_set_name(req, "GET /", 5);
	assert_int_equal(pipeline_thread_push(f->p, PID, req, 77), 0);
	assert_ptr_equal(pipeline_thread_context(f->p, PID), req);
	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID, INNER, 110, 0x3f00);
	/* inner's return is lost: outer's return skips the request frame. */
	leave(f, PID, OUTER, 200, 0x4000);
	assert_int_equal(st->abandoned, 1);
	assert_ptr_equal(pipeline_thread_context(f->p, PID), req);
	pipeline_thread_pop(f->p, PID, 78); /* not open: no-op */
	assert_ptr_equal(pipeline_thread_context(f->p, PID), req);
	pipeline_thread_pop(f->p, PID, 77);
	assert_null(threads_find(pipeline_threads(f->p), PID));
	pipeline_span_end(f->p, req, 300);
	flush_all(f);

	assert_int_equal(f->rec.n_spans, 2);
	o = must_find(f, "outer", 0);
	r = must_find(f, "GET /", 0);
	assert_root(r);
	assert_child_of(o, r);
	assert_function_span(f, o, "outer", PID, 100, 200);
	assert_null(rec_find(&f->rec, "inner", 0));
	fx_close(f);
}

/* At thread exit, calls are abandoned; the request stays its source's. */
static void test_thread_exit_with_request(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	struct sp_span *req;

	(void)state;
	req = pipeline_span_start(f->p, PID, PID + 1, 50, NULL);
	assert_non_null(req);
	assert_int_equal(pipeline_thread_push(f->p, PID + 1, req, 1), 0);
	enter(f, PID + 1, OUTER, 100, 0x4000);
	assert_int_equal(in_use(f), 2);
	pipeline_thread_exit(f->p, PID, PID + 1, false);
	assert_int_equal(st->abandoned, 1);
	assert_int_equal(in_use(f), 1);
	assert_null(pipeline_thread_context(f->p, PID + 1));
	pipeline_span_discard(f->p, req);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 0);
	fx_close(f);
}

/*
 * outer calls inner twice at the same stack address; the first inner's
 * return record is lost.  When the second inner enters at the address
 * where the first one's return address was, the first call is necessarily
 * over: the second inner is a child of outer, not of the dead call.
 */
static void test_reentry_after_lost_return(void **state)
{
	struct fx *f = fx_open(&(struct fx_cfg){ 0 });
	const struct sp_pipeline_stats *st = pipeline_stats(f->p);
	const struct sp_span *o, *i;

	(void)state;
	enter(f, PID, OUTER, 100, 0x4000);
	enter(f, PID, INNER, 110, 0x3f00);
	/* return of the first inner lost */
	enter(f, PID, INNER, 130, 0x3f00);
	leave(f, PID, INNER, 140, 0x3f00);
	leave(f, PID, OUTER, 200, 0x4000);
	flush_all(f);
	assert_int_equal(f->rec.n_spans, 2);
	i = must_find(f, "inner", 0);
	o = must_find(f, "outer", 0);
	assert_int_equal(st->abandoned, 1);
	assert_child_of(i, o);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_resource_attached),
		cmocka_unit_test(test_recursion),
		cmocka_unit_test(test_threads_interleaved),
		cmocka_unit_test(test_lost_entry),
		cmocka_unit_test(test_lost_return),
		cmocka_unit_test(test_longjmp_unwinding),
		cmocka_unit_test(test_thread_exit_mid_call),
		cmocka_unit_test(test_open_calls_at_destroy),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_thread_table_full),
		cmocka_unit_test(test_idle_threads),
		cmocka_unit_test(test_many_threads_no_leak),
		cmocka_unit_test(test_unknown_probe),
		cmocka_unit_test(test_return_before_entry_time),
		cmocka_unit_test(test_not_sampled),
		cmocka_unit_test(test_ids_deterministic),
		cmocka_unit_test(test_queue_full_counted),
		cmocka_unit_test(test_push_batch),
		cmocka_unit_test(test_push_batch_queue_full),
		cmocka_unit_test(test_push_batch_draining),
		cmocka_unit_test(test_request_frame_parent),
		cmocka_unit_test(test_thread_exit_with_request),
		cmocka_unit_test(test_reentry_after_lost_return),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
