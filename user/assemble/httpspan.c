// SPDX-License-Identifier: MIT
/*
 * HTTP exchanges -> spans.  The parser (http/http1.c) reports an exchange
 * only once its response is complete, but a span's IDs must exist as soon
 * as its request is seen: a client call made while the request is served
 * becomes its child, and a server on this host reading a client's request
 * becomes the client's child.  So a span is started when the parser's
 * request counter moves, kept in a per-connection FIFO, and filled and
 * ended when the exchange comes out of the parser (in the same order).
 */
#include "assemble/httpspan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/pipeline.h"
#include "span/span.h"
#include "assemble/route.h"
#include "assemble/traceparent.h"

struct httpspan {
	struct sp_pipeline *p;
	struct httpspan_opts opts;
	struct httpspan_stats stats;
};

/* What an exchange callback needs to find its span. */
struct exchange_ctx {
	struct httpspan *hs;
	struct httpspan_conn *c;
	uint64_t ts_ns; /* time of the chunk (or close) that completed it */
};

struct httpspan *httpspan_create(struct sp_pipeline *p,
				 const struct httpspan_opts *opts)
{
	struct httpspan *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return NULL;
	hs->p = p;
	hs->opts = *opts;
	return hs;
}

void httpspan_destroy(struct httpspan *hs)
{
	free(hs);
}

void httpspan_conn_init(struct httpspan_conn *c, uint64_t sock_id)
{
	memset(c, 0, offsetof(struct httpspan_conn, http));
	c->sock_id = sock_id;
	http1_init(&c->http);
}

bool httpspan_is_skipped(const struct httpspan_conn *c)
{
	return http1_is_skipped(&c->http);
}

bool httpspan_is_http(const struct httpspan_conn *c)
{
	return c->http.seen_http;
}

const struct httpspan_stats *httpspan_stats(const struct httpspan *hs)
{
	return &hs->stats;
}

const char *httpspan_addr_str(const struct httpspan_addr *a, char *buf,
			      size_t size)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family == AF_INET6 && !memcmp(a->addr, v4mapped, 12))
		return inet_ntop(AF_INET, a->addr + 12, buf, size) ? buf : "";
	if (!inet_ntop(a->family == AF_INET6 ? AF_INET6 : AF_INET, a->addr, buf,
		       size))
		buf[0] = '\0';
	return buf;
}

/* Thread-context key of request `seq` on `c`: unique per request. */
static uint64_t request_key(const struct httpspan_conn *c, uint32_t seq)
{
	return c->sock_id ^ ((uint64_t)seq * 0x9e3779b97f4a7c15ULL);
}

static struct httpspan_req *fifo_at(struct httpspan_conn *c, unsigned i)
{
	return &c->reqs[(c->head + i) % HTTPSPAN_INFLIGHT];
}

/* Forget the FIFO head: its thread context goes, its span is returned. */
static void req_pop(struct httpspan *hs, struct httpspan_conn *c, bool discard)
{
	struct httpspan_req *r = fifo_at(c, 0);

	if (r->ctx_tid)
		pipeline_thread_pop(hs->p, r->ctx_tid, request_key(c, r->seq));
	if (discard && r->span) {
		pipeline_span_discard(hs->p, r->span);
		hs->stats.discarded++;
	}
	memset(r, 0, sizeof(*r));
	c->head = (c->head + 1) % HTTPSPAN_INFLIGHT;
	c->count--;
}

/* The parser's exchange for request `seq`, while it waits for a response. */
static const struct http1_exchange *pending_exchange(const struct http1_conn *h,
						     uint32_t seq)
{
	for (unsigned i = 0; i < h->count; i++) {
		const struct http1_pending *p =
			&h->fifo[(h->head + i) % HTTP1_PIPELINE_MAX];

		if (p->seq == seq)
			return &p->x;
	}
	return NULL;
}

/* The exchange's traceparent, when it has a valid one. */
static bool read_traceparent(struct httpspan *hs, const struct http1_exchange *x,
			     struct traceparent *tp)
{
	if (!x || !x->traceparent[0])
		return false;
	if (traceparent_parse(x->traceparent, strlen(x->traceparent), tp)) {
		hs->stats.bad_traceparent++;
		return false;
	}
	return true;
}

/* Explicit context: a valid traceparent makes `span` a child of it. */
static bool apply_traceparent(struct httpspan *hs, struct sp_span *span,
			      const struct http1_exchange *x)
{
	struct traceparent tp;

	if (!read_traceparent(hs, x, &tp))
		return false;
	pipeline_span_set_remote_parent(span, tp.trace_id, tp.parent_id,
					tp.flags & 1);
	return true;
}

/*
 * The oldest client request on the other end of `c` (same host) that no
 * server span has taken as parent yet.
 */
static struct httpspan_req *peer_client_request(struct httpspan *hs,
						struct httpspan_conn *c)
{
	struct httpspan_conn *peer;

	if (!hs->opts.find_peer)
		return NULL;
	peer = hs->opts.find_peer(hs->opts.find_peer_ctx, c);
	if (!peer || peer->http.role != HTTP1_ROLE_CLIENT)
		return NULL;
	for (unsigned i = 0; i < peer->count; i++) {
		struct httpspan_req *r = fifo_at(peer, i);

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
static struct sp_span *start_server(struct httpspan *hs, struct httpspan_conn *c,
				    struct httpspan_req *r, uint32_t tid)
{
	struct httpspan_req *client = peer_client_request(hs, c);
	struct sp_span *span;
	struct traceparent tp;
	bool has_tp;

	has_tp = read_traceparent(hs, pending_exchange(&c->http, r->seq), &tp);
	if (client && has_tp && memcmp(client->span->trace_id, tp.trace_id, 16))
		client = NULL;
	span = pipeline_span_start(hs->p, c->pid, tid, r->start_ns,
				   client ? client->span : NULL);
	if (!span)
		return NULL;
	if (has_tp && !client) {
		pipeline_span_set_remote_parent(span, tp.trace_id, tp.parent_id,
						tp.flags & 1);
		hs->stats.ctx_traceparent++;
	}
	if (client)
		hs->stats.ctx_peer++;
	r->explicit_ctx = has_tp;
	if (!pipeline_thread_push(hs->p, tid, span, request_key(c, r->seq)))
		r->ctx_tid = tid;
	return span;
}

static struct sp_span *start_client(struct httpspan *hs, struct httpspan_conn *c,
				    struct httpspan_req *r, uint32_t tid)
{
	const struct sp_span *parent = pipeline_thread_context(hs->p, tid);

	if (parent)
		hs->stats.ctx_thread++;
	return pipeline_span_start(hs->p, c->pid, tid, r->start_ns, parent);
}

/* The parser saw request `seq` start in a chunk of `tid` at `ts_ns`. */
static void open_request(struct httpspan *hs, struct httpspan_conn *c,
			 uint32_t tid, enum http1_dir dir, uint32_t seq,
			 uint64_t ts_ns)
{
	struct httpspan_req *r;

	if (c->count == HTTPSPAN_INFLIGHT)
		req_pop(hs, c, true);
	r = fifo_at(c, c->count);
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->start_ns = ts_ns;
	r->span = dir == HTTP1_INBOUND ? start_server(hs, c, r, tid)
				       : start_client(hs, c, r, tid);
	if (!r->span)
		hs->stats.no_span++;
	c->count++;
}

/* A traceparent that came in a later chunk than the request line. */
static void refresh_context(struct httpspan *hs, struct httpspan_conn *c)
{
	struct httpspan_req *r;

	if (!c->count || c->http.role != HTTP1_ROLE_SERVER)
		return;
	r = fifo_at(c, c->count - 1);
	if (r->span && !r->explicit_ctx &&
	    apply_traceparent(hs, r->span, pending_exchange(&c->http, r->seq))) {
		r->explicit_ctx = 1;
		hs->stats.ctx_traceparent++;
	}
}

/* --- attributes (stable HTTP semantic conventions) -------------------- */

static const char *method_name(const struct http1_exchange *x)
{
	return x->method == HTTP1_M_OTHER ? "_OTHER"
					  : http1_method_name(x->method);
}

/* Host header "name", "name:port" or "[v6]:port" -> name and port. */
static void split_host(const char *host, const char **name, size_t *len,
		       long *port)
{
	const char *colon, *end;

	*port = -1;
	*name = host;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end) {
			*len = strlen(host);
			return;
		}
		*name = host + 1;
		*len = (size_t)(end - host - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(host, ':');
		*len = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (colon && colon[1]) {
		char *stop;
		long p = strtol(colon + 1, &stop, 10);

		if (*stop == '\0' && p > 0 && p < 65536)
			*port = p;
	}
}

/* server.address/port: from Host, else the server's end of the socket. */
static void add_server_address(struct sp_span *span, const struct http1_exchange *x,
			       const struct httpspan_addr *server_end)
{
	char buf[INET6_ADDRSTRLEN];
	const char *name;
	size_t len;
	long port;

	if (x->host[0]) {
		split_host(x->host, &name, &len, &port);
		span_add_str(span, "server.address", name, len);
		/* A Host without a port means the scheme's default. */
		span_add_int(span, "server.port", port > 0 ? port : 80);
		return;
	}
	span_add_cstr(span, "server.address",
		      httpspan_addr_str(server_end, buf, sizeof(buf)));
	span_add_int(span, "server.port", server_end->port);
}

static void add_url(struct httpspan *hs, struct sp_span *span,
		    const struct httpspan_conn *c, const struct http1_exchange *x,
		    bool server)
{
	bool query = hs->opts.with_query && x->query[0];
	char full[HTTP1_HOST_MAX + HTTP1_PATH_MAX + HTTP1_QUERY_MAX + 64];
	char buf[INET6_ADDRSTRLEN];

	if (x->path[0])
		span_add_cstr(span, "url.path", x->path);
	if (query)
		span_add_cstr(span, "url.query", x->query);
	span_add_cstr(span, "url.scheme", "http");
	if (server)
		return;
	/* Clients must say url.full; the query only when allowed. */
	if (x->host[0])
		snprintf(full, sizeof(full), "http://%s%s%s%s", x->host, x->path,
			 query ? "?" : "", query ? x->query : "");
	else
		snprintf(full, sizeof(full), "http://%s:%u%s%s%s",
			 httpspan_addr_str(&c->peer, buf, sizeof(buf)), c->peer.port,
			 x->path, query ? "?" : "", query ? x->query : "");
	span_add_cstr(span, "url.full", full);
}

static void add_peer(struct sp_span *span, const struct httpspan_conn *c,
		     bool server)
{
	char buf[INET6_ADDRSTRLEN];

	httpspan_addr_str(&c->peer, buf, sizeof(buf));
	if (server) {
		span_add_cstr(span, "client.address", buf);
		span_add_int(span, "client.port", c->peer.port);
	}
	span_add_cstr(span, "network.peer.address", buf);
	span_add_int(span, "network.peer.port", c->peer.port);
}

/*
 * Status: 5xx is an error on both sides, 4xx on the client only; a client
 * whose connection closed before a response (or mid-response) failed.
 */
static void set_status(struct sp_span *span, const struct http1_exchange *x,
		       bool server)
{
	char code[8];

	if (x->status >= 500 || (!server && x->status >= 400)) {
		snprintf(code, sizeof(code), "%u", x->status);
		span_add_cstr(span, "error.type", code);
		span->status_code = SP_STATUS_ERROR;
	} else if (!server && (x->flags & HTTP1_X_INCOMPLETE)) {
		span_add_cstr(span, "error.type", "connection_closed");
		span_set_status(span, SP_STATUS_ERROR,
				x->status ? "connection closed during the response"
					  : "connection closed before a response");
	}
}

static void fill_span(struct httpspan *hs, struct sp_span *span,
		      const struct httpspan_conn *c,
		      const struct http1_exchange *x, bool server)
{
	uint8_t version = x->req_version ? x->req_version : x->resp_version;
	char route[HTTP1_PATH_MAX], name[HTTP1_PATH_MAX + 16];

	route_template(x->path, route, sizeof(route));
	/* Semantic conventions: "HTTP" stands for a method we do not know. */
	snprintf(name, sizeof(name), "%s %s",
		 x->method == HTTP1_M_OTHER ? "HTTP" : method_name(x), route);
	span_set_name(span, name, strlen(name));
	span->kind = server ? SP_KIND_SERVER : SP_KIND_CLIENT;
	span_add_cstr(span, "http.request.method", method_name(x));
	if (x->method == HTTP1_M_OTHER && x->method_original[0])
		span_add_cstr(span, "http.request.method_original",
			      x->method_original);
	add_url(hs, span, c, x, server);
	if (x->status)
		span_add_int(span, "http.response.status_code", x->status);
	add_server_address(span, x, server ? &c->local : &c->peer);
	add_peer(span, c, server);
	if (version)
		span_add_cstr(span, "network.protocol.version",
			      version == 10 ? "1.0" : "1.1");
	if (x->user_agent[0])
		span_add_cstr(span, "user_agent.original", x->user_agent);
	if (x->req_body_size >= 0)
		span_add_int(span, "http.request.body.size", x->req_body_size);
	if (x->status && x->resp_body_size >= 0)
		span_add_int(span, "http.response.body.size", x->resp_body_size);
	set_status(span, x, server);
}

/* --- exchanges out of the parser --------------------------------------- */

/* The open request of exchange `x`: the FIFO head, unless it is stale. */
static struct httpspan_req *match_request(struct httpspan *hs,
					  struct httpspan_conn *c,
					  const struct http1_exchange *x)
{
	while (c->count) {
		struct httpspan_req *r = fifo_at(c, 0);

		if (r->start_ns == x->req_start_ns)
			return r;
		if (r->start_ns > x->req_start_ns)
			return NULL;
		/* The parser dropped that request (pipeline overflow). */
		req_pop(hs, c, true);
	}
	return NULL;
}

static void on_exchange(const struct http1_exchange *x, void *user)
{
	struct exchange_ctx *ec = user;
	struct httpspan *hs = ec->hs;
	struct httpspan_conn *c = ec->c;
	bool server = x->role == HTTP1_ROLE_SERVER;
	struct httpspan_req *r = match_request(hs, c, x);
	struct sp_span *span = r ? r->span : NULL;
	uint64_t end = x->resp_end_ns ? x->resp_end_ns : ec->ts_ns;
	bool explicit_ctx = r && r->explicit_ctx;

	if (r) {
		r->span = NULL; /* ours now: req_pop must not return it */
		req_pop(hs, c, false);
	} else {
		/* Its request was never opened here: no context to give. */
		span = pipeline_span_start(hs->p, c->pid, 0, x->req_start_ns, NULL);
		if (!span) {
			hs->stats.no_span++;
			return;
		}
	}
	/* Explicit context wins, even when it came late. */
	if (server && !explicit_ctx && apply_traceparent(hs, span, x))
		hs->stats.ctx_traceparent++;
	fill_span(hs, span, c, x, server);
	if (server)
		hs->stats.server_spans++;
	else
		hs->stats.client_spans++;
	if (x->flags & HTTP1_X_INCOMPLETE)
		end = ec->ts_ns > end ? ec->ts_ns : end;
	pipeline_span_end(hs->p, span, end);
}

int httpspan_feed(struct httpspan *hs, struct httpspan_conn *c, uint32_t tid,
		  enum http1_dir dir, const void *data, size_t captured,
		  size_t total_len, uint64_t ts_ns)
{
	struct exchange_ctx ec = { .hs = hs, .c = c, .ts_ns = ts_ns };
	uint32_t before = c->http.req_seq;
	int err;

	err = http1_feed(&c->http, dir, data, captured, total_len, ts_ns,
			 on_exchange, &ec);
	if (err)
		return err;
	for (uint32_t seq = before; seq != c->http.req_seq; seq++)
		open_request(hs, c, tid, dir, seq, ts_ns);
	if (dir == HTTP1_INBOUND)
		refresh_context(hs, c);
	return 0;
}

void httpspan_close(struct httpspan *hs, struct httpspan_conn *c, uint64_t ts_ns)
{
	struct exchange_ctx ec = { .hs = hs, .c = c, .ts_ns = ts_ns };

	http1_close(&c->http, ts_ns, on_exchange, &ec);
	/* Requests the parser did not emit (start line never whole). */
	while (c->count)
		req_pop(hs, c, true);
	httpspan_conn_init(c, c->sock_id);
}

void httpspan_discard(struct httpspan *hs, struct httpspan_conn *c)
{
	while (c->count)
		req_pop(hs, c, true);
	http1_init(&c->http);
}
