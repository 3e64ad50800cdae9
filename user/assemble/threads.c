// SPDX-License-Identifier: MIT
#include "assemble/threads.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "span/spanpool.h"

int threads_init(struct sp_threads *t, uint32_t max_threads, uint32_t max_depth)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (!max_threads || !max_depth)
		return -EINVAL;
	err = u32map_init(&t->map, max_threads, true);
	if (err)
		return err;
	t->slab = calloc(max_threads, sizeof(*t->slab));
	t->frames = calloc((size_t)max_threads * max_depth, sizeof(*t->frames));
	if (!t->slab || !t->frames) {
		threads_destroy(t);
		return -ENOMEM;
	}
	t->max_depth = max_depth;
	for (uint32_t i = max_threads; i-- > 0;) {
		t->slab[i].frames = t->frames + (size_t)i * max_depth;
		t->slab[i].next_free = t->free_list;
		t->free_list = &t->slab[i];
	}
	return 0;
}

void threads_destroy(struct sp_threads *t)
{
	u32map_destroy(&t->map);
	free(t->slab);
	free(t->frames);
	t->slab = NULL;
	t->frames = NULL;
}

struct sp_thread *threads_lookup(struct sp_threads *t, uint32_t tid)
{
	struct sp_thread *th = t->last;

	if (th && th->tid == tid)
		return th;
	th = u32map_get(&t->map, tid);
	if (th)
		t->last = th;
	return th;
}

struct sp_thread *threads_find(struct sp_threads *t, uint32_t tid)
{
	struct sp_thread *th = threads_lookup(t, tid);

	return th && !th->idle ? th : NULL;
}

static void unlink_idle(struct sp_threads *t, struct sp_thread *th)
{
	if (th->idle_newer)
		th->idle_newer->idle_older = th->idle_older;
	else
		t->idle_newest = th->idle_older;
	if (th->idle_older)
		th->idle_older->idle_newer = th->idle_newer;
	else
		t->idle_oldest = th->idle_newer;
	th->idle = false;
}

/* A slot for a new thread: a free one, or the longest idle's. */
static struct sp_thread *free_slot(struct sp_threads *t)
{
	struct sp_thread *th = t->free_list;

	if (th) {
		t->free_list = th->next_free;
		return th;
	}
	th = t->idle_oldest;
	if (!th)
		return NULL;
	unlink_idle(t, th);
	u32map_del(&t->map, th->tid);
	return th;
}

struct sp_thread *threads_get(struct sp_threads *t, uint32_t tid, uint32_t pid)
{
	struct sp_thread *th = threads_lookup(t, tid);

	if (th) {
		if (th->idle) {
			unlink_idle(t, th);
			th->pid = pid; /* the tid may be another process's now */
		}
		return th;
	}
	th = free_slot(t);
	if (!th)
		return NULL;
	if (u32map_put(&t->map, tid, th)) { /* cannot: a slot per entry */
		th->next_free = t->free_list;
		t->free_list = th;
		return NULL;
	}
	th->tid = tid;
	th->pid = pid;
	th->depth = 0;
	t->last = th;
	return th;
}

void threads_idle(struct sp_threads *t, struct sp_thread *th)
{
	th->depth = 0;
	if (th->idle)
		return;
	th->idle = true;
	th->idle_newer = NULL;
	th->idle_older = t->idle_newest;
	if (t->idle_newest)
		t->idle_newest->idle_newer = th;
	else
		t->idle_oldest = th;
	t->idle_newest = th;
}

void threads_remove(struct sp_threads *t, struct sp_thread *th)
{
	if (th->idle)
		unlink_idle(t, th);
	if (t->last == th)
		t->last = NULL;
	u32map_del(&t->map, th->tid);
	th->depth = 0;
	th->next_free = t->free_list;
	t->free_list = th;
}

void threads_drop_inner_frame(struct sp_thread *th, uint32_t index)
{
	memmove(&th->frames[index], &th->frames[index + 1],
		(th->depth - index - 1) * sizeof(th->frames[0]));
	th->depth--;
}

uint32_t threads_abandon_calls(struct sp_thread *th, uint32_t from, const uint64_t *sp,
			       struct sp_spancache *cache)
{
	uint32_t n = 0;

	/* From the top down, so that dropping a frame moves none still to see. */
	for (uint32_t i = th->depth; i-- > from;) {
		if (th->frames[i].kind != SP_FRAME_FUNC || (sp && th->frames[i].key != *sp))
			continue;
		spancache_put(cache, th->frames[i].span);
		threads_drop_frame(th, i);
		n++;
	}
	return n;
}
