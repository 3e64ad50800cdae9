/* SPDX-License-Identifier: MIT */
/*
 * The connections spanprobe itself opens (its exporter's): a bounded,
 * thread-safe set of address pairs.  The export thread adds a pair once
 * connected, before the first byte is sent, and removes it on close; the
 * reader thread asks, for each new connection, whether it is one of
 * ours, at either end (so a collector on this host serving our export
 * requests is left out too: tracing it would export a span per export,
 * forever).  A removed pair still matches the I/O that happened before
 * the close, for as long as the reader may lag behind.
 */
#ifndef SPANPROBE_OWNCONNS_H
#define SPANPROBE_OWNCONNS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/stream.h"

struct sockaddr;
struct ownconns;

struct ownconns_stats {
	uint64_t left_out; /* connections (ends) found to be ours */
	uint64_t full;     /* pairs not added: the set was full */
};

/* A set of `max` pairs.  Returns NULL with errno set (EINVAL, ENOMEM). */
struct ownconns *ownconns_create(uint32_t max);
void ownconns_destroy(struct ownconns *o); /* accepts NULL */

/*
 * Add the pair (local, peer) of a connection we opened.  Returns 0,
 * -EAFNOSUPPORT (not IP) or -ENOSPC (full: counted).
 */
int ownconns_add(struct ownconns *o, const struct sockaddr *local,
		 const struct sockaddr *peer);

/* Our connection (local, peer) was closed now. */
void ownconns_remove(struct ownconns *o, const struct sockaddr *local,
		     const struct sockaddr *peer);

/*
 * True when (local, peer) is one of ours in either orientation, and I/O
 * at `ts_ns` (CLOCK_MONOTONIC) happened before we closed it.  Counted.
 */
bool ownconns_match(struct ownconns *o, const struct stream_addr *local,
		    const struct stream_addr *peer, uint64_t ts_ns);

void ownconns_stats(struct ownconns *o, struct ownconns_stats *out);

/* One line of counters. */
void ownconns_report(struct ownconns *o, FILE *out);

#endif /* SPANPROBE_OWNCONNS_H */
