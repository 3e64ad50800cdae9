/* SPDX-License-Identifier: MIT */
/*
 * Trace and span IDs: random (W3C Trace Context: 16 and 8 bytes, never all
 * zero).  A xoshiro256** generator seeded from getrandom(); one generator
 * per thread that makes IDs (the ring-buffer consumer).
 */
#ifndef SPANPROBE_IDS_H
#define SPANPROBE_IDS_H

#include <stdint.h>

struct sp_idgen {
	uint64_t s[4];
};

/* Seed from the kernel's random pool.  Returns 0 or a negative errno. */
int idgen_init(struct sp_idgen *g);
/* Seed deterministically (tests, benchmarks). */
void idgen_seed(struct sp_idgen *g, uint64_t seed);

uint64_t idgen_next(struct sp_idgen *g);
void idgen_trace_id(struct sp_idgen *g, uint8_t out[16]);
void idgen_span_id(struct sp_idgen *g, uint8_t out[8]);

#endif /* SPANPROBE_IDS_H */
