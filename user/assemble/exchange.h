/* SPDX-License-Identifier: MIT */
/*
 * Exchanges of the protocol stage -> SERVER and CLIENT spans, with trace
 * context inferred without touching the services:
 *  - an incoming `traceparent` makes the server span join that trace;
 *  - a request sent by a thread that is serving a request (or inside a
 *    traced function) is a child of that span (thread context);
 *  - a server span whose connection is the other end of a client span's
 *    connection on this host (same address/port pairs) is that client
 *    span's child;
 *  - explicit context wins: a `traceparent` decides over the other two.
 *
 * A span starts when its request's first bytes are seen (so its IDs exist
 * while the request is served) and ends with the last byte of the
 * response.  Knows no protocol: names and attributes come with the
 * exchange.  Called from the ring-buffer reader thread only.
 */
#ifndef SPANPROBE_EXCHANGE_H
#define SPANPROBE_EXCHANGE_H

#include <stdio.h>

#include "capture/stream.h"
#include "protocol/streams.h"

struct sp_pipeline;
struct exchange_spans;

struct exchange_stats {
	uint64_t server_spans;
	uint64_t client_spans;
	uint64_t no_span;          /* pool empty: exchange lost */
	uint64_t ctx_traceparent;  /* server spans joined an incoming trace */
	uint64_t ctx_thread;       /* client spans under a thread's span */
	uint64_t ctx_peer;         /* server spans under a same-host client span */
	uint64_t bad_traceparent;  /* header present but invalid: ignored */
	uint64_t discarded;        /* open spans dropped (eviction, no response) */
	uint64_t over_inflight;    /* requests past PROTO_INFLIGHT: no span */
	uint64_t ring_no_memory;   /* requests not kept open: no memory */
};

/*
 * Spans of the exchanges decoded by a protocol stage made with `opts`
 * (whose events are this module's).  Returns NULL with errno set
 * (EINVAL, ENOMEM).
 */
struct exchange_spans *exchange_create(struct sp_pipeline *p,
				       const struct proto_streams_opts *opts);

/* Bytes of one connection's entry (the memory report, daemon/memory.c). */
size_t exchange_conn_bytes(void);
/* Bytes of the heap ring of a connection with the most requests open
 * (PROTO_INFLIGHT: HTTP/2 streams); the first few need none. */
size_t exchange_ring_bytes(void);

/* Held spans end, open ones are dropped (counted), then everything is
 * freed.  Accepts NULL. */
void exchange_destroy(struct exchange_spans *xs);

/*
 * End the finished server spans held for a same-host client longer than
 * LATELINK_WAIT_NS (assemble/latelink.h) at `now_ns` (CLOCK_MONOTONIC).
 * Call from the reader's loop.
 */
void exchange_tick(struct exchange_spans *xs, uint64_t now_ns);

/* Where capture hands stream data. */
struct stream_sink exchange_sink(struct exchange_spans *xs);

void exchange_stats(const struct exchange_spans *xs, struct exchange_stats *out);

/* Connections in the table now (at most --max-connections). */
uint32_t exchange_connections(const struct exchange_spans *xs);

/* Counters of the protocol stage and of the spans, a line each. */
void exchange_report(const struct exchange_spans *xs, FILE *out);

#endif /* SPANPROBE_EXCHANGE_H */
