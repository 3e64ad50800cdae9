/* SPDX-License-Identifier: MIT */
/*
 * Server spans held back a moment for their same-host client.  The socket
 * hooks and TLS return probes run when a send has returned, so on one
 * host the server may read, answer and finish a request before the
 * client's record of sending it arrives: the server span would leave as a
 * root.  A finished server span that found no parent, on a connection
 * whose peer may be this host (loopback, or the same address at both
 * ends), waits here up to LATELINK_WAIT_NS for the client span on the
 * other end; past that it ends as it is.  Spans leave in the order they
 * finished: a full table ends its oldest to make room, and a server span
 * of a connection that has spans held is held behind them, "ready" (it
 * needs no client), so pipelined requests' spans keep their order.
 */
#ifndef SPANPROBE_LATELINK_H
#define SPANPROBE_LATELINK_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/stream.h"

#define LATELINK_SLOTS 64
#define LATELINK_WAIT_NS 20000000ULL /* 20 ms */

struct sp_span;

struct latelink_slot {
	struct sp_span *span;
	uint64_t end_ns;            /* the span's end, CLOCK_MONOTONIC */
	struct stream_addr local, peer;
	bool tls;
	bool ready;                 /* waits only for the spans before it */
	uint64_t tick;              /* latelink_expire() calls before it came */
};

struct latelink {
	struct latelink_slot slots[LATELINK_SLOTS];
	unsigned n;
	uint64_t ticks;             /* latelink_expire() calls so far */
	uint64_t held, adopted;     /* counters */
};

/* May the peer of (local, peer) be a process of this host? */
bool latelink_same_host(const struct stream_addr *local, const struct stream_addr *peer);

typedef void latelink_end_fn(void *ctx, struct sp_span *span, uint64_t end_ns);

/*
 * Hold finished server span `span` (ending at `end_ns`) of connection
 * (local, peer, tls); `ready` when it waits for no client, only for the
 * spans held before it.  False when the table is full (make room first
 * with latelink_expire_oldest()).
 */
bool latelink_hold(struct latelink *ll, struct sp_span *span, uint64_t end_ns,
		   const struct stream_addr *local, const struct stream_addr *peer, bool tls,
		   bool ready);

/* Does server connection (local, peer, tls) have spans held? */
bool latelink_holds(const struct latelink *ll, const struct stream_addr *local,
		    const struct stream_addr *peer, bool tls);

/*
 * The first server span waiting for a client on the other end of client
 * connection (local, peer, tls), taken out of the table, its end in
 * *end_ns; or NULL.  The caller ends it, then calls latelink_release().
 */
struct sp_span *latelink_take(struct latelink *ll, const struct stream_addr *local,
			      const struct stream_addr *peer, bool tls, uint64_t *end_ns);

/*
 * Hand `end` the ready spans of server connection (local, peer, tls) that
 * no longer wait behind another, taking them out.
 */
void latelink_release(struct latelink *ll, const struct stream_addr *local,
		      const struct stream_addr *peer, bool tls, latelink_end_fn *end, void *ctx);

/* Hand `end` the span held longest (to make room), taking it out, and the
 * ready spans that waited behind it. */
void latelink_expire_oldest(struct latelink *ll, latelink_end_fn *end, void *ctx);

/*
 * Hand `end` every span that ended before now_ns - LATELINK_WAIT_NS and
 * was held before this call's previous one (all with now_ns UINT64_MAX),
 * and the ready spans behind them, taking them out.  The daemon calls it
 * after reading the ring buffer: a span it held while lagging behind the
 * kernel still sees one more read, where its client's record may be.
 */
void latelink_expire(struct latelink *ll, uint64_t now_ns, latelink_end_fn *end, void *ctx);

#endif /* SPANPROBE_LATELINK_H */
