/* SPDX-License-Identifier: MIT */
/*
 * One pooled connection and the requests in flight on it: what the pool
 * (http_client.c) and the protocol parts (h1.c, h2.c) share.  The pool
 * drives a connection through the ops table of its protocol; the parts
 * only call down, into this file and conn.h, never back into the pool.
 */
#ifndef SPANPROBE_NET_EXCHANGE_H
#define SPANPROBE_NET_EXCHANGE_H

#include <nghttp2/nghttp2.h>

#include "transport/conn.h"
#include "transport/http.h"

#define H1_HEAD_MAX (64u << 10) /* status line + headers of one answer */

struct http_conn;

/* One request in flight. */
struct http_exchange {
	const struct http_request *req;
	struct http_response *resp;
	struct http_conn *conn;
	size_t body_off;   /* request body bytes handed out */
	int32_t stream_id; /* HTTP/2 */
	bool started;      /* put on the connection */
	bool on_wire;      /* the whole request went out: the server may have
			    * processed it (a part of a body it cannot have:
			    * a request cut short is safe to send again;
			    * HTTP/2 holds a stream past the server's limit
			    * back, and refuses it after a GOAWAY) */
	bool ended;        /* the answer ended normally (END_STREAM / length) */
	bool done;
};

/*
 * One HTTP version on an open connection.  Functions returning int give 0
 * or a negative errno (the connection is then dropped); on_readable may
 * also return 1: the connection must be closed after what it finished.
 */
struct http_proto_ops {
	int version; /* 1 or 2: http_response.version */
	/* Start the session on a freshly opened connection (may be NULL). */
	int (*open)(struct http_conn *hc);
	/* Put a request on the connection. */
	int (*start)(struct http_conn *hc, struct http_exchange *x);
	int (*on_readable)(struct http_conn *hc);
	int (*on_writable)(struct http_conn *hc);
	bool (*wants_write)(const struct http_conn *hc);
	/* Can the connection carry new requests at all (no GOAWAY)? */
	bool (*usable)(const struct http_conn *hc);
	/*
	 * Not usable, but requests the server took are still to be answered
	 * on it (after a graceful GOAWAY); may be NULL: never.
	 */
	bool (*draining)(const struct http_conn *hc);
	/* May another request start now (HTTP/1.1: one at a time)? */
	bool (*has_room)(const struct http_conn *hc);
	/*
	 * The deadline passed with `x` started: abandon it.  Returns true
	 * when the connection stays usable, false when it must be dropped.
	 */
	bool (*abandon)(struct http_conn *hc, struct http_exchange *x);
	/* Free the protocol's state; the socket is closed by the caller. */
	void (*close)(struct http_conn *hc);
};

/* What every connection of a pool talks to. */
struct http_target {
	struct net_url url;
	char *user_agent;
};

enum h1_phase {
	H1_HEAD = 0,
	H1_BODY_LENGTH,
	H1_CHUNK_SIZE,
	H1_CHUNK_DATA,
	H1_CHUNK_CRLF,
	H1_TRAILERS,
	H1_BODY_EOF,
};

struct h1_state {
	char *head;        /* request head being written */
	size_t head_len, head_off;
	uint8_t *in;       /* bytes read and not yet parsed */
	size_t in_len, in_cap;
	enum h1_phase phase;
	uint64_t need;     /* body / chunk bytes still to come */
	bool close_after;  /* Connection: close or HTTP/1.0 */
	struct http_exchange *cur;
};

#define H2_WRITE_BATCH (64 * 1024)

struct http_conn {
	const struct http_target *target;
	struct net_conn io;
	const struct http_proto_ops *ops; /* NULL: closed */
	bool fresh;          /* nothing received yet */
	bool h1_stopgap;     /* HTTP/1.1 for the rest of this export only: a
			      * fresh h2c connection was closed unanswered */
	uint8_t h1_match;    /* the server's first bytes that spelled "HTTP/" so
			      * far (5: all; H1_MATCH_NOT: they did not) */
	nghttp2_session *h2;
	const uint8_t *out;  /* HTTP/2 output from nghttp2 not yet copied */
	size_t out_len;
	/* HTTP/2 frames gathered into one send (a 16 KiB DATA frame per
	 * send() costs a syscall each); wbuf[woff, wlen) is still to write. */
	uint8_t wbuf[H2_WRITE_BATCH];
	size_t woff, wlen;
	struct h1_state h1;
	size_t active;       /* exchanges started and not done */
	unsigned tls_generation; /* of the TLS context it was made with */
};

/* Finish an exchange with `error` (0: answered). */
void http_exchange_finish(struct http_exchange *x, int error);

/* Append to the response body, bounded by HTTP_BODY_MAX. */
void http_response_append(struct http_response *r, const uint8_t *p, size_t n);

/*
 * Keep a header or trailer field of the answer (name lower-cased), bounded
 * by HTTP_FIELDS_MAX; what does not fit is dropped.
 */
void http_response_add_field(struct http_response *r, const char *name,
			     size_t name_len, const char *value,
			     size_t value_len);

#endif /* SPANPROBE_NET_EXCHANGE_H */
