/* SPDX-License-Identifier: MIT */
/*
 * protocol/: the stream decoders and the per-connection state.  Stream
 * data from capture/ (capture/stream.h) goes in; out come request starts
 * and complete exchanges, already in the terms of the semantic
 * conventions (span name, kind, attributes, status), so the assembly
 * stage needs to know no protocol.  May include capture/ (for the stream
 * types) and util/ only.
 *
 * A decoder is one struct proto_ops; adding a protocol is one file here
 * and one line in the registry (protocol/registry.c).
 */
#ifndef SPANPROBE_PROTOCOL_H
#define SPANPROBE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/stream.h"
#include "protocol/http1.h"
#include "protocol/http2.h"
#include "protocol/pgsql.h"
#include "protocol/redis.h"
#include "protocol/mysql.h"

/* Requests one connection may have in flight, whatever the decoder (each
 * says its own limit in struct proto_ops.inflight_max). */
#define PROTO_INFLIGHT \
	(HTTP1_PIPELINE_MAX > HTTP2_STREAMS_MAX ? HTTP1_PIPELINE_MAX : HTTP2_STREAMS_MAX)

/* Which side of the connection the traced process is. */
enum proto_role { PROTO_ROLE_UNKNOWN = 0, PROTO_ROLE_SERVER, PROTO_ROLE_CLIENT };

/* What the first bytes of a direction say about a protocol. */
enum proto_guess { PROTO_NO = -1, PROTO_MAYBE = 0, PROTO_YES = 1 };

/* Decoder state of one connection: one member per decoder. */
union proto_state {
	struct http1_conn http1;
	struct http2_conn http2;
	struct pgsql_conn pgsql;
	struct redis_conn redis;
	struct mysql_conn mysql;
};

#define PROTO_ATTRS_MAX 20
#define PROTO_TEXT_MAX 1536

/* One attribute: a string (str, len) or, when is_int, an integer. */
struct proto_attr {
	const char *key;
	const char *str;
	uint32_t len;
	uint8_t is_int;
	int64_t i;
};

/*
 * One request and its response, as a span sees it.  Strings point into
 * the decoder's state or into `text`; they live until the callback that
 * receives the exchange returns.
 */
struct proto_exchange {
	uint64_t req_start_ns; /* names the request its start announced */
	uint64_t end_ns;
	/* A decoder whose exchanges end in any order (HTTP/2 streams) names
	 * the request by the number requests_started() gave it instead:
	 * `unordered`, and `seq` when `announced` (else none was opened).
	 * One whose exchanges end in order may name it too (`announced`,
	 * `seq`): the requests before it whose exchanges never came are
	 * then known without their start times. */
	bool unordered;
	bool announced;
	uint32_t seq;
	/* The thread that wrote or read the request (0: unknown): a CLIENT
	 * exchange whose request was never announced (past inflight_max, a
	 * long pipeline) takes that thread's context as its parent. */
	uint32_t tid;
	bool server;           /* a SERVER span; else CLIENT */
	bool error;            /* span status ERROR */
	const char *status_message; /* with error; NULL: none */
	const char *traceparent;    /* raw W3C header of the request, or NULL */
	const char *name;
	size_t name_len;
	uint32_t n_attrs;
	uint32_t text_used;
	struct proto_attr attrs[PROTO_ATTRS_MAX];
	char text[PROTO_TEXT_MAX];
};

/* Start `x`: no attributes, no text, status unset, no traceparent. */
void proto_exchange_begin(struct proto_exchange *x, bool server,
			  uint64_t req_start_ns, uint64_t end_ns);

/*
 * Add an attribute to `x`; `str` is copied into x->text when `copy`.
 * An attribute that does not fit is left out (the limits are sized for
 * the decoders' bounded fields).
 */
void proto_attr_str(struct proto_exchange *x, const char *key, const char *str,
		    size_t len, bool copy);
void proto_attr_cstr(struct proto_exchange *x, const char *key, const char *str);
void proto_attr_int(struct proto_exchange *x, const char *key, int64_t value);
/* `size` bytes of x->text for the caller to fill, or NULL when full. */
char *proto_text_alloc(struct proto_exchange *x, size_t size);
/*
 * `a`, the character `sep` (not NUL) and `b` into x->text (what
 * proto_text(x, "%s%c%s", ...) gives, without printf's cost on every
 * span; proto_text_cat() of the three); returns the string, or "" when
 * it does not fit.
 */
const char *proto_text_join(struct proto_exchange *x, const char *a, char sep,
			    const char *b);
/*
 * The `n` strings of `parts` (at most PROTO_CAT_MAX) one after another
 * into x->text, as "%s%s..." would put them there without printf's cost
 * on every span: *out is the text, or "" when it does not fit; returns
 * its length.
 */
#define PROTO_CAT_MAX 12
size_t proto_text_cat(struct proto_exchange *x, const char *const *parts,
		      size_t n, const char **out);
/* printf into x->text; returns the string, or "" when it does not fit. */
const char *proto_text(struct proto_exchange *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct proto_conn;

/*
 * A connection that leaves its protocol for another mid-way (HTTP/1.1
 * "Upgrade: h2c"): the decoder named `next` takes over, and answers the
 * request that asked for it.
 */
struct proto_switch {
	const char *next;        /* a registered decoder's name */
	size_t rest;             /* where it starts in the chunk just fed */
	enum proto_role role;
	uint32_t seq;            /* the request's number (started already) */
	uint32_t next_seq;       /* requests started so far: the next number */
	uint64_t start_ns;       /* the request's first byte */
	int64_t req_body;
	struct http2_fields req; /* what the request said */
};

/* Settings every decoder reads. */
struct proto_opts {
	bool with_query; /* export url.query (off: never) */
	/* Path parameters removed besides ROUTE_REDACT_DEFAULT (route.h):
	 * comma-separated names, NULL: none. */
	const char *redact_params;
	/* Databases: db.query.text as sent, literals and all (off: each
	 * literal becomes "?"); SERVER spans in a traced database server
	 * (off: only the applications' CLIENT spans). */
	bool db_query_raw;
	bool db_server_spans;
};

/* Completed exchanges leave a decoder through this; `opts` shape them. */
struct proto_emit {
	void (*exchange)(void *ctx, struct proto_conn *c,
			 const struct proto_exchange *x);
	/* The requests started so far (requests_started()) are told to the
	 * stage above now, as after each chunk: for an exchange that ends
	 * in the very chunk its request started (an HTTP/2 stream reset at
	 * once), which the decoder emits after calling this. */
	void (*announce)(void *ctx, struct proto_conn *c);
	/* The chunk being fed may have moved the connection to another
	 * protocol: the stage above asks switched() after it (else not,
	 * which every chunk would cost).  NULL: not asked at all. */
	void (*switching)(void *ctx, struct proto_conn *c);
	void *ctx;
	const struct proto_opts *opts;
};

struct proto_ops {
	const char *name;
	/* Requests one connection may have open (<= PROTO_INFLIGHT): the
	 * stage above opens no span past it, as the decoder keeps none. */
	uint32_t inflight_max;
	/* From the first bytes of a connection in direction `dir`. */
	enum proto_guess (*recognise)(const void *data, size_t len,
				      enum stream_dir dir);
	void (*init)(union proto_state *st);
	/* The connection goes: free what the state holds (after close too). */
	void (*release)(union proto_state *st);
	/* One chunk, in order.  Returns 0 or -EINVAL (chunk ignored). */
	int (*feed)(struct proto_conn *c, const struct stream_chunk *chunk,
		    const struct proto_emit *emit);
	/* The connection ended at `ts_ns`; the state is reset after. */
	void (*close)(struct proto_conn *c, uint64_t ts_ns,
		      const struct proto_emit *emit);
	/* Requests started so far (wraps); a span opens for each new one. */
	uint32_t (*requests_started)(const union proto_state *st);
	enum proto_role (*role)(const union proto_state *st);
	/* DECODE once the protocol is certain, IGNORE once it is not it. */
	enum stream_verdict (*verdict)(const union proto_state *st);
	/* The raw traceparent of request `seq` while in flight, or NULL. */
	const char *(*request_traceparent)(const union proto_state *st,
					   uint32_t seq);
	/* When request `seq` (in flight) began: its first byte's chunk, the
	 * start its exchange will carry; 0: unknown (the chunk that
	 * announced it stands in). */
	uint64_t (*request_start_ns)(const union proto_state *st, uint32_t seq);
	/* After a chunk that called emit->switching: true when the
	 * connection now speaks another protocol (`sw` says which, from
	 * where).  NULL: never. */
	bool (*switched)(const union proto_state *st, struct proto_switch *sw);
	/* Take over from another decoder, `st` fresh from init().  Returns
	 * 0 or a negative errno.  NULL: cannot. */
	int (*adopt)(union proto_state *st, const struct proto_switch *sw);
	/* A line of the decoder's own drop counters, summed over the
	 * connections closed so far; NULL: it has none. */
	void (*report)(FILE *out);
};

/* The registered decoders, NULL-terminated, in order of preference. */
extern const struct proto_ops *const proto_registry[];

/*
 * The decoder for a connection whose first bytes are `data`: the first
 * that says YES, else the first that says MAYBE (it decides later), else
 * NULL (no decoder wants it).
 */
const struct proto_ops *proto_recognise(const void *data, size_t len,
					enum stream_dir dir);

/* The registered decoder called `name`, or NULL. */
const struct proto_ops *proto_find(const char *name);

/*
 * Records were lost in the kernel (a full ring buffer): whose is not
 * known, so a decoder that waits for something a lost record may have
 * carried (the end of an HTTP/2 stream) compares proto_loss_epoch with
 * the value it last saw and stops counting on it when it moved.  Raised
 * by proto_records_lost(); reader thread only.
 */
extern uint32_t proto_loss_epoch;
void proto_records_lost(void);

#endif /* SPANPROBE_PROTOCOL_H */
