/* SPDX-License-Identifier: MIT */
/*
 * Function spans: pairs the entry and return records of uprobe'd functions
 * into INTERNAL spans, nested per thread.
 */
#ifndef SPANPROBE_FUNCSPAN_H
#define SPANPROBE_FUNCSPAN_H

#include <stddef.h>
#include <stdint.h>

#include "spanprobe/events.h"
#include "span/span.h"

struct sp_pipeline;

/* Probes whose name's length is kept (the daemon's -u allows 64). */
#define FUNCSPAN_NAME_LENS 64

struct sp_funcspan {
	struct sp_pipeline *pipeline;
	const char *const *names; /* probe_id -> function name */
	size_t n_names;
	uint16_t name_len[FUNCSPAN_NAME_LENS]; /* strlen(), at most SP_SPAN_ARENA */
	uint64_t unknown_probe;   /* records naming no known probe */
};

void funcspan_init(struct sp_funcspan *fs, struct sp_pipeline *p,
		   const char *const *names, size_t n_names);

/*
 * Handle one SP_EV_FUNC_ENTRY or SP_EV_FUNC_RETURN record.  An entry starts
 * a span whose parent is what the thread is in; a return ends the span
 * whose entry had the matching stack pointer, abandoning calls above it
 * that never returned (longjmp, lost records).  Never fails: what cannot be
 * paired is counted in the pipeline's stats.
 */
void funcspan_handle(struct sp_funcspan *fs, const struct sp_func_event *ev);

/* Records that named no known probe (reported with the bad records). */
uint64_t funcspan_unknown_probes(const struct sp_funcspan *fs);

#endif /* SPANPROBE_FUNCSPAN_H */
