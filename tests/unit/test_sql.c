/* SPDX-License-Identifier: MIT */
/* SQL sanitiser and summary: exact outputs, cut and malformed text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/sql.h"

#define STD SQL_DIALECT_STANDARD
#define PG SQL_DIALECT_POSTGRESQL
#define MY SQL_DIALECT_MYSQL
#define ALL (-1)

struct san_case {
	int dialect; /* ALL: the same in the three */
	const char *in, *out;
};

/* `in` sanitised in a buffer of `cap`, from a copy exactly `len` long (no
 * NUL after it: a read past the end shows under ASan). */
static size_t sanitize(int dialect, const char *in, size_t len, char *out,
		       size_t cap)
{
	char *copy = malloc(len ? len : 1);
	size_t n;

	assert_non_null(copy);
	memcpy(copy, in, len);
	n = sql_sanitize_dialect(copy, len, out, cap, (enum sql_dialect)dialect);
	free(copy);
	return n;
}

/* The expected output, no secret in it, and the same again from it. */
static void check_one(int dialect, const char *in, const char *want)
{
	char out[2048], again[2048];
	size_t n = sanitize(dialect, in, strlen(in), out, sizeof(out));

	if (strcmp(out, want))
		fail_msg("dialect %d: \"%s\"\n  gives \"%s\"\n  wants \"%s\"",
			 dialect, in, out, want);
	assert_int_equal(n, strlen(out));
	assert_null(strstr(out, "s3cret"));
	assert_null(strstr(out, "4111"));
	sanitize(dialect, out, n, again, sizeof(again));
	assert_string_equal(again, out);
}

static void check_cases(const struct san_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].dialect != ALL) {
			check_one(c[i].dialect, c[i].in, c[i].out);
			continue;
		}
		for (int d = STD; d <= MY; d++)
			check_one(d, c[i].in, c[i].out);
	}
}

#define CHECK_CASES(c) check_cases(c, sizeof(c) / sizeof(c[0]))

static void test_strings(void **state)
{
	static const struct san_case c[] = {
		{ ALL, "SELECT * FROM orders WHERE id = 42 AND name = 's3cret'",
		  "SELECT * FROM orders WHERE id = ? AND name = ?" },
		{ ALL, "UPDATE u SET pw = 'it''s s3cret' WHERE id = 7",
		  "UPDATE u SET pw = ? WHERE id = ?" },
		{ ALL, "SELECT N'abc', B'0101', X'1F', U&'d\\0061t', e'x\\\\', 'a''b'",
		  "SELECT ?, ?, ?, ?, ?, ?" },
		{ ALL, "SELECT E'it\\'s s3cret', x'ff'y", "SELECT ?, ?y" },
		{ ALL, "SELECT $$s3cret$$, $tag$ it's $ s3cret $tag$, $a$$b$a$",
		  "SELECT ?, ?, ?" },
		{ ALL, "SELECT 'a' 'b'\n'c'", "SELECT ? ? ?" },
		{ ALL, "SELECT a ->> 'k' FROM t", "SELECT a ->> ? FROM t" },
		{ ALL, "SELECT x FROM t WHERE a ? 'k' AND b ?| array['a', 's3cret']",
		  "SELECT x FROM t WHERE a ? ? AND b ?| array[?, ?]" },
		/* Names stay, digits in them too; "..." is a name but in MySQL. */
		{ STD, "SELECT \"col\"\"x\", \"it's\", t1.col_2 FROM \"Sch\".\"T\"",
		  "SELECT \"col\"\"x\", \"it's\", t1.col_2 FROM \"Sch\".\"T\"" },
		{ MY, "SELECT \"col\"\"x\", \"s3cret\", t1.col_2 FROM `Sch`.`T`",
		  "SELECT ?, ?, t1.col_2 FROM `Sch`.`T`" },
		{ MY, "SELECT _utf8mb4'x', _latin1 's3cret'", "SELECT ?, _latin1 ?" },
		{ PG, "SELECT _utf8mb4'x'", "SELECT _utf8mb4?" },
		/* A backslash before a quote: an escape in MySQL, the end of
		 * the string in PostgreSQL, unknown in the standard dialect. */
		{ MY, "SELECT 'it\\'s s3cret', 'C:\\\\' FROM t", "SELECT ?, ? FROM t" },
		{ PG, "SELECT * FROM t WHERE a = 'C:\\' AND b = 's3cret'",
		  "SELECT * FROM t WHERE a = ? AND b = ?" },
		{ STD, "SELECT * FROM t WHERE a = 'C:\\' AND b = 's3cret'",
		  "SELECT * FROM t WHERE a = ?" },
		{ STD, "SELECT 'C:\\\\', 'x'", "SELECT ?, ?" },
	};

	(void)state;
	CHECK_CASES(c);
}

static void test_numbers(void **state)
{
	static const struct san_case c[] = {
		{ ALL, "SELECT 4111111111111111, 1.5, .5, 1e10, 1.5E-3, 0x1F, 0b101, 1_000",
		  "SELECT ?, ?, ?, ?, ?, ?, ?, ?" },
		{ ALL, "SELECT t1.col_2, abc123, a$b FROM t1 WHERE x=1AND y=2",
		  "SELECT t1.col_2, abc123, a$b FROM t1 WHERE x=?AND y=?" },
		{ ALL, "SELECT 1abc, 0xZZ, 1e, 1..2", "SELECT ?abc, ?xZZ, ?e, ?.?" },
		/* A sign goes with the number after an operator, "(" or ",". */
		{ ALL, "SELECT a=-1, - 1, a-1, a - -1, (-1), 5+-5, x*-.5, f(1,-2)",
		  "SELECT a=?, - ?, a-?, a - ?, (?), ?+?, x*?, f(?)" },
		{ ALL, "SELECT -4111111111111111", "SELECT -?" },
		/* Placeholders stay. */
		{ ALL, "SELECT $1, $12, ?, :name, @v FROM t WHERE a = $3",
		  "SELECT $1, $12, ?, :name, @v FROM t WHERE a = $3" },
		{ ALL, "SELECT $, $ x, $1abc", "SELECT $, $ x, $1abc" },
		{ ALL, "SELECT NULL, TRUE, false", "SELECT NULL, TRUE, false" },
	};

	(void)state;
	CHECK_CASES(c);
}

static void test_lists(void **state)
{
	static const struct san_case c[] = {
		{ ALL, "SELECT * FROM t WHERE id IN (1, 2, 3)",
		  "SELECT * FROM t WHERE id IN (?)" },
		{ ALL, "SELECT * FROM t WHERE a IN ($1, $2) AND b IN (?, ?) AND c IN ( 1 , NULL, TRUE )",
		  "SELECT * FROM t WHERE a IN (?) AND b IN (?) AND c IN (?)" },
		/* Rows of literals: one "(?)" for them all. */
		{ ALL, "INSERT INTO t (a, b) VALUES (1, 'a'), (2, 'b'),(-3,NULL)",
		  "INSERT INTO t (a, b) VALUES (?)" },
		{ ALL, "INSERT INTO t VALUES (1, 'a') , /* x */ (2, 's3cret') RETURNING id",
		  "INSERT INTO t VALUES (?) RETURNING id" },
		{ ALL, "INSERT INTO t VALUES (1, 'a'), (2, f(3)), (4, 'b')",
		  "INSERT INTO t VALUES (?), (?, f(?)), (?)" },
		{ ALL, "SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))",
		  "SELECT * FROM t WHERE (a, b) IN ((?))" },
		{ ALL, "SELECT count(*), COUNT(1), coalesce(a, 0), f((1),(2)) FROM t",
		  "SELECT count(*), COUNT(?), coalesce(a, ?), f((?)) FROM t" },
		{ ALL, "SELECT ((((1)))), (), (DEFAULT, 1)",
		  "SELECT ((((?)))), (), (DEFAULT, ?)" },
		{ ALL, "SELECT )(, (1", "SELECT )(, (?" },
	};

	(void)state;
	CHECK_CASES(c);
}

static void test_comments_space(void **state)
{
	static const struct san_case c[] = {
		{ ALL, "  SELECT a   ,\tb\r\n  FROM   t  ", "SELECT a , b FROM t" },
		{ ALL, "SELECT 1 -- 4111111111111111\nFROM t", "SELECT ? FROM t" },
		{ ALL, "SELECT/*c*/a/* 's3cret' */FROM t", "SELECT a FROM t" },
		{ ALL, "/* lead */ SELECT 1 -- trail", "SELECT ?" },
		{ STD, "SELECT 1 # 's3cret'\nFROM t", "SELECT ? FROM t" },
		{ MY, "SELECT 1 # 's3cret'\nFROM t", "SELECT ? FROM t" },
		{ PG, "SELECT a #> '{a,s3cret}' FROM t", "SELECT a #> ? FROM t" },
		{ PG, "SELECT /* a /* b 's3cret' */ 4111 */ 1", "SELECT ?" },
		{ MY, "SELECT /* a /* b */ 's3cret' */ 1", "SELECT ? */ ?" },
		{ MY, "SELECT 1 FROM t WHERE x--1", "SELECT ? FROM t WHERE x-?" },
		{ MY, "SELECT 1 -- x\n", "SELECT ?" },
		/* No space after "--" in MySQL: it would start a comment. */
		{ MY, "SELECT x--/* c */1, y--/**/ z, w--", "SELECT x--?, y--z, w--" },
		{ MY, "SELECT a---- 4111\n, b", "SELECT a--, b" },
		{ PG, "SELECT 1 FROM t WHERE x--1", "SELECT ? FROM t WHERE x" },
		{ ALL, "SELECT 1;SELECT 2;", "SELECT ?;SELECT ?;" },
		{ ALL, "", "" },
		{ ALL, " \t\n ", "" },
		{ ALL, "-- only a comment", "" },
	};

	(void)state;
	CHECK_CASES(c);
}

/* Text cut short: what was cut is "?" and the end. */
static void test_cut(void **state)
{
	static const struct san_case c[] = {
		{ ALL, "SELECT * FROM t WHERE a = 's3cr", "SELECT * FROM t WHERE a = ?" },
		{ ALL, "SELECT 1 /* cut 4111", "SELECT ? ?" },
		{ ALL, "SELECT $a$ s3cret", "SELECT ?" },
		{ ALL, "SELECT E's3cret\\", "SELECT ?" },
		{ ALL, "SELECT `unterminated", "SELECT ?" },
		{ STD, "SELECT \"unterminated", "SELECT ?" },
		{ MY, "SELECT \"s3cret", "SELECT ?" },
		{ ALL, "SELECT * FROM t WHERE id IN (1, 2, 41111", "SELECT * FROM t WHERE id IN (?, ?, ?" },
		{ ALL, "SELECT 4111111111111111", "SELECT ?" },
		{ ALL, "INSERT INTO t VALUES (1, 's3cret'), (2, 'x", "INSERT INTO t VALUES (?), (?, ?" },
	};

	(void)state;
	CHECK_CASES(c);
}

/* Bytes that are not SQL: never a crash, never a NUL or control byte out. */
static void test_binary(void **state)
{
	static const char bin[] = "SEL\0ECT \x01\x02\xff\xfe 's3\0cret' 12\x7f" "3 \x80name";
	char out[256];
	size_t n;

	(void)state;
	n = sanitize(STD, bin, sizeof(bin) - 1, out, sizeof(out));
	assert_string_equal(out, "SEL ECT \xff\xfe ? ? ? \x80name");
	assert_int_equal(n, strlen(out));
}

/* The output is bounded: cut before the token that does not fit. */
static void test_cap(void **state)
{
	const char *in = "SELECT name FROM orders WHERE id IN (1, 2) AND x = 's3cret'";
	char out[64];

	(void)state;
	memset(out, 'X', sizeof(out));
	assert_int_equal(sanitize(STD, in, strlen(in), out, 0), 0);
	assert_int_equal(out[0], 'X');
	assert_int_equal(sanitize(STD, in, strlen(in), out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 7), 6);
	assert_string_equal(out, "SELECT");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 11), 6);
	assert_string_equal(out, "SELECT");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 12), 11);
	assert_string_equal(out, "SELECT name");
	/* Up to the list: " (" fits, "?" not; then "?" and ","; then " ?"
	 * does not fit; then it does, and the list closes as "(?)", shorter. */
	assert_int_equal(sanitize(STD, in, strlen(in), out, 38), 37);
	assert_string_equal(out, "SELECT name FROM orders WHERE id IN (");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 40), 39);
	assert_string_equal(out, "SELECT name FROM orders WHERE id IN (?,");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 41), 39);
	assert_string_equal(out, "SELECT name FROM orders WHERE id IN (?,");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 42), 39);
	assert_string_equal(out, "SELECT name FROM orders WHERE id IN (?)");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 43), 39);
	assert_string_equal(out, "SELECT name FROM orders WHERE id IN (?)");
	assert_int_equal(sanitize(STD, in, strlen(in), out, 64), 49);
	assert_string_equal(out, "SELECT name FROM orders WHERE id IN (?) AND x = ?");
	/* Every cap: within it, terminated, stable when sanitised again. */
	for (size_t cap = 1; cap <= 64; cap++) {
		char again[64];
		size_t k = sanitize(STD, in, strlen(in), out, cap);

		assert_true(k < cap);
		assert_int_equal(strlen(out), k);
		sanitize(STD, out, k, again, cap);
		assert_string_equal(again, out);
	}
}

/* A batch insert of many rows stays one row long. */
static void test_many_rows(void **state)
{
	char in[20000], out[256];
	size_t n = 0;

	(void)state;
	n += (size_t)sprintf(in + n, "INSERT INTO t (a, b) VALUES ");
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(in + n, "%s(%d, 's3cret%d')", i ? ", " : "", i, i);
	sanitize(STD, in, n, out, sizeof(out));
	assert_string_equal(out, "INSERT INTO t (a, b) VALUES (?)");
}

struct sum_case {
	const char *in, *op, *coll;
};

static void test_summary(void **state)
{
	static const struct sum_case c[] = {
		{ "select * from orders", "SELECT", "orders" },
		{ "SELECT a FROM public.orders AS o WHERE o.id = 1 ORDER BY a", "SELECT", "public.orders" },
		{ "  /* c */ -- x\n select 1 from \"My Table\"", "SELECT", "My Table" },
		{ "SELECT * FROM `shop`.`orders` LIMIT 1", "SELECT", "shop.orders" },
		{ "SELECT a FROM t x, u", "SELECT", "" },
		{ "SELECT a FROM t AS x, u", "SELECT", "" },
		{ "SELECT a FROM t JOIN t AS b USING (id), u", "SELECT", "" },
		{ "SELECT a FROM t LEFT JOIN u ON t.id = u.id", "SELECT", "" },
		{ "SELECT * FROM t1 JOIN t1 ON true", "SELECT", "t1" },
		{ "SELECT a FROM t WHERE id IN (SELECT id FROM u)", "SELECT", "" },
		{ "SELECT a FROM t WHERE id IN (SELECT id FROM t)", "SELECT", "t" },
		{ "SELECT a, (SELECT max(b) FROM u) FROM t", "SELECT", "" },
		{ "SELECT a FROM t UNION SELECT a FROM u", "SELECT", "" },
		{ "(SELECT a FROM t) UNION (SELECT a FROM t)", "SELECT", "t" },
		{ "SELECT * FROM (SELECT 1) x", "SELECT", "" },
		{ "SELECT * FROM generate_series(1, 10)", "SELECT", "" },
		{ "SELECT * FROM LATERAL f()", "SELECT", "" },
		{ "SELECT 1", "SELECT", "" },
		{ "SELECT EXTRACT(YEAR FROM d), TRIM(BOTH 'x' FROM b) FROM orders", "SELECT", "orders" },
		{ "SELECT a FROM t WHERE a IS DISTINCT FROM b FOR UPDATE", "SELECT", "t" },
		{ "SELECT * FROM t; SELECT * FROM u", "SELECT", "t" },
		{ "SELECT * FROM a.b.c", "SELECT", "a.b.c" },
		{ "SELECT * FROM t.", "SELECT", "" },
		{ "SELECT * FROM", "SELECT", "" },
		{ "INSERT INTO orders (id, note) VALUES ($1, $2)", "INSERT", "orders" },
		{ "insert orders values (1)", "INSERT", "orders" },
		{ "INSERT IGNORE INTO `shop`.`orders` SET a = 1", "INSERT", "shop.orders" },
		{ "INSERT INTO t SELECT * FROM u", "INSERT", "" },
		{ "REPLACE INTO t VALUES (1)", "REPLACE", "t" },
		{ "UPDATE orders SET a = 1, b = 2 WHERE id = 3", "UPDATE", "orders" },
		{ "UPDATE ONLY orders SET a = 1", "UPDATE", "orders" },
		{ "UPDATE a, b SET a.x = b.x", "UPDATE", "" },
		{ "UPDATE t SET a = u.a FROM u WHERE t.id = u.id", "UPDATE", "" },
		{ "DELETE FROM orders WHERE id = 1", "DELETE", "orders" },
		{ "DELETE FROM t USING u WHERE t.id = u.id", "DELETE", "" },
		{ "DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id", "DELETE", "" },
		{ "CREATE TABLE orders (id int PRIMARY KEY, n text DEFAULT 'x')", "CREATE", "orders" },
		{ "CREATE TEMPORARY TABLE IF NOT EXISTS tmp_x (a int)", "CREATE", "tmp_x" },
		{ "CREATE UNLOGGED TABLE public.x AS SELECT * FROM y", "CREATE", "" },
		{ "CREATE INDEX i ON t (a)", "CREATE", "" },
		{ "CREATE OR REPLACE VIEW v AS SELECT * FROM t", "CREATE", "" },
		{ "DROP TABLE IF EXISTS orders", "DROP", "orders" },
		{ "DROP TABLE a, b", "DROP", "" },
		{ "ALTER TABLE ONLY public.orders ADD COLUMN x int, ADD COLUMN y int", "ALTER", "public.orders" },
		{ "TRUNCATE TABLE orders", "TRUNCATE", "orders" },
		{ "TRUNCATE a, b", "TRUNCATE", "" },
		/* A common table expression is not a table: its own are. */
		{ "WITH x AS (SELECT * FROM t) SELECT * FROM x", "SELECT", "t" },
		{ "WITH a AS (SELECT * FROM t), \"B\" AS MATERIALIZED (SELECT * FROM t) "
		  "SELECT * FROM a JOIN b ON a.id = b.id", "SELECT", "t" },
		{ "WITH a AS (SELECT * FROM t) SELECT * FROM a, u", "SELECT", "" },
		{ "WITH x AS (SELECT 1) SELECT * FROM x", "SELECT", "" },
		{ "WITH x AS (SELECT * FROM t) SELECT * FROM s.x", "SELECT", "" },
		{ "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT n FROM r", "SELECT", "" },
		{ "WITH RECURSIVE r(n) AS (SELECT id FROM tree UNION ALL SELECT n+1 FROM r) SELECT n FROM r",
		  "SELECT", "tree" },
		{ "WITH x AS (DELETE FROM t RETURNING *) INSERT INTO t2 SELECT * FROM x", "INSERT", "" },
		{ "WITH x AS (SELECT 1) UPDATE t SET a = 1", "UPDATE", "t" },
		{ "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "SELECT", "t" },
		{ "WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x", "SELECT", "" },
		{ "WITH x AS (SELECT 1", "WITH", "" },
		{ "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", "MERGE", "" },
		{ "begin transaction", "BEGIN", "" },
		{ "COMMIT", "COMMIT", "" },
		{ "ROLLBACK", "ROLLBACK", "" },
		{ "SET search_path = public", "SET", "" },
		{ "SHOW COLUMNS FROM t", "SHOW", "" },
		{ "CALL proc(1, 2)", "CALL", "" },
		{ "EXPLAIN SELECT * FROM t", "EXPLAIN", "" },
		{ "?", "", "" },
		{ "123 SELECT", "", "" },
		{ "'s3cret' SELECT", "", "" },
		{ "sel\xc3\xa9" "ct 1", "", "" },
		{ "", "", "" },
	};
	struct sql_summary s;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&s, 'X', sizeof(s));
		sql_summarize(c[i].in, strlen(c[i].in), &s);
		if (strcmp(s.operation, c[i].op) || strcmp(s.collection, c[i].coll))
			fail_msg("\"%s\" gives \"%s\" \"%s\", wants \"%s\" \"%s\"",
				 c[i].in, s.operation, s.collection, c[i].op,
				 c[i].coll);
	}
}

/* Reading stops where a string cannot be read, and by dialect. */
static void test_summary_dialect(void **state)
{
	const char *in = "SELECT * FROM t WHERE x = 'it\\'s' AND y IN (SELECT 1 FROM u)";
	struct sql_summary s;

	(void)state;
	sql_summarize(in, strlen(in), &s);
	assert_string_equal(s.collection, "t");
	sql_summarize_dialect(in, strlen(in), &s, MY);
	assert_string_equal(s.collection, "");
	/* Names as long as the field allows, and one longer. */
	char longer[300];
	struct sql_summary l;

	snprintf(longer, sizeof(longer), "SELECT 1 FROM %0128d", 0);
	longer[14] = 'a';
	sql_summarize(longer, strlen(longer), &l);
	assert_string_equal(l.collection, "");
	snprintf(longer, sizeof(longer), "SELECT 1 FROM %0127d", 0);
	longer[14] = 'a';
	sql_summarize(longer, strlen(longer), &l);
	assert_int_equal(strlen(l.collection), 127);
	/* A keyword longer than the operation field is none. */
	sql_summarize("SELECTSELECTSELECTSELECTSELECTSELECT 1", 38, &l);
	assert_string_equal(l.operation, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_comments_space),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_many_rows),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_dialect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
