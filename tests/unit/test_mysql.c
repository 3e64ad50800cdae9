/* SPDX-License-Identifier: MIT */
/*
 * MySQL/MariaDB: packets built here byte by byte (greeting, handshake
 * response, commands, OK/ERR/EOF, result sets), fed to the decoder as
 * capture hands them (whole, cut in pieces, with gaps), and the calls it
 * makes of them: names, attributes, statuses, times, counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/conntable.h"
#include "protocol/mysql_internal.h"
#include "protocol/protocol.h"

#define IN STREAM_IN
#define OUT STREAM_OUT

extern const struct proto_ops proto_mysql;

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

static void put_le(struct wire *w, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(v >> (8 * i));

		put(w, &b, 1);
	}
}

/* One packet: 3-byte length, sequence, payload. */
static void packet(struct wire *w, uint8_t seq, const void *payload, size_t len)
{
	put_le(w, len, 3);
	put(w, &seq, 1);
	put(w, payload, len);
}

#define CAPS_BASE (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | \
		   CLIENT_PLUGIN_AUTH_LENENC | (1u << 19) /* PLUGIN_AUTH */)

static void greeting(struct wire *w, const char *version, uint32_t caps)
{
	struct wire p = { .n = 0 };
	uint8_t ten = 10, zero = 0;

	put(&p, &ten, 1);
	put(&p, version, strlen(version) + 1);
	put_le(&p, 42, 4);                 /* thread id */
	put(&p, "abcdefgh", 8);            /* scramble, part 1 */
	put(&p, &zero, 1);
	put_le(&p, caps & 0xffff, 2);
	put_le(&p, 45, 1);                 /* charset */
	put_le(&p, 2, 2);                  /* status */
	put_le(&p, caps >> 16, 2);
	put_le(&p, 21, 1);
	put(&p, "\0\0\0\0\0\0\0\0\0\0", 10);
	put(&p, "ijklmnopqrst", 13);       /* scramble, part 2, NUL */
	put(&p, "mysql_native_password", 22);
	packet(w, 0, p.b, p.n);
}

/* The client's handshake response; db NULL: none. */
static void login(struct wire *w, uint32_t caps, const char *db)
{
	struct wire p = { .n = 0 };
	uint8_t twenty = 20;

	if (db)
		caps |= CLIENT_CONNECT_WITH_DB;
	put_le(&p, caps, 4);
	put_le(&p, 1 << 24, 4);
	put_le(&p, 45, 1);
	for (int i = 0; i < 23; i++)
		put_le(&p, 0, 1);
	put(&p, "app", 4);
	put(&p, &twenty, 1);
	put(&p, "01234567890123456789", 20);
	if (db)
		put(&p, db, strlen(db) + 1);
	put(&p, "mysql_native_password", 22);
	packet(w, 1, p.b, p.n);
}

static void ok(struct wire *w, uint8_t seq, uint16_t status)
{
	uint8_t p[7] = { 0x00, 0, 0, (uint8_t)status, (uint8_t)(status >> 8), 0, 0 };

	packet(w, seq, p, sizeof(p));
}

static void eof(struct wire *w, uint8_t seq, uint16_t status)
{
	uint8_t p[5] = { 0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8) };

	packet(w, seq, p, sizeof(p));
}

static void err(struct wire *w, uint8_t seq, uint16_t code, const char *state,
		const char *msg)
{
	struct wire p = { .n = 0 };
	uint8_t ff = 0xff;

	put(&p, &ff, 1);
	put_le(&p, code, 2);
	put(&p, "#", 1);
	put(&p, state, 5);
	put(&p, msg, strlen(msg));
	packet(w, seq, p.b, p.n);
}

static void command(struct wire *w, uint8_t cmd, const void *arg, size_t len)
{
	struct wire p = { .n = 0 };

	put(&p, &cmd, 1);
	put(&p, arg, len);
	packet(w, 0, p.b, p.n);
}

static void query(struct wire *w, const char *sql)
{
	command(w, COM_QUERY, sql, strlen(sql));
}

static void coldef(struct wire *w, uint8_t seq, const char *name)
{
	struct wire p = { .n = 0 };
	uint8_t n = (uint8_t)strlen(name);

	put(&p, "\3def\4test\1t\1t", 13);
	put(&p, &n, 1);
	put(&p, name, n);
	put(&p, &n, 1);
	put(&p, name, n);
	put(&p, "\x0c\x21\0\x0b\0\0\0\x03\0\0\0\0", 13);
	packet(w, seq, p.b, p.n);
}

/* A text result set: `cols` columns, `rows` rows of one short value each;
 * with `dep` (CLIENT_DEPRECATE_EOF) no EOF after the columns and an OK
 * with 0xfe at the end. */
static void result(struct wire *w, int cols, int rows, bool dep)
{
	uint8_t seq = 1, count = (uint8_t)cols;

	packet(w, seq++, &count, 1);
	for (int i = 0; i < cols; i++)
		coldef(w, seq++, "c");
	if (!dep)
		eof(w, seq++, 2);
	for (int i = 0; i < rows; i++) {
		struct wire r = { .n = 0 };

		for (int j = 0; j < cols; j++)
			put(&r, "\0035.5", 4);
		packet(w, seq++, r.b, r.n);
	}
	if (dep) {
		uint8_t end[7] = { 0xfe, 0, 0, 2, 0, 0, 0 };

		packet(w, seq, end, sizeof(end));
	} else {
		eof(w, seq, 2);
	}
}

/* --- the decoder and what it emits --------------------------------------- */

#define MAX_CALLS 300

struct call {
	char name[128];
	bool server, error;
	char status[256];
	uint64_t start, end;
	uint32_t tid;
	int n_attrs;
	char keys[PROTO_ATTRS_MAX][48];
	char vals[PROTO_ATTRS_MAX][512];
};

struct fixture {
	struct proto_conn c;
	struct proto_opts opts;
	struct proto_emit emit;
	struct stream_addr local, peer;
	struct call calls[MAX_CALLS];
	int n;
};

static void on_exchange(void *ctx, struct proto_conn *c, const struct proto_exchange *x)
{
	struct fixture *f = ctx;
	struct call *k;

	assert_true(f->n < MAX_CALLS);
	k = &f->calls[f->n++];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%.*s", (int)x->name_len, x->name);
	k->server = x->server;
	k->error = x->error;
	snprintf(k->status, sizeof(k->status), "%s", x->status_message ? x->status_message : "");
	k->start = x->req_start_ns;
	k->end = x->end_ns;
	k->tid = x->tid;
	k->n_attrs = (int)x->n_attrs;
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		snprintf(k->keys[i], sizeof(k->keys[i]), "%s", a->key);
		if (a->is_int)
			snprintf(k->vals[i], sizeof(k->vals[i]), "%lld", (long long)a->i);
		else
			snprintf(k->vals[i], sizeof(k->vals[i]), "%.*s", (int)a->len, a->str);
	}
}

/* The value of attribute `key` of call `k`, or NULL. */
static const char *attr(const struct call *k, const char *key)
{
	for (int i = 0; i < k->n_attrs; i++)
		if (strcmp(k->keys[i], key) == 0)
			return k->vals[i];
	return NULL;
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->local = (struct stream_addr){ .family = 2, .addr = { 127, 0, 0, 1 }, .port = 40000 };
	f->peer = (struct stream_addr){ .family = 2, .addr = { 127, 0, 0, 1 }, .port = 3306 };
	f->c.local = f->local;
	f->c.peer = f->peer;
	f->c.ops = &proto_mysql;
	f->emit.exchange = on_exchange;
	f->emit.ctx = f;
	f->emit.opts = &f->opts;
	proto_mysql.init(&f->c.st);
	return f;
}

static void fixture_free(struct fixture *f)
{
	proto_mysql.release(&f->c.st);
	free(f);
}

/* `captured` bytes of `w`, of `total` moved (the rest a gap). */
static void feed_cut(struct fixture *f, int dir, const struct wire *w,
		     size_t captured, size_t total, uint64_t ts)
{
	struct stream_chunk ch = {
		.conn_id = 1, .ts_ns = ts, .pid = 7, .tid = 8, .dir = dir,
		.local = &f->local, .peer = &f->peer, .data = w->b,
		.captured = captured, .total_len = total,
	};

	assert_int_equal(proto_mysql.feed(&f->c, &ch, &f->emit), 0);
}

static void feed(struct fixture *f, int dir, struct wire *w, uint64_t ts)
{
	feed_cut(f, dir, w, w->n, w->n, ts);
	w->n = 0;
}

/* Greeting (MariaDB 10.11 or MySQL 8), handshake response, OK. */
static void connect_as(struct fixture *f, const char *version, uint32_t caps,
		       const char *db)
{
	struct wire w = { .n = 0 };

	greeting(&w, version, caps | CAPS_BASE | CLIENT_CONNECT_WITH_DB);
	assert_int_equal(proto_mysql.recognise(w.b, w.n, IN), PROTO_YES);
	feed(f, IN, &w, 1);
	login(&w, caps | CAPS_BASE, db);
	feed(f, OUT, &w, 2);
	ok(&w, 2, 2);
	feed(f, IN, &w, 3);
	assert_int_equal(proto_mysql.role(&f->c.st), PROTO_ROLE_CLIENT);
	assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_WHOLE_OUT);
}

#define MARIADB "5.5.5-10.11.6-MariaDB-0+deb12u1"

/* --- tests ---------------------------------------------------------------- */

static void test_recognise(void **state)
{
	struct wire w = { .n = 0 };

	greeting(&w, MARIADB, CAPS_BASE);
	assert_int_equal(proto_mysql.recognise(w.b, w.n, IN), PROTO_YES);
	assert_int_equal(proto_mysql.recognise(w.b, w.n, OUT), PROTO_YES);
	assert_int_equal(proto_mysql.recognise(w.b, 3, IN), PROTO_MAYBE);
	assert_int_equal(proto_mysql.recognise(w.b, 9, IN), PROTO_MAYBE);
	assert_int_equal(proto_recognise(w.b, w.n, IN), &proto_mysql);
	w.b[4] = 9; /* protocol 9 */
	assert_int_equal(proto_mysql.recognise(w.b, w.n, IN), PROTO_NO);
	w.b[4] = 10;
	w.b[5] = 'x'; /* no version number */
	assert_int_equal(proto_mysql.recognise(w.b, w.n, IN), PROTO_NO);
	assert_int_equal(proto_mysql.recognise("GET / HTTP/1.1\r\n", 16, OUT), PROTO_NO);
	assert_int_equal(proto_mysql.recognise("*1\r\n$4\r\nPING\r\n", 14, OUT), PROTO_NO);
	/* PostgreSQL's SSLRequest and startup. */
	assert_int_equal(proto_mysql.recognise("\0\0\0\x08\x04\xd2\x16\x2f", 8, OUT), PROTO_NO);
	assert_int_equal(proto_mysql.recognise("\0\0\0\x4a\0\3\0\0user", 12, OUT), PROTO_NO);
	assert_int_equal(proto_mysql.recognise("", 0, IN), PROTO_MAYBE);
}

/* A query, its result set, the span: MariaDB, the handshake's database. */
static void test_query_result(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	const struct call *k;

	connect_as(f, MARIADB, 0, "shop");
	query(&w, "SELECT a, b FROM orders WHERE id = 4111111111111111");
	feed(f, OUT, &w, 100);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), 1);
	assert_int_equal(proto_mysql.request_start_ns(&f->c.st, 0), 100);
	result(&w, 2, 3, false);
	feed(f, IN, &w, 150);
	assert_int_equal(f->n, 1);
	k = &f->calls[0];
	assert_string_equal(k->name, "SELECT orders");
	assert_false(k->server);
	assert_false(k->error);
	assert_int_equal(k->start, 100);
	assert_int_equal(k->end, 150);
	assert_int_equal(k->tid, 8);
	assert_string_equal(attr(k, "db.system.name"), "mariadb");
	assert_string_equal(attr(k, "db.namespace"), "shop");
	assert_string_equal(attr(k, "db.query.text"), "SELECT a, b FROM orders WHERE id = ?");
	assert_string_equal(attr(k, "db.response.returned_rows"), "3");
	assert_null(attr(k, "db.response.status_code"));
	fixture_free(f);
}

/* A connection that takes compression (zlib or zstd) is not read after
 * its handshake: no span made of compressed packets, and it is counted;
 * one whose server does not offer it is read as usual. */
static void test_compressed_left_out(void **state)
{
	static const uint32_t kinds[] = { (uint32_t)CLIENT_COMPRESS,
					  (uint32_t)CLIENT_ZSTD_COMPRESSION };

	for (int i = 0; i < 2; i++) {
		struct fixture *f = fixture_new();
		struct wire w = { .n = 0 };

		greeting(&w, "8.0.36", CAPS_BASE | CLIENT_CONNECT_WITH_DB | kinds[i]);
		feed(f, IN, &w, 1);
		login(&w, CAPS_BASE | kinds[i], "shop");
		feed(f, OUT, &w, 2);
		assert_int_equal(f->c.st.mysql.stats.compressed, 1);
		assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_IGNORE);
		ok(&w, 2, 2);
		feed(f, IN, &w, 3);
		query(&w, "SELECT 1"); /* (as if it were not compressed) */
		feed(f, OUT, &w, 10);
		result(&w, 1, 1, false);
		feed(f, IN, &w, 11);
		assert_int_equal(f->n, 0);
		fixture_free(f);
	}
	/* Asked for by the client only: not taken, read as usual. */
	{
		struct fixture *f = fixture_new();
		struct wire w = { .n = 0 };

		greeting(&w, "8.0.36", CAPS_BASE | CLIENT_CONNECT_WITH_DB);
		feed(f, IN, &w, 1);
		login(&w, CAPS_BASE | (uint32_t)CLIENT_COMPRESS, "shop");
		feed(f, OUT, &w, 2);
		assert_int_equal(f->c.st.mysql.stats.compressed, 0);
		ok(&w, 2, 2);
		feed(f, IN, &w, 3);
		query(&w, "SELECT 1");
		feed(f, OUT, &w, 10);
		result(&w, 1, 1, false);
		feed(f, IN, &w, 11);
		assert_int_equal(f->n, 1);
		fixture_free(f);
	}
}

/* CLIENT_DEPRECATE_EOF: no EOF after the columns, an OK with 0xfe ends. */
static void test_deprecate_eof(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, "8.0.36", (uint32_t)CLIENT_DEPRECATE_EOF, NULL);
	query(&w, "SELECT 1");
	feed(f, OUT, &w, 10);
	result(&w, 1, 2, true);
	feed(f, IN, &w, 11);
	query(&w, "SELECT 2");
	feed(f, OUT, &w, 12);
	result(&w, 1, 0, true);
	feed(f, IN, &w, 13);
	assert_int_equal(f->n, 2);
	assert_string_equal(attr(&f->calls[0], "db.system.name"), "mysql");
	assert_null(attr(&f->calls[0], "db.namespace"));
	assert_string_equal(attr(&f->calls[0], "db.response.returned_rows"), "2");
	assert_string_equal(attr(&f->calls[1], "db.response.returned_rows"), "0");
	assert_int_equal(f->calls[1].start, 12);
	assert_int_equal(f->calls[1].end, 13);
	fixture_free(f);
}

/* ERR: the error number as status code, SQLSTATE and the message without
 * what it quotes from the statement. */
static void test_error(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	const struct call *k;

	connect_as(f, MARIADB, 0, NULL);
	query(&w, "SELEC 's3cret'");
	feed(f, OUT, &w, 20);
	err(&w, 1, 1064, "42000", "You have an error in your SQL syntax; check the "
		"manual that corresponds to your MariaDB server version for the "
		"right syntax to use near 'SELEC 's3cret'' at line 1");
	feed(f, IN, &w, 21);
	assert_int_equal(f->n, 1);
	k = &f->calls[0];
	assert_true(k->error);
	assert_string_equal(attr(k, "db.response.status_code"), "1064");
	assert_string_equal(attr(k, "error.type"), "1064");
	assert_string_equal(k->status, "SQLSTATE 42000: You have an error in your SQL "
		"syntax; check the manual that corresponds to your MariaDB server "
		"version for the right syntax to use near ? at line ?");
	for (int i = 0; i < k->n_attrs; i++)
		assert_null(strstr(k->vals[i], "s3cret"));
	assert_null(strstr(k->name, "s3cret"));
	assert_string_equal(attr(k, "db.query.text"), "SELEC ?");

	/* A message with a value and a name quoted: both hidden. */
	query(&w, "INSERT INTO t VALUES ('s3cret')");
	feed(f, OUT, &w, 22);
	err(&w, 1, 1062, "23000", "Duplicate entry 's3cret' for key 'PRIMARY'");
	feed(f, IN, &w, 23);
	assert_string_equal(f->calls[1].status, "SQLSTATE 23000: Duplicate entry ?");
	f->n = 1;

	/* An apostrophe of the message's English is no quote. */
	query(&w, "SELECT * FROM nosuch");
	feed(f, OUT, &w, 22);
	err(&w, 1, 1146, "42S02", "Table 'shop.nosuch' doesn't exist");
	feed(f, IN, &w, 23);
	assert_string_equal(f->calls[1].status, "SQLSTATE 42S02: Table ? doesn't exist");
	f->n = 1;

	/* Raw, on request. */
	f->opts.db_query_raw = true;
	query(&w, "INSERT INTO t VALUES ('s3cret')");
	feed(f, OUT, &w, 22);
	err(&w, 1, 1062, "23000", "Duplicate entry 's3cret' for key 'PRIMARY'");
	feed(f, IN, &w, 23);
	assert_int_equal(f->n, 2);
	assert_string_equal(f->calls[1].name, "INSERT t");
	assert_string_equal(attr(&f->calls[1], "db.query.text"), "INSERT INTO t VALUES ('s3cret')");
	assert_string_equal(f->calls[1].status,
			    "SQLSTATE 23000: Duplicate entry 's3cret' for key 'PRIMARY'");
	fixture_free(f);
}

static void prepare(struct wire *w, const char *sql)
{
	command(w, COM_STMT_PREPARE, sql, strlen(sql));
}

static void prepare_ok(struct wire *w, uint32_t id, uint16_t cols, uint16_t params)
{
	uint8_t p[12] = { 0x00, (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
			  (uint8_t)(id >> 24), (uint8_t)cols, 0, (uint8_t)params, 0, 0, 0, 0 };
	uint8_t seq = 1;

	packet(w, seq++, p, sizeof(p));
	for (int i = 0; i < params; i++)
		coldef(w, seq++, "?");
	if (params)
		eof(w, seq++, 2);
	for (int i = 0; i < cols; i++)
		coldef(w, seq++, "c");
	if (cols)
		eof(w, seq++, 2);
}

static void execute(struct wire *w, uint32_t id)
{
	uint8_t p[4 + 1 + 4 + 1 + 1 + 2 + 8] = {
		(uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16), (uint8_t)(id >> 24),
		0, 1, 0, 0, 0, 0 /* null bitmap */, 1 /* types follow */, 8, 0,
		0x8f, 0x11, 0xe3, 0x7e, 0x2a, 0xc4, 0x0e, 0x00 /* 4111111111111111 */
	};

	command(w, COM_STMT_EXECUTE, p, sizeof(p));
}

/* Binary rows start with 0x00: not an OK inside a result set. */
static void binary_result(struct wire *w, int rows)
{
	uint8_t seq = 1, one = 1, row[3] = { 0x00, 0x00, 7 };

	packet(w, seq++, &one, 1);
	coldef(w, seq++, "c");
	eof(w, seq++, 2);
	for (int i = 0; i < rows; i++)
		packet(w, seq++, row, sizeof(row));
	eof(w, seq, 2);
}

/* Prepared once, executed three times: the text each time; closed: no
 * span, and an execution after is one of an unknown statement. */
static void test_prepared(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	uint64_t ts = 30;

	connect_as(f, MARIADB, 0, "shop");
	prepare(&w, "SELECT c FROM cards WHERE n = ?");
	feed(f, OUT, &w, ts++);
	prepare_ok(&w, 7, 1, 1);
	feed(f, IN, &w, ts++);
	for (int i = 0; i < 3; i++) {
		execute(&w, 7);
		feed(f, OUT, &w, ts++);
		binary_result(&w, 2);
		feed(f, IN, &w, ts++);
	}
	command(&w, COM_STMT_CLOSE, "\7\0\0\0", 4);
	feed(f, OUT, &w, ts++);
	execute(&w, 7);
	feed(f, OUT, &w, ts++);
	err(&w, 1, 1243, "HY000", "Unknown prepared statement handler (7) given to mysqld_stmt_execute");
	feed(f, IN, &w, ts++);
	assert_int_equal(f->n, 5);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), 5);
	assert_string_equal(attr(&f->calls[0], "db.operation.name"), "PREPARE");
	for (int i = 1; i <= 3; i++) {
		const struct call *k = &f->calls[i];

		assert_string_equal(k->name, "SELECT cards");
		assert_string_equal(attr(k, "db.query.text"), "SELECT c FROM cards WHERE n = ?");
		assert_string_equal(attr(k, "db.response.returned_rows"), "2");
		assert_false(k->error);
	}
	assert_string_equal(f->calls[4].name, "EXECUTE");
	assert_null(attr(&f->calls[4], "db.query.text"));
	assert_string_equal(attr(&f->calls[4], "db.response.status_code"), "1243");
	assert_int_equal(f->c.st.mysql.stats.unknown_stmts, 1);
	fixture_free(f);
}

/* MariaDB's pipelined prepare and execute (statement id -1) in one write. */
static void test_prepare_execute_pipelined(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, NULL);
	prepare(&w, "UPDATE t SET a = ?");
	execute(&w, 0xffffffffu);
	feed(f, OUT, &w, 40);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), 2);
	prepare_ok(&w, 3, 0, 1);
	ok(&w, 1, 2);
	feed(f, IN, &w, 41);
	assert_int_equal(f->n, 2);
	assert_string_equal(f->calls[1].name, "UPDATE t");
	assert_string_equal(attr(&f->calls[1], "db.query.text"), "UPDATE t SET a = ?");
	assert_int_equal(f->calls[1].start, 40);
	assert_null(attr(&f->calls[1], "db.response.returned_rows"));
	fixture_free(f);
}

/* COM_INIT_DB: a span, and the database of the calls after it. */
static void test_init_db_ping(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, "shop");
	command(&w, COM_INIT_DB, "billing", 7);
	feed(f, OUT, &w, 50);
	ok(&w, 1, 2);
	feed(f, IN, &w, 51);
	command(&w, COM_PING, "", 0);
	feed(f, OUT, &w, 52);
	ok(&w, 1, 2);
	feed(f, IN, &w, 53);
	command(&w, COM_INIT_DB, "nope", 4);
	feed(f, OUT, &w, 54);
	err(&w, 1, 1049, "42000", "Unknown database 'nope'");
	feed(f, IN, &w, 55);
	/* "USE" as a query, as libraries send it. */
	query(&w, " use `web shop` ;");
	feed(f, OUT, &w, 57);
	ok(&w, 1, 2);
	feed(f, IN, &w, 58);
	query(&w, "USE x y");
	feed(f, OUT, &w, 59);
	err(&w, 1, 1064, "42000", "syntax");
	feed(f, IN, &w, 60);
	query(&w, "USE other");
	feed(f, OUT, &w, 61);
	ok(&w, 1, 2);
	feed(f, IN, &w, 62);
	command(&w, COM_QUIT, "", 0);
	feed(f, OUT, &w, 56);
	assert_int_equal(f->n, 6);
	assert_string_equal(attr(&f->calls[3], "db.namespace"), "web shop");
	assert_string_equal(attr(&f->calls[4], "db.namespace"), "web shop");
	assert_string_equal(attr(&f->calls[5], "db.namespace"), "other");
	f->n = 3;
	assert_string_equal(f->calls[0].name, "INIT_DB");
	assert_string_equal(attr(&f->calls[0], "db.namespace"), "billing");
	assert_string_equal(f->calls[1].name, "PING");
	assert_string_equal(attr(&f->calls[1], "db.namespace"), "billing");
	assert_true(f->calls[2].error);
	assert_string_equal(attr(&f->calls[2], "db.namespace"), "billing");
	assert_string_equal(f->calls[2].status, "SQLSTATE 42000: Unknown database ?");
	proto_mysql.close(&f->c, 60, &f->emit);
	assert_int_equal(f->n, 3);
	fixture_free(f);
}

/* The same bytes a byte at a time: the same calls. */
static void test_byte_by_byte(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, "shop");
	query(&w, "SELECT 1");
	for (size_t i = 0; i < w.n; i++) {
		struct wire one = { .n = 1, .b = { w.b[i] } };

		feed_cut(f, OUT, &one, 1, 1, 200 + i);
	}
	w.n = 0;
	result(&w, 1, 4, false);
	for (size_t i = 0; i < w.n; i++) {
		struct wire one = { .n = 1, .b = { w.b[i] } };

		feed_cut(f, IN, &one, 1, 1, 300 + i);
	}
	assert_int_equal(f->n, 1);
	assert_int_equal(f->calls[0].start, 200);
	assert_int_equal(f->calls[0].end, 300 + w.n - 1);
	assert_string_equal(attr(&f->calls[0], "db.response.returned_rows"), "4");
	fixture_free(f);
}

/* A big row past the capture: its bytes counted through the gap. */
static void test_gap_in_payload(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	uint8_t big[3000];

	connect_as(f, MARIADB, 0, NULL);
	query(&w, "SELECT blob FROM files");
	feed(f, OUT, &w, 10);
	memset(big, 'x', sizeof(big));
	big[0] = 0xfc;
	big[1] = (uint8_t)(sizeof(big) - 3);
	big[2] = (uint8_t)((sizeof(big) - 3) >> 8);
	packet(&w, 1, "\1", 1);
	coldef(&w, 2, "blob");
	eof(&w, 3, 2);
	packet(&w, 4, big, sizeof(big));
	/* 1024 captured of the whole, then the EOF in the next read. */
	feed_cut(f, IN, &w, 1024, w.n, 11);
	w.n = 0;
	assert_int_equal(f->n, 0);
	eof(&w, 5, 2);
	feed(f, IN, &w, 12);
	assert_int_equal(f->n, 1);
	assert_false(f->calls[0].error);
	assert_int_equal(f->calls[0].end, 12);
	assert_string_equal(attr(&f->calls[0], "db.response.returned_rows"), "1");
	assert_int_equal(f->c.st.mysql.stats.lost_places, 0);
	fixture_free(f);
}

/* Rows past the capture: the place is lost; the call ends, cut short, at
 * the last response bytes, when the next command comes; that one's
 * response is followed again. */
static void test_lost_place(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, NULL);
	query(&w, "SELECT a FROM big");
	feed(f, OUT, &w, 10);
	result(&w, 1, 500, false);
	feed_cut(f, IN, &w, 1024, w.n, 11);
	w.n = 0;
	result(&w, 1, 500, false); /* the rest, as another read */
	feed_cut(f, IN, &w, 1024, w.n, 12);
	w.n = 0;
	assert_int_equal(f->n, 0);
	query(&w, "SELECT 1");
	feed(f, OUT, &w, 20);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->calls[0].start, 10);
	assert_int_equal(f->calls[0].end, 12);
	assert_string_equal(attr(&f->calls[0], "spanprobe.partial"), "response");
	assert_null(attr(&f->calls[0], "db.response.returned_rows"));
	assert_false(f->calls[0].error);
	result(&w, 1, 1, false);
	feed(f, IN, &w, 21);
	assert_int_equal(f->n, 2);
	assert_false(f->calls[1].error);
	assert_int_equal(f->calls[1].end, 21);
	assert_string_equal(attr(&f->calls[1], "db.response.returned_rows"), "1");
	assert_int_equal(f->c.st.mysql.stats.lost_places, 1);

	/* No response at all: cut short at the close. */
	query(&w, "SELECT SLEEP(100)");
	feed(f, OUT, &w, 30);
	proto_mysql.close(&f->c, 40, &f->emit);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->calls[2].start, 30);
	assert_int_equal(f->calls[2].end, 40);
	assert_string_equal(attr(&f->calls[2], "spanprobe.partial"), "response");
	fixture_free(f);
}

/* A statement of 16 MiB and more: packets of 0xffffff bytes continue. */
static void test_long_packet(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	const char *head = "INSERT INTO t VALUES ('";

	connect_as(f, MARIADB, 0, NULL);
	put_le(&w, 0xffffff, 3);
	put(&w, "\0", 1);
	put(&w, "\3", 1);
	put(&w, head, strlen(head));
	feed_cut(f, OUT, &w, w.n, 4 + 0xffffff, 10);
	w.n = 0;
	assert_int_equal(proto_mysql.requests_started(&f->c.st), 0);
	packet(&w, 1, "xx')", 4);
	feed(f, OUT, &w, 11);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), 1);
	assert_int_equal(proto_mysql.request_start_ns(&f->c.st, 0), 10);
	ok(&w, 1, 2);
	feed(f, IN, &w, 12);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->calls[0].name, "INSERT t");
	fixture_free(f);
}

/* Several results (a procedure's): one call up to the last. */
static void test_more_results(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, NULL);
	query(&w, "CALL p()");
	feed(f, OUT, &w, 10);
	packet(&w, 1, "\1", 1);
	coldef(&w, 2, "c");
	eof(&w, 3, 2);
	packet(&w, 4, "\0011", 2);
	eof(&w, 5, 2 | SERVER_MORE_RESULTS_EXISTS);
	feed(f, IN, &w, 11);
	assert_int_equal(f->n, 0);
	ok(&w, 6, 2);
	feed(f, IN, &w, 12);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->calls[0].end, 12);
	fixture_free(f);
}

/* An SSL request: the socket carries TLS, left alone; the plaintext seen
 * at the TLS library starts with the handshake response. */
static void test_tls(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 }, p = { .n = 0 };

	greeting(&w, MARIADB, CAPS_BASE | CLIENT_SSL);
	feed(f, IN, &w, 1);
	put_le(&p, CAPS_BASE | CLIENT_SSL, 4);
	put_le(&p, 1 << 24, 4);
	put_le(&p, 45, 1);
	for (int i = 0; i < 23; i++)
		put_le(&p, 0, 1);
	packet(&w, 1, p.b, p.n);
	feed(f, OUT, &w, 2);
	assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_IGNORE);
	fixture_free(f);

	f = fixture_new();
	login(&w, CAPS_BASE | CLIENT_SSL, "shop");
	w.b[3] = 2;
	assert_int_equal(proto_mysql.recognise(w.b, w.n, OUT), PROTO_YES);
	feed(f, OUT, &w, 1);
	ok(&w, 3, 2);
	feed(f, IN, &w, 2);
	query(&w, "DELETE FROM t");
	feed(f, OUT, &w, 3);
	ok(&w, 1, 2);
	feed(f, IN, &w, 4);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->calls[0].name, "DELETE t");
	assert_string_equal(attr(&f->calls[0], "db.namespace"), "shop");
	assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_WHOLE_OUT);
	fixture_free(f);
}

/* In the server: nothing, unless SERVER spans are asked for. */
static void server_side(bool spans)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	f->opts.db_server_spans = spans;
	greeting(&w, MARIADB, CAPS_BASE);
	feed(f, OUT, &w, 1);
	login(&w, CAPS_BASE, NULL);
	feed(f, IN, &w, 2);
	ok(&w, 2, 2);
	feed(f, OUT, &w, 3);
	query(&w, "SELECT 1");
	feed(f, IN, &w, 4);
	result(&w, 1, 1, false);
	feed(f, OUT, &w, 5);
	assert_int_equal(proto_mysql.role(&f->c.st), PROTO_ROLE_SERVER);
	if (spans) {
		assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_WHOLE_IN);
		assert_int_equal(f->n, 1);
		assert_true(f->calls[0].server);
		assert_int_equal(f->calls[0].start, 4);
		assert_int_equal(f->calls[0].end, 5);
	} else {
		assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_IGNORE);
		assert_int_equal(f->n, 0);
	}
	fixture_free(f);
}

static void test_server(void **state)
{
	server_side(false);
	server_side(true);
}

/* A pipeline longer than the announced limit: every command its call,
 * the first MYSQL_INFLIGHT announced when sent, the rest when answered
 * (with their thread). */
static void test_long_pipeline(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, NULL);
	for (int i = 0; i < MYSQL_INFLIGHT + 8; i++)
		query(&w, "SELECT 1");
	feed(f, OUT, &w, 10);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), MYSQL_INFLIGHT);
	for (int i = 0; i < MYSQL_INFLIGHT + 8; i++)
		ok(&w, 1, 2);
	feed(f, IN, &w, 11);
	assert_int_equal(f->n, MYSQL_INFLIGHT + 8);
	for (int i = 0; i < f->n; i++) {
		assert_int_equal(f->calls[i].start, 10);
		assert_int_equal(f->calls[i].end, 11);
		assert_int_equal(f->calls[i].tid, 8);
	}
	/* Announcing goes on once fewer wait. */
	query(&w, "SELECT 2");
	feed(f, OUT, &w, 12);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), MYSQL_INFLIGHT + 1);
	assert_int_equal(proto_mysql.request_start_ns(&f->c.st, MYSQL_INFLIGHT), 12);
	fixture_free(f);
}

/* More commands in one write than are followed: counted; the calls end at
 * the next command, cut short; no crash. */
static void test_inflight_overflow(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, NULL);
	for (int i = 0; i < MYSQL_PENDING_MAX + 3; i++)
		query(&w, "SELECT 1");
	feed(f, OUT, &w, 10);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), MYSQL_INFLIGHT);
	assert_int_equal(f->c.st.mysql.stats.inflight_overflows, 3);
	query(&w, "SELECT 2");
	feed(f, OUT, &w, 20);
	assert_int_equal(f->n, MYSQL_PENDING_MAX);
	ok(&w, 1, 2);
	feed(f, IN, &w, 21);
	assert_int_equal(f->n, MYSQL_PENDING_MAX + 1);
	assert_int_equal(f->calls[MYSQL_PENDING_MAX].end, 21);
	fixture_free(f);
}

/* Prepared statements past the table's size: not kept, counted. */
static void test_stmt_table_full(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, NULL);
	for (uint32_t id = 1; id <= MYSQL_STMTS_MAX + 2; id++) {
		prepare(&w, "SELECT 1");
		feed(f, OUT, &w, 10);
		prepare_ok(&w, id, 0, 0);
		feed(f, IN, &w, 11);
	}
	assert_int_equal(f->c.st.mysql.n_stmts, MYSQL_STMTS_MAX);
	assert_int_equal(f->c.st.mysql.stats.stmts_full, 2);
	execute(&w, MYSQL_STMTS_MAX + 1);
	feed(f, OUT, &w, 12);
	ok(&w, 1, 2);
	feed(f, IN, &w, 13);
	assert_string_equal(f->calls[f->n - 1].name, "EXECUTE");
	fixture_free(f);
}

/* Bytes that are no protocol: no crash, no call, the losses counted. */
static void test_malformed(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	struct stream_chunk bad = { .captured = 5, .total_len = 4, .data = "abcde",
				    .dir = OUT, .local = &f->local, .peer = &f->peer };
	unsigned seed = 1;

	assert_int_equal(proto_mysql.feed(&f->c, &bad, &f->emit), -EINVAL);
	connect_as(f, MARIADB, 0, NULL);
	/* A response with no command, then garbage both ways. */
	ok(&w, 1, 2);
	feed(f, IN, &w, 5);
	assert_int_equal(f->c.st.mysql.stats.orphans, 1);
	for (int round = 0; round < 200; round++) {
		w.n = (size_t)(rand_r(&seed) % 300);
		for (size_t i = 0; i < w.n; i++)
			w.b[i] = (uint8_t)rand_r(&seed);
		feed_cut(f, round & 1 ? IN : OUT, &w, w.n, w.n + (size_t)(rand_r(&seed) % 3) * 100,
			 6 + (uint64_t)round);
	}
	proto_mysql.close(&f->c, 1000, &f->emit);
	for (int i = 0; i < f->n; i++)
		assert_true(f->calls[i].end >= f->calls[i].start);
	fixture_free(f);

	/* A greeting that is cut: ignored. */
	f = fixture_new();
	greeting(&w, MARIADB, CAPS_BASE);
	feed_cut(f, IN, &w, 20, w.n, 1);
	w.n = 0;
	login(&w, CAPS_BASE, NULL);
	feed(f, OUT, &w, 2);
	assert_int_equal(proto_mysql.verdict(&f->c.st), STREAM_VERDICT_IGNORE);
	fixture_free(f);
}

/* Commands whose responses have other shapes: LOCAL INFILE (the file
 * goes out, then the OK), STATISTICS (a line of text), FIELD_LIST
 * (definitions up to an EOF), CHANGE_USER (an auth switch, then OK). */
static void test_other_commands(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	connect_as(f, MARIADB, 0, "shop");
	query(&w, "LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t");
	feed(f, OUT, &w, 10);
	packet(&w, 1, "\xfb/tmp/x", 7);
	feed(f, IN, &w, 11);
	packet(&w, 2, "1,a\n2,b\n", 8);
	packet(&w, 3, "", 0);
	feed(f, OUT, &w, 12);
	assert_int_equal(f->n, 0);
	ok(&w, 4, 2);
	feed(f, IN, &w, 13);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->calls[0].end, 13);
	assert_string_equal(f->calls[0].name, "LOAD");

	command(&w, COM_STATISTICS, "", 0);
	feed(f, OUT, &w, 20);
	packet(&w, 1, "Uptime: 5  Threads: 1", 21);
	feed(f, IN, &w, 21);
	command(&w, COM_FIELD_LIST, "t\0", 2);
	feed(f, OUT, &w, 22);
	coldef(&w, 1, "a");
	coldef(&w, 2, "b");
	feed(f, IN, &w, 23);
	eof(&w, 3, 2);
	feed(f, IN, &w, 24);
	command(&w, COM_CHANGE_USER, "other\0", 6);
	feed(f, OUT, &w, 25);
	packet(&w, 1, "\xfemysql_native_password\0abcdefghijklmnopqrst", 43);
	feed(f, IN, &w, 26);
	packet(&w, 2, "01234567890123456789", 20);
	feed(f, OUT, &w, 27);
	ok(&w, 3, 2);
	feed(f, IN, &w, 28);
	query(&w, "SELECT 1");
	feed(f, OUT, &w, 29);
	result(&w, 1, 1, false);
	feed(f, IN, &w, 30);
	assert_int_equal(f->n, 5);
	assert_string_equal(f->calls[1].name, "STATISTICS");
	assert_int_equal(f->calls[1].end, 21);
	assert_string_equal(f->calls[2].name, "FIELD_LIST");
	assert_int_equal(f->calls[2].end, 24);
	assert_string_equal(f->calls[3].name, "CHANGE_USER");
	assert_int_equal(f->calls[3].end, 28);
	assert_string_equal(f->calls[4].name, "SELECT");
	assert_int_equal(f->calls[4].end, 30);
	assert_int_equal(f->c.st.mysql.stats.orphans, 0);
	fixture_free(f);
}

/* A MariaDB connection with MARIADB_CLIENT_CACHE_METADATA (and `caps`)
 * in the greeting and the login (bytes 28..31 of the login's filler, the
 * greeting's last 4 reserved bytes), a statement of one column prepared,
 * executed: the response to feed is the caller's. */
static void cached_setup(struct fixture *f, struct wire *w, uint32_t caps)
{
	greeting(w, MARIADB, CAPS_BASE | caps);
	w->b[4 + 1 + strlen(MARIADB) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6] = 1u << 4;
	feed(f, IN, w, 1);
	login(w, CAPS_BASE | caps, NULL);
	w->b[4 + 28] = 1u << 4;
	feed(f, OUT, w, 2);
	ok(w, 2, 2);
	feed(f, IN, w, 3);
	assert_true(f->c.st.mysql.caps & MARIADB_CACHE_METADATA);
	prepare(w, "SELECT id FROM cards WHERE n = ? AND id <> ?");
	feed(f, OUT, w, 4);
	if (caps & CLIENT_DEPRECATE_EOF) {
		/* No EOF after the definition. */
		packet(w, 1, "\0\1\0\0\0\1\0\0\0\0\0\0", 12);
		coldef(w, 2, "c");
	} else {
		prepare_ok(w, 1, 1, 0);
	}
	feed(f, IN, w, 5);
	execute(w, 1);
	feed(f, OUT, w, 6);
}

/*
 * MariaDB's cached metadata, as MariaDB 10.11 answers libmariadb's
 * execution (byte for byte): the column count says no definitions
 * follow, but without CLIENT_DEPRECATE_EOF their EOF still comes, then
 * the binary row (0x00 header, null bitmap, INT 3), then the rows' EOF.
 * The call ends after the row, with 1 row; nothing is left over.
 */
static void test_cached_metadata(void **state)
{
	static const uint8_t resp[] = {
		0x02, 0x00, 0x00, 0x01, 0x01, 0x00,
		0x05, 0x00, 0x00, 0x02, 0xfe, 0x00, 0x00, 0x02, 0x00,
		0x06, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x05, 0x00, 0x00, 0x04, 0xfe, 0x00, 0x00, 0x02, 0x00,
	};
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	cached_setup(f, &w, 0);
	assert_false(f->c.st.mysql.caps & CLIENT_DEPRECATE_EOF);
	/* Up to the definitions' EOF: the call goes on. */
	put(&w, resp, 15);
	feed(f, IN, &w, 7);
	assert_int_equal(f->n, 1);
	put(&w, resp + 15, sizeof(resp) - 15);
	feed(f, IN, &w, 8);
	assert_int_equal(f->n, 2);
	assert_string_equal(f->calls[1].name, "SELECT cards");
	assert_string_equal(attr(&f->calls[1], "db.response.returned_rows"), "1");
	assert_int_equal(f->calls[1].end, 8);
	assert_int_equal(f->c.st.mysql.stats.orphans, 0);
	fixture_free(f);
}

/* The same with CLIENT_DEPRECATE_EOF: no EOF after the column count, the
 * rows at once, an OK with 0xfe at their end. */
static void test_cached_metadata_deprecate_eof(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };
	uint8_t row[3] = { 0x00, 0x00, 7 };
	uint8_t end[7] = { 0xfe, 0, 0, 2, 0, 0, 0 };

	cached_setup(f, &w, (uint32_t)CLIENT_DEPRECATE_EOF);
	packet(&w, 1, "\1\0", 2); /* one column, no metadata */
	packet(&w, 2, row, sizeof(row));
	packet(&w, 3, row, sizeof(row));
	feed(f, IN, &w, 7);
	assert_int_equal(f->n, 1);
	packet(&w, 4, end, sizeof(end));
	feed(f, IN, &w, 8);
	assert_int_equal(f->n, 2);
	assert_string_equal(attr(&f->calls[1], "db.response.returned_rows"), "2");
	assert_int_equal(f->calls[1].end, 8);
	assert_int_equal(f->c.st.mysql.stats.orphans, 0);
	fixture_free(f);
}

/* A connection met mid-stream: its first bytes a query; the result sets'
 * ends told apart without the capabilities (EOF, or OK with 0xfe). */
static void test_midstream(void **state)
{
	struct fixture *f = fixture_new();
	struct wire w = { .n = 0 };

	query(&w, "select a from t");
	assert_int_equal(proto_mysql.recognise(w.b, w.n, OUT), PROTO_YES);
	assert_int_equal(proto_mysql.recognise(w.b, w.n - 1, OUT), PROTO_NO);
	feed(f, OUT, &w, 10);
	assert_int_equal(proto_mysql.role(&f->c.st), PROTO_ROLE_CLIENT);
	assert_int_equal(proto_mysql.requests_started(&f->c.st), 1);
	result(&w, 2, 3, false);
	feed(f, IN, &w, 11);
	query(&w, "SELECT b FROM u");
	feed(f, OUT, &w, 12);
	result(&w, 1, 2, true);
	feed(f, IN, &w, 13);
	query(&w, "SELECT c FROM v");
	feed(f, OUT, &w, 14);
	result(&w, 1, 0, true);
	feed(f, IN, &w, 15);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->calls[0].name, "SELECT t");
	assert_string_equal(attr(&f->calls[0], "db.system.name"), "mysql");
	assert_string_equal(attr(&f->calls[0], "db.response.returned_rows"), "3");
	assert_string_equal(attr(&f->calls[1], "db.response.returned_rows"), "2");
	assert_string_equal(attr(&f->calls[2], "db.response.returned_rows"), "0");
	assert_int_equal(f->calls[2].end, 15);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recognise),
		cmocka_unit_test(test_query_result),
		cmocka_unit_test(test_deprecate_eof),
		cmocka_unit_test(test_compressed_left_out),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_prepared),
		cmocka_unit_test(test_prepare_execute_pipelined),
		cmocka_unit_test(test_init_db_ping),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_gap_in_payload),
		cmocka_unit_test(test_lost_place),
		cmocka_unit_test(test_long_packet),
		cmocka_unit_test(test_more_results),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_long_pipeline),
		cmocka_unit_test(test_inflight_overflow),
		cmocka_unit_test(test_stmt_table_full),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_other_commands),
		cmocka_unit_test(test_cached_metadata),
		cmocka_unit_test(test_cached_metadata_deprecate_eof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
