// SPDX-License-Identifier: MIT
#include "assemble/pipeline_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "span/spanpool.h"
#include "assemble/process.h"
#include "assemble/threads.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/u32map.h"

struct sp_pipeline {
	struct sp_pipeline_opts opts;
	struct sp_spancache cache; /* spans of the pool, taken a batch at a time */
	struct sp_span_sink sink;
	/* Finished spans not handed to the sink yet (opts.push_batch). */
	uint32_t push_batch, n_done;
	struct sp_span *done[PIPELINE_PUSH_MAX];
	struct sp_idgen ids;
	int64_t mono_to_unix;
	struct sp_threads threads;
	struct sp_u32map processes; /* pid -> struct sp_resource */
	/* The entry of `processes` last looked up (pid 0: none): a thread's
	 * records come in runs.  Forgotten whenever the entry may change. */
	uint32_t last_pid;
	struct sp_resource *last_res;
	struct sp_pipeline_stats stats;
	bool draining;
	uint64_t meta_generation; /* the enricher's, when last refreshed */
};

struct sp_pipeline *pipeline_create(const struct sp_pipeline_opts *opts)
{
	struct sp_pipeline *p = calloc(1, sizeof(*p));
	int err = -ENOMEM;

	if (!p)
		goto fail;
	p->opts = *opts;
	if (opts->pool)
		spancache_init(&p->cache, opts->pool);
	p->sink = opts->sink;
	if (opts->sink.push_many && opts->push_batch > 1)
		p->push_batch = opts->push_batch < PIPELINE_PUSH_MAX ? opts->push_batch
								     : PIPELINE_PUSH_MAX;
	p->mono_to_unix = clock_mono_to_real_offset();
	if (opts->id_seed)
		idgen_seed(&p->ids, opts->id_seed);
	else if ((err = idgen_init(&p->ids)))
		goto fail;
	err = threads_init(&p->threads, opts->max_threads, opts->max_depth);
	if (err)
		goto fail;
	err = u32map_init(&p->processes, opts->max_processes, true);
	if (err)
		goto fail;
	return p;
fail:
	pipeline_destroy(p);
	errno = -err;
	return NULL;
}

/* The table lets go of `res`: its own reference and those it took ahead. */
static void table_put(struct sp_resource *res)
{
	if (!res)
		return;
	resource_put_n(res, 1 + res->prepaid);
}

/*
 * A reference for a span to `res`, which the table holds: taken from
 * those the table took ahead.  The count is shared with the exporter,
 * which drops references on another CPU: one atomic operation per span
 * made its cache line cross between the CPUs at every span.
 */
static struct sp_resource *table_get(struct sp_resource *res)
{
	if (res->prepaid == 0) {
		__atomic_add_fetch(&res->refs, RESOURCE_PREPAID, __ATOMIC_RELAXED);
		res->prepaid = RESOURCE_PREPAID;
	}
	res->prepaid--;
	return res;
}

static void put_resource(uint32_t pid, void *res, void *arg)
{
	table_put(res);
}

static void discard_thread(uint32_t tid, void *value, void *arg)
{
	struct sp_pipeline *p = arg;

	threads_abandon_calls(value, 0, NULL, &p->cache);
}

void pipeline_destroy(struct sp_pipeline *p)
{
	if (!p)
		return;
	pipeline_flush(p);
	if (p->threads.slab)
		u32map_each(&p->threads.map, discard_thread, p);
	threads_destroy(&p->threads);
	if (p->cache.pool)
		spancache_destroy(&p->cache);
	if (p->processes.keys)
		u32map_each(&p->processes, put_resource, NULL);
	u32map_destroy(&p->processes);
	free(p);
}

static bool process_filtered(const struct sp_filter *f, const struct sp_resource *res);

int pipeline_set_resource(struct sp_pipeline *p, uint32_t pid,
			  struct sp_resource *res)
{
	struct sp_resource *old = u32map_get(&p->processes, pid);
	int err;

	res->filtered = process_filtered(&p->opts.filter, res);
	err = u32map_put(&p->processes, pid, res);
	p->last_pid = 0;

	if (err) {
		resource_put(res);
		return err;
	}
	if (old == res)
		resource_put(old); /* the same again: the table keeps one */
	else
		table_put(old);
	return 0;
}

/* A process gone before we could read it still gets a resource. */
static struct sp_resource *fallback_resource(struct sp_pipeline *p, uint32_t pid)
{
	struct sp_process_info info = { .pid = (pid_t)pid, .exe_path = "" };

	return resource_build(&info, &p->opts.resource_defaults);
}

static bool cgroup_matches(const char *paths, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *line = paths; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, prefix, n) == 0 &&
		    (line[n] == 0 || line[n] == '/' || line[n] == '\n' || prefix[n - 1] == '/'))
			return true;
	}
	return false;
}

/* Whether `name` is one of --exe's globs. */
static bool exe_glob_matches(const struct sp_filter *f, const char *name)
{
	for (size_t i = 0; name && *name && i < f->n_exes; i++)
		if (fnmatch(f->exes[i], name, 0) == 0)
			return true;
	return false;
}

/*
 * --exe: what a user types for a process is the executable's name, or the
 * link they ran (python3 for python3.11), which argv[0] and comm keep.
 */
static bool exe_matches(const struct sp_filter *f, const struct sp_resource *res)
{
	const struct sp_resattr *exe = resource_find(res, "process.executable.name");
	struct process_names names;

	if (exe_glob_matches(f, exe ? exe->str : NULL))
		return true;
	if (process_read_names((pid_t)res->pid, &names))
		return false;
	return exe_glob_matches(f, names.link) || exe_glob_matches(f, names.comm);
}

/* Whether the process of `res` is outside the user's filters. */
static bool process_filtered(const struct sp_filter *f, const struct sp_resource *res)
{
	bool pid_ok = f->n_pids == 0;

	for (size_t i = 0; i < f->n_pids; i++)
		pid_ok |= f->pids[i] == res->pid;
	if (!pid_ok)
		return true;
	if (f->n_exes && !exe_matches(f, res))
		return true;
	return f->cgroup && (!res->cgroup || !cgroup_matches(res->cgroup, f->cgroup));
}

#define REFRESH_MAX 256 /* resources rebuilt per poll; the rest next time */

struct stale_list {
	const struct sp_resource_enricher *e;
	uint32_t pids[REFRESH_MAX];
	unsigned n;
	bool more;
};

static void collect_stale(uint32_t pid, void *value, void *arg)
{
	const struct sp_resource *res = value;
	struct stale_list *l = arg;
	uint64_t v;

	if (!res->meta_wanted)
		return;
	v = l->e->version(l->e->ctx, res);
	/* 0: its pod is gone (or not known yet): keep what it has. */
	if (v == 0 || v == res->meta_version)
		return;
	if (l->n == REFRESH_MAX)
		l->more = true;
	else
		l->pids[l->n++] = pid;
}

void pipeline_refresh_resources(struct sp_pipeline *p)
{
	const struct sp_resource_enricher *e = p->opts.resource_defaults.enricher;
	struct stale_list *l;
	uint64_t gen;

	if (!e || (gen = e->generation(e->ctx)) == p->meta_generation)
		return;
	l = malloc(sizeof(*l));
	if (!l)
		return; /* tried again at the next poll */
	l->e = e;
	l->n = 0;
	l->more = false;
	u32map_each(&p->processes, collect_stale, l);
	for (unsigned i = 0; i < l->n; i++) {
		struct sp_resource *res =
			process_read_resource((pid_t)l->pids[i], &p->opts.resource_defaults);

		/* A process gone keeps its resource until its exit is seen. */
		if (res && pipeline_set_resource(p, l->pids[i], res) == 0)
			p->stats.resources_refreshed++;
	}
	if (!l->more)
		p->meta_generation = gen;
	free(l);
}

struct sp_resource *pipeline_resource(struct sp_pipeline *p, uint32_t pid)
{
	struct sp_resource *res;

	if (pid && pid == p->last_pid)
		return table_get(p->last_res);
	res = u32map_get(&p->processes, pid);
	if (res) {
		p->last_pid = pid;
		p->last_res = res;
		return table_get(res);
	}
	res = process_read_resource((pid_t)pid, &p->opts.resource_defaults);
	if (!res)
		res = fallback_resource(p, pid);
	if (!res)
		return NULL;
	res->filtered = process_filtered(&p->opts.filter, res);
	if (u32map_put(&p->processes, pid, res) == 0)
		return table_get(res); /* one for the table, one for the caller */
	/* Table full: the caller's reference is the only one. */
	sp_warn_once("assemble: more than %u processes traced; resources of the "
		     "others are read per span (raise --max-processes)",
		     p->opts.max_processes);
	return res;
}

struct sp_span *pipeline_span_start(struct sp_pipeline *p, uint32_t pid,
				    uint32_t tid, uint64_t mono_ns,
				    struct sp_span *parent)
{
	struct sp_span *span = spancache_get(&p->cache);

	if (!span) {
		p->stats.pool_empty++;
		return NULL;
	}
	idgen_span_id(&p->ids, span->span_id);
	if (parent) {
		memcpy(span->trace_id, parent->trace_id, 16);
		memcpy(span->parent_span_id, parent->span_id, 8);
		span->sampled = parent->sampled;
		parent->has_children = 1;
	} else {
		idgen_trace_id(&p->ids, span->trace_id);
		span->sampled = !p->opts.sample ||
				p->opts.sample(p->opts.sample_ctx, span->trace_id, false, false);
	}
	span->start_unix_ns = pipeline_unix_ns(p, mono_ns);
	span->pid = pid;
	span->tid = tid;
	span->resource = pipeline_resource(p, pid);
	span->filtered = span->resource && span->resource->filtered;
	p->stats.spans_started++;
	return span;
}

void pipeline_span_adopt(struct sp_span *span, const struct sp_span *parent)
{
	memcpy(span->trace_id, parent->trace_id, 16);
	memcpy(span->parent_span_id, parent->span_id, 8);
	span->sampled = parent->sampled;
}

void pipeline_span_set_remote_parent(struct sp_pipeline *p, struct sp_span *span,
				     const uint8_t trace_id[16],
				     const uint8_t parent_span_id[8],
				     bool sampled)
{
	memcpy(span->trace_id, trace_id, 16);
	memcpy(span->parent_span_id, parent_span_id, 8);
	/* The caller's flag is followed only by a parent-based sampler:
	 * always_off drops a sampled caller's trace, always_on keeps an
	 * unsampled one, and a ratio is applied to the caller's trace ID. */
	span->sampled = p->opts.sample ? p->opts.sample(p->opts.sample_ctx, trace_id,
							 true, sampled)
				       : sampled;
}

void pipeline_span_end(struct sp_pipeline *p, struct sp_span *span,
		       uint64_t mono_ns)
{
	span->end_unix_ns = pipeline_unix_ns(p, mono_ns);
	/* Clock skew between CPUs must not give a negative duration. */
	if (span->end_unix_ns < span->start_unix_ns)
		span->end_unix_ns = span->start_unix_ns;
	if (span->filtered || !span->sampled) {
		if (span->filtered)
			p->stats.filtered++;
		else
			p->stats.spans_not_sampled++;
		spancache_put(&p->cache, span);
		return;
	}
	p->stats.spans_finished++;
	if (p->push_batch) {
		p->done[p->n_done++] = span;
		if (p->n_done == p->push_batch)
			pipeline_flush(p);
		return;
	}
	if ((p->draining ? p->sink.push_wait(p->sink.ctx, span)
			 : p->sink.push(p->sink.ctx, span)) == -ENOSPC)
		p->stats.queue_full++;
}

/*
 * The sink's queue is shared with the export thread: one lock for a few
 * dozen spans rather than one per span, which also makes it rare that
 * the reader finds the lock taken and sleeps.
 */
void pipeline_flush(struct sp_pipeline *p)
{
	if (!p->n_done)
		return;
	p->stats.queue_full += p->sink.push_many(p->sink.ctx, p->done, p->n_done,
						 p->draining);
	p->n_done = 0;
}

void pipeline_span_filter_port(struct sp_pipeline *p, struct sp_span *span,
				uint16_t server_port)
{
	if (p->opts.filter.port && server_port != p->opts.filter.port)
		span->filtered = 1;
}

void pipeline_span_discard(struct sp_pipeline *p, struct sp_span *span)
{
	p->stats.discarded++;
	spancache_put(&p->cache, span);
}

void pipeline_sync_clock(struct sp_pipeline *p)
{
	p->mono_to_unix = clock_mono_to_real_offset();
}

uint64_t pipeline_unix_ns(const struct sp_pipeline *p, uint64_t mono_ns)
{
	return mono_ns + (uint64_t)p->mono_to_unix;
}

struct sp_span *pipeline_thread_context(struct sp_pipeline *p, uint32_t tid)
{
	struct sp_thread *th = threads_find(&p->threads, tid);

	return th && th->depth ? th->frames[th->depth - 1].span : NULL;
}

int pipeline_thread_push(struct sp_pipeline *p, uint32_t tid,
			 struct sp_span *span, uint64_t key)
{
	struct sp_thread *th = threads_get(&p->threads, tid, span->pid);

	if (!th) {
		p->stats.threads_full++;
		return -ENOSPC;
	}
	if (th->depth == p->threads.max_depth) {
		p->stats.depth_exceeded++;
		return -ENOSPC;
	}
	th->frames[th->depth++] = (struct sp_frame){ .key = key, .span = span,
						     .kind = SP_FRAME_REQUEST };
	return 0;
}

void pipeline_thread_pop(struct sp_pipeline *p, uint32_t tid, uint64_t key)
{
	struct sp_thread *th = threads_find(&p->threads, tid);

	for (uint32_t i = th ? th->depth : 0; i-- > 0;) {
		if (th->frames[i].kind == SP_FRAME_REQUEST &&
		    th->frames[i].key == key) {
			threads_drop_frame(th, i);
			break;
		}
	}
	if (th && th->depth == 0)
		threads_idle(&p->threads, th);
}

void pipeline_thread_exit(struct sp_pipeline *p, uint32_t pid, uint32_t tid,
			  bool process_exit)
{
	struct sp_thread *th = threads_lookup(&p->threads, tid);

	if (th) {
		/* Calls that never returned: no end time to report, so no span. */
		pipeline_abandon_calls(p, th, 0, NULL);
		threads_remove(&p->threads, th);
	}
	if (process_exit) {
		p->last_pid = 0;
		table_put(u32map_del(&p->processes, pid));
	}
}

struct exec_sweep {
	struct sp_pipeline *p;
	uint32_t pid;
	struct sp_thread *dead[64];
	size_t n;
};

static void collect_threads_of(uint32_t tid, void *value, void *arg)
{
	struct exec_sweep *sw = arg;
	struct sp_thread *th = value;

	if (th->pid == sw->pid && sw->n < sizeof(sw->dead) / sizeof(sw->dead[0]))
		sw->dead[sw->n++] = th;
}

/*
 * exec ends every call the old program had open (and every thread but
 * one): their frames go, counted as calls that never returned.  The table
 * cannot change while it is walked, so threads are collected first.
 */
static void drop_calls_of(struct sp_pipeline *p, uint32_t pid)
{
	struct exec_sweep sw = { .p = p, .pid = pid };

	do {
		sw.n = 0;
		u32map_each(&p->threads.map, collect_threads_of, &sw);
		for (size_t i = 0; i < sw.n; i++) {
			struct sp_thread *th = sw.dead[i];

			pipeline_abandon_calls(p, th, 0, NULL);
			if (th->depth == 0)
				threads_remove(&p->threads, th);
			else
				th->pid = 0; /* request frames stay with their source */
		}
	} while (sw.n == sizeof(sw.dead) / sizeof(sw.dead[0]));
}

unsigned pipeline_prime_processes(struct sp_pipeline *p)
{
	struct sp_resource *res;
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	if (!p->opts.filter.cgroup && !p->opts.filter.n_exes)
		return 0;
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < p->opts.max_processes / 2) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);

		if (*end || pid == 0 || pid > UINT32_MAX || u32map_get(&p->processes, (uint32_t)pid))
			continue;
		res = pipeline_resource(p, (uint32_t)pid);
		if (res) {
			resource_put(res);
			n++;
		}
	}
	closedir(d);
	return n;
}

void pipeline_process_exec(struct sp_pipeline *p, uint32_t pid,
			   const char *filename)
{
	struct sp_process_info info = { .pid = (pid_t)pid, .exe_path = filename };
	struct sp_resource *res;

	drop_calls_of(p, pid);
	p->last_pid = 0;
	table_put(u32map_del(&p->processes, pid));
	res = process_read_resource((pid_t)pid, &p->opts.resource_defaults);
	if (!res)
		res = resource_build(&info, &p->opts.resource_defaults);
	if (res)
		pipeline_set_resource(p, pid, res);
}

const struct sp_pipeline_stats *pipeline_stats(const struct sp_pipeline *p)
{
	return &p->stats;
}

uint32_t pipeline_processes(const struct sp_pipeline *p)
{
	return p->processes.count;
}

uint32_t pipeline_abandon_calls(struct sp_pipeline *p, struct sp_thread *th,
				uint32_t from, const uint64_t *sp)
{
	uint32_t n = threads_abandon_calls(th, from, sp, &p->cache);

	p->stats.abandoned += n;
	return n;
}

void pipeline_count_unmatched_return(struct sp_pipeline *p)
{
	p->stats.unmatched_returns++;
}

void pipeline_count_threads_full(struct sp_pipeline *p)
{
	p->stats.threads_full++;
}

void pipeline_count_depth_exceeded(struct sp_pipeline *p)
{
	p->stats.depth_exceeded++;
}

static void end_open_calls(uint32_t tid, void *value, void *arg)
{
	struct sp_pipeline *p = arg;

	p->stats.open_at_exit += threads_abandon_calls(value, 0, NULL, &p->cache);
}

void pipeline_end_open_calls(struct sp_pipeline *p)
{
	u32map_each(&p->threads.map, end_open_calls, p);
	pipeline_flush(p);
}

void pipeline_set_draining(struct sp_pipeline *p)
{
	p->draining = true;
}

struct sp_threads *pipeline_threads(struct sp_pipeline *p)
{
	return &p->threads;
}
