/* SPDX-License-Identifier: MIT */
/*
 * The protocol stage's front: takes capture's stream data (it is the
 * struct stream_sink capture feeds), keeps the connection table, chooses
 * a decoder per connection from its first bytes (spanprobe's own
 * connections, at either end, get none), feeds it, tells capture
 * the verdict on each connection (so the kernel stops sending what no
 * decoder wants), and hands what comes out to the stage above through
 * struct proto_events.  Called from the ring-buffer reader thread only.
 */
#ifndef SPANPROBE_STREAMS_H
#define SPANPROBE_STREAMS_H

#include <stdint.h>
#include <stdio.h>

#include "capture/stream.h"
#include "protocol/conntable.h"
#include "protocol/ownconns.h"
#include "protocol/protocol.h"

/* What the stage above hears about each connection. */
struct proto_events {
	/* Request `seq` of `c` started in a chunk of thread `tid` at `ts_ns`. */
	void (*request)(void *ctx, struct proto_conn *c, uint32_t seq,
			uint32_t tid, enum stream_dir dir, uint64_t ts_ns);
	/* After each inbound chunk: an open request may have more headers. */
	void (*updated)(void *ctx, struct proto_conn *c);
	/* An exchange is complete. */
	void (*exchange)(void *ctx, struct proto_conn *c,
			 const struct proto_exchange *x);
	/* `c` goes (closed, evicted, shut down): drop what is still open. */
	void (*release)(void *ctx, struct proto_conn *c);
	void *ctx;
	size_t user_size; /* bytes the stage keeps per connection */
	/* Of those, the bytes a new connection needs zeroed (the stage
	 * clears the rest as it uses it); 0: all of them. */
	size_t user_clear;
};

struct proto_streams_opts {
	uint32_t max_conns;   /* connection table; full: evict LRU, counted */
	struct proto_opts decode;
	stream_verdict_fn verdict; /* NULL: the kernel side is not told */
	void *verdict_ctx;
	struct ownconns *own; /* spanprobe's own connections: left out; NULL: none */
};

struct proto_streams_stats {
	uint64_t chunks, closes;
	uint64_t feed_errors;    /* a decoder refused a chunk */
	uint64_t verdict_errors; /* telling capture failed */
	uint64_t not_recognised; /* connections no decoder wanted */
	uint64_t switched;       /* connections a decoder took over (h2c) */
	uint64_t switch_failures; /* ... that it could not: ignored */
	uint64_t reused;         /* ended by a new connection on their socket */
	uint32_t open;           /* connections in the table now */
	uint64_t evictions, alloc_failures;
};

struct proto_streams;

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct proto_streams *proto_streams_create(const struct proto_streams_opts *opts,
					   const struct proto_events *events);

/* Release every connection (events->release) and free.  Accepts NULL. */
void proto_streams_destroy(struct proto_streams *s);

/* The struct stream_sink to give capture. */
struct stream_sink proto_streams_sink(struct proto_streams *s);

/* The connection on this host at the other end of `c`, or NULL. */
struct proto_conn *proto_streams_peer(struct proto_streams *s, struct proto_conn *c);

void proto_streams_stats(const struct proto_streams *s,
			 struct proto_streams_stats *out);

#endif /* SPANPROBE_STREAMS_H */
