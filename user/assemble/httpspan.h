/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x exchanges seen on a connection -> SERVER and CLIENT spans
 * (stable HTTP semantic conventions), with trace context inferred without
 * touching the services:
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
 * response.  Called from the ring-buffer consumer thread only.
 */
#ifndef SPANPROBE_HTTPSPAN_H
#define SPANPROBE_HTTPSPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/http1.h"

struct sp_pipeline;
struct sp_span;
struct httpspan;

/* One end of a TCP connection.  IPv4 is stored as family 2, 4 bytes. */
struct httpspan_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

/* A request whose span is open, oldest first. */
struct httpspan_req {
	struct sp_span *span;
	uint64_t start_ns;
	uint32_t seq;          /* the parser's request number */
	uint32_t ctx_tid;      /* server: thread it is context of (0: none) */
	uint8_t explicit_ctx;  /* traceparent applied */
	uint8_t linked;        /* client: a server span on this host took it as parent */
};

#define HTTPSPAN_INFLIGHT HTTP1_PIPELINE_MAX

/* Span state of one connection; embedded in the source's connection table. */
struct httpspan_conn {
	uint64_t sock_id;
	uint32_t pid;          /* process doing the I/O (latest seen) */
	struct httpspan_addr local, peer;
	uint8_t head, count;   /* FIFO of open requests */
	struct httpspan_req reqs[HTTPSPAN_INFLIGHT];
	struct http1_conn http;
};

/*
 * The connection on this host whose local end is `c`'s peer and whose
 * peer is `c`'s local end, or NULL.  Supplied by the connection table.
 */
typedef struct httpspan_conn *(*httpspan_peer_fn)(void *ctx,
						  const struct httpspan_conn *c);

struct httpspan_opts {
	bool with_query;          /* export url.query (off: never) */
	httpspan_peer_fn find_peer; /* NULL: no same-host links */
	void *find_peer_ctx;
};

struct httpspan_stats {
	uint64_t server_spans;
	uint64_t client_spans;
	uint64_t no_span;          /* pool empty: exchange lost */
	uint64_t ctx_traceparent;  /* server spans joined an incoming trace */
	uint64_t ctx_thread;       /* client spans under a thread's span */
	uint64_t ctx_peer;         /* server spans under a same-host client span */
	uint64_t bad_traceparent;  /* header present but invalid: ignored */
	uint64_t discarded;        /* open spans dropped (eviction, no response) */
};

/* Returns NULL with errno set (ENOMEM). */
struct httpspan *httpspan_create(struct sp_pipeline *p,
				 const struct httpspan_opts *opts);
void httpspan_destroy(struct httpspan *hs); /* accepts NULL */

/* Reset `c` for a new connection `sock_id`.  Never fails. */
void httpspan_conn_init(struct httpspan_conn *c, uint64_t sock_id);

/*
 * Feed one read or write of thread `tid`: the first `captured` of
 * `total_len` bytes, at `ts_ns` (CLOCK_MONOTONIC).  Starts spans for the
 * requests it opens and ends those it completes.  Returns 0 or -EINVAL
 * (inconsistent lengths; the chunk is ignored).
 */
int httpspan_feed(struct httpspan *hs, struct httpspan_conn *c, uint32_t tid,
		  enum http1_dir dir, const void *data, size_t captured,
		  size_t total_len, uint64_t ts_ns);

/*
 * The connection closed at `ts_ns`: a response delimited by the close
 * ends its span; requests left without a response end as errors (client)
 * or without a status (server).  `c` is reset.
 */
void httpspan_close(struct httpspan *hs, struct httpspan_conn *c, uint64_t ts_ns);

/* Drop `c`'s open spans without exporting them (the table evicts it). */
void httpspan_discard(struct httpspan *hs, struct httpspan_conn *c);

/* True once the parser decided the connection is not HTTP/1. */
bool httpspan_is_skipped(const struct httpspan_conn *c);

/* True once the connection carried an HTTP/1 message start. */
bool httpspan_is_http(const struct httpspan_conn *c);

const struct httpspan_stats *httpspan_stats(const struct httpspan *hs);

/*
 * Format `a`'s address (IPv4-mapped IPv6 as IPv4) into `buf` (>= 46
 * bytes).  Returns buf.
 */
const char *httpspan_addr_str(const struct httpspan_addr *a, char *buf,
			      size_t size);

#endif /* SPANPROBE_HTTPSPAN_H */
