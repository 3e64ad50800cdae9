/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL: protocol messages built here byte by byte, fed as capture
 * feeds them (whole, split, past the capture), through the protocol
 * stage into spans: names, attributes, statuses, timing; what the
 * kernel side is told; and cut, lost and malformed input.
 */
#include <arpa/inet.h>
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
#include "assemble/pipeline_impl.h"
#include "export/batch.h"
#include "export/exporter.h"
#include "protocol/protocol.h"
#include "span/span.h"
#include "span/spanpool.h"

#define IN STREAM_IN
#define OUT STREAM_OUT
#define MAX_SPANS 320

#include "keep_exporter.h"

extern const struct proto_ops proto_pgsql;

/* --- bytes on the wire --------------------------------------------------- */

struct wire {
	uint8_t b[1 << 17];
	size_t n;
};

static void put(struct wire *w, const void *p, size_t len)
{
	assert_true(w->n + len <= sizeof(w->b));
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void put32(struct wire *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
			 (uint8_t)v };

	put(w, b, 4);
}

static void put16(struct wire *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 2);
}

static void putz(struct wire *w, const char *s)
{
	put(w, s, strlen(s) + 1);
}

/* A typed message: its type, its length, and the body `body` built. */
static void msg(struct wire *w, char type, const struct wire *body)
{
	put(w, &type, 1);
	put32(w, (uint32_t)body->n + 4);
	put(w, body->b, body->n);
}

static struct wire tmp; /* a body being built */

static void startup(struct wire *w, const char *user, const char *db)
{
	tmp.n = 0;
	put32(&tmp, 196608);
	putz(&tmp, "user");
	putz(&tmp, user);
	if (db) {
		putz(&tmp, "database");
		putz(&tmp, db);
	}
	putz(&tmp, "application_name");
	putz(&tmp, "psql");
	put(&tmp, "", 1);
	put32(w, (uint32_t)tmp.n + 4);
	put(w, tmp.b, tmp.n);
}

static void ssl_request(struct wire *w, uint32_t code)
{
	put32(w, 8);
	put32(w, code);
}

static void query(struct wire *w, const char *sql)
{
	tmp.n = 0;
	putz(&tmp, sql);
	msg(w, 'Q', &tmp);
}

static void parse(struct wire *w, const char *name, const char *sql)
{
	tmp.n = 0;
	putz(&tmp, name);
	putz(&tmp, sql);
	put16(&tmp, 0);
	msg(w, 'P', &tmp);
}

/* One text parameter, a value that must never be exported. */
static void bind_msg(struct wire *w, const char *portal, const char *stmt)
{
	tmp.n = 0;
	putz(&tmp, portal);
	putz(&tmp, stmt);
	put16(&tmp, 0);
	put16(&tmp, 1);
	put32(&tmp, 6);
	put(&tmp, "s3cret", 6);
	put16(&tmp, 0);
	msg(w, 'B', &tmp);
}

static void named(struct wire *w, char type, char what, const char *name)
{
	tmp.n = 0;
	if (what)
		put(&tmp, &what, 1);
	putz(&tmp, name);
	if (type == 'E')
		put32(&tmp, 0);
	msg(w, type, &tmp);
}

static void empty(struct wire *w, char type)
{
	tmp.n = 0;
	msg(w, type, &tmp);
}

/* The server's side of a session's start: trust, parameters, key. */
static void hello(struct wire *w)
{
	tmp.n = 0;
	put32(&tmp, 0);
	msg(w, 'R', &tmp);
	tmp.n = 0;
	putz(&tmp, "server_version");
	putz(&tmp, "15.14");
	msg(w, 'S', &tmp);
	tmp.n = 0;
	put32(&tmp, 1234);
	put32(&tmp, 5678);
	msg(w, 'K', &tmp);
}

static void ready(struct wire *w)
{
	tmp.n = 0;
	put(&tmp, "I", 1);
	msg(w, 'Z', &tmp);
}

static void rows(struct wire *w, int n)
{
	tmp.n = 0;
	put16(&tmp, 1);
	putz(&tmp, "id");
	put(&tmp, "\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0", 18);
	msg(w, 'T', &tmp);
	for (int i = 0; i < n; i++) {
		tmp.n = 0;
		put16(&tmp, 1);
		put32(&tmp, 2);
		put(&tmp, "42", 2);
		msg(w, 'D', &tmp);
	}
}

static void complete(struct wire *w, const char *tag)
{
	tmp.n = 0;
	putz(&tmp, tag);
	msg(w, 'C', &tmp);
}

static void error(struct wire *w, const char *code, const char *message)
{
	tmp.n = 0;
	putz(&tmp, "SERROR");
	putz(&tmp, "VERROR");
	put(&tmp, "C", 1);
	putz(&tmp, code);
	put(&tmp, "M", 1);
	putz(&tmp, message);
	putz(&tmp, "P8");
	put(&tmp, "", 1);
	msg(w, 'E', &tmp);
}

/* --- the span fixture (as test_http2.c's) -------------------------------- */

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
	struct test_conn client, server, tls;
	struct wire w;
	enum stream_verdict verdict[4]; /* told for client, server, tls */
};

static struct fixture *fx;

static void set_v4(struct stream_addr *a, const char *ip, uint16_t port)
{
	a->family = AF_INET;
	memset(a->addr, 0, sizeof(a->addr));
	inet_pton(AF_INET, ip, a->addr);
	a->port = port;
}

static int on_verdict(void *ctx, uint64_t conn_id, uint16_t local_port,
		      uint16_t peer_port, enum stream_verdict v)
{
	struct fixture *f = ctx;

	f->verdict[(conn_id >> 12) & 3] = v;
	return 0;
}

static int setup_with(void **state, bool raw, bool server_spans)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sp_bsp_opts bopts = { .max_queue = 512, .max_batch = 512,
				     .delay_ms = 60000, .export_timeout_ms = 1000 };
	struct sp_pipeline_opts popts = { .span_pool = 512, .max_threads = 16,
					  .max_depth = 8, .max_processes = 8,
					  .id_seed = 42 };
	struct proto_streams_opts sopts = {
		.max_conns = 8,
		.decode = { .db_query_raw = raw, .db_server_spans = server_spans },
		.verdict = on_verdict,
		.verdict_ctx = f,
	};

	assert_int_equal(spanpool_init(&f->pool, 512), 0);
	f->exp.ops = &keep_ops;
	assert_int_equal(batch_start(&f->bsp, &bopts, &f->exp, &f->pool), 0);
	popts.sink = batch_sink(&f->bsp);
	popts.pool = &f->pool;
	f->p = pipeline_create(&popts);
	assert_non_null(f->p);
	f->xs = exchange_create(f->p, &sopts);
	assert_non_null(f->xs);
	f->sink = exchange_sink(f->xs);
	/* Hosts apart: no same-host wait (latelink.h). */
	f->client.id = 0x1000;
	f->server.id = 0x2000;
	f->tls.id = 0x3000;
	set_v4(&f->client.local, "10.0.0.1", 40000);
	set_v4(&f->client.peer, "10.0.0.2", 5432);
	set_v4(&f->server.local, "10.0.0.2", 5432);
	set_v4(&f->server.peer, "10.0.0.3", 50000);
	f->tls.local = f->client.local;
	f->tls.peer = f->client.peer;
	n_exported = 0;
	fx = f;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false, false);
}

static int setup_raw(void **state)
{
	return setup_with(state, true, false);
}

static int setup_server_spans(void **state)
{
	return setup_with(state, false, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	exchange_destroy(f->xs);
	pipeline_destroy(f->p);
	batch_shutdown(&f->bsp);
	spanpool_destroy(&f->pool);
	free(f);
	return 0;
}

/* One read or write on `c`: the first `captured` of `total` bytes of `p`. */
static void feed_part(struct fixture *f, struct test_conn *c, enum stream_dir dir,
		      const uint8_t *p, size_t captured, size_t total, uint64_t ts)
{
	struct stream_chunk ch = {
		.conn_id = c->id, .ts_ns = ts, .pid = (uint32_t)getpid(),
		.tid = 7, .dir = dir, .local = &c->local, .peer = &c->peer,
		.data = p, .captured = captured, .total_len = total,
		.tls = c == &f->tls,
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

/* A simple query from client `c` at `ts`. */
static void ask(struct fixture *f, struct test_conn *c, const char *sql, uint64_t ts)
{
	query(&f->w, sql);
	send_wire(f, c, OUT, ts);
}

/* What f->w holds, then a command's tag and ReadyForQuery, to `c` at `ts`. */
static void answer(struct fixture *f, struct test_conn *c, const char *tag, uint64_t ts)
{
	complete(&f->w, tag);
	ready(&f->w);
	send_wire(f, c, IN, ts);
}

/* A client's session to database `db` as `user`, ready at ts 200. */
static void session(struct fixture *f, struct test_conn *c, const char *user,
		    const char *db)
{
	startup(&f->w, user, db);
	send_wire(f, c, OUT, 100);
	hello(&f->w);
	ready(&f->w);
	send_wire(f, c, IN, 200);
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
	if (a->v.str.len != strlen(want) ||
	    memcmp(span_str(s, a->v.str.off), want, a->v.str.len))
		fail_msg("%s '%.*s', want '%s'", key, (int)a->v.str.len,
			 span_str(s, a->v.str.off), want);
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
	if (s->status_msg_len != strlen(want) ||
	    memcmp(span_str(s, s->status_msg_off), want, strlen(want)))
		fail_msg("status message '%.*s', want '%s'", (int)s->status_msg_len,
			 span_str(s, s->status_msg_off), want);
}

static uint64_t duration(const struct sp_span *s)
{
	return s->end_unix_ns - s->start_unix_ns;
}

/* The span's bytes hold `needle` nowhere (names, attributes, status). */
static void assert_nowhere(const struct sp_span *s, const char *needle)
{
	assert_null(memmem(s, sizeof(*s), needle, strlen(needle)));
}

/* A span of a call that went well: kind, system, namespace, no error. */
static void assert_ok_call(const struct sp_span *s, const char *ns)
{
	assert_int_equal(s->kind, SP_KIND_CLIENT);
	assert_int_equal(s->status_code, SP_STATUS_UNSET);
	assert_str_attr(s, "db.system.name", "postgresql");
	assert_str_attr(s, "db.namespace", ns);
	assert_null(span_find_attr(s, "db.response.status_code"));
}

/* --- simple queries ------------------------------------------------------- */

static void test_simple_query(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	assert_int_equal(f->verdict[1], STREAM_VERDICT_WHOLE_OUT);
	ask(f, &f->client, "SELECT * FROM orders WHERE card = '4111111111111111'", 1000);
	rows(&f->w, 2);
	answer(f, &f->client, "SELECT 2", 3500);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_ok_call(&exported[0], "shop");
	assert_name(&exported[0], "SELECT orders");
	assert_str_attr(&exported[0], "db.operation.name", "SELECT");
	assert_str_attr(&exported[0], "db.collection.name", "orders");
	assert_str_attr(&exported[0], "db.query.text", "SELECT * FROM orders WHERE card = ?");
	assert_int_attr(&exported[0], "db.response.returned_rows", 2);
	assert_str_attr(&exported[0], "server.address", "10.0.0.2");
	assert_int_attr(&exported[0], "server.port", 5432);
	assert_int_equal(duration(&exported[0]), 2500);
	assert_nowhere(&exported[0], "4111111111111111");
	assert_nowhere(&exported[0], "app"); /* the user is not exported */
}

/* The raw text only when asked; the database defaults to the user. */
static void test_raw_text_and_user_namespace(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "alice", NULL);
	ask(f, &f->client, "INSERT INTO t VALUES (1, 's3cret')", 1000);
	answer(f, &f->client, "INSERT 0 1", 2000);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_ok_call(&exported[0], "alice");
	assert_name(&exported[0], "INSERT t");
	assert_str_attr(&exported[0], "db.query.text", "INSERT INTO t VALUES (1, 's3cret')");
	assert_null(span_find_attr(&exported[0], "db.response.returned_rows"));
}

/* Several statements in one Query: one span, the first one's summary,
 * the rows of all that returned some. */
static void test_multi_statement_query(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELECT 1 FROM a; UPDATE b SET x = 2; SELECT 3 FROM c", 1000);
	rows(&f->w, 1);
	complete(&f->w, "SELECT 1");
	complete(&f->w, "UPDATE 7");
	rows(&f->w, 2);
	answer(f, &f->client, "SELECT 2", 2000);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "db.operation.name", "SELECT");
	assert_int_attr(&exported[0], "db.response.returned_rows", 3);
}

static void test_syntax_error(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELEC 1", 1000);
	error(&f->w, "42601", "syntax error at or near \"SELEC\"");
	ready(&f->w);
	send_wire(f, &f->client, IN, 1800);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "db.response.status_code", "42601");
	assert_str_attr(&exported[0], "error.type", "42601");
	assert_status_message(&exported[0], "syntax error at or near ?");
	assert_int_equal(duration(&exported[0]), 800);
}

/* A message that quotes a value the user stored shows "?" instead. */
static void test_error_message_values(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELECT 's3cret'::int", 1000);
	error(&f->w, "22P02", "invalid input syntax for type integer: \"s3cret\"");
	ready(&f->w);
	send_wire(f, &f->client, IN, 1500);
	ask(f, &f->client, "SELECT x FROM nosuch", 2000);
	error(&f->w, "42P01", "relation \"nosuch\" does not exist");
	ready(&f->w);
	send_wire(f, &f->client, IN, 2500);
	ask(f, &f->client, "SELECT 4111111111111111 +", 3000);
	error(&f->w, "42601", "syntax error at or near \"4111111111111111\"");
	ready(&f->w);
	send_wire(f, &f->client, IN, 3500);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_status_message(&exported[0], "invalid input syntax for type integer: ?");
	assert_status_message(&exported[1], "relation ? does not exist");
	assert_status_message(&exported[2], "syntax error at or near ?");
	for (int i = 0; i < 3; i++) {
		assert_nowhere(&exported[i], "s3cret");
		assert_nowhere(&exported[i], "4111111111111111");
	}
}

/* A transaction: a span per statement. */
static void test_transaction(void **state)
{
	struct fixture *f = *state;
	const char *stmt[] = { "BEGIN", "INSERT INTO t VALUES (1)", "COMMIT" };
	const char *tag[] = { "BEGIN", "INSERT 0 1", "COMMIT" };
	const char *name[] = { "BEGIN", "INSERT t", "COMMIT" };

	session(f, &f->client, "app", "shop");
	for (int i = 0; i < 3; i++) {
		query(&f->w, stmt[i]);
		send_wire(f, &f->client, OUT, 1000 + 1000 * (uint64_t)i);
		complete(&f->w, tag[i]);
		ready(&f->w);
		send_wire(f, &f->client, IN, 1500 + 1000 * (uint64_t)i);
	}
	flush(f);
	assert_int_equal(n_exported, 3);
	for (int i = 0; i < 3; i++) {
		assert_ok_call(&exported[i], "shop");
		assert_name(&exported[i], name[i]);
		assert_int_equal(duration(&exported[i]), 500);
	}
}

/* COPY FROM STDIN: the data goes by, one span. */
static void test_copy_in(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "COPY t FROM STDIN", 1000);
	tmp.n = 0;
	put(&tmp, "\0\0\0", 3);
	msg(&f->w, 'G', &tmp);
	send_wire(f, &f->client, IN, 1100);
	tmp.n = 0;
	put(&tmp, "1\ts3cret\n", 9);
	msg(&f->w, 'd', &tmp);
	msg(&f->w, 'd', &tmp);
	empty(&f->w, 'c');
	send_wire(f, &f->client, OUT, 1200);
	answer(f, &f->client, "COPY 2", 1300);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "db.operation.name", "COPY");
	assert_int_equal(duration(&exported[0]), 300);
	assert_null(span_find_attr(&exported[0], "db.response.returned_rows"));
}

/* --- the extended protocol ------------------------------------------------ */

/* Prepared once (Parse, Describe, Sync), executed three times by name. */
static void test_prepared_by_name(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	parse(&f->w, "s1", "SELECT name FROM users WHERE id = $1");
	named(&f->w, 'D', 'S', "s1");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	empty(&f->w, '1');
	tmp.n = 0;
	put16(&tmp, 1);
	put32(&tmp, 23);
	msg(&f->w, 't', &tmp);
	rows(&f->w, 0);
	ready(&f->w);
	send_wire(f, &f->client, IN, 1100);
	for (int i = 0; i < 3; i++) {
		uint64_t t = 2000 + 1000 * (uint64_t)i;

		bind_msg(&f->w, "", "s1");
		named(&f->w, 'E', 0, "");
		empty(&f->w, 'S');
		send_wire(f, &f->client, OUT, t);
		empty(&f->w, '2');
		rows(&f->w, 1);
		complete(&f->w, "SELECT 1");
		ready(&f->w);
		send_wire(f, &f->client, IN, t + 300);
	}
	flush(f);
	assert_int_equal(n_exported, 3);
	for (int i = 0; i < 3; i++) {
		assert_ok_call(&exported[i], "shop");
		assert_name(&exported[i], "SELECT users");
		assert_str_attr(&exported[i], "db.query.text",
				"SELECT name FROM users WHERE id = $1");
		assert_int_attr(&exported[i], "db.response.returned_rows", 1);
		assert_int_equal(duration(&exported[i]), 300);
		assert_nowhere(&exported[i], "s3cret");
	}
}

/* A statement refused when prepared alone (Parse, Describe, Sync, as a
 * driver prepares): a span for it, with the error. */
static void test_prepare_refused(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	parse(&f->w, "bad", "SELEC name FROM users");
	named(&f->w, 'D', 'S', "bad");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	error(&f->w, "42601", "syntax error at or near \"SELEC\"");
	send_wire(f, &f->client, IN, 1600);
	ready(&f->w);
	send_wire(f, &f->client, IN, 1700);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_int_equal(exported[0].kind, SP_KIND_CLIENT);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "db.response.status_code", "42601");
	assert_str_attr(&exported[0], "db.query.text", "SELEC name FROM users");
	assert_int_equal(duration(&exported[0]), 600);
}

/*
 * Drivers that prepare with a Flush and send the Sync only after the
 * answer (asyncpg, postgres.js): a statement refused then has its span,
 * its Sync makes no second call (the next query pairs with its own
 * answer), and one prepared then run much later is timed from its Bind,
 * not from the Parse.
 */
static void test_prepare_with_flush(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	parse(&f->w, "bad", "SELECT * FROM nosuch WHERE id = $1");
	named(&f->w, 'D', 'S', "bad");
	empty(&f->w, 'H');
	send_wire(f, &f->client, OUT, 1000);
	error(&f->w, "42P01", "relation \"nosuch\" does not exist");
	send_wire(f, &f->client, IN, 1200);
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1300);
	ready(&f->w);
	send_wire(f, &f->client, IN, 1400);
	/* Prepared well, run 1.5 s later. */
	parse(&f->w, "s1", "SELECT name FROM users WHERE id = $1");
	named(&f->w, 'D', 'S', "s1");
	empty(&f->w, 'H');
	send_wire(f, &f->client, OUT, 2000);
	empty(&f->w, '1');
	rows(&f->w, 0);
	send_wire(f, &f->client, IN, 2100);
	bind_msg(&f->w, "", "s1");
	named(&f->w, 'E', 0, "");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 3600);
	empty(&f->w, '2');
	rows(&f->w, 1);
	complete(&f->w, "SELECT 1");
	ready(&f->w);
	send_wire(f, &f->client, IN, 3650);
	ask(f, &f->client, "SELECT 1", 4000);
	answer(f, &f->client, "SELECT 1", 4010);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_int_equal(exported[0].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[0], "db.response.status_code", "42P01");
	assert_str_attr(&exported[0], "db.query.text", "SELECT * FROM nosuch WHERE id = $1");
	assert_int_equal(duration(&exported[0]), 200);
	assert_ok_call(&exported[1], "shop");
	assert_str_attr(&exported[1], "db.query.text", "SELECT name FROM users WHERE id = $1");
	assert_int_attr(&exported[1], "db.response.returned_rows", 1);
	assert_int_equal(duration(&exported[1]), 50);
	assert_ok_call(&exported[2], "shop");
	assert_int_equal(duration(&exported[2]), 10);
}

/* Three unnamed statements before one Sync: a span each, in order, each
 * ended by its own CommandComplete. */
static void test_pipeline(void **state)
{
	struct fixture *f = *state;
	const char *sql[] = { "SELECT a FROM t1", "UPDATE t2 SET b = $1", "DELETE FROM t3" };
	const char *tag[] = { "SELECT 4", "UPDATE 2", "DELETE 0" };
	const char *name[] = { "SELECT t1", "UPDATE t2", "DELETE t3" };

	session(f, &f->client, "app", "shop");
	for (int i = 0; i < 3; i++) {
		parse(&f->w, "", sql[i]);
		bind_msg(&f->w, "", "");
		named(&f->w, 'D', 'P', "");
		named(&f->w, 'E', 0, "");
	}
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	for (int i = 0; i < 3; i++) {
		empty(&f->w, '1');
		empty(&f->w, '2');
		if (i == 0)
			rows(&f->w, 4);
		else
			empty(&f->w, 'n');
		complete(&f->w, tag[i]);
		send_wire(f, &f->client, IN, 2000 + 100 * (uint64_t)i);
	}
	ready(&f->w);
	send_wire(f, &f->client, IN, 2500);
	flush(f);
	assert_int_equal(n_exported, 3);
	for (int i = 0; i < 3; i++) {
		assert_ok_call(&exported[i], "shop");
		assert_name(&exported[i], name[i]);
		assert_int_equal(duration(&exported[i]), 1000 + 100 * (uint64_t)i);
	}
	assert_int_attr(&exported[0], "db.response.returned_rows", 4);
	assert_null(span_find_attr(&exported[1], "db.response.returned_rows"));
}

/* An error in a pipeline: that Execute fails, those after it up to the
 * Sync are not run (ended by the ReadyForQuery). */
static void test_pipeline_error(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	for (int i = 0; i < 3; i++) {
		parse(&f->w, "", i == 1 ? "SELEC 2" : "SELECT 1");
		bind_msg(&f->w, "", "");
		named(&f->w, 'E', 0, "");
	}
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	empty(&f->w, '1');
	empty(&f->w, '2');
	complete(&f->w, "SELECT 1");
	error(&f->w, "42601", "syntax error at or near \"SELEC\"");
	send_wire(f, &f->client, IN, 2000);
	ready(&f->w);
	send_wire(f, &f->client, IN, 2400);
	flush(f);
	assert_int_equal(n_exported, 3);
	assert_int_equal(exported[0].status_code, SP_STATUS_UNSET);
	assert_int_equal(exported[1].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[1], "db.response.status_code", "42601");
	assert_status_message(&exported[1], "syntax error at or near ?");
	assert_int_equal(duration(&exported[1]), 1000);
	assert_int_equal(exported[2].status_code, SP_STATUS_ERROR);
	assert_str_attr(&exported[2], "db.response.status_code", "42601");
	assert_status_message(&exported[2],
			      "not run: an earlier statement of its pipeline failed");
	assert_int_equal(duration(&exported[2]), 1400);
}

/* A pipeline past what may be announced: every Execute its span. */
static void test_long_pipeline(void **state)
{
	struct fixture *f = *state;
	int n = 300;

	session(f, &f->client, "app", "shop");
	parse(&f->w, "ins", "INSERT INTO log VALUES ($1)");
	for (int i = 0; i < n; i++) {
		bind_msg(&f->w, "", "ins");
		named(&f->w, 'E', 0, "");
	}
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	empty(&f->w, '1');
	for (int i = 0; i < n; i++) {
		empty(&f->w, '2');
		complete(&f->w, "INSERT 0 1");
	}
	ready(&f->w);
	send_wire(f, &f->client, IN, 5000);
	flush(f);
	assert_int_equal(n_exported, n);
	for (int i = 0; i < n; i++) {
		assert_name(&exported[i], "INSERT log");
		assert_int_equal(exported[i].kind, SP_KIND_CLIENT);
		assert_int_equal(duration(&exported[i]), 4000);
	}
}

/* More statements than the table holds: the least recently used goes. */
static void test_statement_table_full(void **state)
{
	struct fixture *f = *state;
	char name[16], sql[64];

	session(f, &f->client, "app", "shop");
	for (int i = 0; i < PGSQL_STMTS_MAX + 1; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(sql, sizeof(sql), "SELECT %d FROM t%d", i, i);
		parse(&f->w, name, sql);
	}
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	ready(&f->w);
	send_wire(f, &f->client, IN, 1100);
	bind_msg(&f->w, "", "s0"); /* forgotten: s64 took its place */
	named(&f->w, 'E', 0, "");
	bind_msg(&f->w, "", "s64");
	named(&f->w, 'E', 0, "");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 2000);
	complete(&f->w, "SELECT 1");
	answer(f, &f->client, "SELECT 1", 2100);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "postgresql");
	assert_null(span_find_attr(&exported[0], "db.query.text"));
	assert_name(&exported[1], "SELECT t64");
}

/* Close forgets a statement; a named portal runs its statement. */
static void test_close_and_portal(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	parse(&f->w, "s", "SELECT * FROM big");
	bind_msg(&f->w, "cur", "s");
	named(&f->w, 'C', 'S', "s");
	named(&f->w, 'E', 0, "cur");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	empty(&f->w, '1');
	empty(&f->w, '2');
	empty(&f->w, '3');
	empty(&f->w, 's'); /* PortalSuspended: rows left */
	ready(&f->w);
	send_wire(f, &f->client, IN, 1200);
	bind_msg(&f->w, "", "s");
	named(&f->w, 'E', 0, "");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 2000);
	error(&f->w, "26000", "prepared statement \"s\" does not exist");
	ready(&f->w);
	send_wire(f, &f->client, IN, 2100);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "SELECT big");
	assert_int_equal(exported[0].status_code, SP_STATUS_UNSET);
	assert_name(&exported[1], "postgresql");
	assert_str_attr(&exported[1], "db.response.status_code", "26000");
}

/* --- encryption, sides ---------------------------------------------------- */

static void test_ssl_refused(void **state)
{
	struct fixture *f = *state;

	ssl_request(&f->w, 80877103);
	send_wire(f, &f->client, OUT, 50);
	put(&f->w, "N", 1);
	send_wire(f, &f->client, IN, 60);
	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELECT 1", 1000);
	answer(f, &f->client, "SELECT 1", 1100);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_name(&exported[0], "SELECT");
	assert_int_equal(f->verdict[1], STREAM_VERDICT_WHOLE_OUT);
}

/* TLS: the socket goes quiet; the plaintext (a connection of its own)
 * starts with the startup and is decoded. */
static void test_ssl_accepted(void **state)
{
	struct fixture *f = *state;

	ssl_request(&f->w, 80877103);
	send_wire(f, &f->client, OUT, 50);
	put(&f->w, "S", 1);
	send_wire(f, &f->client, IN, 60);
	assert_int_equal(f->verdict[1], STREAM_VERDICT_IGNORE);
	feed_part(f, &f->client, OUT, (const uint8_t *)"\x16\x03\x01\x02\x00\x01", 6, 517, 70);
	session(f, &f->tls, "app", "shop");
	ask(f, &f->tls, "SELECT 1", 1000);
	answer(f, &f->tls, "SELECT 1", 1100);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_ok_call(&exported[0], "shop");
	assert_int_equal(f->verdict[3], STREAM_VERDICT_WHOLE_OUT);
}

static void serve_one(struct fixture *f)
{
	startup(&f->w, "app", "shop");
	send_wire(f, &f->server, IN, 100);
	hello(&f->w);
	ready(&f->w);
	send_wire(f, &f->server, OUT, 200);
	query(&f->w, "SELECT 1");
	send_wire(f, &f->server, IN, 1000);
	complete(&f->w, "SELECT 1");
	ready(&f->w);
	send_wire(f, &f->server, OUT, 1400);
	flush(f);
}

/* The database server traced: nothing, unless its spans are asked for. */
static void test_server_side_quiet(void **state)
{
	struct fixture *f = *state;

	serve_one(f);
	assert_int_equal(n_exported, 0);
	assert_int_equal(f->verdict[2], STREAM_VERDICT_IGNORE);
}

static void test_server_spans(void **state)
{
	struct fixture *f = *state;

	serve_one(f);
	assert_int_equal(f->verdict[2], STREAM_VERDICT_WHOLE_IN);
	assert_int_equal(n_exported, 1);
	assert_int_equal(exported[0].kind, SP_KIND_SERVER);
	assert_name(&exported[0], "SELECT");
	assert_int_equal(duration(&exported[0]), 400);
}

/* --- what capture loses ---------------------------------------------------- */

/* Every message after the first split at every byte: the same span. */
static void test_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	struct wire req = { .n = 0 }, resp = { .n = 0 };

	startup(&f->w, "app", "shop"); /* one write: it is recognised */
	send_wire(f, &f->client, OUT, 100);
	hello(&resp);
	ready(&resp);
	for (size_t i = 0; i < resp.n; i++)
		feed_part(f, &f->client, IN, resp.b + i, 1, 1, 200);
	resp.n = 0;
	parse(&req, "", "SELECT v FROM kv WHERE k = $1");
	bind_msg(&req, "", "");
	named(&req, 'E', 0, "");
	empty(&req, 'S');
	for (size_t i = 0; i < req.n; i++)
		feed_part(f, &f->client, OUT, req.b + i, 1, 1, 1000 + i);
	rows(&resp, 3);
	complete(&resp, "SELECT 3");
	ready(&resp);
	for (size_t i = 0; i < resp.n; i++)
		feed_part(f, &f->client, IN, resp.b + i, 1, 1, 5000 + i);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_ok_call(&exported[0], "shop");
	assert_name(&exported[0], "SELECT kv");
	assert_int_attr(&exported[0], "db.response.returned_rows", 3);
}

/* One large row through a gap: skipped by its length, nothing lost. */
static void test_gap_inside_a_row(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[70000];

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELECT doc FROM docs", 1000);
	f->w.n = 0;
	tmp.n = 0;
	put16(&tmp, 1);
	put32(&tmp, sizeof(big));
	put(&tmp, big, sizeof(big));
	msg(&f->w, 'D', &tmp);
	feed_part(f, &f->client, IN, f->w.b, 1024, f->w.n, 2000);
	f->w.n = 0;
	answer(f, &f->client, "SELECT 1", 2100);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_ok_call(&exported[0], "shop");
	assert_int_attr(&exported[0], "db.response.returned_rows", 1);
	assert_int_equal(duration(&exported[0]), 1100);
}

/* Many rows, their headers in the gap: the place is lost; the call ends
 * where the backend was last heard, cut short, when the next request
 * comes; that one is decoded again. */
static void test_lost_place_in_result(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELECT id FROM events", 1000);
	rows(&f->w, 2000);
	feed_part(f, &f->client, IN, f->w.b, 1024, f->w.n, 2000);
	feed_part(f, &f->client, IN, f->w.b + 3000, 1024, 16384, 2500);
	f->w.n = 0;
	flush(f);
	assert_int_equal(n_exported, 0);
	ask(f, &f->client, "SELECT 1", 9000);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "spanprobe.partial", "response");
	assert_null(span_find_attr(&exported[0], "db.response.returned_rows"));
	assert_int_equal(duration(&exported[0]), 1500);
	answer(f, &f->client, "SELECT 1", 9100);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_int_equal(exported[1].status_code, SP_STATUS_UNSET);
	assert_null(span_find_attr(&exported[1], "spanprobe.partial"));
	assert_int_equal(duration(&exported[1]), 100);
}

/* Closed before the response: cut short (not a failure: the call's
 * outcome is unknown). */
static void test_closed_before_response(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "SELECT pg_sleep(10)", 1000);
	close_conn(f, &f->client, 4000);
	flush(f);
	assert_int_equal(n_exported, 1);
	assert_str_attr(&exported[0], "spanprobe.partial", "response");
	assert_int_equal(duration(&exported[0]), 3000);
}

/* Garbage where a message should be: no span, no crash, and the next
 * connection on the table is decoded. */
static void test_malformed(void **state)
{
	struct fixture *f = *state;
	static const uint8_t junk[] = "\x01\xff\xff\xff\xffQQQQ\0\0\0\0";

	session(f, &f->client, "app", "shop");
	feed_part(f, &f->client, OUT, junk, sizeof(junk), sizeof(junk), 1000);
	feed_part(f, &f->client, IN, junk, sizeof(junk), sizeof(junk), 1100);
	/* A Query whose length says less than its header. */
	feed_part(f, &f->client, OUT, (const uint8_t *)"Q\0\0\0\x02", 5, 5, 1200);
	/* An error without its fields, a tag without its NUL. */
	feed_part(f, &f->client, IN, (const uint8_t *)"E\0\0\0\x04", 5, 5, 1300);
	feed_part(f, &f->client, IN, (const uint8_t *)"C\0\0\0\x06SE", 7, 7, 1300);
	close_conn(f, &f->client, 2000);
	session(f, &f->server, "x", "y"); /* any id: the server's here */
	f->w.n = 0;
	flush(f);
	assert_int_equal(n_exported, 0);
}

/* A cut error, a tag without its NUL, an empty query. */
static void test_cut_messages(void **state)
{
	struct fixture *f = *state;

	session(f, &f->client, "app", "shop");
	ask(f, &f->client, "", 1000);
	empty(&f->w, 'I');
	ready(&f->w);
	send_wire(f, &f->client, IN, 1100);
	ask(f, &f->client, "SELECT 1", 2000);
	feed_part(f, &f->client, IN, (const uint8_t *)"C\0\0\0\x0cSELECT 1", 13, 13, 2100);
	ready(&f->w);
	send_wire(f, &f->client, IN, 2200);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "postgresql");
	assert_int_attr(&exported[1], "db.response.returned_rows", 1);
}

/* A connection met mid-stream: its first write a Parse or a Query. */
static void test_midstream(void **state)
{
	struct fixture *f = *state;

	parse(&f->w, "", "SELECT a FROM t WHERE b = $1");
	bind_msg(&f->w, "", "");
	named(&f->w, 'E', 0, "");
	empty(&f->w, 'S');
	send_wire(f, &f->client, OUT, 1000);
	empty(&f->w, '1');
	empty(&f->w, '2');
	answer(f, &f->client, "SELECT 0", 1300);
	ask(f, &f->server, "DELETE FROM t", 2000);
	answer(f, &f->server, "DELETE 3", 2100);
	flush(f);
	assert_int_equal(n_exported, 2);
	assert_name(&exported[0], "SELECT t");
	assert_int_equal(duration(&exported[0]), 300);
	assert_null(span_find_attr(&exported[0], "db.namespace"));
	assert_name(&exported[1], "DELETE t");
	assert_int_equal(f->verdict[1], STREAM_VERDICT_WHOLE_OUT);
}

static void test_recognise(void **state)
{
	struct wire w = { .n = 0 };

	startup(&w, "app", "shop");
	assert_int_equal(proto_pgsql.recognise(w.b, w.n, OUT), PROTO_YES);
	assert_ptr_equal(proto_recognise(w.b, w.n, OUT), &proto_pgsql);
	assert_ptr_equal(proto_recognise(w.b, w.n, IN), &proto_pgsql);
	w.n = 0;
	ssl_request(&w, 80877103);
	assert_int_equal(proto_pgsql.recognise(w.b, w.n, OUT), PROTO_YES);
	w.n = 0;
	ssl_request(&w, 80877104);
	assert_int_equal(proto_pgsql.recognise(w.b, w.n, OUT), PROTO_YES);
	assert_int_equal(proto_pgsql.recognise(w.b, 7, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("GET / HTTP/1.1\r\n", 16, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("*1\r\n$4\r\nPING\r\n", 14, OUT), PROTO_NO);
	/* Protocol 2, and a length that no startup has. */
	assert_int_equal(proto_pgsql.recognise("\0\0\0\x20\0\x02\0\0user", 12, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("\0\x10\0\0\0\x03\0\0user", 12, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("\0\0\0\x09\0\x03\0\0\0", 9, OUT), PROTO_YES);
	/* Mid-stream: a whole Query, a Parse; not a cut one, not text. */
	assert_int_equal(proto_pgsql.recognise("Q\0\0\0\x0dSELECT 1\0", 14, OUT), PROTO_YES);
	assert_int_equal(proto_pgsql.recognise("Q\0\0\0\x0dSELECT 1\0", 13, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("Q\0\0\0\x0dSEL\0CT 1\0", 14, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("P\0\0\0\x10\0SELECT 1\0\0\0B", 18, OUT), PROTO_YES);
	assert_int_equal(proto_pgsql.recognise("P\0\0\0\x10\0SELECT 1xxxxxx", 18, OUT), PROTO_NO);
	assert_int_equal(proto_pgsql.recognise("POST / HTTP/1.1\r\n", 17, OUT), PROTO_NO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simple_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_text_and_user_namespace, setup_raw, teardown),
		cmocka_unit_test_setup_teardown(test_multi_statement_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_message_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepared_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_with_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statement_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_and_portal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_side_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_spans, setup_server_spans, teardown),
		cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_inside_a_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_place_in_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_before_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midstream, setup, teardown),
		cmocka_unit_test(test_recognise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
