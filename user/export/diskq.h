/* SPDX-License-Identifier: MIT */
/*
 * A disk queue of export batches, so a collector outage or a restart of
 * spanprobe loses nothing within a byte budget.
 *
 * A directory holds segment files ("<seq>.spq", seq in 16 hex digits) of
 * records, appended in order:
 *
 *   magic u32 | length u32 | spans u32 | flags u32 | crc32 u32 | payload
 *
 * all little-endian; the CRC (zlib's crc32) covers the first four fields
 * and the payload, so a flipped byte anywhere is caught.  The payload is
 * opaque here (the exporter stores gzipped request bodies).  A file
 * "cursor" holds where the oldest unsent record starts (segment, offset,
 * whether it is being sent, CRC), rewritten before and after every record
 * sent, so a restart resumes in order and knows what may be a duplicate.
 *
 * Appends are written at once (a kill -9 loses nothing written) and
 * fsynced in groups: every `sync_every` records or `sync_ms`, whichever
 * comes first, and at close; a power loss can lose the last group.
 * A record that fails its CRC, or a torn tail, is skipped up to the next
 * valid record and counted.  The budget counts the bytes of unsent
 * records: an append that would pass it drops the oldest records first
 * (counted); a record larger than the whole budget is dropped itself.
 * Not thread-safe: one thread (the export thread) uses a queue.
 */
#ifndef SPANPROBE_DISKQ_H
#define SPANPROBE_DISKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISKQ_HEADER 20u
#define DISKQ_MAX_RECORD (80u << 20) /* larger lengths are corruption */

struct diskq;

struct diskq_opts {
	const char *dir;         /* created when missing */
	uint64_t max_bytes;      /* budget of unsent records, headers included */
	uint64_t segment_bytes;  /* a new segment after this; 0: max_bytes / 8 */
	uint32_t sync_every;     /* fsync after this many appends; 0: 16 */
	uint32_t sync_ms;        /* ... or after this long; 0: 1000 */
};

struct diskq_stats {
	uint64_t appended, appended_spans;     /* records written */
	uint64_t sent, sent_spans;             /* records taken off (diskq_pop) */
	uint64_t dropped, dropped_spans;       /* oldest, dropped for the budget */
	uint64_t corrupt;                      /* bad records or torn tails skipped */
	uint64_t maybe_resent, maybe_resent_spans; /* sending when the last run
						    * stopped: sent again, the
						    * collector may have it twice */
	uint64_t pending, pending_spans, pending_bytes; /* in the queue now */
};

/* One record read by diskq_peek(); `data` is the queue's, valid until the
 * next call on the queue. */
struct diskq_record {
	const uint8_t *data;
	size_t len;
	uint32_t spans;
	uint32_t flags;
};

/*
 * Open (or create) the queue in o->dir: reads the cursor, checks every
 * record after it, cuts a torn tail off the newest segment (counted in
 * `corrupt`).  Returns the queue, or NULL with errno set (EINVAL: bad
 * options; the errno of a failed mkdir/open/read otherwise, logged).
 */
struct diskq *diskq_open(const struct diskq_opts *o);

/*
 * Append one record of `len` bytes standing for `spans` spans.  Drops
 * the oldest records while the budget would be passed.  Returns 0,
 * -E2BIG when the record alone is larger than the budget (dropped and
 * counted), or the -errno of a failed write (nothing appended).
 */
int diskq_append(struct diskq *q, const void *data, size_t len,
		 uint32_t spans, uint32_t flags);

/*
 * The oldest record, without taking it off.  Corrupt records in the way
 * are skipped (counted).  Returns 0, -ENOENT when the queue is empty,
 * -ENOMEM, or the -errno of a failed read.
 */
int diskq_peek(struct diskq *q, struct diskq_record *rec);

/*
 * The record diskq_peek() returned is about to be sent (`sending`), or
 * its send failed (!sending): written in the cursor, so a run stopped
 * while sending is counted (maybe_resent) by the next diskq_open().
 * Returns 0, -ENOENT when nothing was peeked, or -errno.
 */
int diskq_mark_sending(struct diskq *q, bool sending);

/*
 * Take off the record diskq_peek() returned (it was sent) and persist the
 * cursor.  Returns 0, -ENOENT when nothing was peeked, or -errno.
 */
int diskq_pop(struct diskq *q);

bool diskq_empty(const struct diskq *q);

/* fsync what is written and not yet synced (nothing: no call).  Returns
 * 0 or -errno. */
int diskq_sync(struct diskq *q);

void diskq_get_stats(const struct diskq *q, struct diskq_stats *out);

/* Sync and close; accepts NULL. */
void diskq_close(struct diskq *q);

#endif /* SPANPROBE_DISKQ_H */
