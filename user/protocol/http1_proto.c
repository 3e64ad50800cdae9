// SPDX-License-Identifier: MIT
/*
 * HTTP/1.x behind the protocol interface: the parser (http1.c) decodes,
 * this file says what an exchange means as a span (stable HTTP semantic
 * conventions: name, attributes, status).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/http1_internal.h"
#include "protocol/http_attrs.h"
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

/* A closed connection cut the exchange short: a client failed. */
static void set_status(struct proto_exchange *o, const struct http1_exchange *x,
		       bool server)
{
	if (http_attrs_status(o, x->status, server))
		return;
	if (!server && (x->flags & HTTP1_X_INCOMPLETE)) {
		proto_attr_cstr(o, "error.type", "connection_closed");
		o->error = true;
		o->status_message = x->status ? "connection closed during the response"
					      : "connection closed before a response";
	}
}

/* `path` (`path_len` bytes) is the exchange's, its redacted parameters
 * left out. */
static void describe(struct proto_exchange *o, const struct proto_conn *c,
		     const struct http1_exchange *x, const char *path,
		     size_t path_len, bool with_query)
{
	uint8_t version = x->req_version ? x->req_version : x->resp_version;
	struct http_attrs_msg m = {
		.method = x->method == HTTP1_M_OTHER ? NULL
						  : http1_method_name(x->method),
		.method_original = x->method_original,
		.connect = x->method == HTTP1_M_CONNECT,
		.path = path,
		.query = x->query,
		.host = x->host,
		.user_agent = x->user_agent,
		.version = !version ? NULL : version == 10 ? "1.0" : "1.1",
		.path_len = path_len,
		.query_len = x->query_len,
		.host_len = x->host_len,
		.user_agent_len = x->user_agent_len,
		.version_len = 3,
		.status = x->status,
		.req_body_size = x->req_body_size,
		.resp_body_size = x->resp_body_size,
	};

	http_attrs_describe(o, c, &m, with_query);
	set_status(o, x, o->server);
}

static void on_exchange(const struct http1_exchange *x, void *user)
{
	struct http1_emit_ctx *ec = user;
	const struct proto_opts *opts = ec->emit->opts;
	uint64_t end = x->resp_end_ns ? x->resp_end_ns : ec->ts_ns;
	char redacted[sizeof(x->path)];
	const char *path = x->path;
	size_t path_len = x->path_len;
	struct proto_exchange o;

	if ((x->flags & HTTP1_X_INCOMPLETE) && ec->ts_ns > end)
		end = ec->ts_ns;
	proto_exchange_begin(&o, x->role == HTTP1_ROLE_SERVER, x->req_start_ns, end);
	/* Every request the parser counted is announced: its number names
	 * it, as pipelined requests of one read share their start. */
	o.announced = true;
	o.seq = x->seq;
	if (x->traceparent[0])
		o.traceparent = x->traceparent;
	/* Session IDs in path parameters never leave.  Most paths have no
	 * parameter at all: those are used as they are, not copied. */
	if (memchr(x->path, ';', path_len)) {
		path_len = route_redact_params(x->path,
					       opts ? opts->redact_params : NULL,
					       redacted, sizeof(redacted));
		path = redacted;
	}
	describe(&o, ec->c, x, path, path_len, opts && opts->with_query);
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
	int ret = http1_feed(&c->st.http1,
			     ch->dir == STREAM_OUT ? HTTP1_OUTBOUND : HTTP1_INBOUND,
			     ch->data, ch->captured, ch->total_len, ch->ts_ns,
			     on_exchange, &ec);

	/* An upgrade leaves HTTP/1 for good: only then may http1_switched()
	 * say yes. */
	if (emit->switching && http1_is_skipped(&c->st.http1))
		emit->switching(emit->ctx, c);
	return ret;
}

/* "Upgrade: h2c" was granted: HTTP/2 answers the request. */
static bool http1_switched(const union proto_state *st, struct proto_switch *sw)
{
	const struct http1_conn *c = &st->http1;
	const struct http1_exchange *x;
	struct http2_fields *f = &sw->req;
	uint32_t seq;
	size_t rest;

	/* Asked after chunks that left HTTP/1: not every one was an h2c
	 * upgrade. */
	x = http1_h2c(c, &seq, &rest);
	if (!x)
		return false;
	memset(sw, 0, sizeof(*sw));
	sw->seq = seq;
	/* Requests pipelined after it and left out (no memory) were
	 * counted too: the next decoder numbers on after them. */
	sw->next_seq = c->req_seq;
	sw->rest = rest;
	sw->next = "http2";
	sw->role = c->role == HTTP1_ROLE_SERVER	  ? PROTO_ROLE_SERVER
		   : c->role == HTTP1_ROLE_CLIENT ? PROTO_ROLE_CLIENT
						  : PROTO_ROLE_UNKNOWN;
	sw->start_ns = x->req_start_ns;
	sw->req_body = x->req_body_size;
	f->grpc_status = -1;
	snprintf(f->method, sizeof(f->method), "%s",
		 x->method == HTTP1_M_OTHER ? x->method_original : http1_method_name(x->method));
	snprintf(f->path, sizeof(f->path), "%s", x->path);
	snprintf(f->query, sizeof(f->query), "%s", x->query);
	snprintf(f->authority, sizeof(f->authority), "%s", x->host);
	snprintf(f->user_agent, sizeof(f->user_agent), "%s", x->user_agent);
	snprintf(f->traceparent, sizeof(f->traceparent), "%s", x->traceparent);
	return true;
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
		const struct http1_pending *p = &h->fifo[(h->head + i) & (h->cap - 1u)];

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
	.inflight_max = HTTP1_PIPELINE_MAX,
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
	.switched = http1_switched,
	.report = http1_report,
};
