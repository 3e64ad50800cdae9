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
	/* Names are stored in every span: measured once, not per span. */
	for (size_t i = 0; i < n_names && i < FUNCSPAN_NAME_LENS; i++) {
		size_t len = strlen(names[i]);

		fs->name_len[i] = (uint16_t)(len < SP_SPAN_ARENA ? len : SP_SPAN_ARENA);
	}
}

static size_t name_len(const struct sp_funcspan *fs, uint32_t probe_id)
{
	return probe_id < FUNCSPAN_NAME_LENS ? fs->name_len[probe_id]
					     : strlen(fs->names[probe_id]);
}

/* Whether a call open on `th` entered at stack pointer `sp` (rare). */
static bool entered_at(const struct sp_thread *th, uint64_t sp)
{
	for (uint32_t i = 0; i < th->depth; i++)
		if (th->frames[i].key == sp && th->frames[i].kind == SP_FRAME_FUNC)
			return true;
	return false;
}

static void on_entry(struct sp_funcspan *fs, const struct sp_func_event *ev)
{
	struct sp_pipeline *p = fs->pipeline;
	uint64_t entry_sp = ev->stack_ptr;
	struct sp_thread *th;
	struct sp_span *span;
	const char *name = fs->names[ev->probe_id];

	th = threads_get(pipeline_threads(p), ev->hdr.tid, ev->hdr.pid);
	if (!th) {
		pipeline_count_threads_full(p);
		return;
	}
	/* A call entering at this stack pointer reuses the frame of any open
	 * call that entered there: that call is over (its return record was
	 * lost, or it was unwound) and must not become the new call's parent.
	 * Only an exact match is safe: frames below may live on another stack
	 * (coroutines, signal stacks). */
	if (entered_at(th, entry_sp))
		pipeline_abandon_calls(p, th, 0, &entry_sp);
	if (th->depth == pipeline_threads(p)->max_depth) {
		pipeline_count_depth_exceeded(p);
		return;
	}
	span = pipeline_span_start(p, ev->hdr.pid, ev->hdr.tid, ev->hdr.ts_ns,
				   th->depth ? th->frames[th->depth - 1].span : NULL);
	if (!span) {
		if (th->depth == 0)
			threads_idle(pipeline_threads(p), th);
		return;
	}
	span->kind = SP_KIND_INTERNAL;
	span_set_name(span, name, name_len(fs, ev->probe_id));
	span_add_name_attr(span, "code.function.name");
	span_add_int(span, "thread.id", ev->hdr.tid);
	span_add_int(span, "process.pid", ev->hdr.pid);
	th->frames[th->depth++] = (struct sp_frame){
		.key = ev->stack_ptr, .span = span, .kind = SP_FRAME_FUNC
	};
}

static void on_return(struct sp_funcspan *fs, const struct sp_func_event *ev)
{
	struct sp_pipeline *p = fs->pipeline;
	struct sp_thread *th = threads_find(pipeline_threads(p), ev->hdr.tid);
	uint64_t entry_sp = ev->stack_ptr - RETURN_SP_DELTA;
	uint32_t i = th ? th->depth : 0;
	struct sp_span *span;

	while (i-- > 0)
		if (th->frames[i].kind == SP_FRAME_FUNC && th->frames[i].key == entry_sp)
			break;
	if (!th || i == UINT32_MAX) {
		pipeline_count_unmatched_return(p);
		return;
	}
	span = th->frames[i].span;
	/* Calls opened above this one are unwound without a return. */
	if (i + 1 < th->depth)
		pipeline_abandon_calls(p, th, i + 1, NULL);
	threads_drop_frame(th, i);
	if (th->depth == 0)
		threads_idle(pipeline_threads(p), th);
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

uint64_t funcspan_unknown_probes(const struct sp_funcspan *fs)
{
	return fs->unknown_probe;
}
