/* SPDX-License-Identifier: MIT */
/* Database spans' names and attributes: exact sets, errors, limits. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "protocol/db_attrs.h"

struct fixture {
	struct proto_conn c;
	struct proto_exchange x;
	struct proto_opts opts;
};

static void set_v4(struct stream_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, a->addr), 1);
	a->port = port;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	set_v4(&f->c.local, "10.0.0.1", 40000);
	set_v4(&f->c.peer, "10.0.0.2", 5432);
	proto_exchange_begin(&f->x, false, 1, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static const struct proto_attr *find(const struct proto_exchange *x, const char *key)
{
	const struct proto_attr *found = NULL;

	for (uint32_t i = 0; i < x->n_attrs; i++) {
		if (strcmp(x->attrs[i].key, key))
			continue;
		assert_null(found); /* each key once */
		found = &x->attrs[i];
	}
	return found;
}

static void want_str(const struct proto_exchange *x, const char *key, const char *value)
{
	const struct proto_attr *a = find(x, key);

	if (!a)
		fail_msg("no %s", key);
	assert_false(a->is_int);
	if (a->len != strlen(value) || memcmp(a->str, value, a->len))
		fail_msg("%s: \"%.*s\", wants \"%s\"", key, (int)a->len, a->str, value);
}

static void want_int(const struct proto_exchange *x, const char *key, int64_t value)
{
	const struct proto_attr *a = find(x, key);

	if (!a)
		fail_msg("no %s", key);
	assert_true(a->is_int);
	assert_int_equal(a->i, value);
}

static void want_name(const struct proto_exchange *x, const char *name)
{
	assert_int_equal(x->name_len, strlen(name));
	assert_memory_equal(x->name, name, x->name_len);
}

/* No attribute holds the secret literals. */
static void no_secret(const struct proto_exchange *x)
{
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];
		char v[PROTO_TEXT_MAX + 1];

		if (a->is_int)
			continue;
		snprintf(v, sizeof(v), "%.*s", (int)a->len, a->str);
		assert_null(strstr(v, "s3cret"));
		assert_null(strstr(v, "4111"));
	}
	if (x->status_message) {
		assert_null(strstr(x->status_message, "s3cret"));
		assert_null(strstr(x->status_message, "4111"));
	}
}

static void test_select(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT * FROM orders WHERE id = 4111111111111111 AND note = 's3cret'";
	struct db_attrs_msg m = {
		.system = "postgresql", .query = q, .query_len = strlen(q),
		.sql = true, .namespace_ = "shop",
	};

	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_name(&f->x, "SELECT orders");
	want_str(&f->x, "db.system.name", "postgresql");
	want_str(&f->x, "db.namespace", "shop");
	want_str(&f->x, "db.operation.name", "SELECT");
	want_str(&f->x, "db.collection.name", "orders");
	want_str(&f->x, "db.query.summary", "SELECT orders");
	want_str(&f->x, "db.query.text", "SELECT * FROM orders WHERE id = ? AND note = ?");
	want_str(&f->x, "server.address", "10.0.0.2");
	want_int(&f->x, "server.port", 5432);
	want_str(&f->x, "network.peer.address", "10.0.0.2");
	want_int(&f->x, "network.peer.port", 5432);
	assert_int_equal(f->x.n_attrs, 10);
	assert_false(f->x.error);
	assert_null(f->x.status_message);
	no_secret(&f->x);
}

/* The traced process is the server: its own end is the server's. */
static void test_server_side(void **state)
{
	struct fixture *f = *state;
	const char *q = "BEGIN";
	struct db_attrs_msg m = { .system = "mysql", .query = q,
				  .query_len = strlen(q), .sql = true };

	proto_exchange_begin(&f->x, true, 1, 2);
	set_v4(&f->c.local, "10.0.0.1", 3306);
	set_v4(&f->c.peer, "10.0.0.9", 51000);
	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_name(&f->x, "BEGIN");
	want_str(&f->x, "db.operation.name", "BEGIN");
	want_str(&f->x, "db.query.summary", "BEGIN");
	want_str(&f->x, "db.query.text", "BEGIN");
	want_str(&f->x, "server.address", "10.0.0.1");
	want_int(&f->x, "server.port", 3306);
	want_str(&f->x, "client.address", "10.0.0.9");
	want_int(&f->x, "client.port", 51000);
	want_str(&f->x, "network.peer.address", "10.0.0.9");
	want_int(&f->x, "network.peer.port", 51000);
	assert_null(find(&f->x, "db.collection.name"));
	assert_null(find(&f->x, "db.namespace"));
	assert_int_equal(f->x.n_attrs, 10);
}

static void test_error(void **state)
{
	struct fixture *f = *state;
	const char *q = "INSERT INTO cards VALUES (4111111111111111, 's3cret')";
	struct db_attrs_msg m = {
		.system = "mariadb", .query = q, .query_len = strlen(q), .sql = true,
		.status_code = "1062",
		.error_message = "Duplicate entry '4111111111111111-s3cret' for key 'PRIMARY'",
	};

	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_name(&f->x, "INSERT cards");
	want_str(&f->x, "db.response.status_code", "1062");
	want_str(&f->x, "error.type", "1062");
	want_str(&f->x, "db.query.text", "INSERT INTO cards VALUES (?)");
	assert_true(f->x.error);
	assert_string_equal(f->x.status_message, "Duplicate entry ? for key ?");
	no_secret(&f->x);
}

/* Messages: quoted runs and numbers go, apostrophes in words stay. */
static void test_error_messages(void **state)
{
	static const char *const cases[][2] = {
		{ "relation \"nope\" does not exist", "relation ? does not exist" },
		{ "Table 'shop.orders' doesn't exist", "Table ? doesn't exist" },
		{ "invalid input syntax for type integer: \"s3cret\"",
		  "invalid input syntax for type integer: ?" },
		{ "Out of range value for column 'a' at row 1",
		  "Out of range value for column ? at row ?" },
		{ "value 4111111111111111 out of range", "value ? out of range" },
		{ "cut 'unterminated s3cret", "cut ?" },
		{ "ERR wrong number of arguments for 'set' command",
		  "ERR wrong number of arguments for ? command" },
		{ "x1 v2 utf8mb4", "x1 v2 utf8mb4" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = *state;
		struct db_attrs_msg m = { .system = "postgresql",
					  .status_code = "XX000",
					  .error_message = cases[i][0] };

		proto_exchange_begin(&f->x, false, 1, 2);
		db_attrs_describe(&f->x, &f->c, &m, &f->opts);
		assert_true(f->x.error);
		assert_string_equal(f->x.status_message, cases[i][1]);
		/* No query, no operation: the system names the span. */
		want_name(&f->x, "postgresql");
	}
}

static void test_raw(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT 's3cret' -- note";
	struct db_attrs_msg m = { .system = "postgresql", .query = q,
				  .query_len = strlen(q), .sql = true,
				  .status_code = "22P02",
				  .error_message = "bad \"s3cret\"" };

	f->opts.db_query_raw = true;
	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_str(&f->x, "db.query.text", q);
	want_name(&f->x, "SELECT");
	assert_string_equal(f->x.status_message, "bad \"s3cret\"");
}

static void test_redis(void **state)
{
	static const char *const cases[][3] = {
		/* words, db.query.text, operation */
		{ "SET user:1 s3cret", "SET ? ?", "SET" },
		{ "get user:1", "GET ?", "GET" },
		{ "PING", "PING", "PING" },
		{ "client setname s3cret", "CLIENT SETNAME ?", "CLIENT" },
		{ "CONFIG GET maxmemory", "CONFIG GET ?", "CONFIG" },
		{ "CLIENT 's3cret x", "CLIENT ? ?", "CLIENT" },
		{ "JSON.SET k $ 4111111111111111", "JSON.SET ? ? ?", "JSON.SET" },
		{ "  MSET  a 1   b 2 ", "MSET ? ? ? ?", "MSET" },
		{ "s3cr\x01t x", "? ?", "" },
		{ "NOSUCH s3cret", "? ?", "" },
		{ "HIDDEN", "?", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = *state;
		struct db_attrs_msg m = { .system = "redis", .query = cases[i][0],
					  .query_len = strlen(cases[i][0]),
					  .namespace_ = "0" };

		proto_exchange_begin(&f->x, false, 1, 2);
		db_attrs_describe(&f->x, &f->c, &m, &f->opts);
		want_str(&f->x, "db.query.text", cases[i][1]);
		if (cases[i][2][0]) {
			want_str(&f->x, "db.operation.name", cases[i][2]);
			want_str(&f->x, "db.query.summary", cases[i][2]);
			want_name(&f->x, cases[i][2]);
		} else {
			assert_null(find(&f->x, "db.operation.name"));
			want_name(&f->x, "redis");
		}
		want_str(&f->x, "db.namespace", "0");
		assert_null(find(&f->x, "db.collection.name"));
		no_secret(&f->x);
	}
}

/* An operation the protocol names wins for db.operation.name; the
 * statement still gives the summary. */
static void test_operation_given(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT * FROM orders WHERE id = $1";
	struct db_attrs_msg m = { .system = "postgresql", .query = q,
				  .query_len = strlen(q), .sql = true,
				  .operation = "EXECUTE", .batch_size = 3,
				  .cut_short = true };

	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_str(&f->x, "db.operation.name", "EXECUTE");
	want_str(&f->x, "db.query.summary", "SELECT orders");
	want_name(&f->x, "SELECT orders");
	want_int(&f->x, "db.operation.batch.size", 3);
	want_str(&f->x, "spanprobe.partial", "response");
	want_str(&f->x, "db.query.text", "SELECT * FROM orders WHERE id = $1");

	struct db_attrs_msg only = { .system = "postgresql", .operation = "EXECUTE",
				     .batch_size = 1 };

	proto_exchange_begin(&f->x, false, 1, 2);
	db_attrs_describe(&f->x, &f->c, &only, &f->opts);
	want_name(&f->x, "EXECUTE");
	want_str(&f->x, "db.query.summary", "EXECUTE");
	assert_null(find(&f->x, "db.operation.batch.size"));
	assert_null(find(&f->x, "db.query.text"));
	assert_null(find(&f->x, "spanprobe.partial"));
}

/* The dialect follows the system: MySQL's backslash escapes. */
static void test_dialects(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT \"s3cret\", 'it\\'s s3cret' FROM t # 4111";
	struct db_attrs_msg m = { .system = "mysql", .query = q,
				  .query_len = strlen(q), .sql = true };

	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_str(&f->x, "db.query.text", "SELECT ?, ? FROM t");
	want_name(&f->x, "SELECT t");
	m.system = "postgresql";
	m.query = "SELECT \"Col\", 'C:\\' FROM t WHERE a # 2 = 0";
	m.query_len = strlen(m.query);
	proto_exchange_begin(&f->x, false, 1, 2);
	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_str(&f->x, "db.query.text", "SELECT \"Col\", ? FROM t WHERE a # ? = ?");
}

/* A long statement: cut to what the text has left, room kept after. */
static void test_long_query(void **state)
{
	struct fixture *f = *state;
	static char q[8000];
	size_t n = 0;
	const struct proto_attr *a;

	n += (size_t)sprintf(q, "SELECT ");
	for (int i = 0; n < sizeof(q) - 40; i++)
		n += (size_t)sprintf(q + n, "column_%d, ", i);
	n += (size_t)sprintf(q + n, "x FROM orders");

	struct db_attrs_msg m = { .system = "postgresql", .query = q,
				  .query_len = n, .sql = true };

	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	want_name(&f->x, "SELECT orders");
	a = find(&f->x, "db.query.text");
	assert_non_null(a);
	assert_true(a->len > 1000);
	assert_memory_equal(a->str, "SELECT column_0, column_1,", 26);
	/* Cut at a token: the last is a whole column or a comma. */
	assert_true(a->str[a->len - 1] == ',' ||
		    (a->str[a->len - 1] >= '0' && a->str[a->len - 1] <= '9'));
	assert_true(sizeof(f->x.text) - f->x.text_used >= 192);
	/* The same raw, cut on a character boundary. */
	memcpy(q + 1200, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8);
	f->opts.db_query_raw = true;
	for (size_t shift = 0; shift < 4; shift++) {
		proto_exchange_begin(&f->x, false, 1, 2);
		f->x.text_used = (uint32_t)shift; /* move the cut over the é's */
		db_attrs_describe(&f->x, &f->c, &m, &f->opts);
		a = find(&f->x, "db.query.text");
		assert_non_null(a);
		assert_true(a->len > 1000 && a->len < n);
		assert_true(((unsigned char)a->str[a->len - 1] & 0xe0) != 0xc0);
	}
}

/* A text already full: attributes that do not fit are left out, the
 * rest is right, nothing overflows. */
static void test_full_text(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT * FROM orders";
	struct db_attrs_msg m = { .system = "postgresql", .query = q,
				  .query_len = strlen(q), .sql = true,
				  .status_code = "57014",
				  .error_message = "canceling statement" };

	f->x.text_used = PROTO_TEXT_MAX - 20;
	db_attrs_describe(&f->x, &f->c, &m, &f->opts);
	assert_true(f->x.text_used <= PROTO_TEXT_MAX);
	assert_true(f->x.error);
	want_int(&f->x, "server.port", 5432);
	assert_null(find(&f->x, "db.query.text"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_side, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operation_given, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dialects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
