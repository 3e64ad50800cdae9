// SPDX-License-Identifier: MIT
/*
 * Userspace cost of assembling function spans: entry/return records go
 * through funcspan_handle() (thread table, pool, IDs, attributes) into the
 * batch processor, whose exporter only counts; finished spans are handed
 * over PIPELINE_PUSH_MAX at a time, as the daemon does.  Prints ns per span,
 * wall clock and the thread's CPU time (the figure that load elsewhere on
 * the machine moves least), min/median/max over repeated runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "summary.h"
#include "assemble/funcspan.h"
#include "assemble/pipeline_impl.h"
#include "span/spanpool.h"
#include "export/batch.h"
#include "export/exporter.h"
#include "util/clock.h"

#define RUNS 15
#define CALLS 200000
#define POOL 16384  /* the daemon's defaults: --span-pool */
#define QUEUE 2048  /* OTEL_BSP_MAX_QUEUE_SIZE */

static int count_export(struct sp_exporter *exp, struct sp_span *const *spans,
			size_t count)
{
	exp->stats.spans_exported += count;
	return 0;
}

static void count_destroy(struct sp_exporter *exp)
{
}

static const struct sp_exporter_ops count_ops = {
	.name = "count", .export_spans = count_export, .destroy = count_destroy,
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One run: CALLS outer calls, each with one nested inner call.  Returns
 * wall-clock ns per span; the thread's CPU ns per span in *cpu. */
static double run_once(struct sp_funcspan *fs, double *cpu)
{
	struct sp_func_event ev = { .hdr = { .pid = 4242, .tid = 4243 } };
	uint64_t start = clock_mono_ns(), cpu0 = thread_cpu_ns();

	for (int i = 0; i < CALLS / 2; i++) {
		uint64_t sp = 0x7ffd0000 + (uint64_t)(i & 7) * 64;

		ev.hdr.type = SP_EV_FUNC_ENTRY, ev.probe_id = 0, ev.stack_ptr = sp;
		ev.hdr.ts_ns = (uint64_t)i * 1000;
		funcspan_handle(fs, &ev);
		ev.probe_id = 1, ev.stack_ptr = sp - 32;
		funcspan_handle(fs, &ev);
		ev.hdr.type = SP_EV_FUNC_RETURN, ev.stack_ptr = sp - 32 + 8;
		funcspan_handle(fs, &ev);
		ev.probe_id = 0, ev.stack_ptr = sp + 8;
		funcspan_handle(fs, &ev);
	}
	*cpu = (double)(thread_cpu_ns() - cpu0) / CALLS;
	return (double)(clock_mono_ns() - start) / CALLS;
}

int main(void)
{
	static const char *const names[] = { "outer", "inner" };
	struct sp_exporter exp = { .ops = &count_ops };
	struct sp_spanpool pool;
	struct sp_batch bsp;
	struct sp_bsp_opts bo = { .max_queue = QUEUE, .max_batch = 512,
				  .delay_ms = 1, .export_timeout_ms = 10000 };
	struct sp_process_info info = { .pid = 4242, .exe_path = "/usr/bin/bench" };
	struct sp_resource_defaults rd = { 0 };
	struct sp_pipeline_opts po = { .span_pool = POOL, .max_threads = 64,
				       .max_depth = 64, .max_processes = 64,
				       .sink = batch_sink(&bsp), .pool = &pool,
				       .id_seed = 1, .push_batch = PIPELINE_PUSH_MAX };
	struct sp_funcspan fs;
	struct sp_pipeline *p;
	double ns[RUNS], cpu[RUNS];
	char measured[32];

	if (spanpool_init(&pool, POOL) || batch_start(&bsp, &bo, &exp, &pool))
		return 1;
	p = pipeline_create(&po);
	if (!p)
		return 1;
	pipeline_set_resource(p, 4242, resource_build(&info, &rd));
	/* A full queue makes the reader wait (as when the daemon drains)
	 * rather than drop: every span is counted. */
	pipeline_set_draining(p);
	funcspan_init(&fs, p, names, 2);
	for (int r = 0; r < RUNS; r++) {
		ns[r] = run_once(&fs, &cpu[r]);
		pipeline_flush(p);
		batch_flush(&bsp);
	}
	qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
	qsort(cpu, RUNS, sizeof(cpu[0]), cmp_double);
	printf("assembly: ns per span (entry + return + queue), %d runs of %d spans: "
	       "min %.1f median %.1f max %.1f\n", RUNS, CALLS, ns[0], ns[RUNS / 2],
	       ns[RUNS - 1]);
	printf("assembly: the thread's CPU ns per span: min %.1f median %.1f max %.1f\n",
	       cpu[0], cpu[RUNS / 2], cpu[RUNS - 1]);
	snprintf(measured, sizeof(measured), "%.1f ns", cpu[RUNS / 2]);
	summary_record("assembly, CPU ns per function span", measured, "<= 100 ns",
		       cpu[RUNS / 2] <= 100.0);
	printf("assembly: %llu spans exported, %llu dropped\n",
	       (unsigned long long)exp.stats.spans_exported,
	       (unsigned long long)pipeline_stats(p)->queue_full);
	batch_shutdown(&bsp);
	pipeline_destroy(p);
	spanpool_destroy(&pool);
	return 0;
}
