// SPDX-License-Identifier: MIT
/*
 * HTTP/2 behind the protocol interface: http2.c decodes streams, this
 * file says what a stream means as a span, in the stable HTTP semantic
 * conventions or, for gRPC (content-type application/grpc...), in the
 * RPC ones.
 */
#include <stdio.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/grpc_attrs.h"
#include "protocol/http2.h"
#include "protocol/http_attrs.h"
#include "protocol/protocol.h"
#include "protocol/route.h"

/* What a stream callback of the decoder needs. */
struct http2_emit_ctx {
	struct proto_conn *c;
	const struct proto_emit *emit;
};

/* Losses of closed connections (reader thread only), for the report. */
static struct {
	uint64_t table_full, no_memory, hpack_failures, partial, losses,
		orphan_blocks, midstream, hpack_unknown, end_lost, calls_lost,
		tables_kept;
} http2_totals;

static enum proto_guess http2_proto_recognise(const void *data, size_t len,
					      enum stream_dir dir)
{
	return http2_recognise(data, len) == HTTP2_NO ? PROTO_NO : PROTO_YES;
}

/* The methods the semantic conventions know; NULL for another. */
static const char *known_method(const char *m)
{
	static const char *const known[] = { "GET",	"HEAD",	   "POST",
					     "PUT",	"DELETE",  "CONNECT",
					     "OPTIONS", "TRACE",   "PATCH" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return NULL;
}

/* RFC 9113 section 7, for error.type. */
static const char *h2_error_name(uint32_t code)
{
	static const char *const names[] = {
		"NO_ERROR",	     "PROTOCOL_ERROR",	   "INTERNAL_ERROR",
		"FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",  "STREAM_CLOSED",
		"FRAME_SIZE_ERROR",  "REFUSED_STREAM",	   "CANCEL",
		"COMPRESSION_ERROR", "CONNECT_ERROR",	   "ENHANCE_YOUR_CALM",
		"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : "_OTHER";
}

/*
 * A stream that ended without its response: a client failed (as an
 * HTTP/1.x client whose connection closed); a server failed when it
 * reset the stream itself.
 */
static void set_cut_short(struct proto_exchange *o, const struct http2_stream *s)
{
	bool by_client = s->flags & H2S_RESET_BY_CLIENT;

	if (s->flags & H2S_END_LOST)
		return; /* its outcome is not known: no error said */
	if (s->flags & H2S_RESET) {
		if (o->server && by_client)
			return;
		proto_attr_cstr(o, "error.type", s->flags & H2S_RESET_CODE
					 ? h2_error_name(s->rst_code) : "stream_reset");
		o->status_message = by_client ? "stream reset by the client"
					      : "stream reset by the server";
	} else if (o->server) {
		return;
	} else if (s->flags & H2S_REFUSED) {
		proto_attr_cstr(o, "error.type", "REFUSED_STREAM");
		o->status_message = "stream past the server's GOAWAY";
	} else {
		proto_attr_cstr(o, "error.type", "connection_closed");
		o->status_message = s->flags & H2S_RESP_HEADERS
					    ? "connection closed during the response"
					    : "connection closed before a response";
	}
	o->error = true;
}

/* `path`: the stream's, redacted; it lives as long as `o`. */
static void describe(struct proto_exchange *o, const struct proto_conn *c,
		     const struct http2_stream *s, const char *path,
		     size_t path_len, bool with_query)
{
	struct http_attrs_msg m = {
		.method = known_method(s->req.method),
		.method_original = s->req.method,
		.connect = strcmp(s->req.method, "CONNECT") == 0,
		.path = path,
		.query = s->req.query,
		.host = s->req.authority,
		.user_agent = s->req.user_agent,
		.version = "2",
		.path_len = path_len,
		.query_len = strlen(s->req.query),
		.host_len = strlen(s->req.authority),
		.user_agent_len = strlen(s->req.user_agent),
		.version_len = 1,
		.status = s->flags & H2S_RESP_HEADERS ? s->status : 0,
		.req_body_size = s->flags & H2S_REQ_BODY_LOST ? -1 : s->req_body,
		.resp_body_size = s->flags & H2S_RESP_BODY_LOST ? -1 : s->resp_body,
	};

	if (s->req.grpc && grpc_attrs_describe(o, c, s, path))
		return;
	http_attrs_describe(o, c, &m, with_query);
	/* Without a path: the method alone, or "HTTP" (semantic conventions). */
	if (!path[0] && !m.connect) {
		o->name = m.method ? m.method : "HTTP";
		o->name_len = strlen(o->name);
	}
	/* gRPC by its content-type, its path not seen: its status still
	 * counts by gRPC's rules, not by the HTTP status (200). */
	if (s->req.grpc && !path[0]) {
		grpc_attrs_status_only(o, s);
		return;
	}
	if (!http_attrs_status(o, m.status, o->server) && !(s->flags & H2S_RESP_END))
		set_cut_short(o, s);
}

/* Headers left out say so: which side's. */
static void add_partial(struct proto_exchange *o, const struct http2_stream *s)
{
	uint32_t f = s->flags & (H2S_REQ_PARTIAL | H2S_RESP_PARTIAL);

	if (f)
		proto_attr_cstr(o, "spanprobe.partial",
				f == H2S_REQ_PARTIAL	? "request_headers"
				: f == H2S_RESP_PARTIAL ? "response_headers"
							: "headers");
}

static void on_stream(const struct http2_stream *s, enum http2_role role,
		      void *user)
{
	struct http2_emit_ctx *ec = user;
	const struct proto_opts *opts = ec->emit->opts;
	char path[HTTP2_PATH_MAX];
	size_t path_len;
	struct proto_exchange o;

	proto_exchange_begin(&o, role == HTTP2_ROLE_SERVER, s->start_ns, s->end_ns);
	o.unordered = true;
	o.announced = s->flags & H2S_ANNOUNCED;
	o.seq = s->seq;
	if (s->req.traceparent[0])
		o.traceparent = s->req.traceparent;
	/* Session IDs in path parameters never leave. */
	path_len = route_redact_params(s->req.path,
				       opts ? opts->redact_params : NULL, path,
				       sizeof(path));
	describe(&o, ec->c, s, path, path_len, opts && opts->with_query);
	add_partial(&o, s);
	ec->emit->exchange(ec->emit->ctx, ec->c, &o);
}

static void on_announce(void *user)
{
	struct http2_emit_ctx *ec = user;

	if (ec->emit->announce)
		ec->emit->announce(ec->emit->ctx, ec->c);
}

static void http2_proto_init(union proto_state *st)
{
	http2_init(&st->http2);
}

static int http2_proto_feed(struct proto_conn *c, const struct stream_chunk *ch,
			    const struct proto_emit *emit)
{
	struct http2_emit_ctx ec = { .c = c, .emit = emit };
	struct http2_cbs cb = { .stream = on_stream, .announce = on_announce,
				.user = &ec };
	enum http2_dir dir = ch->dir == STREAM_OUT ? HTTP2_OUT : HTTP2_IN;

	if (ch->has_seq)
		http2_call_seq(&c->st.http2, dir, ch->seq);
	return http2_feed(&c->st.http2, dir, ch->data, ch->captured, ch->total_len,
			  ch->ts_ns, &cb);
}

/* The connection's losses join the totals (its state is reset after). */
static void add_totals(const struct http2_stats *st)
{
	http2_totals.table_full += st->table_full;
	http2_totals.no_memory += st->no_memory;
	http2_totals.hpack_failures += st->hpack_failures;
	http2_totals.partial += st->partial;
	http2_totals.losses += st->losses;
	http2_totals.orphan_blocks += st->orphan_blocks;
	http2_totals.midstream += st->midstream;
	http2_totals.hpack_unknown += st->hpack_unknown;
	http2_totals.end_lost += st->end_lost;
	http2_totals.calls_lost += st->calls_lost;
	http2_totals.tables_kept += st->tables_kept;
}

static void http2_proto_close(struct proto_conn *c, uint64_t ts_ns,
			      const struct proto_emit *emit)
{
	struct http2_emit_ctx ec = { .c = c, .emit = emit };
	struct http2_cbs cb = { .stream = on_stream, .announce = on_announce,
				.user = &ec };

	http2_close(&c->st.http2, ts_ns, &cb);
	add_totals(&c->st.http2.stats);
	http2_release(&c->st.http2);
}

/* Evicted or shut down without a close: its losses still count. */
static void http2_proto_release(union proto_state *st)
{
	add_totals(&st->http2.stats);
	http2_release(&st->http2);
}

static uint32_t http2_requests_started(const union proto_state *st)
{
	return st->http2.req_seq;
}

static enum proto_role http2_role(const union proto_state *st)
{
	switch (st->http2.role) {
	case HTTP2_ROLE_SERVER:
		return PROTO_ROLE_SERVER;
	case HTTP2_ROLE_CLIENT:
		return PROTO_ROLE_CLIENT;
	default:
		return PROTO_ROLE_UNKNOWN;
	}
}

static enum stream_verdict http2_verdict(const union proto_state *st)
{
	if (http2_is_skipped(&st->http2))
		return STREAM_VERDICT_IGNORE;
	return http2_is_decoding(&st->http2) ? STREAM_VERDICT_FRAMES
					     : STREAM_VERDICT_NONE;
}

static const char *http2_request_traceparent(const union proto_state *st,
					     uint32_t seq)
{
	const struct http2_stream *s = http2_find_seq(&st->http2, seq);

	return s && s->req.traceparent[0] ? s->req.traceparent : NULL;
}

/* An HTTP/1.1 connection upgraded to h2c: its request is stream 1. */
static int http2_adopt(union proto_state *st, const struct proto_switch *sw)
{
	enum http2_role role = sw->role == PROTO_ROLE_SERVER   ? HTTP2_ROLE_SERVER
			       : sw->role == PROTO_ROLE_CLIENT ? HTTP2_ROLE_CLIENT
							       : HTTP2_ROLE_UNKNOWN;

	return http2_upgraded(&st->http2, role, sw->seq, sw->next_seq, sw->start_ns,
			      sw->req_body, &sw->req);
}

static void http2_report(FILE *out)
{
	fprintf(out, "http2: %llu streams past the stream table (%u), "
		"%llu not kept for want of memory, %llu header blocks cut or "
		"not inflated, %llu spans with headers left out, %llu framing "
		"losses, %llu header blocks of streams not seen, %llu "
		"connections picked up without the preface, %llu header fields "
		"naming table entries from before a loss, %llu streams pushed out "
		"of a full table after a loss, %llu times calls were lost in "
		"the kernel (%llu of them with the HPACK table kept: the encoder "
		"was adding no entries)\n",
		(unsigned long long)http2_totals.table_full,
		(unsigned)HTTP2_STREAMS_MAX,
		(unsigned long long)http2_totals.no_memory,
		(unsigned long long)http2_totals.hpack_failures,
		(unsigned long long)http2_totals.partial,
		(unsigned long long)http2_totals.losses,
		(unsigned long long)http2_totals.orphan_blocks,
		(unsigned long long)http2_totals.midstream,
		(unsigned long long)http2_totals.hpack_unknown,
		(unsigned long long)http2_totals.end_lost,
		(unsigned long long)http2_totals.calls_lost,
		(unsigned long long)http2_totals.tables_kept);
}

const struct proto_ops proto_http2 = {
	.name = "http2",
	.inflight_max = HTTP2_STREAMS_MAX,
	.recognise = http2_proto_recognise,
	.init = http2_proto_init,
	.release = http2_proto_release,
	.feed = http2_proto_feed,
	.close = http2_proto_close,
	.requests_started = http2_requests_started,
	.role = http2_role,
	.verdict = http2_verdict,
	.request_traceparent = http2_request_traceparent,
	.adopt = http2_adopt,
	.report = http2_report,
};
