/* SPDX-License-Identifier: MIT */
/*
 * Exchanges to spans through the protocol stage, fed as capture feeds it:
 * HTTP/1.x names, attributes, status rules, context links and verdicts.
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

#include "assemble/exchange.h"
#include "assemble/latelink.h"
#include "assemble/pipeline_impl.h"
#include "span/span.h"
#include "span/spanpool.h"
#include "export/batch.h"
#include "export/exporter.h"
#include "export/sampler.h"
#include "protocol/http1.h"
#include "protocol/http_attrs.h"
#include "protocol/protocol.h"

#define IN STREAM_IN
#define OUT STREAM_OUT
#define MAX_SPANS 32

#include "keep_exporter.h"
#include "fail_malloc.h"

struct test_conn {
	uint64_t id;
	struct stream_addr local, peer;
	bool tls;  /* the plaintext of a TLS connection */
};

struct fixture {
	struct sp_spanpool pool;
	struct sp_batch bsp;
	struct sp_exporter exp;
	struct sp_pipeline *p;
	struct exchange_spans *xs;
	struct stream_sink sink;
	/* Two connections: a client's and, on this host, its server's end. */
	struct test_conn client, server, other;
	/* The last verdict told per connection (index: id >> 12). */
	enum stream_verdict verdicts[4];
	int n_verdicts;
};

static int record_verdict(void *ctx, uint64_t conn_id, uint16_t local_port,
			  uint16_t peer_port, enum stream_verdict v)
{
	struct fixture *f = ctx;

	f->verdicts[(conn_id >> 12) & 3] = v;
	f->n_verdicts++;
	return 0;
}

static void set_addr(struct stream_addr *a, int family, const char *ip,
		     uint16_t port)
{
	a->family = (uint8_t)family;
	memset(a->addr, 0, sizeof(a->addr));
	inet_pton(family, ip, a->addr);
	a->port = port;
}

static void set_v4(struct stream_addr *a, const char *ip, uint16_t port)
{
	set_addr(a, AF_INET, ip, port);
}

/* --port of the next setup(); 0: no filter. */
static uint32_t setup_filter_port;
static struct sp_sampler *setup_sampler; /* NULL: keep every trace */

static bool sample(void *ctx, const uint8_t trace_id[16], bool has_parent,
		   bool parent_sampled)
{
	return sampler_keep(ctx, trace_id, parent_sampled, has_parent);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sp_bsp_opts bopts = { .max_queue = 64, .max_batch = 64,
				     .delay_ms = 60000, .export_timeout_ms = 1000 };
	struct sp_pipeline_opts popts = { .span_pool = 32, .max_threads = 16,
					  .max_depth = 8, .max_processes = 8,
					  .id_seed = 42 };
	struct proto_streams_opts sopts = { .max_conns = 8,
					    .verdict = record_verdict,
					    .verdict_ctx = f };

	fail_left = 0; /* none left over from a test that failed early */
	assert_int_equal(spanpool_init(&f->pool, 32), 0);
	f->exp.ops = &keep_ops;
	assert_int_equal(batch_start(&f->bsp, &bopts, &f->exp, &f->pool), 0);
	popts.sink = batch_sink(&f->bsp);
	popts.pool = &f->pool;
	popts.filter.port = setup_filter_port;
	popts.sample = setup_sampler ? sample : NULL;
	popts.sample_ctx = setup_sampler;
	f->p = pipeline_create(&popts);
	assert_non_null(f->p);
	f->xs = exchange_create(f->p, &sopts);
	assert_non_null(f->xs);
	f->sink = exchange_sink(f->xs);
	f->client.id = 0x1000;
	f->server.id = 0x2000;
	f->other.id = 0x3000;
	set_v4(&f->client.local, "127.0.0.1", 40000);
	set_v4(&f->client.peer, "127.0.0.1", 8080);
	set_v4(&f->server.local, "127.0.0.1", 8080);
	set_v4(&f->server.peer, "127.0.0.1", 40000);
	set_v4(&f->other.local, "10.0.0.1", 41000);
	set_v4(&f->other.peer, "10.0.0.2", 9090);
	n_exported = 0;
	*state = f;
	return 0;
}

static int setup_port_8080(void **state)
{
	setup_filter_port = 8080;
	return setup(state);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	exchange_destroy(f->xs);
	pipeline_destroy(f->p);
	batch_shutdown(&f->bsp);
	spanpool_destroy(&f->pool);
	free(f);
	setup_filter_port = 0;
	return 0;
}

/* One read or write of `tid` on `c`: `captured` of `total` bytes. */
static void feed_part(struct fixture *f, struct test_conn *c, uint32_t tid,
		      enum stream_dir dir, const char *s, size_t captured,
		      size_t total, uint64_t ts)
{
	struct stream_chunk ch = {
		.conn_id = c->id, .ts_ns = ts, .pid = (uint32_t)getpid(),
		.tid = tid, .dir = dir, .local = &c->local, .peer = &c->peer,
		.data = s, .captured = captured, .total_len = total, .tls = c->tls,
	};

	f->sink.data(f->sink.ctx, &ch);
}

static void feed(struct fixture *f, struct test_conn *c, uint32_t tid,
		 enum stream_dir dir, const char *s, uint64_t ts)
{
	feed_part(f, c, tid, dir, s, strlen(s), strlen(s), ts);
}

static void close_conn(struct fixture *f, struct test_conn *c, uint64_t ts)
{
	f->sink.close(f->sink.ctx, c->id, ts);
}

static struct exchange_stats stats(struct fixture *f)
{
	struct exchange_stats st;

	exchange_stats(f->xs, &st);
	return st;
}

static void flush(struct fixture *f)
{
	batch_flush(&f->bsp);
}

/* Past every wait for a late same-host client (the second read after
 * the spans were held), then flush. */
static void settle(struct fixture *f)
{
	exchange_tick(f->xs, UINT64_MAX / 2);
	exchange_tick(f->xs, UINT64_MAX / 2);
	flush(f);
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

	assert_int_equal(len, strlen(want));
	assert_memory_equal(name, want, len);
}

static const char *GET_USER =
	"GET /users/123?token=secret HTTP/1.1\r\nHost: shop.example:8080\r\n"
	"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

static void test_server_keepalive(void **state)
{
	struct fixture *f = *state;

	feed(f, &f->server, 7, IN, GET_USER, 1000);
	feed(f, &f->server, 7, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 2000);
	feed(f, &f->server, 7, IN, "GET /health HTTP/1.1\r\nHost: shop.example\r\n\r\n", 3000);
	feed(f, &f->server, 7, OUT, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", 4000);
	settle(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "GET /users/{id}");
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[0].status_code, SP_STATUS_UNSET);
	assert_str_attr(&exported[0], "http.request.method", "GET");
	assert_str_attr(&exported[0], "url.path", "/users/123");
	assert_null(span_find_attr(&exported[0], "url.query"));
	assert_str_attr(&exported[0], "url.scheme", "http");
	assert_int_attr(&exported[0], "http.response.status_code", 200);
	assert_str_attr(&exported[0], "server.address", "shop.example");
	assert_int_attr(&exported[0], "server.port", 8080);
	assert_str_attr(&exported[0], "client.address", "127.0.0.1");
	assert_int_attr(&exported[0], "client.port", 40000);
	assert_str_attr(&exported[0], "network.peer.address", "127.0.0.1");
	assert_int_attr(&exported[0], "network.peer.port", 40000);
	assert_str_attr(&exported[0], "network.protocol.version", "1.1");
	assert_str_attr(&exported[0], "user_agent.original", "curl/7.88.1");
	assert_int_attr(&exported[0], "http.request.body.size", 0);
	assert_int_attr(&exported[0], "http.response.body.size", 5);
	assert_false(span_has_parent(&exported[0]));
	assert_int_equal(exported[0].end_unix_ns - exported[0].start_unix_ns, 1000);
	/* Host without a port: the scheme's default; 5xx is a server error. */
	assert_name(&exported[1], "GET /health");
	assert_int_attr(&exported[1], "server.port", 80);
	assert_int_equal(exported[1].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[1], "error.type", "500");
	assert_memory_not_equal(exported[0].trace_id, exported[1].trace_id, 16);
}

/* HTTPS: a Host without a port means 443, on both ends. */
static void test_tls_default_port(void **state)
{
	struct fixture *f = *state;

	f->client.tls = f->server.tls = true;
	feed(f, &f->client, 3, OUT, "GET /s HTTP/1.1\r\nHost: shop.example\r\n\r\n", 1000);
	feed(f, &f->server, 7, IN, "GET /s HTTP/1.1\r\nHost: shop.example\r\n\r\n", 1100);
	feed(f, &f->server, 7, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1200);
	feed(f, &f->client, 3, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1300);
	settle(f);
	assert_int_equal(n_exported, 2);
	for (int i = 0; i < 2; i++) {
		assert_str_attr(&exported[i], "url.scheme", "https");
		assert_str_attr(&exported[i], "server.address", "shop.example");
		assert_int_attr(&exported[i], "server.port", 443);
	}
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_str_attr(&exported[1], "url.full", "https://shop.example/s");
}

/* No Host header: url.full names the peer's address and port, an IPv6
 * address in brackets (the query is left out unless asked for). */
static void test_client_url_from_address(void **state)
{
	struct fixture *f = *state;

	set_addr(&f->other.local, AF_INET6, "2001:db8::1", 41000);
	set_addr(&f->other.peer, AF_INET6, "2001:db8::2", 8443);
	feed(f, &f->other, 9, OUT, "GET /a/b?q=1 HTTP/1.0\r\n\r\n", 100);
	feed(f, &f->other, 9, IN, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 300);
	close_conn(f, &f->other, 900);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "url.full", "http://[2001:db8::2]:8443/a/b");
	assert_str_attr(&exported[0], "server.address", "2001:db8::2");
	assert_int_attr(&exported[0], "server.port", 8443);
}

/* A Host header's name and port: the port digits only, 1 to 65535. */
static void test_split_host(void **state)
{
	static const struct {
		const char *host, *name;
		long port;
	} cases[] = {
		{ "shop.example", "shop.example", -1 },
		{ "shop.example:8080", "shop.example", 8080 },
		{ "h:65535", "h", 65535 },
		{ "h:065535", "h", 65535 },
		{ "h:65536", "h", -1 },
		{ "h:99999999999999999999", "h", -1 },
		{ "h:0", "h", -1 },
		{ "h:", "h", -1 },
		{ "h:+80", "h", -1 },
		{ "h: 80", "h", -1 },
		{ "h:80x", "h", -1 },
		/* Hosts of 16 bytes and more: looked through from the end. */
		{ "api.shop.example", "api.shop.example", -1 },
		{ "api.shop.example:1", "api.shop.example", 1 },
		{ "api.shop.example.internal:8443", "api.shop.example.internal", 8443 },
		{ "a:b.shop.example.internal.local", "a", -1 },
		{ "a:1.shop.example.internal:2", "a:1.shop.example.internal", 2 },
		{ "[::1]:8080", "::1", 8080 },
		{ "[::1]", "::1", -1 },
		{ "[::1", "[::1", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name;
		size_t len;
		long port;

		http_attrs_split_host(cases[i].host, strlen(cases[i].host), &name, &len,
				      &port);
		assert_int_equal(len, strlen(cases[i].name));
		assert_memory_equal(name, cases[i].name, len);
		assert_int_equal(port, cases[i].port);
	}
}

static void test_client_status_rules(void **state)
{
	struct fixture *f = *state;

	feed(f, &f->other, 9, OUT, "POST /api/v1/items HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", 100);
	feed(f, &f->other, 9, IN, "HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\nno", 300);
	feed(f, &f->other, 9, OUT, "PURGE /cache HTTP/1.1\r\nHost: c\r\n\r\n", 400);
	close_conn(f, &f->other, 900);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "POST /api/v1/items");
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "error.type", "404");
	assert_str_attr(&exported[0], "url.full", "http://10.0.0.2:9090/api/v1/items");
	assert_str_attr(&exported[0], "server.address", "10.0.0.2");
	assert_int_attr(&exported[0], "server.port", 9090);
	assert_null(span_find_attr(&exported[0], "client.address"));
	assert_str_attr(&exported[0], "network.protocol.version", "1.0");
	assert_int_attr(&exported[0], "http.request.body.size", 3);
	assert_int_attr(&exported[0], "http.response.body.size", 2);
	/* Unknown method; the connection closed before any response. */
	assert_name(&exported[1], "HTTP /cache");
	assert_str_attr(&exported[1], "http.request.method", "_OTHER");
	assert_str_attr(&exported[1], "http.request.method_original", "PURGE");
	assert_int_equal(exported[1].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[1], "error.type", "connection_closed");
	assert_null(span_find_attr(&exported[1], "http.response.status_code"));
	assert_int_equal(exported[1].end_unix_ns - exported[1].start_unix_ns, 500);
}

static const char *TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

static void test_traceparent_joins_trace(void **state)
{
	struct fixture *f = *state;
	char req[256];
	static const uint8_t trace[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
					   0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c };
	static const uint8_t parent[8] = { 0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31 };

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\ntraceparent: %s\r\n\r\n", TP);
	feed(f, &f->other, 5, IN, req, 10);
	feed(f, &f->other, 5, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 20);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_memory_equal(exported[0].trace_id, trace, 16);
	assert_memory_equal(exported[0].parent_span_id, parent, 8);
	assert_int_equal(stats(f).ctx_traceparent, 1);
	assert_false(span_find_attr(&exported[0], "http.response.body.size") &&
		     attr(&exported[0], "http.response.body.size")->v.i != 0);
}

/*
 * A caller's sampled flag is followed only by the parentbased_ samplers
 * (the SDK specification): always_off drops a sampled caller's trace,
 * always_on keeps an unsampled one, and traceidratio decides from the
 * caller's trace ID, as every other agent on the trace does.
 */
static void test_sampler_and_remote_parent(void **state)
{
	static const struct {
		const char *sampler, *arg;
		char flags; /* the traceparent's last digit */
		int kept;
	} cases[] = {
		{ "always_off", NULL, '1', 0 },
		{ "always_on", NULL, '0', 1 },
		{ "parentbased_always_on", NULL, '0', 0 },
		{ "parentbased_always_on", NULL, '1', 1 },
		{ "parentbased_always_off", NULL, '1', 1 },
		/* The trace ID's low 56 bits are 0x48eb211c80319c: about
		 * 0.28 of 2^56, so kept at a ratio of 0.9, not at 0.5. */
		{ "traceidratio", "0.9", '0', 1 },
		{ "traceidratio", "0.5", '1', 0 },
		{ "parentbased_traceidratio", "0.5", '1', 1 },
	};
	char req[256], tp[64];

	teardown(state);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sp_sampler s;
		struct fixture *f;

		assert_int_equal(sampler_parse(&s, cases[i].sampler, cases[i].arg), 0);
		setup_sampler = &s;
		setup(state);
		f = *state;
		snprintf(tp, sizeof(tp), "%.*s%c", (int)strlen(TP) - 1, TP, cases[i].flags);
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\ntraceparent: %s\r\n\r\n", tp);
		feed(f, &f->other, 5, IN, req, 10);
		feed(f, &f->other, 5, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 20);
		flush(f);
		if (n_exported != cases[i].kept)
			fail_msg("%s %s, caller's flag %c: %d spans kept", cases[i].sampler,
				 cases[i].arg ? cases[i].arg : "", cases[i].flags, n_exported);
		teardown(state);
		setup_sampler = NULL;
	}
	setup(state);
}

/* nginx-like: serve on one connection, call a backend on another. */
static void test_thread_and_peer_context(void **state)
{
	struct fixture *f = *state;

	feed(f, &f->other, 7, IN, "GET /front HTTP/1.1\r\nHost: a\r\n\r\n", 10);
	feed(f, &f->client, 7, OUT, "GET /back HTTP/1.0\r\nHost: b\r\n\r\n", 20);
	feed(f, &f->server, 8, IN, "GET /back HTTP/1.0\r\nHost: b\r\n\r\n", 30);
	feed(f, &f->server, 8, OUT, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
	feed(f, &f->client, 7, IN, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 50);
	feed(f, &f->other, 7, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 60);
	flush(f);
	assert_int_equal(n_exported, 3);
	/* Finished in order: backend server, nginx client, nginx server. */
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[1].kind, SP_KIND_CLIENT);
	assert_int_equal(exported[2].kind, SP_KIND_SERVER);
	assert_false(span_has_parent(&exported[2]));
	assert_memory_equal(exported[1].trace_id, exported[2].trace_id, 16);
	assert_memory_equal(exported[1].parent_span_id, exported[2].span_id, 8);
	assert_memory_equal(exported[0].trace_id, exported[2].trace_id, 16);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
}

/*
 * The hooks run when a send has returned: the server's record of the
 * request may come before the client's.  The server span, still a root
 * without children, takes the client span as parent when it comes.
 */
static void test_late_client_record_adopts_server(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /late HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(f, &f->server, 8, IN, req, 20);
	feed(f, &f->client, 7, OUT, req, 21);
	feed(f, &f->server, 8, OUT, resp, 40);
	feed(f, &f->client, 7, IN, resp, 50);
	/* The next request on the connection, in the usual order. */
	feed(f, &f->client, 7, OUT, req, 60);
	feed(f, &f->server, 8, IN, req, 61);
	feed(f, &f->server, 8, OUT, resp, 70);
	feed(f, &f->client, 7, IN, resp, 80);
	flush(f);
	assert_int_equal(n_exported, 4);
	for (int i = 0; i < 4; i += 2) {
		assert_int_equal(exported[i].kind, SP_KIND_SERVER);
		assert_int_equal(exported[i + 1].kind, SP_KIND_CLIENT);
		assert_memory_equal(exported[i].trace_id, exported[i + 1].trace_id, 16);
		assert_memory_equal(exported[i].parent_span_id, exported[i + 1].span_id, 8);
	}
	assert_memory_not_equal(exported[0].trace_id, exported[2].trace_id, 16);
	assert_int_equal(stats(f).ctx_peer, 2);
}

/*
 * The client's record comes after the server has answered: the finished
 * server span waits (assemble/latelink.h) and takes the client as parent.
 */
static void test_late_client_after_server_finished(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /late HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(f, &f->server, 8, IN, req, 20);
	feed(f, &f->server, 8, OUT, resp, 40);
	flush(f);
	assert_int_equal(n_exported, 0); /* held */
	feed(f, &f->client, 7, OUT, req, 21);
	feed(f, &f->client, 7, IN, resp, 50);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[1].kind, SP_KIND_CLIENT);
	assert_memory_equal(exported[0].trace_id, exported[1].trace_id, 16);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
	assert_int_equal(stats(f).ctx_peer, 1);
}

/*
 * A read that returns after TCP released its socket (port 0: given back)
 * comes after the socket's close and brings the connection back; the
 * kernel then gives the socket to a new connection.  Its first bytes end
 * the leftover, and its spans are linked by the new tuple.
 */
static void test_socket_reused_after_late_read(void **state)
{
	struct fixture *f = *state;
	struct test_conn dead = f->client;
	const char *req = "GET /again HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	dead.local.port = 0;
	feed(f, &dead, 7, IN, resp, 5);
	feed(f, &f->client, 7, OUT, req, 20);
	feed(f, &f->server, 8, IN, req, 21);
	feed(f, &f->server, 8, OUT, resp, 40);
	feed(f, &f->client, 7, IN, resp, 50);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[1].kind, SP_KIND_CLIENT);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
	assert_int_equal(stats(f).ctx_peer, 1);
}

/* Nobody comes: a held server span ends as it is once its wait is over. */
static void test_held_server_span_expires(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /alone HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(f, &f->server, 8, IN, req, 20);
	feed(f, &f->server, 8, OUT, resp, 40);
	exchange_tick(f->xs, 40 + LATELINK_WAIT_NS - 1);
	flush(f);
	assert_int_equal(n_exported, 0);
	exchange_tick(f->xs, 40 + LATELINK_WAIT_NS);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_false(span_has_parent(&exported[0]));
	/* A remote peer is never held. */
	feed(f, &f->other, 9, IN, req, 60);
	feed(f, &f->other, 9, OUT, resp, 70);
	flush(f);
	assert_int_equal(n_exported, 2);
}

/*
 * Pipelined requests: a span that needs no client (here explicit context)
 * finishing behind a held one waits behind it, so the connection's spans
 * leave in order, at once when the first one's client comes.
 */
static void test_held_spans_keep_their_order(void **state)
{
	struct fixture *f = *state;
	const char *req_a = "GET /a HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	char req_b[256];

	snprintf(req_b, sizeof(req_b), "GET /b HTTP/1.1\r\ntraceparent: %s\r\n\r\n", TP);
	for (int round = 0; round < 2; round++) {
		uint64_t t = 100 + round * 2 * LATELINK_WAIT_NS;

		n_exported = 0;
		feed(f, &f->server, 8, IN, req_a, t + 1);
		feed(f, &f->server, 8, OUT, resp, t + 2);
		feed(f, &f->server, 8, IN, req_b, t + 3);
		feed(f, &f->server, 8, OUT, resp, t + 4);
		flush(f);
		assert_int_equal(n_exported, 0);
		if (round == 0) {
			/* Nobody comes: both leave when the first one's wait ends. */
			exchange_tick(f->xs, t + 2 + LATELINK_WAIT_NS - 1);
			exchange_tick(f->xs, t + 2 + LATELINK_WAIT_NS);
		} else {
			/* The client of /a comes: both leave at once. */
			feed(f, &f->client, 7, OUT, req_a, t + 5);
		}
		flush(f);
		assert_int_equal(n_exported, 2);
		assert_str_attr(&exported[0], "url.path", "/a");
		assert_str_attr(&exported[1], "url.path", "/b");
		assert_int_equal(exported[0].kind, SP_KIND_SERVER);
		assert_int_equal(exported[1].kind, SP_KIND_SERVER);
		assert_true(span_has_parent(&exported[1]));
		assert_int_equal(span_has_parent(&exported[0]), round == 1);
	}
}

/*
 * The daemon lagged: it reads the server's records when the wait is over
 * already.  The span still waits for the next read of the ring buffer,
 * where its client's record may be.
 */
static void test_held_span_waits_one_read_when_late(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /lag HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(f, &f->server, 8, IN, req, 20);
	feed(f, &f->server, 8, OUT, resp, 40);
	exchange_tick(f->xs, 40 + 10 * LATELINK_WAIT_NS); /* the tick after that read */
	flush(f);
	assert_int_equal(n_exported, 0);
	feed(f, &f->client, 7, OUT, req, 21); /* in the next read */
	feed(f, &f->client, 7, IN, resp, 50);
	exchange_tick(f->xs, 40 + 11 * LATELINK_WAIT_NS);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
}

/*
 * A server that reads one byte of the next request first (Go's does): the
 * request line ends a chunk later, and the span is still the child of its
 * client and starts at the first byte.
 */
static void test_request_line_over_two_reads(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /g HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(f, &f->client, 7, OUT, req, 10);
	feed(f, &f->server, 8, IN, "G", 20);
	feed(f, &f->server, 9, IN, req + 1, 30);
	feed(f, &f->server, 9, OUT, resp, 40);
	feed(f, &f->client, 7, IN, resp, 50);
	settle(f);
	assert_int_equal(n_exported, 2);
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_int_equal(exported[0].start_unix_ns - exported[1].start_unix_ns, 10);
	assert_memory_equal(exported[0].trace_id, exported[1].trace_id, 16);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
	assert_int_equal(stats(f).ctx_peer, 1);
}

/* A server span that already gave its trace to a child keeps it. */
static void test_late_client_record_after_child(void **state)
{
	struct fixture *f = *state;
	const char *req = "GET /late HTTP/1.1\r\nHost: b\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	feed(f, &f->server, 8, IN, req, 20);
	/* The server thread calls out before the client's record comes. */
	feed(f, &f->other, 8, OUT, "GET /dep HTTP/1.1\r\nHost: c\r\n\r\n", 22);
	feed(f, &f->client, 7, OUT, req, 23);
	feed(f, &f->other, 8, IN, resp, 30);
	feed(f, &f->server, 8, OUT, resp, 40);
	feed(f, &f->client, 7, IN, resp, 50);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT); /* the call out */
	assert_int_equal(exported[1].kind, SP_KIND_SERVER);
	assert_int_equal(exported[2].kind, SP_KIND_CLIENT);
	assert_memory_equal(exported[0].trace_id, exported[1].trace_id, 16);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
	assert_false(span_has_parent(&exported[1]));
	assert_int_equal(stats(f).ctx_peer, 0);
}

static void test_traceparent_wins_over_peer(void **state)
{
	struct fixture *f = *state;
	char req[256];

	snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\ntraceparent: %s\r\n\r\n", TP);
	feed(f, &f->client, 3, OUT, req, 10);
	feed(f, &f->server, 4, IN, req, 20);
	feed(f, &f->server, 4, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 30);
	feed(f, &f->client, 3, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 40);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_memory_not_equal(exported[0].parent_span_id, exported[1].span_id, 8);
	assert_memory_equal(exported[0].parent_span_id,
			    "\xb7\xad\x6b\x71\x69\x20\x33\x31", 8);
}

/* A proxy forwards the traceparent it received: the closer parent wins. */
static void test_forwarded_traceparent_keeps_chain(void **state)
{
	struct fixture *f = *state;
	char req[256];

	snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\ntraceparent: %s\r\n\r\n", TP);
	feed(f, &f->other, 7, IN, req, 10);
	feed(f, &f->client, 7, OUT, req, 20);
	feed(f, &f->server, 8, IN, req, 30);
	feed(f, &f->server, 8, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 40);
	feed(f, &f->client, 7, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 50);
	feed(f, &f->other, 7, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 60);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_memory_equal(exported[2].parent_span_id,
			    "\xb7\xad\x6b\x71\x69\x20\x33\x31", 8);
	assert_true(exported[1].kind == SP_KIND_CLIENT);
	assert_memory_equal(exported[1].parent_span_id, exported[2].span_id, 8);
	assert_memory_equal(exported[0].parent_span_id, exported[1].span_id, 8);
	assert_memory_equal(exported[0].trace_id, exported[2].trace_id, 16);
}

static void test_pipelined_and_partial(void **state)
{
	struct fixture *f = *state;

	/* Two requests in one read; the responses come back in two writes. */
	feed(f, &f->other, 2, IN, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 10);
	feed(f, &f->other, 2, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 20);
	/* The second response is bigger than the capture: 41 of 1100 bytes. */
	feed_part(f, &f->other, 2, OUT,
		  "HTTP/1.1 200 OK\r\nContent-Length: 1059\r\n\r\n", 41, 1100, 30);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "GET /a");
	assert_name(&exported[1], "GET /b");
	assert_int_attr(&exported[1], "http.response.body.size", 1059);
	assert_int_equal(stats(f).server_spans, 2);
}

/* Five pipelined requests in one read (one chunk time for all): five
 * spans, in order, none dropped. */
static void test_pipelined_five(void **state)
{
	struct fixture *f = *state;
	char req[256] = "", resp[512] = "", want[16];

	for (int i = 0; i < 5; i++) {
		snprintf(req + strlen(req), sizeof(req) - strlen(req),
			 "GET /p/%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		snprintf(resp + strlen(resp), sizeof(resp) - strlen(resp),
			 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", i);
	}
	feed(f, &f->other, 2, IN, req, 10);
	feed(f, &f->other, 2, OUT, resp, 20);
	flush(f);
	assert_int_equal(n_exported, 5);
	for (int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "/p/%d", i);
		assert_str_attr(&exported[i], "url.path", want);
	}
	assert_int_equal(stats(f).discarded, 0);
	assert_int_equal(stats(f).over_inflight, 0);
}

/* Pipelined requests "/p/<first>" .. up to `last` in one read at `ts`. */
static void feed_requests(struct fixture *f, int first, int last, uint64_t ts)
{
	char req[1024] = "";

	for (int i = first; i <= last; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req),
			 "GET /p/%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
	feed(f, &f->other, 2, IN, req, ts);
}

/* Their responses, `n` of them in one write at `ts`. */
static void feed_responses(struct fixture *f, int n, uint64_t ts)
{
	char resp[2048] = "";

	for (int i = 0; i < n; i++)
		strcat(resp, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(f, &f->other, 2, OUT, resp, ts);
}

/* A connection's open requests outgrow the slots inside its entry while
 * the oldest of them sit past the ring's start: each keeps its span, in
 * order, and the connection is back to its inline slots once idle. */
static void test_open_requests_grow_past_inline(void **state)
{
	struct fixture *f = *state;
	char want[16];

	feed_requests(f, 0, 2, 10);
	feed_responses(f, 2, 20);
	feed_requests(f, 3, 20, 30); /* 19 open: the ring doubles to 32 */
	feed_responses(f, 19, 40);
	feed_requests(f, 21, 21, 50);
	feed_responses(f, 1, 60);
	flush(f);
	assert_int_equal(n_exported, 22);
	for (int i = 0; i < 22; i++) {
		snprintf(want, sizeof(want), "/p/%d", i);
		assert_str_attr(&exported[i], "url.path", want);
		assert_int_equal(exported[i].start_unix_ns - exported[0].start_unix_ns,
				 i < 3 ? 0 : i < 21 ? 20 : 40);
	}
	assert_int_equal(stats(f).server_spans, 22);
	assert_int_equal(stats(f).discarded, 0);
	assert_int_equal(stats(f).over_inflight, 0);
	assert_int_equal(stats(f).ring_no_memory, 0);
}

/*
 * Six requests pipelined in one read, the last with a traceparent; the
 * ring of open requests cannot grow for the fifth (no memory), and can
 * for the sixth.  Pipelined requests share their start: each exchange
 * still takes its own request's span, by number, and the fifth makes a
 * span of its own, outside the sixth's trace.
 */
static void test_no_room_for_an_open_request(void **state)
{
	struct fixture *f = *state;
	char req[1024] = "", want[16];

	for (int i = 0; i < 6; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req),
			 "GET /p/%d HTTP/1.1\r\nHost: h\r\n%s%s%s\r\n", i,
			 i == 5 ? "traceparent: " : "", i == 5 ? TP : "",
			 i == 5 ? "\r\n" : "");
	/* The ring past the 4 inline slots: 8 of PROTO_INFLIGHT's. */
	fail_size = exchange_ring_bytes() / PROTO_INFLIGHT * 8;
	fail_left = 1;
	feed(f, &f->other, 2, IN, req, 10);
	assert_int_equal(fail_left, 0);
	feed_responses(f, 6, 20);
	flush(f);
	assert_int_equal(n_exported, 6);
	for (int i = 0; i < 6; i++) {
		snprintf(want, sizeof(want), "/p/%d", i);
		assert_str_attr(&exported[i], "url.path", want);
		assert_int_equal(span_has_parent(&exported[i]), i == 5);
	}
	assert_memory_equal(exported[5].trace_id,
			    "\x0a\xf7\x65\x19\x16\xcd\x43\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c",
			    16);
	assert_int_equal(stats(f).ring_no_memory, 1);
	assert_int_equal(stats(f).discarded, 0);
}

/*
 * The decoder has no memory for the second of three pipelined requests:
 * it leaves that exchange out (its response is skipped by number), and
 * the span opened for it is dropped.  The third exchange takes its own
 * span, the one its thread's client call was made under.
 */
static void test_decoder_drops_a_pipelined_request(void **state)
{
	struct fixture *f = *state;

	fail_size = 2 * sizeof(struct http1_pending);
	fail_left = 1;
	feed_requests(f, 0, 2, 10);
	assert_int_equal(fail_left, 0);
	feed(f, &f->client, 2, OUT, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n", 15);
	feed(f, &f->client, 2, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 18);
	feed_responses(f, 3, 20);
	settle(f);
	assert_int_equal(n_exported, 3);
	assert_name(&exported[0], "GET /back");
	assert_str_attr(&exported[1], "url.path", "/p/0");
	assert_str_attr(&exported[2], "url.path", "/p/2");
	assert_memory_equal(exported[0].parent_span_id, exported[2].span_id, 8);
	assert_int_equal(stats(f).discarded, 1);
	assert_int_equal(stats(f).server_spans, 2);
}

/* Request `req` on `c` (served when `dir` is IN, sent when OUT) at `ts`,
 * answered by an empty 200 at ts + 10. */
static void exchange_200(struct fixture *f, struct test_conn *c, uint32_t tid,
			 enum stream_dir dir, const char *req, uint64_t ts)
{
	feed(f, c, tid, dir, req, ts);
	feed(f, c, tid, dir == IN ? OUT : IN,
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ts + 10);
}

/* --port 8080 keeps the server span of the socket on 8080 whatever its Host
 * says, and leaves out one on port 9090 whose Host names 8080. */
static void test_port_filter_uses_socket(void **state)
{
	struct fixture *f = *state;

	exchange_200(f, &f->server, 2, IN, "GET /in HTTP/1.1\r\nHost: x\r\n\r\n", 10);
	exchange_200(f, &f->other, 3, OUT, "GET /out HTTP/1.1\r\nHost: x:8080\r\n\r\n", 30);
	settle(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "url.path", "/in");
}

/* RFC 9112 2.2: an empty line before the first request line. */
static void test_empty_line_before_request(void **state)
{
	struct fixture *f = *state;

	exchange_200(f, &f->other, 2, IN, "\r\nGET /crlf HTTP/1.1\r\n\r\n", 10);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "url.path", "/crlf");
}

/* A method with a hyphen, and a method longer than the first-bytes rule
 * allows (21 characters: not HTTP, as the kernel side judges it). */
static void test_method_first_bytes(void **state)
{
	struct fixture *f = *state;

	exchange_200(f, &f->other, 2, IN, "M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", 10);
	exchange_200(f, &f->server, 3, IN, "ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n\r\n", 30);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "http.request.method_original", "M-SEARCH");
	assert_str_attr(&exported[0], "http.request.method", "_OTHER");
}

/* Userinfo in Host never leaves; session IDs in path parameters neither. */
static void test_credentials_redacted(void **state)
{
	struct fixture *f = *state;

	feed(f, &f->client, 2, OUT, "GET /a;jsessionid=S3CR3T/b;v=1;JSESSIONID=X HTTP/1.1\r\n"
	     "Host: user:pw@shop.example:8080\r\n\r\n", 10);
	feed(f, &f->client, 2, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 20);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "server.address", "shop.example");
	assert_int_attr(&exported[0], "server.port", 8080);
	assert_str_attr(&exported[0], "url.path", "/a/b;v=1");
	assert_str_attr(&exported[0], "url.full", "http://shop.example:8080/a/b;v=1");
	assert_null(memmem(&exported[0], sizeof(exported[0]), "pw@", 3));
	assert_null(memmem(&exported[0], sizeof(exported[0]), "S3CR3T", 6));
}

/* A CONNECT's target is an authority: url.full is it, the name is the
 * method alone; the tunnel's bytes in the same write do not hide it. */
static void test_connect_authority(void **state)
{
	struct fixture *f = *state;
	static const char req[] = "CONNECT home.example:443 HTTP/1.1\r\n\r\n"
				  "\x16\x03\x01\x00\x05hello";

	feed_part(f, &f->client, 2, OUT, req, sizeof(req) - 1, sizeof(req) - 1, 10);
	feed(f, &f->client, 2, IN, "HTTP/1.1 200 Connection established\r\n\r\n", 20);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "CONNECT");
	assert_str_attr(&exported[0], "url.full", "http://home.example:443");
	assert_str_attr(&exported[0], "server.address", "home.example");
	assert_int_attr(&exported[0], "server.port", 443);
	assert_int_attr(&exported[0], "http.response.status_code", 200);
}

static void test_not_http_is_skipped(void **state)
{
	struct fixture *f = *state;

	feed(f, &f->other, 2, IN, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 binary", 10);
	/* Capture is told once to stop sending it; an HTTP one to keep on. */
	assert_int_equal(f->n_verdicts, 1);
	assert_int_equal(f->verdicts[3], STREAM_VERDICT_IGNORE);
	feed(f, &f->other, 2, IN, "GET / HTTP/1.1\r\n\r\n", 15);
	assert_int_equal(f->n_verdicts, 1);
	feed(f, &f->client, 3, OUT, "GET / HTTP/1.1\r\n\r\n", 16);
	assert_int_equal(f->n_verdicts, 2);
	assert_int_equal(f->verdicts[1], STREAM_VERDICT_DECODE);
	close_conn(f, &f->other, 20);
	flush(f);
	assert_int_equal(n_exported, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_default_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_status_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_url_from_address, setup, teardown),
		cmocka_unit_test(test_split_host),
		cmocka_unit_test_setup_teardown(test_traceparent_joins_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sampler_and_remote_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_and_peer_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_client_record_adopts_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_client_record_after_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_client_after_server_finished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_server_span_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_spans_keep_their_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_line_over_two_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_span_waits_one_read_when_late, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_traceparent_wins_over_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_reused_after_late_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forwarded_traceparent_keeps_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_and_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_five, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_requests_grow_past_inline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room_for_an_open_request,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_decoder_drops_a_pipelined_request,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_filter_uses_socket, setup_port_8080,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_line_before_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_method_first_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_authority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_http_is_skipped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
