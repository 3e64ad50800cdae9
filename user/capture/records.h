/* SPDX-License-Identifier: MIT */
/*
 * The one check of ring-buffer records, before any handler sees them: a
 * table indexed by record type (include/spanprobe/events.h) gives each
 * type's fixed size and, for a record with a variable tail, the rule that
 * ties the tail to the fixed part.  A handler may then trust a record's
 * size, its tail and the fields named here.  Records that fail are
 * counted, one counter per reason, and never handed on.
 */
#ifndef SPANPROBE_RECORDS_H
#define SPANPROBE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

/* Why a record was refused; RECORDS_OK (0) for a good one. */
enum records_verdict {
	RECORDS_OK = 0,
	RECORDS_BAD_HEADER,  /* shorter than a header, or its size is not the size delivered */
	RECORDS_BAD_TYPE,    /* type 0 or one this build does not know */
	RECORDS_BAD_VERSION, /* written by another SP_EVENT_VERSION */
	RECORDS_BAD_SIZE,    /* not its type's fixed size (shorter, for a record with a tail) */
	RECORDS_BAD_TAIL,    /* the tail disagrees with the fixed part (length, bound) */
	RECORDS_BAD_FIELD,   /* a field out of its range (e.g. a direction) */
	RECORDS_VERDICT_MAX,
};

/* Refused records, indexed by enum records_verdict (RECORDS_OK unused). */
struct records_stats {
	uint64_t refused[RECORDS_VERDICT_MAX];
};

/*
 * Check the record `data` of `size` bytes, as the ring buffer delivered
 * it.  Returns RECORDS_OK, or the first reason it is refused.
 */
enum records_verdict records_check(const void *data, size_t size);

/*
 * records_check(), counting a refused record in `st`.  Returns 0 for a
 * good record, -EINVAL for a refused one.
 */
int records_validate(struct records_stats *st, const void *data, size_t size);

/*
 * One piece of an SP_SOCK_F_FRAMES record's payload (events.h): `kept`
 * bytes of the call, then `skip` bytes of it not in the record.
 */
struct records_piece {
	const uint8_t *kept;
	uint32_t n_kept, skip;
};

/*
 * The piece at `*off` of the payload `p` (`n` bytes); moves `*off` past
 * it.  Returns 1, 0 at the end, -EINVAL when the piece runs past `n`.
 */
int records_piece_next(const uint8_t *p, size_t n, size_t *off,
		       struct records_piece *out);

/* Sum of every refusal counted in `st`. */
uint64_t records_refused(const struct records_stats *st);

/* A short name for `v` ("ok", "header", "type"...), for reports. */
const char *records_verdict_name(enum records_verdict v);

#endif /* SPANPROBE_RECORDS_H */
