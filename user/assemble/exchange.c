// SPDX-License-Identifier: MIT
/*
 * Exchanges -> spans.  A decoder reports an exchange only once its
 * response is complete, but a span's IDs must exist as soon as its request
 * is seen: a client call made while the request is served becomes its
 * child, and a server on this host reading a client's request becomes the
 * client's child.  So a span is started when the decoder's request counter
 * moves, kept in a per-connection FIFO, and filled and ended when the
 * exchange comes out (in the same order).
 */
#include "assemble/exchange.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/latelink.h"
#include "assemble/pipeline.h"
#include "assemble/traceparent.h"
#include "span/span.h"
#include "util/ring.h"

/* A request whose span is open. */
struct exchange_req {
	struct sp_span *span;
	uint64_t start_ns;
	uint32_t seq;          /* the decoder's request number */
	uint32_t ctx_tid;      /* server: thread it is context of (0: none) */
	uint8_t explicit_ctx;  /* traceparent applied */
	uint8_t linked;        /* client: a server span on this host took it as parent */
	uint8_t orphan;        /* server: no context yet; its same-host client may come late */
	uint8_t client;        /* sent by the traced process: counted in client_open */
};

/*
 * Open requests kept inside a connection's entry; more go to a heap ring
 * that doubles up to PROTO_INFLIGHT and is freed when none is open.
 * Nearly every connection has one request open at a time (an HTTP/1
 * exchange, a database call): its entry was 4 KB bigger when all 128
 * slots an HTTP/2 connection may need were inside it, and every
 * connection's entry is allocated whole.  A request that finds no room
 * is not opened; its exchange, matched by number, makes its own span.
 */
#define XREQ_INLINE 4

_Static_assert((XREQ_INLINE & (XREQ_INLINE - 1)) == 0 &&
		       (PROTO_INFLIGHT & (PROTO_INFLIGHT - 1)) == 0 &&
		       PROTO_INFLIGHT >= XREQ_INLINE,
	       "exchange: the request ring's sizes must be powers of two");

/* This stage's part of a connection: its open requests, oldest first.
 * All zero is an empty ring on the inline slots. */
struct exchange_conn {
	uint16_t head, count;
	uint16_t cap;              /* slots of `ring`; unused while it is NULL */
	uint8_t same_host;         /* the ends on one host: 0 not known yet, 1 no, 2 yes */
	struct exchange_req *ring; /* NULL: the inline slots */
	struct exchange_req reqs[XREQ_INLINE];
};

struct exchange_spans {
	struct sp_pipeline *p;
	struct proto_streams *streams;
	struct exchange_stats stats;
	struct latelink late;  /* finished server spans waiting for their client */
	/* Open client requests on every connection.  None: a server request
	 * has no same-host client to look for (a lookup in the connection
	 * table, for every request of a node that only serves). */
	uint32_t client_open;
};

static struct exchange_conn *xconn(struct proto_conn *c)
{
	return proto_conn_user(c);
}

/* Whether both ends of `c` are on this host: its addresses are its own
 * for as long as it is in the table, so they are compared once. */
static bool same_host(struct proto_conn *c)
{
	struct exchange_conn *x = xconn(c);

	if (!x->same_host)
		x->same_host = latelink_same_host(&c->local, &c->peer) ? 2 : 1;
	return x->same_host == 2;
}

/* Thread-context key of request `seq` on `c`: unique per request. */
static uint64_t request_key(const struct proto_conn *c, uint32_t seq)
{
	return c->id ^ ((uint64_t)seq * 0x9e3779b97f4a7c15ULL);
}

static struct exchange_req *fifo_at(struct exchange_conn *x, unsigned i)
{
	if (x->ring)
		return &x->ring[(x->head + i) & (x->cap - 1u)];
	return &x->reqs[(x->head + i) & (XREQ_INLINE - 1u)];
}

/* Room for one more open request: the ring doubles, its requests copied
 * in order.  Returns 0, or -ENOMEM. */
static int fifo_grow(struct exchange_conn *x)
{
	unsigned cap = x->ring ? x->cap : XREQ_INLINE;
	struct exchange_req *ring;

	if (x->count < cap)
		return 0;
	/* count < PROTO_INFLIGHT: never past it.  A slot is cleared when
	 * taken (on_request). */
	ring = ring_regrow(x->ring ? (const void *)x->ring : x->reqs, cap, x->head,
			   x->count, sizeof(*ring), cap * 2u);
	if (!ring)
		return -ENOMEM;
	cap *= 2u;
	free(x->ring);
	x->ring = ring;
	x->cap = (uint16_t)cap;
	x->head = 0;
	return 0;
}

/* None open: back to the first inline slot, the heap ring freed. */
static void fifo_shrink(struct exchange_conn *x)
{
	x->head = 0;
	if (!x->ring)
		return; /* the common case: no call to free() for nothing */
	free(x->ring);
	x->ring = NULL;
	x->cap = 0;
}

/*
 * Forget open request `i` (0: the oldest): its thread context goes, its
 * span is returned when `discard`.  The oldest leaves by the ring's head;
 * another (streams of one HTTP/2 connection end in any order) makes the
 * younger ones move up.
 */
static void req_remove(struct exchange_spans *xs, struct proto_conn *c,
		       unsigned i, bool discard)
{
	struct exchange_conn *x = xconn(c);
	struct exchange_req *r = fifo_at(x, i);

	if (r->ctx_tid)
		pipeline_thread_pop(xs->p, r->ctx_tid, request_key(c, r->seq));
	xs->client_open -= r->client;
	if (discard && r->span) {
		pipeline_span_discard(xs->p, r->span);
		xs->stats.discarded++;
	}
	if (i == 0) {
		memset(r, 0, sizeof(*r));
		x->head = (uint16_t)(x->head + 1);
	} else {
		for (; i + 1 < x->count; i++)
			*fifo_at(x, i) = *fifo_at(x, i + 1);
		memset(fifo_at(x, i), 0, sizeof(*r));
	}
	if (--x->count == 0)
		fifo_shrink(x);
}

static void req_pop(struct exchange_spans *xs, struct proto_conn *c, bool discard)
{
	req_remove(xs, c, 0, discard);
}

/* A valid traceparent in `raw` (NULL: none). */
static bool read_traceparent(struct exchange_spans *xs, const char *raw,
			     struct traceparent *tp)
{
	if (!raw || !raw[0])
		return false;
	if (traceparent_parse(raw, strlen(raw), tp)) {
		xs->stats.bad_traceparent++;
		return false;
	}
	return true;
}

/* Explicit context: a valid traceparent makes `span` a child of it. */
static bool apply_traceparent(struct exchange_spans *xs, struct sp_span *span,
			      const char *raw)
{
	struct traceparent tp;

	if (!read_traceparent(xs, raw, &tp))
		return false;
	pipeline_span_set_remote_parent(xs->p, span, tp.trace_id, tp.parent_id,
					tp.flags & 1);
	return true;
}

static const char *request_traceparent(const struct proto_conn *c, uint32_t seq)
{
	return c->ops->request_traceparent(&c->st, seq);
}

/*
 * The oldest client request on the other end of `c` (same host) that no
 * server span has taken as parent yet.
 */
static struct exchange_req *peer_client_request(struct exchange_spans *xs,
						struct proto_conn *c)
{
	struct proto_conn *peer;
	struct exchange_conn *px;

	if (!xs->client_open)
		return NULL;
	peer = proto_streams_peer(xs->streams, c);
	if (!peer || !peer->ops || peer->ops->role(&peer->st) != PROTO_ROLE_CLIENT)
		return NULL;
	px = xconn(peer);
	for (unsigned i = 0; i < px->count; i++) {
		struct exchange_req *r = fifo_at(px, i);

		if (!r->linked && r->span) {
			r->linked = 1;
			return r;
		}
	}
	return NULL;
}

/*
 * Start the span of server request `seq`.  Context: the traceparent, but
 * the same-host client span when it is in the header's trace already (a
 * proxy that forwards the header it received: the client span is the
 * closer parent), else the same-host client span.
 */
static struct sp_span *start_server(struct exchange_spans *xs,
				    struct proto_conn *c,
				    struct exchange_req *r, uint32_t tid)
{
	struct exchange_req *client = peer_client_request(xs, c);
	struct sp_span *span;
	struct traceparent tp;
	bool has_tp;

	has_tp = read_traceparent(xs, request_traceparent(c, r->seq), &tp);
	if (client && has_tp && memcmp(client->span->trace_id, tp.trace_id, 16))
		client = NULL;
	span = pipeline_span_start(xs->p, c->pid, tid, r->start_ns,
				   client ? client->span : NULL);
	if (!span)
		return NULL;
	if (has_tp && !client) {
		pipeline_span_set_remote_parent(xs->p, span, tp.trace_id, tp.parent_id,
						tp.flags & 1);
		xs->stats.ctx_traceparent++;
	}
	if (client)
		xs->stats.ctx_peer++;
	r->explicit_ctx = has_tp;
	r->orphan = !client && !has_tp;
	if (!pipeline_thread_push(xs->p, tid, span, request_key(c, r->seq)))
		r->ctx_tid = tid;
	return span;
}

/*
 * A client request on this host whose server already started: the hooks
 * run when a send has returned, so the server may have read the bytes (and
 * its record come first) before the client's record was written.  The
 * oldest server request on the other end that is still a root without
 * children takes the client span as parent after all.
 */
static void adopt(struct exchange_spans *xs, struct sp_span *server,
		  struct exchange_req *client)
{
	pipeline_span_adopt(server, client->span);
	client->linked = 1;
	client->span->has_children = 1;
	xs->stats.ctx_peer++;
}

static void end_held(void *ctx, struct sp_span *span, uint64_t end_ns)
{
	struct exchange_spans *xs = ctx;

	pipeline_span_end(xs->p, span, end_ns);
}

/* A finished server span held for its client (latelink.h): end it now,
 * and the spans of its connection that were held only behind it. */
static bool adopt_held(struct exchange_spans *xs, struct proto_conn *c,
		       struct exchange_req *client)
{
	uint64_t end_ns;
	struct sp_span *span = latelink_take(&xs->late, &c->local, &c->peer, c->tls, &end_ns);

	if (!span)
		return false;
	if (!span->has_children)
		adopt(xs, span, client);
	pipeline_span_end(xs->p, span, end_ns);
	latelink_release(&xs->late, &c->peer, &c->local, c->tls, end_held, xs);
	return true;
}

static void adopt_orphan(struct exchange_spans *xs, struct proto_conn *c,
			 struct exchange_req *client)
{
	struct proto_conn *peer = proto_streams_peer(xs->streams, c);
	struct exchange_conn *px;

	if (adopt_held(xs, c, client))
		return;
	if (!peer || !peer->ops || peer->ops->role(&peer->st) != PROTO_ROLE_SERVER)
		return;
	px = xconn(peer);
	for (unsigned i = 0; i < px->count; i++) {
		struct exchange_req *r = fifo_at(px, i);

		if (!r->orphan || !r->span)
			continue;
		r->orphan = 0;
		if (!r->span->has_children && !r->explicit_ctx)
			adopt(xs, r->span, client);
		return;
	}
}

static struct sp_span *start_client(struct exchange_spans *xs,
				    struct proto_conn *c,
				    struct exchange_req *r, uint32_t tid)
{
	struct sp_span *parent = pipeline_thread_context(xs->p, tid);

	if (parent)
		xs->stats.ctx_thread++;
	r->span = pipeline_span_start(xs->p, c->pid, tid, r->start_ns, parent);
	if (r->span)
		adopt_orphan(xs, c, r);
	return r->span;
}

/* The decoder saw request `seq` start in a chunk of `tid` at `ts_ns`. */
static void on_request(void *ctx, struct proto_conn *c, uint32_t seq,
		       uint32_t tid, enum stream_dir dir, uint64_t ts_ns)
{
	struct exchange_spans *xs = ctx;
	struct exchange_conn *x = xconn(c);
	struct exchange_req *r;

	if (x->count >= c->ops->inflight_max || x->count == PROTO_INFLIGHT) {
		/* The decoder drops this request too (same limit): the open
		 * ones keep their spans. */
		xs->stats.over_inflight++;
		return;
	}
	if (fifo_grow(x)) {
		/* The exchange still makes its span when it comes out, but
		 * no call made while it is served becomes its child. */
		xs->stats.ring_no_memory++;
		return;
	}
	r = fifo_at(x, x->count);
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->start_ns = ts_ns;
	r->client = dir != STREAM_IN;
	xs->client_open += r->client;
	r->span = dir == STREAM_IN ? start_server(xs, c, r, tid)
				   : start_client(xs, c, r, tid);
	if (!r->span)
		xs->stats.no_span++;
	x->count++;
}

/* A traceparent that came in a later chunk than the request line. */
static void on_updated(void *ctx, struct proto_conn *c)
{
	struct exchange_spans *xs = ctx;
	struct exchange_conn *x = xconn(c);
	struct exchange_req *r;

	if (!x->count)
		return;
	/* A request that has its context says so before the decoder is
	 * asked for its role: half of them came with a traceparent. */
	r = fifo_at(x, x->count - 1);
	if (!r->span || r->explicit_ctx || c->ops->role(&c->st) != PROTO_ROLE_SERVER)
		return;
	if (apply_traceparent(xs, r->span, request_traceparent(c, r->seq))) {
		r->explicit_ctx = 1;
		xs->stats.ctx_traceparent++;
	}
}

/*
 * The open request of exchange `ex`, or -1: for a decoder that names it,
 * the one of its number; else the FIFO head, unless it is stale.
 */
static int match_request(struct exchange_spans *xs, struct proto_conn *c,
			 const struct proto_exchange *ex)
{
	struct exchange_conn *x = xconn(c);

	if (ex->unordered) {
		for (unsigned i = 0; ex->announced && i < x->count; i++)
			if (fifo_at(x, i)->seq == ex->seq)
				return (int)i;
		return -1;
	}
	while (x->count) {
		struct exchange_req *r = fifo_at(x, 0);
		/* The open request against the exchange's: before it (< 0),
		 * it, or after it; by number when the decoder gives one
		 * (pipelined requests of one read share their start). */
		int32_t order = ex->announced ? (int32_t)(r->seq - ex->seq)
					      : r->start_ns < ex->req_start_ns ? -1
					      : r->start_ns > ex->req_start_ns;

		if (order == 0)
			return 0;
		/* Opened after it: this exchange's request was never opened
		 * here (no room for it). */
		if (order > 0)
			return -1;
		/* The decoder dropped that request (pipeline overflow, or no
		 * memory for it). */
		req_pop(xs, c, true);
	}
	return -1;
}

/* The exchange's attributes into the span's slots, taken at once: those
 * past the span's room are left out (as span_add_*() would leave them). */
static void fill_attrs(struct sp_span *span, const struct proto_exchange *ex)
{
	struct sp_attr *out, *copied = NULL; /* the last string copied whole */
	const struct proto_attr *src = NULL;  /* ... and where it came from */
	unsigned n = span_attrs_take(span, ex->n_attrs, &out);

	for (unsigned i = 0; i < n; i++, out++) {
		const struct proto_attr *a = &ex->attrs[i];

		out->key = a->key;
		if (a->is_int) {
			out->type = SP_ATTR_INT;
			out->v.i = a->i;
		} else if (src && a->str == src->str && a->len == src->len) {
			/* One text for two attributes (a server's client.address
			 * and network.peer.address): one copy in the arena. */
			out->type = SP_ATTR_STRING;
			out->v.str = copied->v.str;
		} else if (span_put_str(span, out, a->str, a->len) == 0) {
			copied = out;
			src = a;
		}
	}
}

static void fill_span(struct sp_span *span, const struct proto_exchange *ex)
{
	span_set_name(span, ex->name, ex->name_len);
	span->kind = ex->server ? SP_KIND_SERVER : SP_KIND_CLIENT;
	fill_attrs(span, ex);
	if (ex->error && ex->status_message)
		span_set_status(span, SP_STATUS_ERROR, ex->status_message);
	else if (ex->error)
		span->status_code = SP_STATUS_ERROR;
}

/*
 * A finished server span with no parent yet, whose client may be on this
 * host, waits for it (latelink.h); one on a connection with spans waiting
 * waits behind them, so that the connection's spans keep their order.
 */
static bool hold_server_span(struct exchange_spans *xs, struct proto_conn *c,
			     struct sp_span *span, uint64_t end_ns, bool orphan)
{
	bool waits = orphan && !span_has_parent(span) && !span->has_children &&
		     same_host(c);
	bool ready = !waits && latelink_holds(&xs->late, &c->local, &c->peer, c->tls);

	if (!waits && !ready)
		return false;
	if (xs->late.n == LATELINK_SLOTS) {
		latelink_expire_oldest(&xs->late, end_held, xs);
		if (ready && !latelink_holds(&xs->late, &c->local, &c->peer, c->tls))
			return false; /* nothing left to wait behind */
	}
	return latelink_hold(&xs->late, span, end_ns, &c->local, &c->peer, c->tls, ready);
}

static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *ex)
{
	struct exchange_spans *xs = ctx;
	int i = match_request(xs, c, ex);
	struct exchange_req *r = i < 0 ? NULL : fifo_at(xconn(c), (unsigned)i);
	struct sp_span *span = r ? r->span : NULL;
	bool explicit_ctx = r && r->explicit_ctx;
	bool orphan = r && r->orphan;
	uint64_t opened_ns = r ? r->start_ns : 0;

	if (r) {
		r->span = NULL; /* ours now: req_remove must not return it */
		req_remove(xs, c, (unsigned)i, false);
	} else {
		/* Its request was never opened here: a client's thread, when
		 * the decoder names it, gives the context it has now. */
		struct sp_span *parent = !ex->server && ex->tid
						 ? pipeline_thread_context(xs->p, ex->tid)
						 : NULL;

		span = pipeline_span_start(xs->p, c->pid, ex->tid, ex->req_start_ns, parent);
		if (!span) {
			xs->stats.no_span++;
			return;
		}
	}
	/* Its request began in an earlier chunk than the one that told of it
	 * (an HTTP/2 header block that ended in a later read). */
	if (opened_ns && ex->req_start_ns < opened_ns)
		span->start_unix_ns = pipeline_unix_ns(xs->p, ex->req_start_ns);
	/* Explicit context wins, even when it came late. */
	if (ex->server && !explicit_ctx &&
	    apply_traceparent(xs, span, ex->traceparent))
		xs->stats.ctx_traceparent++;
	fill_span(span, ex);
	/* The listening port: ours for a server, the peer's for a client. */
	pipeline_span_filter_port(xs->p, span,
				  ex->server ? c->local.port : c->peer.port);
	if (ex->server)
		xs->stats.server_spans++;
	else
		xs->stats.client_spans++;
	if (ex->server && hold_server_span(xs, c, span, ex->end_ns, orphan))
		return;
	pipeline_span_end(xs->p, span, ex->end_ns);
}

void exchange_tick(struct exchange_spans *xs, uint64_t now_ns)
{
	if (xs->late.n)
		latelink_expire(&xs->late, now_ns, end_held, xs);
}

/* Requests the decoder did not emit (start line never whole) are dropped. */
static void on_release(void *ctx, struct proto_conn *c)
{
	struct exchange_spans *xs = ctx;

	while (xconn(c)->count)
		req_pop(xs, c, true);
}

size_t exchange_conn_bytes(void)
{
	return CONNTABLE_USER_OFFSET + sizeof(struct exchange_conn);
}

size_t exchange_ring_bytes(void)
{
	return PROTO_INFLIGHT * sizeof(struct exchange_req);
}

struct exchange_spans *exchange_create(struct sp_pipeline *p,
				       const struct proto_streams_opts *opts)
{
	struct exchange_spans *xs = calloc(1, sizeof(*xs));
	struct proto_events ev = {
		.request = on_request,
		.updated = on_updated,
		.exchange = on_exchange,
		.release = on_release,
		.ctx = xs,
		.user_size = sizeof(struct exchange_conn),
		/* An open request's slot is cleared when it is taken. */
		.user_clear = offsetof(struct exchange_conn, reqs),
	};

	if (!xs)
		return NULL;
	xs->p = p;
	xs->streams = proto_streams_create(opts, &ev);
	if (!xs->streams) {
		free(xs);
		return NULL;
	}
	return xs;
}

void exchange_destroy(struct exchange_spans *xs)
{
	if (!xs)
		return;
	latelink_expire(&xs->late, UINT64_MAX, end_held, xs);
	proto_streams_destroy(xs->streams);
	free(xs);
}

struct stream_sink exchange_sink(struct exchange_spans *xs)
{
	return proto_streams_sink(xs->streams);
}

void exchange_stats(const struct exchange_spans *xs, struct exchange_stats *out)
{
	*out = xs->stats;
}

uint32_t exchange_connections(const struct exchange_spans *xs)
{
	struct proto_streams_stats s;

	proto_streams_stats(xs->streams, &s);
	return s.open;
}

void exchange_report(const struct exchange_spans *xs, FILE *out)
{
	const struct exchange_stats *h = &xs->stats;
	struct proto_streams_stats s;

	proto_streams_stats(xs->streams, &s);
	fprintf(out, "protocol: %u connections open, %llu evicted, %llu not "
		"allocated, %llu not recognised, %llu ended by a new connection "
		"on their socket\n", s.open,
		(unsigned long long)s.evictions,
		(unsigned long long)s.alloc_failures,
		(unsigned long long)s.not_recognised,
		(unsigned long long)s.reused);
	if (s.switched || s.switch_failures)
		fprintf(out, "protocol: %llu connections upgraded to another decoder "
			"(h2c), %llu that it could not take\n",
			(unsigned long long)s.switched,
			(unsigned long long)s.switch_failures);
	if (s.feed_errors || s.verdict_errors)
		fprintf(out, "protocol: %llu decoder refusals, %llu verdicts not "
			"told to the kernel\n", (unsigned long long)s.feed_errors,
			(unsigned long long)s.verdict_errors);
	for (const struct proto_ops *const *o = proto_registry; *o; o++)
		if ((*o)->report)
			(*o)->report(out);
	fprintf(out, "spans: %llu server, %llu client, %llu lost (pool "
		"empty), %llu dropped unfinished, %llu over the pipelining "
		"limit; context: %llu traceparent, "
		"%llu thread, %llu same-host peer, %llu bad traceparent; "
		"%llu held for a late client, %llu of them linked\n",
		(unsigned long long)h->server_spans,
		(unsigned long long)h->client_spans,
		(unsigned long long)h->no_span, (unsigned long long)h->discarded,
		(unsigned long long)h->over_inflight,
		(unsigned long long)h->ctx_traceparent,
		(unsigned long long)h->ctx_thread, (unsigned long long)h->ctx_peer,
		(unsigned long long)h->bad_traceparent,
		(unsigned long long)xs->late.held, (unsigned long long)xs->late.adopted);
	if (h->ring_no_memory)
		fprintf(out, "spans: %llu requests not kept open for want of "
			"memory (each made its span when answered, with no "
			"children)\n",
			(unsigned long long)h->ring_no_memory);
}
