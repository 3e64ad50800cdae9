/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 and gRPC: frames and header blocks made here with nghttp2's
 * deflater, fed as capture feeds them, through the protocol stage into
 * spans (names, attributes, statuses, timing); and the decoder alone for
 * its counters (full stream table, lost step, picked up mid-stream).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "assemble/exchange.h"
#include "assemble/pipeline_impl.h"
#include "export/batch.h"
#include "export/exporter.h"
#include "protocol/http1.h"
#include "protocol/http2.h"
#include "protocol/protocol.h"
#include "span/span.h"
#include "span/spanpool.h"

#define IN STREAM_IN
#define OUT STREAM_OUT
#define MAX_SPANS 32

#include "keep_exporter.h"
#include "fail_malloc.h"

/* --- bytes on the wire --------------------------------------------------- */

struct wire {
	uint8_t b[1 << 16];
	size_t n;
};

static void put(struct wire *w, const void *p, size_t len)
{
	assert_true(w->n + len <= sizeof(w->b));
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void frame(struct wire *w, uint8_t type, uint8_t flags, uint32_t stream,
		  const void *payload, size_t len)
{
	uint8_t h[9] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
			 type, flags, (uint8_t)(stream >> 24), (uint8_t)(stream >> 16),
			 (uint8_t)(stream >> 8), (uint8_t)stream };

	put(w, h, 9);
	if (len)
		put(w, payload, len);
}

static void preface(struct wire *w)
{
	put(w, H2_PREFACE, H2_PREFACE_LEN);
}

/* SETTINGS with one HEADER_TABLE_SIZE parameter (0: none). */
static void settings(struct wire *w, uint32_t table)
{
	uint8_t p[6] = { 0, 1, (uint8_t)(table >> 24), (uint8_t)(table >> 16),
			 (uint8_t)(table >> 8), (uint8_t)table };

	frame(w, H2_SETTINGS, 0, 0, p, table ? 6 : 0);
}

static nghttp2_nv nv(const char *name, const char *value)
{
	return (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, strlen(name),
			     strlen(value), NGHTTP2_NV_FLAG_NONE };
}

/* A header block of `n` fields from deflater `d`; returns its length. */
static size_t hpack(nghttp2_hd_deflater *d, const nghttp2_nv *fields, size_t n,
		    uint8_t *out, size_t cap)
{
	ssize_t len = nghttp2_hd_deflate_hd(d, out, cap, (nghttp2_nv *)fields, n);

	assert_true(len > 0);
	return (size_t)len;
}

/* One HEADERS frame (END_HEADERS) holding the whole block. */
static void headers(struct wire *w, nghttp2_hd_deflater *d, uint32_t stream,
		    uint8_t flags, const nghttp2_nv *fields, size_t n)
{
	uint8_t block[4096];
	size_t len = hpack(d, fields, n, block, sizeof(block));

	frame(w, H2_HEADERS, flags | H2_FLAG_END_HEADERS, stream, block, len);
}

/* A DATA frame of `len` bytes ('d'). */
static void data(struct wire *w, uint32_t stream, uint8_t flags, size_t len)
{
	static uint8_t bytes[1 << 14];

	memset(bytes, 'd', sizeof(bytes));
	assert_true(len <= sizeof(bytes));
	frame(w, H2_DATA, flags, stream, bytes, len);
}

static void rst(struct wire *w, uint32_t stream, uint32_t code)
{
	uint8_t p[4] = { (uint8_t)(code >> 24), (uint8_t)(code >> 16),
			 (uint8_t)(code >> 8), (uint8_t)code };

	frame(w, H2_RST_STREAM, 0, stream, p, 4);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- the span fixture (as test_exchange.c's) ------------------------------ */

struct test_conn {
	uint64_t id;
	struct stream_addr local, peer;
};

struct fixture {
	struct sp_spanpool pool;
	struct sp_batch bsp;
	struct sp_exporter exp;
	struct sp_pipeline *p;
	struct exchange_spans *xs;
	struct stream_sink sink;
	struct test_conn client, server;
	nghttp2_hd_deflater *req_hd, *resp_hd; /* the client's, the server's */
	struct wire w;
};

static void set_v4(struct stream_addr *a, const char *ip, uint16_t port)
{
	a->family = AF_INET;
	memset(a->addr, 0, sizeof(a->addr));
	inet_pton(AF_INET, ip, a->addr);
	a->port = port;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sp_bsp_opts bopts = { .max_queue = 64, .max_batch = 64,
				     .delay_ms = 60000, .export_timeout_ms = 1000 };
	struct sp_pipeline_opts popts = { .span_pool = 32, .max_threads = 16,
					  .max_depth = 8, .max_processes = 8,
					  .id_seed = 42 };
	struct proto_streams_opts sopts = { .max_conns = 8 };

	fail_left = 0; /* none left over from a test that failed early */
	assert_int_equal(spanpool_init(&f->pool, 32), 0);
	f->exp.ops = &keep_ops;
	assert_int_equal(batch_start(&f->bsp, &bopts, &f->exp, &f->pool), 0);
	popts.sink = batch_sink(&f->bsp);
	popts.pool = &f->pool;
	f->p = pipeline_create(&popts);
	assert_non_null(f->p);
	f->xs = exchange_create(f->p, &sopts);
	assert_non_null(f->xs);
	f->sink = exchange_sink(f->xs);
	/* Hosts apart: no same-host wait for a client (latelink.h). */
	f->client.id = 0x1000;
	f->server.id = 0x2000;
	set_v4(&f->client.local, "10.0.0.1", 40000);
	set_v4(&f->client.peer, "10.0.0.2", 8443);
	set_v4(&f->server.local, "10.0.0.2", 8443);
	set_v4(&f->server.peer, "10.0.0.3", 50000);
	assert_int_equal(nghttp2_hd_deflate_new(&f->req_hd, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&f->resp_hd, 4096), 0);
	n_exported = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	exchange_destroy(f->xs);
	pipeline_destroy(f->p);
	batch_shutdown(&f->bsp);
	spanpool_destroy(&f->pool);
	nghttp2_hd_deflate_del(f->req_hd);
	nghttp2_hd_deflate_del(f->resp_hd);
	free(f);
	return 0;
}

/* Encoders of a new connection. */
static void fresh_deflaters(struct fixture *f)
{
	nghttp2_hd_deflate_del(f->req_hd);
	nghttp2_hd_deflate_del(f->resp_hd);
	assert_int_equal(nghttp2_hd_deflate_new(&f->req_hd, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&f->resp_hd, 4096), 0);
}

/* One read or write on `c`: the first `captured` of `total` bytes of `p`. */
static void feed_part(struct fixture *f, struct test_conn *c, enum stream_dir dir,
		      const uint8_t *p, size_t captured, size_t total, uint64_t ts)
{
	struct stream_chunk ch = {
		.conn_id = c->id, .ts_ns = ts, .pid = (uint32_t)getpid(),
		.tid = 7, .dir = dir, .local = &c->local, .peer = &c->peer,
		.data = p, .captured = captured, .total_len = total,
	};

	f->sink.data(f->sink.ctx, &ch);
}

/* What f->w holds goes in one chunk, and f->w is emptied. */
static void send_wire(struct fixture *f, struct test_conn *c, enum stream_dir dir,
		      uint64_t ts)
{
	feed_part(f, c, dir, f->w.b, f->w.n, f->w.n, ts);
	f->w.n = 0;
}

static void close_conn(struct fixture *f, struct test_conn *c, uint64_t ts)
{
	f->sink.close(f->sink.ctx, c->id, ts);
}

static void flush(struct fixture *f)
{
	batch_flush(&f->bsp);
}

static const struct sp_attr *attr(const struct sp_span *s, const char *key)
{
	const struct sp_attr *a = span_find_attr(s, key);

	if (!a)
		fail_msg("attribute %s missing", key);
	return a;
}

static void assert_str_attr(const struct sp_span *s, const char *key,
			    const char *want)
{
	const struct sp_attr *a = attr(s, key);

	assert_int_equal(a->type, SP_ATTR_STRING);
	assert_int_equal(a->v.str.len, strlen(want));
	assert_memory_equal(span_str(s, a->v.str.off), want, strlen(want));
}

static void assert_int_attr(const struct sp_span *s, const char *key, int64_t want)
{
	const struct sp_attr *a = attr(s, key);

	assert_int_equal(a->type, SP_ATTR_INT);
	assert_int_equal(a->v.i, want);
}

static void assert_name(const struct sp_span *s, const char *want)
{
	size_t len;
	const char *name = span_name(s, &len);

	if (len != strlen(want) || memcmp(name, want, len))
		fail_msg("span name '%.*s', want '%s'", (int)len, name, want);
}

static void assert_status_message(const struct sp_span *s, const char *want)
{
	assert_int_equal(s->status_msg_len, strlen(want));
	assert_memory_equal(span_str(s, s->status_msg_off), want, strlen(want));
}

static uint64_t duration(const struct sp_span *s)
{
	return s->end_unix_ns - s->start_unix_ns;
}

/* The span whose url.path or rpc.method is `v`. */
static const struct sp_span *span_with(const char *key, const char *v)
{
	for (int i = 0; i < n_exported && i < MAX_SPANS; i++) {
		const struct sp_attr *a = span_find_attr(&exported[i], key);

		if (a && a->type == SP_ATTR_STRING && a->v.str.len == strlen(v) &&
		    !memcmp(span_str(&exported[i], a->v.str.off), v, a->v.str.len))
			return &exported[i];
	}
	fail_msg("no span with %s %s", key, v);
	return NULL;
}

/* --- plain HTTP/2 ---------------------------------------------------------- */

static void test_get_server(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = {
		nv(":method", "GET"), nv(":scheme", "http"),
		nv(":authority", "shop.example:8443"), nv(":path", "/users/123?token=x"),
		nv("user-agent", "curl/8.0"), nv("cookie", "secret=1"),
	};
	const nghttp2_nv resp[] = { nv(":status", "200"), nv("content-type", "text/plain") };

	preface(&f->w);
	settings(&f->w, 0);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	send_wire(f, &f->server, IN, 1000);
	settings(&f->w, 0);
	headers(&f->w, f->resp_hd, 1, 0, resp, N(resp));
	data(&f->w, 1, H2_FLAG_END_STREAM, 5);
	send_wire(f, &f->server, OUT, 4000);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "GET /users/{id}");
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[0].status_code, SP_STATUS_UNSET);
	assert_str_attr(&exported[0], "http.request.method", "GET");
	assert_str_attr(&exported[0], "url.path", "/users/123");
	assert_null(span_find_attr(&exported[0], "url.query"));
	assert_str_attr(&exported[0], "url.scheme", "http");
	assert_int_attr(&exported[0], "http.response.status_code", 200);
	assert_str_attr(&exported[0], "server.address", "shop.example");
	assert_int_attr(&exported[0], "server.port", 8443);
	assert_str_attr(&exported[0], "client.address", "10.0.0.3");
	assert_int_attr(&exported[0], "client.port", 50000);
	assert_str_attr(&exported[0], "network.peer.address", "10.0.0.3");
	assert_str_attr(&exported[0], "network.protocol.version", "2");
	assert_str_attr(&exported[0], "user_agent.original", "curl/8.0");
	assert_int_attr(&exported[0], "http.request.body.size", 0);
	assert_int_attr(&exported[0], "http.response.body.size", 5);
	assert_null(span_find_attr(&exported[0], "spanprobe.partial"));
	assert_int_equal(duration(&exported[0]), 3000);
}

static void test_post_client_body_sizes(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = {
		nv(":method", "POST"), nv(":scheme", "http"),
		nv(":authority", "api.example"), nv(":path", "/api/items"),
	};
	const nghttp2_nv resp[] = { nv(":status", "201") };

	preface(&f->w);
	settings(&f->w, 0);
	headers(&f->w, f->req_hd, 1, 0, req, N(req));
	data(&f->w, 1, 0, 3);
	send_wire(f, &f->client, OUT, 100);
	data(&f->w, 1, H2_FLAG_END_STREAM, 4);
	send_wire(f, &f->client, OUT, 200);
	settings(&f->w, 0);
	frame(&f->w, H2_SETTINGS, 0x1, 0, NULL, 0); /* ACK */
	headers(&f->w, f->resp_hd, 1, 0, resp, N(resp));
	data(&f->w, 1, 0, 10);
	send_wire(f, &f->client, IN, 300);
	data(&f->w, 1, H2_FLAG_END_STREAM, 0);
	send_wire(f, &f->client, IN, 400);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "POST /api/items");
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT);
	assert_str_attr(&exported[0], "url.full", "http://api.example/api/items");
	assert_str_attr(&exported[0], "server.address", "api.example");
	assert_int_attr(&exported[0], "server.port", 80);
	assert_null(span_find_attr(&exported[0], "client.address"));
	assert_int_attr(&exported[0], "http.response.status_code", 201);
	assert_int_attr(&exported[0], "http.request.body.size", 7);
	assert_int_attr(&exported[0], "http.response.body.size", 10);
	assert_int_equal(duration(&exported[0]), 300);
}

/* Three streams in one read; answered out of order, each its own span. */
static void test_interleaved_streams(void **state)
{
	struct fixture *f = *state;
	const char *paths[] = { "/a", "/b", "/c" };
	const nghttp2_nv ok[] = { nv(":status", "200") };

	preface(&f->w);
	settings(&f->w, 0);
	for (int i = 0; i < 3; i++) {
		const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
					   nv(":authority", "h"), nv(":path", paths[i]) };

		headers(&f->w, f->req_hd, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
	}
	send_wire(f, &f->server, IN, 1000);
	headers(&f->w, f->resp_hd, 3, 0, ok, N(ok));
	data(&f->w, 5, 0, 1); /* DATA before HEADERS: not for a known response */
	send_wire(f, &f->server, OUT, 2000);
	headers(&f->w, f->resp_hd, 1, 0, ok, N(ok));
	data(&f->w, 3, H2_FLAG_END_STREAM, 2);
	send_wire(f, &f->server, OUT, 3000);
	headers(&f->w, f->resp_hd, 5, H2_FLAG_END_STREAM, ok, N(ok));
	data(&f->w, 1, H2_FLAG_END_STREAM, 1);
	send_wire(f, &f->server, OUT, 5000);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_name(&exported[0], "GET /b");
	assert_int_equal(duration(span_with("url.path", "/b")), 2000);
	assert_int_equal(duration(span_with("url.path", "/a")), 4000);
	assert_int_equal(duration(span_with("url.path", "/c")), 4000);
	assert_int_attr(span_with("url.path", "/c"), "http.response.body.size", 1);
	assert_memory_not_equal(exported[0].trace_id, exported[1].trace_id, 16);
}

/*
 * A client's stream the server resets: an error named after the code; a
 * server's stream the client cancels is not the server's error; a client
 * whose connection closes before the response failed.
 */
static void test_reset_and_closed(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/slow") };
	const nghttp2_nv req2[] = { nv(":method", "GET"), nv(":scheme", "http"),
				    nv(":authority", "h"), nv(":path", "/never") };

	preface(&f->w);
	settings(&f->w, 0);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	send_wire(f, &f->client, OUT, 10);
	rst(&f->w, 1, 2); /* INTERNAL_ERROR */
	send_wire(f, &f->client, IN, 50);
	headers(&f->w, f->req_hd, 3, H2_FLAG_END_STREAM, req2, N(req2));
	send_wire(f, &f->client, OUT, 60);
	close_conn(f, &f->client, 90);
	/* The server's side: the client cancels. */
	fresh_deflaters(f);
	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	send_wire(f, &f->server, IN, 100);
	rst(&f->w, 1, 8); /* CANCEL */
	send_wire(f, &f->server, IN, 170);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_name(&exported[0], "GET /slow");
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "error.type", "INTERNAL_ERROR");
	assert_null(span_find_attr(&exported[0], "http.response.status_code"));
	assert_int_equal(duration(&exported[0]), 40);
	assert_name(&exported[1], "GET /never");
	assert_int_equal(exported[1].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[1], "error.type", "connection_closed");
	assert_int_equal(duration(&exported[1]), 30);
	assert_int_equal(exported[2].kind, SP_KIND_SERVER);
	assert_int_equal(exported[2].status_code, SP_STATUS_UNSET);
	assert_null(span_find_attr(&exported[2], "error.type"));
	assert_int_equal(duration(&exported[2]), 70);
}

/*
 * A stream that starts and is reset in one write: the stage above hears
 * of its request before its exchange, so the span is the one opened for
 * it, and nothing is left open.
 */
static void test_started_and_reset_in_one_chunk(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/gone") };
	struct exchange_stats st;

	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	rst(&f->w, 1, 8);
	send_wire(f, &f->client, OUT, 10);
	close_conn(f, &f->client, 20);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "GET /gone");
	assert_str_attr(&exported[0], "error.type", "CANCEL");
	exchange_stats(f->xs, &st);
	assert_int_equal(st.client_spans, 1);
	assert_int_equal(st.discarded, 0);
	assert_int_equal(st.no_span, 0);
}

/* --- gRPC ------------------------------------------------------------------ */

static void grpc_request(struct fixture *f, uint32_t stream, const char *path,
			 const char *timeout)
{
	nghttp2_nv req[] = {
		nv(":method", "POST"), nv(":scheme", "http"), nv(":path", path),
		nv(":authority", "greeter.svc:50051"),
		nv("content-type", "application/grpc"), nv("te", "trailers"),
		nv("grpc-timeout", timeout ? timeout : ""),
	};

	headers(&f->w, f->req_hd, stream, 0, req, N(req) - (timeout ? 0 : 1));
	data(&f->w, stream, H2_FLAG_END_STREAM, 12);
}

static void grpc_response(struct fixture *f, uint32_t stream, const char *status,
			  const char *message)
{
	const nghttp2_nv head[] = { nv(":status", "200"),
				    nv("content-type", "application/grpc+proto") };
	nghttp2_nv trailers[] = { nv("grpc-status", status),
				  nv("grpc-message", message ? message : "") };

	headers(&f->w, f->resp_hd, stream, 0, head, N(head));
	data(&f->w, stream, 0, 20);
	headers(&f->w, f->resp_hd, stream, H2_FLAG_END_STREAM, trailers,
		N(trailers) - (message ? 0 : 1));
}

static void test_grpc_unary_ok(void **state)
{
	struct fixture *f = *state;

	preface(&f->w);
	settings(&f->w, 0);
	grpc_request(f, 1, "/helloworld.Greeter/SayHello", NULL);
	send_wire(f, &f->client, OUT, 10);
	grpc_response(f, 1, "0", NULL);
	send_wire(f, &f->client, IN, 30);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "helloworld.Greeter/SayHello");
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT);
	assert_int_equal(exported[0].status_code, SP_STATUS_UNSET);
	assert_str_attr(&exported[0], "rpc.system", "grpc");
	assert_str_attr(&exported[0], "rpc.service", "helloworld.Greeter");
	assert_str_attr(&exported[0], "rpc.method", "SayHello");
	assert_int_attr(&exported[0], "rpc.grpc.status_code", 0);
	assert_str_attr(&exported[0], "server.address", "greeter.svc");
	assert_int_attr(&exported[0], "server.port", 50051);
	assert_null(span_find_attr(&exported[0], "http.request.method"));
	assert_null(span_find_attr(&exported[0], "error.type"));
	assert_int_equal(duration(&exported[0]), 20);
}

/* A header block over HEADERS and two CONTINUATION frames, in two reads. */
static void test_continuation(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = {
		nv(":method", "DELETE"), nv(":scheme", "http"), nv(":authority", "h"),
		nv(":path", "/items/42"), nv("user-agent", "a-rather-long-agent/1.0"),
	};
	const nghttp2_nv resp[] = { nv(":status", "204") };
	uint8_t block[512];
	size_t len = hpack(f->req_hd, req, N(req), block, sizeof(block));
	size_t a = len / 3, b = 2 * len / 3;

	preface(&f->w);
	frame(&f->w, H2_HEADERS, H2_FLAG_END_STREAM, 1, block, a);
	frame(&f->w, H2_CONTINUATION, 0, 1, block + a, b - a);
	send_wire(f, &f->server, IN, 10);
	frame(&f->w, H2_CONTINUATION, H2_FLAG_END_HEADERS, 1, block + b, len - b);
	send_wire(f, &f->server, IN, 20);
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, resp, N(resp));
	send_wire(f, &f->server, OUT, 50);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "DELETE /items/{id}");
	assert_str_attr(&exported[0], "user_agent.original", "a-rather-long-agent/1.0");
	assert_int_attr(&exported[0], "http.response.status_code", 204);
	assert_int_equal(duration(&exported[0]), 40);
}

/* Padded HEADERS with a priority, padded DATA: padding is not body. */
static void test_padding_and_priority(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = { nv(":method", "PUT"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/p") };
	const nghttp2_nv resp[] = { nv(":status", "200") };
	uint8_t payload[600] = { 4 }, block[512];
	size_t len = hpack(f->req_hd, req, N(req), block, sizeof(block));
	uint8_t body[1 + 5 + 3] = { 3, 'h', 'e', 'l', 'l', 'o' };

	/* pad length, exclusive bit + dependency, weight, block, padding */
	payload[1] = 0x80;
	payload[4] = 3;
	payload[5] = 15;
	memcpy(payload + 6, block, len);
	preface(&f->w);
	frame(&f->w, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_PADDED | H2_FLAG_PRIORITY,
	      1, payload, 6 + len + 4);
	frame(&f->w, H2_DATA, H2_FLAG_PADDED | H2_FLAG_END_STREAM, 1, body, sizeof(body));
	send_wire(f, &f->server, IN, 10);
	headers(&f->w, f->resp_hd, 1, 0, resp, N(resp));
	frame(&f->w, H2_DATA, H2_FLAG_PADDED | H2_FLAG_END_STREAM, 1, body, sizeof(body));
	send_wire(f, &f->server, OUT, 20);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "PUT /p");
	assert_int_attr(&exported[0], "http.request.body.size", 5);
	assert_int_attr(&exported[0], "http.response.body.size", 5);
}

/* Every byte in a read of its own: frames and the preface split anywhere. */
static void test_split_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h:81"), nv(":path", "/x?y=1") };
	const nghttp2_nv resp[] = { nv(":status", "404") };
	struct wire out = { .n = 0 };
	uint64_t ts = 1;

	preface(&f->w);
	settings(&f->w, 8192);
	headers(&f->w, f->req_hd, 1, 0, req, N(req));
	data(&f->w, 1, H2_FLAG_END_STREAM, 300);
	/* "PRI" first: fewer bytes are left to HTTP/1.x (test_recognise). */
	feed_part(f, &f->client, OUT, f->w.b, 3, 3, ts++);
	for (size_t i = 3; i < f->w.n; i++)
		feed_part(f, &f->client, OUT, f->w.b + i, 1, 1, ts++);
	headers(&out, f->resp_hd, 1, 0, resp, N(resp));
	data(&out, 1, H2_FLAG_END_STREAM, 9);
	for (size_t i = 0; i < out.n; i++)
		feed_part(f, &f->client, IN, out.b + i, 1, 1, ts++);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "GET /x");
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "error.type", "404");
	assert_str_attr(&exported[0], "url.full", "http://h:81/x");
	assert_int_attr(&exported[0], "server.port", 81);
	assert_int_attr(&exported[0], "http.request.body.size", 300);
	assert_int_attr(&exported[0], "http.response.body.size", 9);
	/* From the read of the HEADERS frame's first byte to the last. */
	assert_int_equal(duration(&exported[0]), ts - 1 - (1 + H2_PREFACE_LEN - 3 + 15 + 1));
}

/*
 * A large write of which only the first bytes were captured: the DATA
 * frame is counted by its header's length, and the walker keeps its step.
 */
static void test_data_not_captured(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/big") };
	const nghttp2_nv resp[] = { nv(":status", "200") };
	size_t head;

	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	send_wire(f, &f->client, OUT, 10);
	headers(&f->w, f->resp_hd, 1, 0, resp, N(resp));
	head = f->w.n + 9 + 100;
	data(&f->w, 1, 0, 16000);
	feed_part(f, &f->client, IN, f->w.b, head, f->w.n, 20);
	f->w.n = 0;
	data(&f->w, 1, 0, 16000);
	feed_part(f, &f->client, IN, f->w.b, 9, f->w.n, 25);
	f->w.n = 0;
	data(&f->w, 1, H2_FLAG_END_STREAM, 5);
	send_wire(f, &f->client, IN, 30);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_int_attr(&exported[0], "http.response.body.size", 32005);
	assert_null(span_find_attr(&exported[0], "spanprobe.partial"));
}

/* The client's traceparent: the server span joins that trace. */
static void test_traceparent(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = {
		nv(":method", "GET"), nv(":scheme", "http"), nv(":authority", "h"),
		nv(":path", "/"),
		nv("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
	};
	const nghttp2_nv resp[] = { nv(":status", "200") };
	static const uint8_t trace[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
					   0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c };
	static const uint8_t parent[8] = { 0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31 };
	struct exchange_stats st;

	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	send_wire(f, &f->server, IN, 10);
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, resp, N(resp));
	send_wire(f, &f->server, OUT, 20);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_memory_equal(exported[0].trace_id, trace, 16);
	assert_memory_equal(exported[0].parent_span_id, parent, 8);
	exchange_stats(f->xs, &st);
	assert_int_equal(st.ctx_traceparent, 1);
}

/* A server's GOAWAY: the streams past its last one were refused. */
static void test_goaway_refuses(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv resp[] = { nv(":status", "200") };
	uint8_t goaway[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };

	preface(&f->w);
	for (int i = 0; i < 2; i++) {
		const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
					   nv(":authority", "h"),
					   nv(":path", i ? "/second" : "/first") };

		headers(&f->w, f->req_hd, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
	}
	send_wire(f, &f->client, OUT, 10);
	frame(&f->w, H2_GOAWAY, 0, 0, goaway, sizeof(goaway));
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, resp, N(resp));
	send_wire(f, &f->client, IN, 20);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "GET /second");
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "error.type", "REFUSED_STREAM");
	assert_name(&exported[1], "GET /first");
	assert_int_equal(exported[1].status_code, SP_STATUS_UNSET);
}

/*
 * A block nghttp2 cannot inflate: what it gave before the failure stays,
 * the span says its headers are partial.  The next block is inflated
 * from an empty table: a field it would take from the lost table fails
 * it too (never a wrong value), one sent whole decodes.
 */
static void test_bad_hpack_block_partial(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/a") };
	nghttp2_nv fresh[] = { nv(":method", "GET"), nv(":scheme", "http"),
			       nv(":authority", "fresh.example"), nv(":path", "/fresh") };
	const nghttp2_nv ok[] = { nv(":status", "200") };
	/* GET (static index 2), then an index past every table. */
	static const uint8_t bad[] = { 0x82, 0xfe };

	for (size_t i = 0; i < N(fresh); i++)
		fresh[i].flags = NGHTTP2_NV_FLAG_NO_INDEX;
	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	frame(&f->w, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 3, bad,
	      sizeof(bad));
	headers(&f->w, f->req_hd, 5, H2_FLAG_END_STREAM, req, N(req));
	headers(&f->w, f->req_hd, 7, H2_FLAG_END_STREAM, fresh, N(fresh));
	send_wire(f, &f->server, IN, 10);
	for (uint32_t id = 1; id <= 7; id += 2) {
		headers(&f->w, f->resp_hd, id, H2_FLAG_END_STREAM, ok, N(ok));
		send_wire(f, &f->server, OUT, 10 + id);
	}
	flush(f);
	assert_int_equal(n_exported, 4);
	assert_name(&exported[0], "GET /a");
	assert_null(span_find_attr(&exported[0], "spanprobe.partial"));
	/* The bad block: what came before the bad index. */
	assert_name(&exported[1], "GET");
	assert_str_attr(&exported[1], "http.request.method", "GET");
	assert_null(span_find_attr(&exported[1], "url.path"));
	/* After it the table is lost: the next block's :authority names an
	 * entry from before (left out), its :path (never indexed by this
	 * encoder) and :method are kept (hpack.h). */
	assert_name(&exported[2], "GET /a");
	assert_str_attr(&exported[2], "url.path", "/a");
	for (int i = 1; i <= 2; i++) {
		assert_str_attr(&exported[i], "spanprobe.partial", "request_headers");
		assert_int_attr(&exported[i], "http.response.status_code", 200);
	}
	assert_name(&exported[3], "GET /fresh");
	assert_str_attr(&exported[3], "server.address", "fresh.example");
	assert_null(span_find_attr(&exported[3], "spanprobe.partial"));
}

/* A server answers with an error in its trailers; the client sees it. */
static void test_grpc_error_trailers(void **state)
{
	struct fixture *f = *state;

	preface(&f->w);
	grpc_request(f, 1, "/shop.v1.Cart/Add", NULL);
	grpc_request(f, 3, "/shop.v1.Cart/Get", NULL);
	send_wire(f, &f->server, IN, 10);
	grpc_response(f, 1, "13", "boom%20now");
	grpc_response(f, 3, "5", "no such cart");
	send_wire(f, &f->server, OUT, 20);
	flush(f);
	assert_int_equal(n_exported, 2);
	/* INTERNAL is a server's error; NOT_FOUND is not. */
	assert_name(&exported[0], "shop.v1.Cart/Add");
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_status_message(&exported[0], "boom now");
	assert_int_attr(&exported[0], "rpc.grpc.status_code", 13);
	assert_str_attr(&exported[0], "error.type", "INTERNAL");
	assert_str_attr(&exported[0], "client.address", "10.0.0.3");
	assert_name(&exported[1], "shop.v1.Cart/Get");
	assert_int_equal(exported[1].status_code, SP_STATUS_UNSET);
	assert_int_attr(&exported[1], "rpc.grpc.status_code", 5);
	assert_null(span_find_attr(&exported[1], "error.type"));
	/* A client: any code but OK is an error. */
	n_exported = 0;
	fresh_deflaters(f);
	preface(&f->w);
	grpc_request(f, 1, "/shop.v1.Cart/Get", NULL);
	send_wire(f, &f->client, OUT, 30);
	grpc_response(f, 1, "5", NULL);
	send_wire(f, &f->client, IN, 40);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "error.type", "NOT_FOUND");
}

/*
 * A grpc-message that does not percent-decode is kept as it came
 * (PROTOCOL-HTTP2); one that decodes to bytes that are not UTF-8 is
 * mended; and a call whose :path was not seen still has its gRPC status.
 */
static void test_grpc_message_and_no_path(void **state)
{
	struct fixture *f = *state;

	preface(&f->w);
	grpc_request(f, 1, "/shop.v1.Cart/Add", NULL);
	grpc_request(f, 3, "/shop.v1.Cart/Add", NULL);
	grpc_request(f, 5, "", NULL); /* the path left out */
	send_wire(f, &f->server, IN, 10);
	grpc_response(f, 1, "13", "100% sure");
	grpc_response(f, 3, "13", "caf%E9 %E2%82");
	grpc_response(f, 5, "14", "down");
	send_wire(f, &f->server, OUT, 20);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_status_message(&exported[0], "100% sure");
	assert_status_message(&exported[1], "caf? ");
	assert_name(&exported[2], "POST");
	assert_str_attr(&exported[2], "rpc.system", "grpc");
	assert_int_attr(&exported[2], "rpc.grpc.status_code", 14);
	assert_int_equal(exported[2].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[2], "error.type", "UNAVAILABLE");
	assert_status_message(&exported[2], "down");
}

/* A trailers-only response: the status is in the only HEADERS. */
static void test_grpc_trailers_only(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv only[] = { nv(":status", "200"),
				    nv("content-type", "application/grpc"),
				    nv("grpc-status", "12"),
				    nv("grpc-message", "unknown method Nope") };

	preface(&f->w);
	grpc_request(f, 1, "/svc.Echo/Nope", NULL);
	send_wire(f, &f->client, OUT, 10);
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, only, N(only));
	send_wire(f, &f->client, IN, 15);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "svc.Echo/Nope");
	assert_int_attr(&exported[0], "rpc.grpc.status_code", 12);
	assert_str_attr(&exported[0], "error.type", "UNIMPLEMENTED");
	assert_status_message(&exported[0], "unknown method Nope");
}

/*
 * Streaming: one span for the stream, messages both ways over many DATA
 * frames; a client that cancels at its deadline (grpc-timeout) ends the
 * call DEADLINE_EXCEEDED, one that cancels before it CANCELLED.
 */
static void test_grpc_streaming_and_deadline(void **state)
{
	struct fixture *f = *state;
	const nghttp2_nv head[] = { nv(":status", "200"),
				    nv("content-type", "application/grpc") };
	const nghttp2_nv ok[] = { nv("grpc-status", "0") };

	preface(&f->w);
	grpc_request(f, 1, "/feed.Feed/Watch", NULL);
	send_wire(f, &f->client, OUT, 1000);
	headers(&f->w, f->resp_hd, 1, 0, head, N(head));
	send_wire(f, &f->client, IN, 2000);
	for (int i = 0; i < 5; i++) {
		data(&f->w, 1, 0, 100);
		send_wire(f, &f->client, IN, 3000 + i);
	}
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, ok, N(ok));
	send_wire(f, &f->client, IN, 9000);
	/* 100 ms deadline, cancelled when it ran out; 1 s, cancelled at once. */
	grpc_request(f, 3, "/feed.Feed/Slow", "100m");
	grpc_request(f, 5, "/feed.Feed/Quit", "1S");
	send_wire(f, &f->client, OUT, 10000);
	rst(&f->w, 3, 8);
	send_wire(f, &f->client, OUT, 10000 + 100000000);
	rst(&f->w, 5, 8);
	send_wire(f, &f->client, OUT, 10000 + 100000001);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_name(&exported[0], "feed.Feed/Watch");
	assert_int_attr(&exported[0], "rpc.grpc.status_code", 0);
	assert_int_equal(duration(&exported[0]), 8000);
	assert_name(&exported[1], "feed.Feed/Slow");
	assert_int_attr(&exported[1], "rpc.grpc.status_code", 4);
	assert_str_attr(&exported[1], "error.type", "DEADLINE_EXCEEDED");
	assert_int_equal(exported[1].status_code, SP_STATUS_ERROR);
	assert_name(&exported[2], "feed.Feed/Quit");
	assert_int_attr(&exported[2], "rpc.grpc.status_code", 1);
	assert_str_attr(&exported[2], "error.type", "CANCELLED");
}

/* --- the decoder alone: its counters --------------------------------------- */

#define DEC_MAX 160

struct dec {
	struct http2_conn c;
	int n;
	struct http2_stream s[DEC_MAX];
	enum http2_role role[DEC_MAX];
};

static void dec_stream(const struct http2_stream *s, enum http2_role role, void *user)
{
	struct dec *d = user;

	if (d->n < DEC_MAX) {
		d->s[d->n] = *s;
		d->role[d->n] = role;
	}
	d->n++;
}

static void dec_feed(struct dec *d, enum http2_dir dir, struct wire *w,
		     size_t captured, uint64_t ts)
{
	struct http2_cbs cb = { .stream = dec_stream, .user = d };

	assert_int_equal(http2_feed(&d->c, dir, w->b, captured, w->n, ts, &cb), 0);
	w->n = 0;
}

static struct dec *dec_new(void)
{
	struct dec *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	http2_init(&d->c);
	return d;
}

static void dec_free(struct dec *d)
{
	http2_release(&d->c);
	free(d);
}

/* More streams in flight than the table holds: the newest is dropped and
 * counted, the others come out. */
static void test_stream_table_full(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv ok[] = { nv(":status", "200") };
	char path[32];

	preface(&f->w);
	for (uint32_t i = 0; i <= HTTP2_STREAMS_MAX; i++) {
		nghttp2_nv req[4];

		snprintf(path, sizeof(path), "/%u", i);
		req[0] = nv(":method", "GET");
		req[1] = nv(":scheme", "http");
		req[2] = nv(":authority", "h");
		req[3] = nv(":path", path);
		headers(&f->w, f->req_hd, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
	}
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 1);
	assert_int_equal(d->c.n_streams, HTTP2_STREAMS_MAX);
	assert_int_equal(d->c.stats.table_full, 1);
	assert_int_equal(d->c.req_seq, HTTP2_STREAMS_MAX);
	for (uint32_t i = 0; i <= HTTP2_STREAMS_MAX; i++)
		headers(&f->w, f->resp_hd, 1 + 2 * i, H2_FLAG_END_STREAM, ok, N(ok));
	dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 2);
	assert_int_equal(d->n, HTTP2_STREAMS_MAX);
	assert_int_equal(d->c.n_streams, 0);
	/* The dropped stream's response is a block of a stream not seen. */
	assert_int_equal(d->c.stats.orphan_blocks, 1);
	assert_string_equal(d->s[HTTP2_STREAMS_MAX - 1].req.path, "/127");
	assert_int_equal(d->role[0], HTTP2_ROLE_SERVER);
	dec_free(d);
}

/*
 * Streams whose responses went by in bytes not seen never end: once they
 * fill the table, the oldest of them is pushed out for each new stream
 * (partial, no error said, counted), where every new stream was dropped
 * until the connection closed.  Live streams are never pushed out.
 */
static void test_lost_streams_make_room(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv ok[] = { nv(":status", "200") };
	char path[32];

	preface(&f->w);
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 1);
	for (uint32_t i = 0; i < HTTP2_STREAMS_MAX + 3; i++) {
		nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				     nv(":authority", "h"), nv(":path", path) };

		snprintf(path, sizeof(path), "/%u", i);
		req[3] = nv(":path", path);
		headers(&f->w, f->req_hd, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
		dec_feed(d, HTTP2_IN, &f->w, f->w.n, 2 + i);
		if (i == HTTP2_STREAMS_MAX - 1) {
			/* The server's answers so far, all lost: 5 bytes of a
			 * frame header, the rest not captured. */
			headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, ok, N(ok));
			dec_feed(d, HTTP2_OUT, &f->w, 5, 500);
		}
	}
	assert_int_equal(d->c.stats.losses, 1);
	assert_int_equal(d->c.stats.end_lost, 3);
	assert_int_equal(d->c.stats.table_full, 0);
	assert_int_equal(d->n, 3);
	for (int i = 0; i < 3; i++) {
		char want[8];

		snprintf(want, sizeof(want), "/%d", i);
		assert_string_equal(d->s[i].req.path, want); /* oldest first */
		assert_true(d->s[i].flags & H2S_END_LOST);
		assert_true(d->s[i].flags & H2S_RESP_PARTIAL);
	}
	/* The others come out at the close, none of them pushed out (a
	 * table of live streams drops the new one: test_stream_table_full). */
	http2_close(&d->c, 1000, &(struct http2_cbs){ .stream = dec_stream, .user = d });
	assert_int_equal(d->n, 3 + HTTP2_STREAMS_MAX);
	for (int i = 3; i < d->n && i < DEC_MAX; i++)
		assert_false(d->s[i].flags & H2S_END_LOST);
	dec_free(d);
}

/*
 * A read whose bytes stop inside a frame header loses the direction's
 * step (counted), and its bodies; a later read made of whole frames finds
 * it again.  The table is gone with the step: the next block is inflated
 * from an empty one.
 */
static void test_lost_step_and_resync(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/r") };
	const nghttp2_nv head[] = { nv(":status", "200"), nv("x-big", "1") };
	const nghttp2_nv end[] = { nv("x-trailer", "t") };

	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 1);
	headers(&f->w, f->resp_hd, 1, 0, head, N(head));
	data(&f->w, 1, 0, 50);
	data(&f->w, 1, 0, 50);
	/* Captured: the HEADERS frame and 5 bytes of the first DATA's header. */
	dec_feed(d, HTTP2_IN, &f->w, f->w.n - 2 * 59 + 5, 2);
	assert_int_equal(d->c.stats.losses, 1);
	assert_int_equal(d->c.half[HTTP2_IN].w.state, H2W_LOST);
	/* Starts mid-frame (the rest of the lost DATA): not a boundary. */
	data(&f->w, 1, 0, 50);
	memmove(f->w.b, f->w.b + 5, f->w.n - 5);
	f->w.n -= 5;
	dec_feed(d, HTTP2_IN, &f->w, 20, 3);
	assert_int_equal(d->c.half[HTTP2_IN].w.state, H2W_LOST);
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, end, N(end));
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 4);
	assert_int_equal(d->c.half[HTTP2_IN].w.resyncs, 1);
	assert_int_equal(d->n, 1);
	assert_int_equal(d->s[0].status, 200);
	assert_true(d->s[0].flags & H2S_RESP_END);
	assert_true(d->s[0].flags & H2S_RESP_BODY_LOST);
	assert_false(d->s[0].flags & H2S_RESP_PARTIAL);
	assert_int_equal(d->s[0].end_ns, 4);
	/* A response whose headers were in the lost bytes: partial. */
	headers(&f->w, f->req_hd, 3, H2_FLAG_END_STREAM, req, N(req));
	dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 5);
	headers(&f->w, f->resp_hd, 3, 0, head, N(head));
	dec_feed(d, HTTP2_IN, &f->w, 3, 6);
	data(&f->w, 3, H2_FLAG_END_STREAM, 7);
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 7);
	assert_int_equal(d->c.stats.losses, 2);
	assert_int_equal(d->n, 2);
	assert_int_equal(d->s[1].status, 0);
	assert_true(d->s[1].flags & H2S_RESP_PARTIAL);
	assert_true(d->s[1].flags & H2S_RESP_BODY_LOST);
	assert_int_equal(d->c.stats.partial, 1);
	dec_free(d);
}

/*
 * A read that holds a whole request body (its DATA ends the stream, the
 * payload past the captured bytes) and then a frame whose header was not
 * captured: the step is lost, but only the bodies of streams still open
 * on that side are unknown; the ended one keeps its size.
 */
static void test_lost_step_after_end_stream(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv req[] = { nv(":method", "POST"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/up") };
	const nghttp2_nv resp[] = { nv(":status", "200") };
	size_t captured;

	preface(&f->w);
	headers(&f->w, f->req_hd, 1, 0, req, N(req));
	headers(&f->w, f->req_hd, 3, 0, req, N(req));
	data(&f->w, 3, H2_FLAG_END_STREAM, 3000);
	captured = f->w.n - 3000 + 100;
	frame(&f->w, H2_SETTINGS, 0x1, 0, NULL, 0); /* ACK, in the gap */
	dec_feed(d, HTTP2_IN, &f->w, captured, 1);
	assert_int_equal(d->c.stats.losses, 1);
	assert_int_equal(d->c.half[HTTP2_IN].w.state, H2W_LOST);
	headers(&f->w, f->resp_hd, 3, 0, resp, N(resp));
	data(&f->w, 3, H2_FLAG_END_STREAM, 4);
	headers(&f->w, f->resp_hd, 1, 0, resp, N(resp));
	data(&f->w, 1, H2_FLAG_END_STREAM, 5);
	dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 2);
	assert_int_equal(d->n, 2);
	assert_int_equal(d->role[0], HTTP2_ROLE_SERVER);
	assert_int_equal(d->s[0].id, 3);
	assert_int_equal(d->s[0].req_body, 3000);
	assert_false(d->s[0].flags & H2S_REQ_BODY_LOST);
	assert_int_equal(d->s[0].resp_body, 4);
	assert_int_equal(d->s[1].id, 1);
	assert_true(d->s[1].flags & H2S_REQ_BODY_LOST);
	dec_free(d);
}

/*
 * No preface: a connection first seen in the middle, from frames that
 * line up over a whole read (counted).  The side that sends :method is
 * the client; the other direction waits for a read of whole frames.
 */
static void test_midstream_pickup(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/late") };
	const nghttp2_nv ok[] = { nv(":status", "200") };

	headers(&f->w, f->req_hd, 41, H2_FLAG_END_STREAM, req, N(req));
	assert_int_equal(http2_recognise(f->w.b, f->w.n), HTTP2_FRAMES);
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 1);
	assert_true(http2_is_decoding(&d->c));
	assert_int_equal(d->c.stats.midstream, 1);
	assert_int_equal(d->c.role, HTTP2_ROLE_SERVER);
	assert_int_equal(d->c.n_streams, 1);
	/* A response to a stream opened before: left out, counted. */
	headers(&f->w, f->resp_hd, 39, H2_FLAG_END_STREAM, ok, N(ok));
	headers(&f->w, f->resp_hd, 41, H2_FLAG_END_STREAM, ok, N(ok));
	dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 2);
	assert_int_equal(d->n, 1);
	assert_string_equal(d->s[0].req.path, "/late");
	assert_int_equal(d->role[0], HTTP2_ROLE_SERVER);
	assert_int_equal(d->c.stats.orphan_blocks, 1);
	/* Not HTTP/2 at all: ignored from the first read. */
	http2_release(&d->c);
	put(&f->w, "hello", 5);
	assert_int_equal(http2_recognise(f->w.b, f->w.n), HTTP2_NO);
	dec_feed(d, HTTP2_IN, &f->w, 5, 1);
	assert_true(http2_is_skipped(&d->c));
	dec_free(d);
}

/*
 * Picked up after its first requests, a connection whose encoder names
 * its :authority and a header from its table: those are left out of the
 * blocks that name them (the rest kept), until the encoder's table turns
 * over (a user-agent that changes each request) and adds them again;
 * then every field is there.  Nothing is ever given a wrong value.  (A
 * header whose name is in no table of ours, its value changing, would
 * stay unknown: each new entry takes its name from the one before.)
 */
static void test_midstream_learns_table(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv ok[] = { nv(":status", "200") };
	int partial_first = -1, whole_last = 0;
	char seq[32];

	for (uint32_t i = 0; i < 240; i++) {
		nghttp2_nv req[] = { nv(":method", "POST"), nv(":scheme", "http"),
				     nv(":authority", "api.example"), nv(":path", "/svc/Do"),
				     nv("content-type", "application/grpc"),
				     nv("user-agent", seq) };
		uint32_t id = 1 + 2 * i;

		snprintf(seq, sizeof(seq), "request-number-%u", i);
		req[5] = nv("user-agent", seq);
		if (i == 0)
			preface(&f->w);
		headers(&f->w, f->req_hd, id, H2_FLAG_END_STREAM, req, N(req));
		if (i >= 5) /* spanprobe starts here */
			dec_feed(d, HTTP2_IN, &f->w, f->w.n, 10 + i);
		f->w.n = 0;
		headers(&f->w, f->resp_hd, id, H2_FLAG_END_STREAM, ok, N(ok));
		if (i >= 5)
			dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 10 + i);
		f->w.n = 0;
	}
	int kept = d->n < DEC_MAX ? d->n : DEC_MAX;

	assert_int_equal(d->n, 235);
	for (int i = 0; i < kept; i++) {
		const struct http2_stream *s = &d->s[i];
		bool whole = !(s->flags & H2S_REQ_PARTIAL);

		assert_string_equal(s->req.path, "/svc/Do");
		assert_string_equal(s->req.method, "POST");
		if (s->req.authority[0])
			assert_string_equal(s->req.authority, "api.example");
		if (whole)
			assert_string_equal(s->req.authority, "api.example");
		else if (partial_first < 0)
			partial_first = i;
		if (i >= kept - 20)
			whole_last += whole;
	}
	assert_int_equal(partial_first, 0);   /* the first block picked up */
	assert_int_equal(whole_last, 20);     /* learned again since */
	assert_true(d->c.stats.hpack_unknown > 0);
	dec_free(d);
}

/*
 * Records lost in the kernel (a full ring buffer) may have held the ends
 * of streams in flight: once they fill the table, the oldest of them make
 * room for new streams.  The header tables are kept (a lost block rarely
 * adds entries; letting them go would leave every later block partial):
 * the streams after the loss are whole.
 */
static void test_ring_loss_makes_room(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h.example"), nv(":path", "/a") };

	preface(&f->w);
	for (uint32_t i = 0; i < HTTP2_STREAMS_MAX + 2; i++) {
		if (i == HTTP2_STREAMS_MAX)
			proto_records_lost();
		headers(&f->w, f->req_hd, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
		dec_feed(d, HTTP2_IN, &f->w, f->w.n, 10 + i);
	}
	assert_int_equal(d->c.stats.table_full, 0);
	assert_int_equal(d->c.stats.end_lost, 2);
	assert_int_equal(d->n, 2);
	assert_true(d->s[0].flags & H2S_END_LOST);
	assert_int_equal(d->s[0].id, 1);
	assert_int_equal(d->s[1].id, 3);
	assert_string_equal(d->s[1].req.authority, "h.example");
	/* Streams opened after the loss are not pushed out by it. */
	http2_close(&d->c, 1000, &(struct http2_cbs){ .stream = dec_stream, .user = d });
	assert_int_equal(d->n, 2 + HTTP2_STREAMS_MAX);
	for (int i = 2; i < d->n && i < DEC_MAX; i++) {
		assert_false(d->s[i].flags & (H2S_END_LOST | H2S_REQ_PARTIAL));
		assert_string_equal(d->s[i].req.authority, "h.example");
		assert_int_equal(!!(d->s[i].flags & H2S_AT_LOSS), d->s[i].id < 2 * HTTP2_STREAMS_MAX);
	}
	dec_free(d);
	/* A connection that starts after a loss is not touched by it. */
	d = dec_new();
	fresh_deflaters(f);
	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 2000);
	http2_close(&d->c, 2001, &(struct http2_cbs){ .stream = dec_stream, .user = d });
	assert_int_equal(d->n, 1);
	assert_false(d->s[0].flags & H2S_AT_LOSS);
	dec_free(d);
}

/*
 * The kernel numbers the calls whose frames it walked.  A number skipped
 * is a call lost in the ring buffer, and the header block in it may have
 * added table entries: the fields after it would name the wrong ones
 * (":authority" for ":path"), so the table is forgotten there and
 * learned again.  Fields are then left out, never wrong.  Calls in
 * pieces share a number; numbers wrap.
 */
static void test_lost_calls_forget_table(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv ok[] = { nv(":status", "200") };
	struct http2_cbs cb = { .stream = dec_stream, .user = d };
	uint8_t seq_in = 250, seq_out = 0;
	char ua[32];
	int left_out = 0;

	for (uint32_t i = 0; i < 40; i++) {
		nghttp2_nv req[] = { nv(":method", "POST"), nv(":scheme", "http"),
				     nv(":authority", "api.example"), nv(":path", "/svc/Do"),
				     nv("user-agent", ua) };
		uint32_t id = 1 + 2 * i;

		snprintf(ua, sizeof(ua), "client-%u", i);
		req[4] = nv("user-agent", ua);
		if (i == 0)
			preface(&f->w);
		headers(&f->w, f->req_hd, id, H2_FLAG_END_STREAM, req, N(req));
		seq_in++;
		if (i != 10) { /* call 10's record is lost: its entry with it */
			http2_call_seq(&d->c, HTTP2_IN, seq_in);
			dec_feed(d, HTTP2_IN, &f->w, f->w.n, 10 + i);
		}
		f->w.n = 0;
		headers(&f->w, f->resp_hd, id, H2_FLAG_END_STREAM, ok, N(ok));
		/* In two pieces of one call: one number. */
		http2_call_seq(&d->c, HTTP2_OUT, ++seq_out);
		assert_int_equal(http2_feed(&d->c, HTTP2_OUT, f->w.b, 5, 5, 10 + i, &cb), 0);
		http2_call_seq(&d->c, HTTP2_OUT, seq_out);
		assert_int_equal(http2_feed(&d->c, HTTP2_OUT, f->w.b + 5, f->w.n - 5,
					    f->w.n - 5, 10 + i, &cb), 0);
		f->w.n = 0;
	}
	assert_int_equal(d->c.stats.calls_lost, 1);
	assert_int_equal(d->n, 39);
	for (int i = 0; i < d->n; i++) {
		const struct http2_stream *s = &d->s[i];

		/* Never another field's value. */
		assert_string_equal(s->req.path, "/svc/Do");
		assert_true(!s->req.authority[0] ||
			    strcmp(s->req.authority, "api.example") == 0);
		snprintf(ua, sizeof(ua), "client-%u", (s->id - 1) / 2);
		assert_true(!s->req.user_agent[0] || strcmp(s->req.user_agent, ua) == 0);
		left_out += !s->req.authority[0];
		if (i < 10)
			assert_false(s->flags & H2S_REQ_PARTIAL);
	}
	assert_true(left_out > 0);
	assert_true(d->c.stats.hpack_unknown > 0);
	assert_int_equal(d->c.stats.tables_kept, 0);
	dec_free(d);
}

/*
 * A full table whose new entries are the size of those they push out
 * (a value of fixed length that changes, every other request here):
 * count and size stay, yet the table changed, so a call lost then is
 * taken as one that added an entry.  No field of another's value.
 */
static void test_lost_calls_full_table_same_sizes(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv ok[] = { nv(":status", "200") };
	nghttp2_hd_deflater *small; /* full after a few entries */
	uint8_t seq = 0;
	char ua[32];

	assert_int_equal(nghttp2_hd_deflate_new(&small, 512), 0);
	for (uint32_t i = 0; i < 140; i++) {
		nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				     nv(":authority", "api.example"), nv(":path", "/a"),
				     nv("user-agent", ua) };

		snprintf(ua, sizeof(ua), "client-%05u", i / 2);
		req[4] = nv("user-agent", ua);
		if (i == 0)
			preface(&f->w);
		headers(&f->w, small, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
		seq++;
		if (i != 100) {
			http2_call_seq(&d->c, HTTP2_IN, seq);
			dec_feed(d, HTTP2_IN, &f->w, f->w.n, 10 + i);
		}
		f->w.n = 0;
		headers(&f->w, f->resp_hd, 1 + 2 * i, H2_FLAG_END_STREAM, ok, N(ok));
		dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 10 + i);
	}
	nghttp2_hd_deflate_del(small);
	assert_int_equal(d->c.stats.calls_lost, 1);
	assert_int_equal(d->c.stats.tables_kept, 0);
	assert_int_equal(d->n, 139);
	for (int i = 0; i < d->n && i < DEC_MAX; i++) {
		const struct http2_stream *s = &d->s[i];

		snprintf(ua, sizeof(ua), "client-%05u", (s->id - 1) / 2 / 2);
		if (s->req.user_agent[0])
			assert_string_equal(s->req.user_agent, ua);
	}
	dec_free(d);
}

/*
 * An encoder whose blocks add no entries (the same fields every time,
 * all in its table): a call lost then most likely added none either, so
 * the table is kept and every span stays whole.
 */
static void test_lost_calls_steady_table_kept(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv req[] = { nv(":method", "POST"), nv(":scheme", "http"),
				   nv(":authority", "api.example"), nv(":path", "/svc/Do"),
				   nv("user-agent", "steady/1.0") };
	uint8_t seq = 0;

	for (uint32_t i = 0; i < 30; i++) {
		if (i == 0)
			preface(&f->w);
		headers(&f->w, f->req_hd, 1 + 2 * i, H2_FLAG_END_STREAM, req, N(req));
		seq++;
		if (i != 20) {
			http2_call_seq(&d->c, HTTP2_IN, seq);
			dec_feed(d, HTTP2_IN, &f->w, f->w.n, 10 + i);
		}
		f->w.n = 0;
	}
	http2_close(&d->c, 1000, &(struct http2_cbs){ .stream = dec_stream, .user = d });
	assert_int_equal(d->c.stats.calls_lost, 1);
	assert_int_equal(d->c.stats.tables_kept, 1);
	assert_int_equal(d->c.stats.hpack_unknown, 0);
	assert_int_equal(d->n, 29);
	for (int i = 0; i < d->n; i++) {
		assert_false(d->s[i].flags & H2S_REQ_PARTIAL);
		assert_string_equal(d->s[i].req.path, "/svc/Do");
		assert_string_equal(d->s[i].req.authority, "api.example");
		assert_string_equal(d->s[i].req.user_agent, "steady/1.0");
	}
	dec_free(d);
}

/*
 * A server push: the PUSH_PROMISE's block is inflated (the table must
 * stay the encoder's) but a pushed stream gives no span and is no loss.
 */
static void test_push_promise(void **state)
{
	struct fixture *f = *state;
	struct dec *d = dec_new();
	const nghttp2_nv req[] = { nv(":method", "GET"), nv(":scheme", "http"),
				   nv(":authority", "h"), nv(":path", "/") };
	const nghttp2_nv pushed[] = { nv(":method", "GET"), nv(":scheme", "http"),
				      nv(":authority", "h"), nv(":path", "/style.css"),
				      nv("x-pushed", "yes") };
	const nghttp2_nv ok[] = { nv(":status", "200"), nv("x-pushed", "yes") };
	uint8_t payload[512] = { 0, 0, 0, 2 };
	size_t len;

	preface(&f->w);
	headers(&f->w, f->req_hd, 1, H2_FLAG_END_STREAM, req, N(req));
	dec_feed(d, HTTP2_OUT, &f->w, f->w.n, 1);
	len = hpack(f->resp_hd, pushed, N(pushed), payload + 4, sizeof(payload) - 4);
	frame(&f->w, H2_PUSH_PROMISE, H2_FLAG_END_HEADERS, 1, payload, 4 + len);
	headers(&f->w, f->resp_hd, 2, H2_FLAG_END_STREAM, ok, N(ok));
	headers(&f->w, f->resp_hd, 1, H2_FLAG_END_STREAM, ok, N(ok));
	dec_feed(d, HTTP2_IN, &f->w, f->w.n, 2);
	assert_int_equal(d->n, 1);
	assert_int_equal(d->s[0].status, 200);
	assert_int_equal(d->c.stats.orphan_blocks, 0);
	assert_int_equal(d->c.stats.hpack_failures, 0);
	assert_false(d->s[0].flags & H2S_RESP_PARTIAL);
	dec_free(d);
}

/*
 * The server's side of an h2c upgrade after the request(s) at 1000: the
 * 101 and stream 1's answer in one write at 2000, then the preface and a
 * second request, GET `authority` /second as stream 3, at 3000, answered
 * at 5000; flushed.
 */
static void h2c_switch_and_second_stream(struct fixture *f, const char *authority)
{
	static const char switching[] =
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		"Upgrade: h2c\r\n\r\n";
	const nghttp2_nv resp[] = { nv(":status", "200") };
	const nghttp2_nv req2[] = {
		nv(":method", "GET"), nv(":scheme", "http"),
		nv(":authority", authority), nv(":path", "/second"),
	};

	put(&f->w, switching, strlen(switching));
	settings(&f->w, 0);
	headers(&f->w, f->resp_hd, 1, 0, resp, N(resp));
	data(&f->w, 1, H2_FLAG_END_STREAM, 7);
	send_wire(f, &f->server, OUT, 2000);
	preface(&f->w);
	settings(&f->w, 0);
	headers(&f->w, f->req_hd, 3, H2_FLAG_END_STREAM, req2, N(req2));
	send_wire(f, &f->server, IN, 3000);
	headers(&f->w, f->resp_hd, 3, 0, resp, N(resp));
	data(&f->w, 3, H2_FLAG_END_STREAM, 4);
	send_wire(f, &f->server, OUT, 5000);
	flush(f);
}

/*
 * HTTP/1.1 "Upgrade: h2c" seen by the server: the request that asked is
 * answered on stream 1, the 101 and the first HTTP/2 frames in one write
 * (so HTTP/2 starts inside the chunk), then a second request as stream 3.
 */
static void test_h2c_upgrade(void **state)
{
	static const char upgrade_req[] =
		"GET /first HTTP/1.1\r\nHost: up.example:8443\r\n"
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n";
	struct fixture *f = *state;
	const struct sp_span *first, *second;

	put(&f->w, upgrade_req, strlen(upgrade_req));
	send_wire(f, &f->server, IN, 1000);
	h2c_switch_and_second_stream(f, "up.example:8443");
	assert_int_equal(n_exported, 2);
	first = span_with("url.path", "/first");
	second = span_with("url.path", "/second");
	assert_name(first, "GET /first");
	assert_int_equal(first->kind, SP_KIND_SERVER);
	assert_str_attr(first, "network.protocol.version", "2");
	assert_str_attr(first, "server.address", "up.example");
	assert_int_attr(first, "http.response.status_code", 200);
	assert_int_attr(first, "http.response.body.size", 7);
	assert_int_attr(first, "http.request.body.size", 0);
	assert_null(span_find_attr(first, "spanprobe.partial"));
	assert_int_equal(duration(first), 1000);
	/* The upgrade request's traceparent made it the caller's child. */
	assert_int_equal(first->trace_id[0], 0x0a);
	assert_int_equal(first->trace_id[15], 0x9c);
	assert_name(second, "GET /second");
	assert_int_attr(second, "http.response.body.size", 4);
	assert_int_equal(duration(second), 2000);
	assert_null(span_find_attr(second, "spanprobe.partial"));
}

/*
 * The same upgrade with a second HTTP/1 request pipelined behind it, for
 * which the HTTP/1 decoder has no memory: counted, left out.  HTTP/2
 * numbers its streams on after both, so the next stream is matched to
 * its own span, and nothing goes back over the numbers given out.
 */
static void test_h2c_upgrade_after_a_dropped_request(void **state)
{
	static const char reqs[] =
		"GET /first HTTP/1.1\r\nHost: up.example\r\n"
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
		"GET /dropped HTTP/1.1\r\nHost: up.example\r\n\r\n";
	struct fixture *f = *state;
	struct exchange_stats st;

	fail_size = 2 * sizeof(struct http1_pending);
	fail_left = 1;
	put(&f->w, reqs, strlen(reqs));
	send_wire(f, &f->server, IN, 1000);
	assert_int_equal(fail_left, 0);
	h2c_switch_and_second_stream(f, "up.example");
	assert_int_equal(n_exported, 2);
	assert_int_equal(duration(span_with("url.path", "/first")), 1000);
	assert_int_equal(duration(span_with("url.path", "/second")), 2000);
	exchange_stats(f->xs, &st);
	assert_int_equal(st.over_inflight, 0);
	assert_int_equal(st.server_spans, 2);
}

/* HTTP/2's preface goes to the HTTP/2 decoder, a request line to HTTP/1. */
static void test_recognise(void **state)
{
	const char *get = "GET / HTTP/1.1\r\n";

	assert_string_equal(proto_recognise(H2_PREFACE, H2_PREFACE_LEN, IN)->name, "http2");
	assert_string_equal(proto_recognise("PRI * HTTP/2", 12, OUT)->name, "http2");
	assert_string_equal(proto_recognise(get, strlen(get), IN)->name, "http1");
	assert_string_equal(proto_recognise("HTTP/1.1 200 OK\r\n", 17, IN)->name, "http1");
	assert_string_equal(proto_recognise("P", 1, IN)->name, "http1");
	assert_null(proto_recognise("\x16\x03\x01\x02\x00", 5, OUT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_client_body_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interleaved_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_started_and_reset_in_one_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_continuation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_h2c_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_h2c_upgrade_after_a_dropped_request,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_padding_and_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_not_captured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traceparent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_goaway_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_hpack_block_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grpc_error_trailers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grpc_message_and_no_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grpc_trailers_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grpc_streaming_and_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_streams_make_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_step_and_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_step_after_end_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midstream_pickup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midstream_learns_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_loss_makes_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_calls_forget_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_calls_steady_table_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_calls_full_table_same_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_promise, setup, teardown),
		cmocka_unit_test(test_recognise),
		cmocka_unit_test_setup_teardown(test_grpc_unary_ok, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
