// SPDX-License-Identifier: MIT
/*
 * HTTP/1.x behind the protocol interface: the parser (http1.c) decodes,
 * this file says what an exchange means as a span (stable HTTP semantic
 * conventions: name, attributes, status).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/http1_internal.h"
#include "protocol/protocol.h"
#include "protocol/route.h"

/* What an exchange callback of the parser needs. */
struct http1_emit_ctx {
	struct proto_conn *c;
	const struct proto_emit *emit;
	uint64_t ts_ns; /* time of the chunk (or close) that completed it */
};

/* Losses of closed connections (reader thread only), for the report. */
static struct {
	uint64_t pipeline_overflows, fifo_no_memory, orphan_responses, desyncs;
} http1_totals;

static enum proto_guess http1_recognise(const void *data, size_t len,
					enum stream_dir dir)
{
	switch (http1_classify(data, len)) {
	case CLASS_NO:
		return PROTO_NO;
	case CLASS_MAYBE:
		return PROTO_MAYBE;
	default:
		return PROTO_YES;
	}
}

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

/* The address as text, kept in the exchange (formatted straight there). */
static const char *addr_text(struct proto_exchange *o, const struct stream_addr *a)
{
	char *out = proto_text_alloc(o, INET6_ADDRSTRLEN);

	return out ? stream_addr_str(a, out, INET6_ADDRSTRLEN) : "";
}

/*
 * server.address/port: from Host, else the server's end of the socket;
 * `tls`: the scheme is https.
 */
static void add_server_address(struct proto_exchange *o,
			       const struct http1_exchange *x,
			       const struct stream_addr *server_end, bool tls)
{
	const char *name;
	size_t len;
	long port;

	if (x->host[0]) {
		split_host(x->host, &name, &len, &port);
		proto_attr_str(o, "server.address", name, len, false);
		/* A Host without a port means the scheme's default (RFC 9110
		 * sections 4.2.1 and 4.2.2: 80 for http, 443 for https). */
		proto_attr_int(o, "server.port", port > 0 ? port : tls ? 443 : 80);
		return;
	}
	proto_attr_cstr(o, "server.address", addr_text(o, server_end));
	proto_attr_int(o, "server.port", server_end->port);
}

static void add_url(struct proto_exchange *o, const struct proto_conn *c,
		    const struct http1_exchange *x, bool server, bool with_query)
{
	bool query = with_query && x->query[0];
	const char *scheme = c->tls ? "https" : "http";
	char buf[64];

	if (x->method == HTTP1_M_CONNECT) {
		/* The target is an authority: a client's URL is just that. */
		proto_attr_cstr(o, "url.scheme", scheme);
		if (!server && x->host[0])
			proto_attr_cstr(o, "url.full",
					proto_text(o, "%s://%s", scheme, x->host));
		return;
	}
	if (x->path[0])
		proto_attr_cstr(o, "url.path", x->path);
	if (query)
		proto_attr_cstr(o, "url.query", x->query);
	proto_attr_cstr(o, "url.scheme", scheme);
	if (server)
		return;
	/* Clients must say url.full; the query only when allowed. */
	if (x->host[0])
		proto_attr_cstr(o, "url.full",
				proto_text(o, "%s://%s%s%s%s", scheme, x->host, x->path,
					   query ? "?" : "", query ? x->query : ""));
	else
		proto_attr_cstr(o, "url.full",
				proto_text(o, "%s://%s:%u%s%s%s", scheme,
					   stream_addr_str(&c->peer, buf, sizeof(buf)),
					   c->peer.port, x->path, query ? "?" : "",
					   query ? x->query : ""));
}

static void add_peer(struct proto_exchange *o, const struct proto_conn *c,
		     bool server)
{
	const char *peer = addr_text(o, &c->peer);

	if (server) {
		proto_attr_cstr(o, "client.address", peer);
		proto_attr_int(o, "client.port", c->peer.port);
	}
	proto_attr_cstr(o, "network.peer.address", peer);
	proto_attr_int(o, "network.peer.port", c->peer.port);
}

/*
 * Status: 5xx is an error on both sides, 4xx on the client only; a client
 * whose connection closed before a response (or mid-response) failed.
 */
static void set_status(struct proto_exchange *o, const struct http1_exchange *x,
		       bool server)
{
	if (x->status >= 500 || (!server && x->status >= 400)) {
		proto_attr_cstr(o, "error.type", proto_text(o, "%u", x->status));
		o->error = true;
	} else if (!server && (x->flags & HTTP1_X_INCOMPLETE)) {
		proto_attr_cstr(o, "error.type", "connection_closed");
		o->error = true;
		o->status_message = x->status ? "connection closed during the response"
					      : "connection closed before a response";
	}
}

static void set_name(struct proto_exchange *o, const struct http1_exchange *x)
{
	char route[HTTP1_PATH_MAX];

	if (x->method == HTTP1_M_CONNECT) {
		o->name = "CONNECT"; /* no route: the target is an authority */
		o->name_len = strlen(o->name);
		return;
	}
	route_template(x->path, route, sizeof(route));
	/* Semantic conventions: "HTTP" stands for a method we do not know. */
	o->name = proto_text(o, "%s %s",
			     x->method == HTTP1_M_OTHER ? "HTTP" : method_name(x),
			     route);
	o->name_len = strlen(o->name);
}

static void describe(struct proto_exchange *o, const struct proto_conn *c,
		     const struct http1_exchange *x, bool with_query)
{
	bool server = o->server;
	uint8_t version = x->req_version ? x->req_version : x->resp_version;

	set_name(o, x);
	proto_attr_cstr(o, "http.request.method", method_name(x));
	if (x->method == HTTP1_M_OTHER && x->method_original[0])
		proto_attr_cstr(o, "http.request.method_original",
				x->method_original);
	add_url(o, c, x, server, with_query);
	if (x->status)
		proto_attr_int(o, "http.response.status_code", x->status);
	add_server_address(o, x, server ? &c->local : &c->peer, c->tls);
	add_peer(o, c, server);
	if (version)
		proto_attr_cstr(o, "network.protocol.version",
				version == 10 ? "1.0" : "1.1");
	if (x->user_agent[0])
		proto_attr_cstr(o, "user_agent.original", x->user_agent);
	if (x->req_body_size >= 0)
		proto_attr_int(o, "http.request.body.size", x->req_body_size);
	if (x->status && x->resp_body_size >= 0)
		proto_attr_int(o, "http.response.body.size", x->resp_body_size);
	set_status(o, x, server);
}

static void on_exchange(const struct http1_exchange *x, void *user)
{
	struct http1_emit_ctx *ec = user;
	const struct proto_opts *opts = ec->emit->opts;
	uint64_t end = x->resp_end_ns ? x->resp_end_ns : ec->ts_ns;
	struct http1_exchange r = *x;
	struct proto_exchange o;

	if ((x->flags & HTTP1_X_INCOMPLETE) && ec->ts_ns > end)
		end = ec->ts_ns;
	proto_exchange_begin(&o, x->role == HTTP1_ROLE_SERVER, x->req_start_ns, end);
	if (x->traceparent[0])
		o.traceparent = x->traceparent;
	/* Session IDs in path parameters never leave. */
	route_redact_params(x->path, opts ? opts->redact_params : NULL, r.path,
			    sizeof(r.path));
	describe(&o, ec->c, &r, opts && opts->with_query);
	ec->emit->exchange(ec->emit->ctx, ec->c, &o);
}

static void http1_proto_init(union proto_state *st)
{
	http1_init(&st->http1);
}

static int http1_proto_feed(struct proto_conn *c, const struct stream_chunk *ch,
			    const struct proto_emit *emit)
{
	struct http1_emit_ctx ec = { .c = c, .emit = emit, .ts_ns = ch->ts_ns };

	return http1_feed(&c->st.http1,
			  ch->dir == STREAM_OUT ? HTTP1_OUTBOUND : HTTP1_INBOUND,
			  ch->data, ch->captured, ch->total_len, ch->ts_ns,
			  on_exchange, &ec);
}

/* The connection's losses join the totals (its state is reset after). */
static void add_totals(const struct http1_stats *st)
{
	http1_totals.pipeline_overflows += st->pipeline_overflows;
	http1_totals.fifo_no_memory += st->fifo_no_memory;
	http1_totals.orphan_responses += st->orphan_responses;
	http1_totals.desyncs += st->desyncs;
}

static void http1_proto_close(struct proto_conn *c, uint64_t ts_ns,
			      const struct proto_emit *emit)
{
	struct http1_emit_ctx ec = { .c = c, .emit = emit, .ts_ns = ts_ns };

	add_totals(&c->st.http1.stats);
	http1_close(&c->st.http1, ts_ns, on_exchange, &ec);
}

/* Evicted or shut down without a close: its losses still count. */
static void http1_proto_release(union proto_state *st)
{
	add_totals(&st->http1.stats);
	http1_release(&st->http1);
}

static uint32_t http1_requests_started(const union proto_state *st)
{
	return st->http1.req_seq;
}

static enum proto_role http1_role(const union proto_state *st)
{
	switch (st->http1.role) {
	case HTTP1_ROLE_SERVER:
		return PROTO_ROLE_SERVER;
	case HTTP1_ROLE_CLIENT:
		return PROTO_ROLE_CLIENT;
	default:
		return PROTO_ROLE_UNKNOWN;
	}
}

static enum stream_verdict http1_verdict(const union proto_state *st)
{
	if (http1_is_skipped(&st->http1))
		return STREAM_VERDICT_IGNORE;
	return st->http1.seen_http ? STREAM_VERDICT_DECODE : STREAM_VERDICT_NONE;
}

/* The parser's exchange for request `seq`, while it waits for a response. */
static const struct http1_exchange *pending_exchange(const struct http1_conn *h, uint32_t seq)
{
	for (unsigned i = 0; i < h->count; i++) {
		const struct http1_pending *p = &h->fifo[(h->head + i) % h->cap];

		if (p->seq == seq)
			return &p->x;
	}
	return NULL;
}

static const char *http1_request_traceparent(const union proto_state *st,
					     uint32_t seq)
{
	const struct http1_exchange *x = pending_exchange(&st->http1, seq);

	return x && x->traceparent[0] ? x->traceparent : NULL;
}

/* A request line may end chunks after its first byte (a server that reads
 * one byte first, as Go's does between requests): the span starts there. */
static uint64_t http1_request_start_ns(const union proto_state *st, uint32_t seq)
{
	const struct http1_exchange *x = pending_exchange(&st->http1, seq);

	return x ? x->req_start_ns : 0;
}

/* Responses to requests never seen are the requests a capture gap hid
 * (a read longer than --capture-bytes cut in the middle of a pipeline). */
static void http1_report(FILE *out)
{
	fprintf(out, "http1: %llu requests past the pipelining limit (%u), "
		"%llu not kept for want of memory, "
		"%llu responses to requests not seen, %llu framing losses\n",
		(unsigned long long)http1_totals.pipeline_overflows,
		(unsigned)HTTP1_PIPELINE_MAX,
		(unsigned long long)http1_totals.fifo_no_memory,
		(unsigned long long)http1_totals.orphan_responses,
		(unsigned long long)http1_totals.desyncs);
}

const struct proto_ops proto_http1 = {
	.name = "http1",
	.recognise = http1_recognise,
	.init = http1_proto_init,
	.release = http1_proto_release,
	.feed = http1_proto_feed,
	.close = http1_proto_close,
	.requests_started = http1_requests_started,
	.role = http1_role,
	.verdict = http1_verdict,
	.request_traceparent = http1_request_traceparent,
	.request_start_ns = http1_request_start_ns,
	.report = http1_report,
};
