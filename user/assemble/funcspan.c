// SPDX-License-Identifier: MIT
#include "assemble/funcspan.h"

#include <string.h>

#include "assemble/pipeline_impl.h"
#include "assemble/threads.h"

/* x86-64: `ret` pops the 8-byte return address the entry probe saw at sp. */
#define RETURN_SP_DELTA 8

void funcspan_init(struct sp_funcspan *fs, struct sp_pipeline *p,
		   const char *const *names, size_t n_names)
{
	memset(fs, 0, sizeof(*fs));
	fs->pipeline = p;
	fs->names = names;
	fs->n_names = n_names;
}

/*
 * A call entering at stack pointer `sp` reuses the frame of any open call
 * that entered there: that call is over (its return record was lost, or it
 * was unwound) and must not become the new call's parent.  Only an exact
 * match is safe: frames below `sp` may live on another stack (coroutines,
 * signal stacks).
 */
static void drop_reused_frames(struct sp_pipeline *p, struct sp_thread *th,
			       uint64_t sp)
{
	for (uint32_t i = th->depth; i-- > 0;) {
		if (th->frames[i].kind != SP_FRAME_FUNC || th->frames[i].key != sp)
			continue;
		pipeline_span_discard(p, th->frames[i].span);
		threads_drop_frame(th, i);
		pipeline_stats(p)->abandoned++;
	}
}

static void on_entry(struct sp_funcspan *fs, const struct sp_func_event *ev)
{
	struct sp_pipeline *p = fs->pipeline;
	struct sp_pipeline_stats *st = pipeline_stats(p);
	struct sp_thread *th;
	struct sp_span *span;
	const char *name = fs->names[ev->probe_id];

	th = threads_get(pipeline_threads(p), ev->hdr.tid, ev->hdr.pid);
	if (!th) {
		st->threads_full++;
		return;
	}
	drop_reused_frames(p, th, ev->stack_ptr);
	if (th->depth == pipeline_threads(p)->max_depth) {
		st->depth_exceeded++;
		return;
	}
	span = pipeline_span_start(p, ev->hdr.pid, ev->hdr.tid, ev->hdr.ts_ns,
				   th->depth ? th->frames[th->depth - 1].span : NULL);
	if (!span) {
		if (th->depth == 0)
			threads_remove(pipeline_threads(p), th);
		return;
	}
	span->kind = SP_KIND_INTERNAL;
	span_set_name(span, name, strlen(name));
	span_add_cstr(span, "code.function.name", name);
	span_add_int(span, "thread.id", ev->hdr.tid);
	span_add_int(span, "process.pid", ev->hdr.pid);
	th->frames[th->depth++] = (struct sp_frame){
		.key = ev->stack_ptr, .span = span, .kind = SP_FRAME_FUNC
	};
}

static void on_return(struct sp_funcspan *fs, const struct sp_func_event *ev)
{
	struct sp_pipeline *p = fs->pipeline;
	struct sp_pipeline_stats *st = pipeline_stats(p);
	struct sp_thread *th = threads_find(pipeline_threads(p), ev->hdr.tid);
	uint64_t entry_sp = ev->stack_ptr - RETURN_SP_DELTA;
	uint32_t i = th ? th->depth : 0;
	struct sp_span *span;

	while (i-- > 0)
		if (th->frames[i].kind == SP_FRAME_FUNC && th->frames[i].key == entry_sp)
			break;
	if (!th || i == UINT32_MAX) {
		st->unmatched_returns++;
		return;
	}
	span = th->frames[i].span;
	/* Calls opened above this one are unwound without a return. */
	for (uint32_t j = th->depth; j-- > i + 1;) {
		if (th->frames[j].kind != SP_FRAME_FUNC)
			continue;
		pipeline_span_discard(p, th->frames[j].span);
		threads_drop_frame(th, j);
		st->abandoned++;
	}
	threads_drop_frame(th, i);
	if (th->depth == 0)
		threads_remove(pipeline_threads(p), th);
	pipeline_span_end(p, span, ev->hdr.ts_ns);
}

void funcspan_handle(struct sp_funcspan *fs, const struct sp_func_event *ev)
{
	if (ev->probe_id >= fs->n_names) {
		fs->unknown_probe++;
		return;
	}
	if (ev->hdr.type == SP_EV_FUNC_ENTRY)
		on_entry(fs, ev);
	else
		on_return(fs, ev);
}
