/* SPDX-License-Identifier: MIT */
/*
 * Per-thread stacks of open spans (function calls and requests being
 * served), so that what a thread starts becomes a child of what it is in.
 * Fixed size: at most max_threads threads, max_depth open spans each.
 * A thread whose spans all ended stays in the table, idle, until its slot
 * is wanted (the longest idle goes first): a thread making call after
 * call is not taken out of the table and put back every time.
 */
#ifndef SPANPROBE_THREADS_H
#define SPANPROBE_THREADS_H

#include <stdbool.h>
#include <stdint.h>

#include "span/span.h"
#include "util/u32map.h"

struct sp_spancache;

enum sp_frame_kind { SP_FRAME_FUNC = 1, SP_FRAME_REQUEST = 2 };

struct sp_frame {
	uint64_t key;         /* FUNC: stack pointer at entry; REQUEST: the source's key */
	struct sp_span *span;
	uint8_t kind;         /* enum sp_frame_kind */
};

struct sp_thread {
	uint32_t tid;
	uint32_t pid;
	uint32_t depth;
	bool idle;               /* no open spans: on the idle list */
	struct sp_frame *frames; /* max_depth entries */
	struct sp_thread *next_free;
	struct sp_thread *idle_newer, *idle_older;
};

struct sp_threads {
	struct sp_u32map map;
	struct sp_thread *slab;
	struct sp_frame *frames;
	struct sp_thread *free_list;
	struct sp_thread *last; /* the last one looked up: records come in runs */
	struct sp_thread *idle_newest, *idle_oldest;
	uint32_t max_depth;
};

/* Returns 0, -EINVAL or -ENOMEM. */
int threads_init(struct sp_threads *t, uint32_t max_threads, uint32_t max_depth);
void threads_destroy(struct sp_threads *t);

/* The thread, or NULL when it has no open spans. */
struct sp_thread *threads_find(struct sp_threads *t, uint32_t tid);

/* The thread, idle or not, or NULL when the table does not hold it. */
struct sp_thread *threads_lookup(struct sp_threads *t, uint32_t tid);

/*
 * The thread, added if new (a thread of `pid`; an idle one is now of
 * `pid`); NULL when the table is full of threads with open spans.
 */
struct sp_thread *threads_get(struct sp_threads *t, uint32_t tid, uint32_t pid);

/* The thread has no open spans now: it stays in the table, idle. */
void threads_idle(struct sp_threads *t, struct sp_thread *th);

/* Forget a thread (its frames must have been dealt with): it is gone. */
void threads_remove(struct sp_threads *t, struct sp_thread *th);

/* Remove frame `index` from under others, keeping their order. */
void threads_drop_inner_frame(struct sp_thread *th, uint32_t index);

/* Remove frame `index`, keeping the order of the others.  Inline: it is
 * nearly always the innermost (a request answered, a call returning). */
static inline void threads_drop_frame(struct sp_thread *th, uint32_t index)
{
	if (index + 1 == th->depth)
		th->depth--;
	else
		threads_drop_inner_frame(th, index);
}

/*
 * Calls that will never return (unwound, their thread or program gone, or
 * their stack slot reused): remove the function-call frames at index
 * `from` and above, or, when `sp` is not NULL, only those that entered at
 * stack pointer *sp, and give their spans back to `cache`.  Request frames
 * stay: their source ends them.  Returns how many calls were removed.
 */
uint32_t threads_abandon_calls(struct sp_thread *th, uint32_t from, const uint64_t *sp,
			       struct sp_spancache *cache);

#endif /* SPANPROBE_THREADS_H */
