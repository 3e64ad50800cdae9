/* SPDX-License-Identifier: MIT */
/*
 * A batch's spans put in runs of one resource, for the encoders (one
 * ResourceSpans per run): the runs in the order of each resource's first
 * span, and each run in the order the spans finished.  One pass and a
 * counting sort, whatever the number of processes in the batch: a node
 * of many worker processes puts a few hundred resources in each batch,
 * and a pass per resource cost the export thread time in proportion to
 * their number.
 */
#ifndef SPANPROBE_EXPORT_REGROUP_H
#define SPANPROBE_EXPORT_REGROUP_H

#include <stdint.h>

struct sp_span;
struct sp_resource;

/* Scratch room for batches of up to `max` spans (one thread's). */
struct regroup {
	struct sp_span **tmp;              /* max: the spans reordered */
	uint32_t *group;                   /* max: each span's run */
	uint32_t *count;                   /* max: spans per run, then where it starts */
	const struct sp_resource **keys;   /* slots: a resource seen in this batch */
	uint32_t *ids;                     /* slots: its run */
	uint32_t *stamp;                   /* slots: the batch that filled it */
	uint32_t mask, batch;              /* slots - 1; the current batch's stamp */
	uint8_t shift;                     /* 64 - log2(slots) */
};

/* The bytes regroup_init(max) allocates (for the memory report). */
double regroup_bytes(uint32_t max);

/* Returns 0, -EINVAL (max 0 or too large) or -ENOMEM. */
int regroup_init(struct regroup *g, uint32_t max);
void regroup_destroy(struct regroup *g); /* also after a failed init */

/* Reorder spans[0..n), n <= max, as above. */
void regroup_by_resource(struct regroup *g, struct sp_span **spans, uint32_t n);

#endif /* SPANPROBE_EXPORT_REGROUP_H */
