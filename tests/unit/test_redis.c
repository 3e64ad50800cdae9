/* SPDX-License-Identifier: MIT */
/*
 * Redis: the RESP walk and the decoder behind the protocol interface,
 * fed as capture feeds it (whole calls, calls cut at every byte, gaps),
 * with the exchanges it emits kept as text; and through the exchange
 * stage into spans, for a pipeline longer than the requests it announces.
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
#include "assemble/pipeline_impl.h"
#include "export/batch.h"
#include "export/exporter.h"
#include "protocol/conntable.h"
#include "protocol/protocol.h"
#include "protocol/redis.h"
#include "protocol/resp.h"
#include "span/span.h"
#include "span/spanpool.h"

#define IN STREAM_IN
#define OUT STREAM_OUT
#define MAX_SPANS 8

#include "keep_exporter.h"

extern const struct proto_ops proto_redis;

/* --- exchanges as text ------------------------------------------------------ */

#define MAX_X 6000

/* One exchange as the stage above takes it. */
struct seen_x {
	uint64_t start, end;
	uint32_t seq, tid;
	bool announced, server, error;
	char name[64];
	char status[160];
	char attrs[512]; /* "key=value|" for each attribute */
};

struct fixture {
	struct proto_conn *c;
	struct proto_opts opts;
	struct proto_emit emit;
	int n;
	struct seen_x x[MAX_X];
	struct stream_addr local, peer;
};

static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *x)
{
	struct fixture *f = ctx;
	struct seen_x *s;
	size_t used = 0;

	assert_true(x->unordered);
	assert_true(x->end_ns >= x->req_start_ns);
	if (f->n++ >= MAX_X)
		return;
	s = &f->x[f->n - 1];
	s->start = x->req_start_ns;
	s->end = x->end_ns;
	s->seq = x->seq;
	s->tid = x->tid;
	s->announced = x->announced;
	s->server = x->server;
	s->error = x->error;
	snprintf(s->name, sizeof(s->name), "%.*s", (int)x->name_len, x->name);
	snprintf(s->status, sizeof(s->status), "%s",
		 x->status_message ? x->status_message : "");
	s->attrs[0] = '\0';
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];
		int n = a->is_int ? snprintf(s->attrs + used, sizeof(s->attrs) - used,
					     "%s=%lld|", a->key, (long long)a->i)
				  : snprintf(s->attrs + used, sizeof(s->attrs) - used,
					     "%s=%.*s|", a->key, (int)a->len, a->str);

		if (n > 0 && (size_t)n < sizeof(s->attrs) - used)
			used += (size_t)n;
	}
}

static void on_announce(void *ctx, struct proto_conn *c)
{
}

static void set_v4(struct stream_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	inet_pton(AF_INET, ip, a->addr);
	a->port = port;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->c = calloc(1, sizeof(*f->c));
	assert_non_null(f->c);
	f->c->id = 0x1000;
	set_v4(&f->c->local, "10.0.0.1", 40000);
	set_v4(&f->c->peer, "10.0.0.2", 6379);
	f->c->ops = &proto_redis;
	proto_redis.init(&f->c->st);
	f->emit = (struct proto_emit){ .exchange = on_exchange,
				       .announce = on_announce, .ctx = f,
				       .opts = &f->opts };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	proto_redis.release(&f->c->st);
	free(f->c);
	free(f);
	return 0;
}

static struct redis_conn *rc_of(struct fixture *f)
{
	return &f->c->st.redis;
}

/* One call: the first `captured` of `total` bytes of `p`. */
static void feed_part(struct fixture *f, enum stream_dir dir, const void *p,
		      size_t captured, size_t total, uint64_t ts)
{
	struct stream_chunk ch = {
		.conn_id = f->c->id, .ts_ns = ts, .pid = 1, .tid = 77,
		.dir = dir, .local = &f->c->local, .peer = &f->c->peer,
		.data = p, .captured = captured, .total_len = total,
	};

	assert_int_equal(proto_redis.feed(f->c, &ch, &f->emit), 0);
}

static void feed(struct fixture *f, enum stream_dir dir, const char *s, uint64_t ts)
{
	feed_part(f, dir, s, strlen(s), strlen(s), ts);
}

static void close_conn(struct fixture *f, uint64_t ts)
{
	proto_redis.close(f->c, ts, &f->emit);
}

/* A command as a RESP array of bulk strings, appended to `out`. */
static size_t command(char *out, size_t cap, int argc, ...)
{
	size_t n = strlen(out);
	va_list ap;

	n += (size_t)snprintf(out + n, cap - n, "*%d\r\n", argc);
	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		const char *w = va_arg(ap, const char *);

		n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n%s\r\n", strlen(w), w);
	}
	va_end(ap);
	assert_true(n < cap);
	return n;
}

/* The value of attribute `key` in `s`, or NULL (static buffer). */
static const char *attr(const struct seen_x *s, const char *key)
{
	static char v[256];
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (p = s->attrs; (p = strstr(p, pat)); p++)
		if (p == s->attrs || p[-1] == '|')
			break;
	if (!p)
		return NULL;
	p += strlen(pat);
	end = strchr(p, '|');
	snprintf(v, sizeof(v), "%.*s", (int)(end - p), p);
	return v;
}

static void assert_attr(const struct seen_x *s, const char *key, const char *want)
{
	const char *v = attr(s, key);

	if (!v)
		fail_msg("attribute %s missing in %s", key, s->attrs);
	if (strcmp(v, want))
		fail_msg("attribute %s is '%s', want '%s'", key, v, want);
}

/* --- recognition ------------------------------------------------------------ */

static void test_recognise(void **state)
{
	static const char *const yes[] = { "*1\r\n$4\r\nPING\r\n",
					   "*12\r\n$3\r\nSET\r\n",
					   "*2\r\n$3\r\nget\r\n$1\r\nk\r\n",
					   "*3\r\n$8\r\nJSON.SET\r\n",
					   "*1\r\n$20\r\ngeoradiusbymember_ro\r\n" };
	/* A reply of a command's shape (MGET's), or a name not all there:
	 * maybe, a command may follow. */
	static const char *const maybe[] = { "*3\r\n$", "*2\r\n$6\r\nHIDDEN\r\n$1\r\nx\r\n",
					     "*1\r\n$4\r\nPI", "*1\r\n$3\r\nGE\0\r\n",
					     "*1\r\n$8\r\njohn.do3\r\n" };
	static const char *const no[] = { "PING\r\n", "*1\r\n:1\r\n", "*\r\n$",
					   "+OK\r\n", "GET / HTTP/1.1\r\n",
					   "*1\n$4\r\n", "*1\r\n" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		assert_int_equal(proto_redis.recognise(yes[i], strlen(yes[i]), OUT), PROTO_YES);
		assert_ptr_equal(proto_recognise(yes[i], strlen(yes[i]), OUT), &proto_redis);
	}
	for (size_t i = 0; i < sizeof(maybe) / sizeof(maybe[0]); i++)
		assert_int_equal(proto_redis.recognise(maybe[i], strlen(maybe[i]) +
						       (i == 3 ? 4 : 0), IN),
				 PROTO_MAYBE);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(proto_redis.recognise(no[i], strlen(no[i]), OUT), PROTO_NO);
}

/* A connection met between a command and its reply: the reply (MGET's,
 * of a command's shape) says nothing of the side; the next command does,
 * and no stored value becomes an operation. */
static void test_reply_first(void **state)
{
	struct fixture *f = *state;
	char w[256] = "";

	f->opts.db_server_spans = true;
	feed(f, IN, "*2\r\n$6\r\nHIDDEN\r\n$6\r\ns3cret\r\n", 10);
	assert_int_equal(proto_redis.role(&f->c->st), PROTO_ROLE_UNKNOWN);
	assert_int_equal(proto_redis.verdict(&f->c->st), STREAM_VERDICT_NONE);
	feed(f, OUT, "$1\r\nv\r\n", 20);
	command(w, sizeof(w), 2, "GET", "k");
	feed(f, OUT, w, 30);
	assert_int_equal(proto_redis.role(&f->c->st), PROTO_ROLE_CLIENT);
	feed(f, IN, "$1\r\nv\r\n", 40);
	assert_int_equal(f->n, 1);
	assert_false(f->x[0].server);
	assert_string_equal(f->x[0].name, "GET");
	assert_attr(&f->x[0], "db.operation.name", "GET");
	assert_null(strstr(f->x[0].attrs, "HIDDEN"));
	/* Replies alone, for long: no Redis. */
	proto_redis.release(&f->c->st);
	proto_redis.init(&f->c->st);
	for (int i = 0; i < 16; i++)
		feed(f, IN, "*1\r\n$6\r\nHIDDEN\r\n", 50 + i);
	assert_int_equal(proto_redis.verdict(&f->c->st), STREAM_VERDICT_IGNORE);
	assert_int_equal(f->n, 1);
}

/* A name Redis does not know names no operation: it may be a value. */
static void test_unknown_command(void **state)
{
	struct fixture *f = *state;
	char w[256] = "";

	command(w, sizeof(w), 2, "GET", "k");
	command(w, sizeof(w), 2, "NOSUCH", "s3cret");
	command(w, sizeof(w), 3, "ft.search", "idx", "s3cret");
	feed(f, OUT, w, 10);
	feed(f, IN, "$-1\r\n-ERR unknown command\r\n*0\r\n", 20);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->x[1].name, "redis");
	assert_null(attr(&f->x[1], "db.operation.name"));
	assert_null(attr(&f->x[1], "db.query.summary"));
	assert_attr(&f->x[1], "db.query.text", "? ?");
	assert_null(strstr(f->x[1].attrs, "NOSUCH"));
	assert_string_equal(f->x[2].name, "FT.SEARCH");
	assert_attr(&f->x[2], "db.query.text", "FT.SEARCH ? ?");
	/* Names of every version in the table, any case; not a value. */
	assert_true(redis_command_known("GET", 3));
	assert_true(redis_command_known("hgetex", 6));   /* 8.0 */
	assert_true(redis_command_known("VSIM", 4));     /* 8.0's vector sets */
	assert_true(redis_command_known("STRALGO", 7));  /* 6.x */
	assert_true(redis_command_known("ZUNIONSTORE", 11));
	assert_false(redis_command_known("HIDDEN", 6));
	assert_false(redis_command_known("GE", 2));
}

/* --- commands and replies ------------------------------------------------------ */

static void test_set_get(void **state)
{
	struct fixture *f = *state;
	char w[256] = "";

	command(w, sizeof(w), 3, "set", "user:1", "alice");
	feed(f, OUT, w, 100);
	assert_int_equal(proto_redis.verdict(&f->c->st), STREAM_VERDICT_WHOLE_BOTH);
	assert_int_equal(proto_redis.role(&f->c->st), PROTO_ROLE_CLIENT);
	assert_int_equal(proto_redis.requests_started(&f->c->st), 1);
	assert_int_equal(proto_redis.request_start_ns(&f->c->st, 0), 100);
	assert_null(proto_redis.request_traceparent(&f->c->st, 0));
	feed(f, IN, "+OK\r\n", 150);
	w[0] = '\0';
	command(w, sizeof(w), 2, "GET", "user:1");
	feed(f, OUT, w, 200);
	feed(f, IN, "$5\r\nalice\r\n", 260);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->x[0].start, 100);
	assert_int_equal(f->x[0].end, 150);
	assert_true(f->x[0].announced);
	assert_int_equal(f->x[0].seq, 0);
	assert_false(f->x[0].server);
	assert_false(f->x[0].error);
	assert_attr(&f->x[0], "db.system.name", "redis");
	assert_attr(&f->x[0], "db.operation.name", "SET");
	assert_null(attr(&f->x[0], "db.namespace"));
	assert_string_equal(f->x[0].name, "SET");
	assert_attr(&f->x[0], "db.query.summary", "SET");
	assert_attr(&f->x[0], "db.query.text", "SET ? ?");
	assert_attr(&f->x[0], "server.address", "10.0.0.2");
	assert_attr(&f->x[0], "server.port", "6379");
	assert_null(attr(&f->x[0], "db.response.status_code"));
	assert_null(attr(&f->x[0], "spanprobe.partial"));
	assert_null(strstr(f->x[0].attrs, "alice"));
	assert_int_equal(f->x[1].seq, 1);
	assert_int_equal(f->x[1].end, 260);
	assert_attr(&f->x[1], "db.operation.name", "GET");
	assert_attr(&f->x[1], "db.query.text", "GET ?");
	assert_int_equal(rc_of(f)->count, 0);
	/* A container command keeps its subcommand. */
	w[0] = '\0';
	command(w, sizeof(w), 3, "client", "setname", "s3cret");
	feed(f, OUT, w, 300);
	feed(f, IN, "+OK\r\n", 310);
	assert_string_equal(f->x[2].name, "CLIENT");
	assert_attr(&f->x[2], "db.query.text", "CLIENT SETNAME ?");
}

/* db.query.text counts the arguments: spaces in one, or one empty, make
 * no more or fewer "?". */
static void test_query_text_counted(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 3, "SET", "greeting", "hello big world");
	command(w, sizeof(w), 3, "SET", "k", "");
	command(w, sizeof(w), 3, "client", "setname", "a b");
	command(w, sizeof(w), 3, "CONFIG", "s3cret value", "x");
	command(w, sizeof(w), 2, "GET", " ");
	feed(f, OUT, w, 10);
	feed(f, IN, "+OK\r\n+OK\r\n+OK\r\n-ERR x\r\n$-1\r\n", 20);
	assert_int_equal(f->n, 5);
	assert_attr(&f->x[0], "db.query.text", "SET ? ?");
	assert_attr(&f->x[1], "db.query.text", "SET ? ?");
	assert_attr(&f->x[2], "db.query.text", "CLIENT SETNAME ?");
	assert_attr(&f->x[3], "db.query.text", "CONFIG ? ?");
	assert_attr(&f->x[4], "db.query.text", "GET ?");
}

/* 1,000 commands in one write and their replies in one read: every one
 * an exchange, in order; the first REDIS_INFLIGHT announced, the others
 * with their thread. */
static char *pipeline(int n, size_t *len)
{
	size_t cap = (size_t)n * 64 + 1;
	char *w = calloc(1, cap);
	size_t used = 0;

	assert_non_null(w);
	for (int i = 0; i < n; i++) {
		char key[16];

		snprintf(key, sizeof(key), "key:%d", i);
		used += (size_t)snprintf(w + used, cap - used,
					 "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\nv\r\n",
					 strlen(key), key);
	}
	*len = used;
	return w;
}

static char *replies(int n, const char *one)
{
	char *r = calloc(1, (size_t)n * strlen(one) + 1);

	assert_non_null(r);
	for (int i = 0; i < n; i++)
		strcat(r, one);
	return r;
}

static void test_pipeline_1000(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *w = pipeline(1000, &len);
	char *r = replies(1000, "+OK\r\n");

	feed_part(f, OUT, w, len, len, 1000);
	assert_int_equal(proto_redis.requests_started(&f->c->st), REDIS_INFLIGHT);
	assert_int_equal(rc_of(f)->count, 1000);
	feed(f, IN, r, 2000);
	assert_int_equal(f->n, 1000);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(f->x[i].announced, i < REDIS_INFLIGHT);
		if (i < REDIS_INFLIGHT)
			assert_int_equal(f->x[i].seq, i);
		assert_int_equal(f->x[i].tid, 77);
		assert_int_equal(f->x[i].start, 1000);
		assert_int_equal(f->x[i].end, 2000);
		assert_attr(&f->x[i], "db.operation.name", "SET");
	}
	assert_int_equal(rc_of(f)->announced_open, 0);
	/* The next pipeline is announced again. */
	feed_part(f, OUT, w, len, len, 3000);
	assert_int_equal(proto_redis.requests_started(&f->c->st), 2 * REDIS_INFLIGHT);
	/* Replies one byte a read, commands 4 KiB a record. */
	for (size_t i = 0; r[i]; i++)
		feed_part(f, IN, r + i, 1, 1, 4000 + i);
	assert_int_equal(f->n, 2000);
	assert_int_equal(f->x[1999].end, 4000 + 5 * 1000 - 1);
	for (size_t off = 0; off < len; off += 4096) {
		size_t part = len - off < 4096 ? len - off : 4096;

		feed_part(f, OUT, w + off, part, part, 10000);
	}
	feed(f, IN, r, 11000);
	assert_int_equal(f->n, 3000);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 0);
	assert_int_equal(rc_of(f)->stats.cut_short, 0);
	free(w);
	free(r);
}

/* Raw text: the words as sent, the name in capitals, unprintable bytes
 * as '.', cut at REDIS_TEXT_MAX; AUTH's password never. */
static void test_query_text(void **state)
{
	struct fixture *f = *state;
	char w[1024] = "";
	char big[300];

	f->opts.db_query_raw = true;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	command(w, sizeof(w), 3, "hset", "h", "a\tb");
	command(w, sizeof(w), 2, "AUTH", "s3cret");
	command(w, sizeof(w), 3, "auth", "default", "s3cret");
	command(w, sizeof(w), 5, "HELLO", "3", "AUTH", "default", "s3cret");
	command(w, sizeof(w), 3, "SET", "k", big);
	feed(f, OUT, w, 10);
	feed(f, IN, ":1\r\n+OK\r\n+OK\r\n%0\r\n+OK\r\n", 20);
	assert_int_equal(f->n, 5);
	assert_attr(&f->x[0], "db.query.text", "HSET h a.b");
	assert_attr(&f->x[1], "db.query.text", "AUTH ?");
	assert_attr(&f->x[2], "db.query.text", "AUTH ? ?");
	assert_attr(&f->x[3], "db.query.text", "HELLO 3 ? ? ?");
	assert_int_equal(strlen(attr(&f->x[4], "db.query.text")), REDIS_TEXT_MAX);
	assert_true(rc_of(f)->resp3);
}

/* Raw text: the credentials of CONFIG SET, ACL SETUSER and MIGRATE are
 * "?" too. */
static void test_query_text_credentials(void **state)
{
	struct fixture *f = *state;
	char w[1024] = "";

	f->opts.db_query_raw = true;
	command(w, sizeof(w), 4, "CONFIG", "SET", "requirepass", "s3cret");
	command(w, sizeof(w), 8, "config", "set", "maxmemory", "100mb",
		"MasterAuth", "s3cret", "masteruser", "s3cret");
	command(w, sizeof(w), 3, "CONFIG", "GET", "requirepass");
	command(w, sizeof(w), 6, "ACL", "SETUSER", "alice", "on", ">s3cret", "~*");
	command(w, sizeof(w), 11, "MIGRATE", "h", "6379", "", "0", "5000", "COPY",
		"AUTH", "s3cret", "KEYS", "a");
	command(w, sizeof(w), 10, "MIGRATE", "h", "6379", "k", "0", "5000",
		"AUTH2", "s3cret", "s3cret", "REPLACE");
	command(w, sizeof(w), 4, "CONFIG", "SET", "tls-key-file-pass", "s3cret");
	command(w, sizeof(w), 5, "SENTINEL", "SET", "mymaster", "auth-pass", "s3cret");
	command(w, sizeof(w), 5, "SENTINEL", "CONFIG", "SET", "sentinel-pass", "s3cret");
	feed(f, OUT, w, 10);
	feed(f, IN, "+OK\r\n+OK\r\n*0\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n", 20);
	assert_int_equal(f->n, 9);
	assert_attr(&f->x[6], "db.query.text", "CONFIG SET tls-key-file-pass ?");
	assert_attr(&f->x[7], "db.query.text", "SENTINEL SET mymaster auth-pass ?");
	assert_attr(&f->x[8], "db.query.text", "SENTINEL CONFIG SET sentinel-pass ?");
	assert_attr(&f->x[0], "db.query.text", "CONFIG SET requirepass ?");
	assert_attr(&f->x[1], "db.query.text",
		    "CONFIG set maxmemory 100mb MasterAuth ? masteruser ?");
	assert_attr(&f->x[2], "db.query.text", "CONFIG GET requirepass");
	assert_attr(&f->x[3], "db.query.text", "ACL SETUSER alice ? ? ?");
	assert_attr(&f->x[4], "db.query.text", "MIGRATE h 6379  0 5000 COPY AUTH ? KEYS a");
	assert_attr(&f->x[5], "db.query.text", "MIGRATE h 6379 k 0 5000 AUTH2 ? ? REPLACE");
	for (int i = 0; i < f->n; i++)
		assert_null(strstr(f->x[i].attrs, "s3cret"));
}

/* Errors: the prefix is the status code and error type; a RESP3 blob
 * error too; quoted arguments leave the message. */
static void test_errors(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 2, "INCR", "name");
	command(w, sizeof(w), 2, "NOSUCH", "s3cret");
	command(w, sizeof(w), 1, "PING");
	command(w, sizeof(w), 2, "GET", "x");
	feed(f, OUT, w, 10);
	feed(f, IN, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
		    "-ERR unknown command 'NOSUCH', with args beginning with: 's3cret' \r\n"
		    "!21\r\nSYNTAX invalid syntax\r\n"
		    "-\r\n", 20);
	assert_int_equal(f->n, 4);
	assert_true(f->x[0].error);
	assert_attr(&f->x[0], "db.response.status_code", "WRONGTYPE");
	assert_attr(&f->x[0], "error.type", "WRONGTYPE");
	assert_string_equal(f->x[0].status,
			    "WRONGTYPE Operation against a key holding the wrong kind of value");
	assert_attr(&f->x[1], "db.response.status_code", "ERR");
	assert_string_equal(f->x[1].status,
			    "ERR unknown command ?, with args beginning with: ? ");
	assert_attr(&f->x[2], "db.response.status_code", "SYNTAX");
	assert_string_equal(f->x[2].status, "SYNTAX invalid syntax");
	assert_attr(&f->x[3], "db.response.status_code", "ERR");
	/* Raw: the message as the server said it. */
	f->opts.db_query_raw = true;
	w[0] = '\0';
	command(w, sizeof(w), 2, "NOSUCH", "s3cret");
	feed(f, OUT, w, 30);
	feed(f, IN, "-ERR unknown command 'NOSUCH', with args beginning with: 's3cret' \r\n", 40);
	assert_string_equal(f->x[4].status,
			    "ERR unknown command 'NOSUCH', with args beginning with: 's3cret' ");
}

/* Every RESP2 and RESP3 reply type, nested, with attributes and the
 * streamed forms: one reply each, however the reads cut them. */
static const char resp3_replies[] =
	"+OK\r\n"
	"-ERR x\r\n"
	":-42\r\n"
	"$-1\r\n"
	"$0\r\n\r\n"
	"$12\r\nhello\r\nworld\r\n"
	"*-1\r\n"
	"*0\r\n"
	"*3\r\n:1\r\n*2\r\n$1\r\na\r\n+b\r\n%1\r\n+k\r\n~2\r\n,3.14\r\n#t\r\n"
	"_\r\n"
	",inf\r\n"
	"#f\r\n"
	"!10\r\nBUSY x y z\r\n"
	"=15\r\ntxt:Some string\r\n"
	"(3492890328409238509324850943850943825024385\r\n"
	"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n"
	"|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n"
	"~3\r\n+a\r\n+b\r\n+c\r\n"
	"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n"
	"*?\r\n:1\r\n:2\r\n*?\r\n+in\r\n.\r\n.\r\n"
	"%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n"
	"~?\r\n.\r\n";
#define RESP3_REPLIES 22

static void feed_pings(struct fixture *f, int n, uint64_t ts)
{
	char w[4096] = "";

	for (int i = 0; i < n; i++)
		command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, ts);
}

static void check_resp3(struct fixture *f, int base)
{
	assert_int_equal(f->n, base + RESP3_REPLIES);
	for (int i = 0; i < RESP3_REPLIES; i++) {
		const char *code = attr(&f->x[base + i], "db.response.status_code");

		if (i == 1 || i == 12) {
			assert_non_null(code);
			assert_string_equal(code, i == 1 ? "ERR" : "BUSY");
		} else {
			assert_null(code);
		}
	}
	assert_int_equal(rc_of(f)->stats.orphan_replies, 0);
	assert_int_equal(rc_of(f)->stats.lost_replies, 0);
	assert_int_equal(rc_of(f)->count, 0);
}

static void test_reply_types(void **state)
{
	struct fixture *f = *state;
	size_t len = strlen(resp3_replies);
	int base = 0;

	/* Whole, then in two reads cut at every byte. */
	feed_pings(f, RESP3_REPLIES, 1);
	feed(f, IN, resp3_replies, 2);
	check_resp3(f, base);
	for (size_t cut = 1; cut < len; cut++) {
		base = f->n = 0;
		feed_pings(f, RESP3_REPLIES, 10 + cut);
		feed_part(f, IN, resp3_replies, cut, cut, 20 + cut);
		feed_part(f, IN, resp3_replies + cut, len - cut, len - cut, 30 + cut);
		check_resp3(f, base);
		assert_int_equal(f->x[f->n - 1].end, 30 + cut);
	}
	/* One byte a read. */
	base = f->n;
	feed_pings(f, RESP3_REPLIES, 5000);
	for (size_t i = 0; i < len; i++)
		feed_part(f, IN, resp3_replies + i, 1, 1, 6000 + i);
	check_resp3(f, base);
}

/* Commands cut at every byte too. */
static void test_commands_split(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";
	size_t len;

	f->opts.db_query_raw = true;
	feed_pings(f, 1, 1);
	feed(f, IN, "+PONG\r\n", 1);
	f->n = 0;
	command(w, sizeof(w), 3, "SET", "key", "value with spaces");
	command(w, sizeof(w), 2, "GET", "key");
	len = strlen(w);
	for (size_t cut = 1; cut < len; cut++) {
		int base = f->n;

		feed_part(f, OUT, w, cut, cut, 1);
		feed_part(f, OUT, w + cut, len - cut, len - cut, 2);
		feed(f, IN, "+OK\r\n$17\r\nvalue with spaces\r\n", 3);
		assert_int_equal(f->n, base + 2);
		assert_attr(&f->x[base], "db.query.text", "SET key value with spaces");
		assert_attr(&f->x[base + 1], "db.query.text", "GET key");
	}
}

/* MULTI/EXEC: each queued command ends at its QUEUED, EXEC at its array;
 * a SELECT queued takes effect with EXEC. */
static void test_multi_exec(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 1, "MULTI");
	command(w, sizeof(w), 3, "SET", "a", "1");
	command(w, sizeof(w), 2, "SELECT", "5");
	command(w, sizeof(w), 2, "INCR", "a");
	command(w, sizeof(w), 1, "EXEC");
	command(w, sizeof(w), 2, "GET", "a");
	feed(f, OUT, w, 10);
	feed(f, IN, "+OK\r\n+QUEUED\r\n", 20);
	feed(f, IN, "+QUEUED\r\n+QUEUED\r\n", 30);
	assert_int_equal(f->n, 4);
	assert_true(rc_of(f)->in_multi);
	assert_int_equal(f->x[1].end, 20);
	assert_int_equal(f->x[3].end, 30);
	assert_attr(&f->x[3], "db.operation.name", "INCR");
	assert_null(attr(&f->x[3], "db.namespace"));
	feed(f, IN, "*3\r\n+OK\r\n+OK\r\n:2\r\n$-1\r\n", 40);
	assert_int_equal(f->n, 6);
	assert_attr(&f->x[4], "db.operation.name", "EXEC");
	assert_false(f->x[4].error);
	assert_attr(&f->x[4], "db.namespace", "5");
	assert_attr(&f->x[5], "db.namespace", "5");
	assert_false(rc_of(f)->in_multi);
	/* A transaction refused at EXEC; DISCARD. */
	w[0] = '\0';
	command(w, sizeof(w), 1, "MULTI");
	command(w, sizeof(w), 1, "NOSUCH");
	command(w, sizeof(w), 1, "EXEC");
	command(w, sizeof(w), 1, "MULTI");
	command(w, sizeof(w), 2, "SELECT", "7");
	command(w, sizeof(w), 1, "DISCARD");
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 50);
	feed(f, IN, "+OK\r\n-ERR unknown command 'NOSUCH'\r\n"
		    "-EXECABORT Transaction discarded because of previous errors.\r\n"
		    "+OK\r\n+QUEUED\r\n+OK\r\n+PONG\r\n", 60);
	assert_int_equal(f->n, 13);
	assert_attr(&f->x[8], "db.response.status_code", "EXECABORT");
	assert_attr(&f->x[12], "db.namespace", "5");
	assert_false(rc_of(f)->in_multi);
}

/* SELECT n: db.namespace n from its own exchange on; a refused one
 * changes nothing; pipelined commands after it too. */
static void test_select(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 1, "PING");
	command(w, sizeof(w), 2, "SELECT", "3");
	command(w, sizeof(w), 2, "GET", "k");
	command(w, sizeof(w), 2, "SELECT", "99");
	command(w, sizeof(w), 2, "GET", "k");
	feed(f, OUT, w, 10);
	feed(f, IN, "+PONG\r\n+OK\r\n$-1\r\n-ERR DB index is out of range\r\n$-1\r\n", 20);
	assert_int_equal(f->n, 5);
	assert_null(attr(&f->x[0], "db.namespace"));
	assert_attr(&f->x[1], "db.namespace", "3");
	assert_attr(&f->x[2], "db.namespace", "3");
	assert_attr(&f->x[3], "db.namespace", "3");
	assert_true(f->x[3].error);
	assert_attr(&f->x[4], "db.namespace", "3");
	/* RESET goes back to 0. */
	w[0] = '\0';
	command(w, sizeof(w), 1, "RESET");
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 30);
	feed(f, IN, "+RESET\r\n+PONG\r\n", 40);
	assert_attr(&f->x[6], "db.namespace", "0");
}

/* db.namespace only once known: a connection met mid-stream may have
 * selected any database before. */
static void test_namespace(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 2, "GET", "k");
	command(w, sizeof(w), 2, "HELLO", "2");
	command(w, sizeof(w), 2, "GET", "k");
	feed(f, OUT, w, 10);
	feed(f, IN, "$-1\r\n*0\r\n$-1\r\n", 20);
	assert_int_equal(f->n, 3);
	for (int i = 0; i < 3; i++)
		assert_null(attr(&f->x[i], "db.namespace"));
	/* SELECT tells it; records lost in the kernel (anywhere on the
	 * host) leave it: a pool's connection would lose it for good. */
	w[0] = '\0';
	command(w, sizeof(w), 2, "SELECT", "3");
	feed(f, OUT, w, 30);
	feed(f, IN, "+OK\r\n", 40);
	assert_attr(&f->x[3], "db.namespace", "3");
	proto_records_lost();
	feed_pings(f, 1, 50);
	feed(f, IN, "+PONG\r\n", 60);
	feed_pings(f, 1, 70);
	feed(f, IN, "+PONG\r\n", 80);
	assert_int_equal(f->n, 6);
	assert_attr(&f->x[5], "db.namespace", "3");
	/* A TLS connection (whose start the kernel cannot tell) that opens
	 * with HELLO is seen from its start: 0.  A plain one met mid-stream
	 * whose next command is HELLO is not (it may follow a SELECT). */
	proto_redis.release(&f->c->st);
	proto_redis.init(&f->c->st);
	w[0] = '\0';
	command(w, sizeof(w), 2, "HELLO", "3");
	command(w, sizeof(w), 2, "GET", "k");
	{
		struct stream_chunk ch = {
			.conn_id = f->c->id, .ts_ns = 90, .pid = 1, .tid = 77,
			.dir = OUT, .local = &f->c->local, .peer = &f->c->peer,
			.data = w, .captured = strlen(w), .total_len = strlen(w),
			.tls = true,
		};

		assert_int_equal(proto_redis.feed(f->c, &ch, &f->emit), 0);
	}
	feed(f, IN, "%1\r\n$5\r\nproto\r\n:3\r\n_\r\n", 100);
	assert_int_equal(f->n, 8);
	assert_attr(&f->x[6], "db.namespace", "0");
	assert_attr(&f->x[7], "db.namespace", "0");
	proto_redis.release(&f->c->st);
	proto_redis.init(&f->c->st);
	feed(f, OUT, w, 102);
	feed(f, IN, "%1\r\n$5\r\nproto\r\n:3\r\n_\r\n", 104);
	assert_int_equal(f->n, 10);
	assert_null(attr(&f->x[8], "db.namespace"));
	assert_null(attr(&f->x[9], "db.namespace"));
	/* The kernel says the first command is the connection's first
	 * bytes: 0 from the start, without a HELLO. */
	proto_redis.release(&f->c->st);
	proto_redis.init(&f->c->st);
	w[0] = '\0';
	command(w, sizeof(w), 2, "GET", "k");
	{
		struct stream_chunk ch = {
			.conn_id = f->c->id, .ts_ns = 110, .pid = 1, .tid = 77,
			.dir = OUT, .local = &f->c->local, .peer = &f->c->peer,
			.data = w, .captured = strlen(w), .total_len = strlen(w),
			.start = true,
		};

		assert_int_equal(proto_redis.feed(f->c, &ch, &f->emit), 0);
	}
	feed(f, IN, "$-1\r\n", 120);
	assert_int_equal(f->n, 11);
	assert_attr(&f->x[10], "db.namespace", "0");
}

/* RESP2 pub/sub: SUBSCRIBE ends at its first confirmation; the others
 * and the messages are counted, PING answers in subscribed mode. */
static void test_pubsub_resp2(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 3, "SUBSCRIBE", "news", "sport");
	feed(f, OUT, w, 10);
	feed(f, IN, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
		    "*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n", 20);
	assert_int_equal(f->n, 1);
	assert_attr(&f->x[0], "db.operation.name", "SUBSCRIBE");
	assert_int_equal(f->x[0].end, 20);
	assert_true(rc_of(f)->pubsub);
	feed(f, IN, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$6\r\ns3cret\r\n", 30);
	feed(f, IN, "*3\r\n$7\r\nmessage\r\n$5\r\nsport\r\n$2\r\nhi\r\n", 40);
	w[0] = '\0';
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 50);
	feed(f, IN, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$1\r\nx\r\n"
		    "*2\r\n$4\r\npong\r\n$0\r\n\r\n", 60);
	assert_int_equal(f->n, 2);
	assert_attr(&f->x[1], "db.operation.name", "PING");
	w[0] = '\0';
	command(w, sizeof(w), 1, "UNSUBSCRIBE");
	feed(f, OUT, w, 70);
	feed(f, IN, "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n"
		    "*3\r\n$11\r\nunsubscribe\r\n$5\r\nsport\r\n:0\r\n", 80);
	assert_int_equal(f->n, 3);
	assert_false(rc_of(f)->pubsub);
	assert_int_equal(rc_of(f)->stats.pushed, 5);
	/* Out of subscribed mode, an array that starts with "message" is a
	 * reply like any other. */
	w[0] = '\0';
	command(w, sizeof(w), 4, "LRANGE", "l", "0", "-1");
	feed(f, OUT, w, 90);
	feed(f, IN, "*1\r\n$7\r\nmessage\r\n", 100);
	assert_int_equal(f->n, 4);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 0);
}

/* RESP3 (after HELLO 3): confirmations and messages are pushes. */
static void test_pubsub_resp3(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 2, "HELLO", "3");
	feed(f, OUT, w, 10);
	feed(f, IN, "%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n", 20);
	assert_true(rc_of(f)->resp3);
	w[0] = '\0';
	command(w, sizeof(w), 2, "SUBSCRIBE", "news");
	command(w, sizeof(w), 2, "GET", "k");
	feed(f, OUT, w, 30);
	feed(f, IN, ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
		    ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
		    "$1\r\nv\r\n"
		    ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", 40);
	assert_int_equal(f->n, 3);
	assert_attr(&f->x[1], "db.operation.name", "SUBSCRIBE");
	assert_attr(&f->x[2], "db.operation.name", "GET");
	assert_false(rc_of(f)->pubsub);
	assert_int_equal(rc_of(f)->stats.pushed, 2);
}

/* MONITOR: +OK, then a line per command the server runs: counted. */
static void test_monitor(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 1, "MONITOR");
	feed(f, OUT, w, 10);
	feed(f, IN, "+OK\r\n+1700000000.123456 [0 127.0.0.1:5555] \"SET\" \"k\" \"s3cret\"\r\n", 20);
	feed(f, IN, "+1700000001.000001 [0 127.0.0.1:5555] \"GET\" \"k\"\r\n", 30);
	assert_int_equal(f->n, 1);
	assert_int_equal(rc_of(f)->stats.monitor_lines, 2);
	w[0] = '\0';
	command(w, sizeof(w), 1, "QUIT");
	feed(f, OUT, w, 40);
	feed(f, IN, "+OK\r\n", 50);
	assert_int_equal(f->n, 2);
}

/* A big value's payload is skipped through the gap; the next reply is
 * read. */
static void test_gap_in_payload(void **state)
{
	struct fixture *f = *state;
	char w[256] = "";
	const char *head = "$100000\r\nxxxxxxxx";

	command(w, sizeof(w), 2, "GET", "big");
	command(w, sizeof(w), 2, "GET", "small");
	feed(f, OUT, w, 10);
	feed_part(f, IN, head, strlen(head), 9 + 100000 - 2, 20);
	assert_int_equal(f->n, 0);
	feed_part(f, IN, "xx\r\n$1\r\nv\r\n", 11, 11, 30);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->x[0].end, 30);
	assert_false(f->x[0].error);
	assert_int_equal(rc_of(f)->stats.lost_replies, 0);
	/* A command's value in a gap: skipped by its length. */
	w[0] = '\0';
	strcpy(w, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$70000\r\nyyyy");
	feed_part(f, OUT, w, strlen(w), strlen(w) + 70000 - 4 + 2, 40);
	w[0] = '\0';
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 41);
	feed(f, IN, "+OK\r\n+PONG\r\n", 50);
	assert_int_equal(f->n, 4);
	assert_attr(&f->x[2], "db.operation.name", "SET");
	assert_attr(&f->x[3], "db.operation.name", "PING");
	assert_int_equal(rc_of(f)->stats.lost_requests, 0);
}

/* A reply header in a gap: the commands in flight end at the next
 * command, cut short; the walk starts again there. */
static void test_gap_loses_place(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	for (int i = 0; i < 3; i++)
		command(w, sizeof(w), 2, "GET", "k");
	feed(f, OUT, w, 10);
	feed_part(f, IN, "$1\r\nv\r\n$1\r\nv\r\n", 14, 200, 20);
	assert_int_equal(f->n, 2);
	assert_int_equal(rc_of(f)->stats.lost_replies, 1);
	feed(f, IN, "$1\r\nv\r\n", 25); /* not read: the place is lost */
	assert_int_equal(f->n, 2);
	w[0] = '\0';
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 30);
	assert_int_equal(f->n, 3);
	assert_false(f->x[2].error);
	assert_attr(&f->x[2], "spanprobe.partial", "response");
	assert_int_equal(f->x[2].end, 25);
	assert_int_equal(rc_of(f)->stats.cut_short, 1);
	feed(f, IN, "+PONG\r\n", 40);
	assert_int_equal(f->n, 4);
	assert_false(f->x[3].error);
	assert_attr(&f->x[3], "db.operation.name", "PING");
}

/* A command in a gap loses the place in the commands: those before it
 * take their replies; those read after it (from a call that starts with
 * a command) end cut short once replies came, the replies to what was
 * not seen counted. */
static void test_gap_in_commands(void **state)
{
	struct fixture *f = *state;
	char w[1024] = "";
	char r[256] = "";

	for (int i = 0; i < 10; i++)
		command(w, sizeof(w), 2, "GET", "key");
	/* The first 3 commands and a part of the 4th captured. */
	feed_part(f, OUT, w, 3 * 22 + 10, strlen(w), 10);
	assert_int_equal(rc_of(f)->stats.lost_requests, 1);
	/* A call that starts inside a command is no place to start again:
	 * no inline "VALUE" command of its bytes. */
	feed(f, OUT, "value\r\nPING\r\n", 11);
	assert_int_equal(rc_of(f)->count, 3);
	w[0] = '\0';
	for (int i = 0; i < 3; i++)
		command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 12);
	assert_int_equal(rc_of(f)->count, 6);
	for (int i = 0; i < 10; i++)
		strcat(r, "$1\r\nv\r\n");
	feed(f, IN, r, 20);
	feed(f, IN, "+PONG\r\n+PONG\r\n+PONG\r\n", 21);
	assert_int_equal(f->n, 3);
	for (int i = 0; i < 3; i++) {
		assert_attr(&f->x[i], "db.operation.name", "GET");
		assert_int_equal(f->x[i].end, 20);
		assert_null(attr(&f->x[i], "spanprobe.partial"));
	}
	assert_int_equal(rc_of(f)->stats.orphan_replies, 10);
	/* The next command: the PINGs read after the loss end, cut short. */
	w[0] = '\0';
	command(w, sizeof(w), 2, "ECHO", "x");
	feed(f, OUT, w, 30);
	assert_int_equal(f->n, 6);
	for (int i = 3; i < 6; i++) {
		assert_attr(&f->x[i], "db.operation.name", "PING");
		assert_attr(&f->x[i], "spanprobe.partial", "response");
		assert_int_equal(f->x[i].end, 21);
	}
	feed(f, IN, "$1\r\nx\r\n", 40);
	assert_int_equal(f->n, 7);
	assert_attr(&f->x[6], "db.operation.name", "ECHO");
	assert_null(attr(&f->x[6], "spanprobe.partial"));
	assert_int_equal(rc_of(f)->stats.cut_short, 3);
	assert_int_equal(rc_of(f)->stats.lost_requests, 1);
}

/* Records lost in the kernel (a full ring buffer): whose is not known.
 * A command's reply among them must not go to the next command, nor the
 * next command's reply to it. */
static void test_ring_loss(void **state)
{
	struct fixture *f = *state;
	char w[256] = "";

	command(w, sizeof(w), 2, "GET", "a");
	feed(f, OUT, w, 10);
	proto_records_lost(); /* GET's reply */
	w[0] = '\0';
	command(w, sizeof(w), 2, "INCR", "b");
	feed(f, OUT, w, 20);
	feed(f, IN, "-ERR value is not an integer or out of range\r\n", 30);
	w[0] = '\0';
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 40);
	feed(f, IN, "+PONG\r\n", 50);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->x[0].name, "GET");
	assert_false(f->x[0].error);
	assert_attr(&f->x[0], "spanprobe.partial", "response");
	assert_int_equal(f->x[0].end, 20);
	assert_string_equal(f->x[1].name, "INCR");
	assert_false(f->x[1].error);
	assert_attr(&f->x[1], "spanprobe.partial", "response");
	assert_string_equal(f->x[2].name, "PING");
	assert_null(attr(&f->x[2], "spanprobe.partial"));
	assert_int_equal(f->x[2].end, 50);
	assert_int_equal(rc_of(f)->stats.ring_losses, 1);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 1);
	/* A command lost: its reply goes to no command. */
	w[0] = '\0';
	command(w, sizeof(w), 2, "GET", "c");
	proto_records_lost();
	feed(f, OUT, w, 60);
	feed(f, IN, "$1\r\nx\r\n$1\r\nc\r\n", 70);
	assert_int_equal(f->n, 3);
	feed_pings(f, 1, 80);
	feed(f, IN, "+PONG\r\n", 90);
	assert_int_equal(f->n, 5);
	assert_attr(&f->x[3], "spanprobe.partial", "response");
	assert_attr(&f->x[4], "db.operation.name", "PING");
	assert_null(attr(&f->x[4], "spanprobe.partial"));
	assert_int_equal(rc_of(f)->stats.ring_losses, 2);
}

/* CLIENT REPLY OFF and SKIP: commands the server does not answer end as
 * sent, and the replies still pair with the right commands. */
static void test_client_reply(void **state)
{
	struct fixture *f = *state;
	char w[1024] = "";

	command(w, sizeof(w), 2, "GET", "a");
	command(w, sizeof(w), 3, "client", "reply", "off");
	command(w, sizeof(w), 3, "SET", "a", "1");
	command(w, sizeof(w), 2, "SELECT", "2");
	command(w, sizeof(w), 3, "CLIENT", "REPLY", "ON");
	command(w, sizeof(w), 3, "CLIENT", "REPLY", "SKIP");
	command(w, sizeof(w), 3, "SET", "b", "2");
	command(w, sizeof(w), 2, "GET", "b");
	feed(f, OUT, w, 10);
	assert_int_equal(f->n, 5);
	assert_string_equal(f->x[0].name, "CLIENT"); /* OFF */
	assert_int_equal(f->x[0].end, 10);
	assert_false(f->x[0].announced);
	assert_null(attr(&f->x[0], "spanprobe.partial"));
	assert_string_equal(f->x[1].name, "SET");
	assert_string_equal(f->x[2].name, "SELECT");
	assert_attr(&f->x[2], "db.namespace", "2");
	assert_string_equal(f->x[3].name, "CLIENT"); /* SKIP */
	assert_string_equal(f->x[4].name, "SET");    /* the one skipped */
	assert_int_equal(rc_of(f)->count, 3); /* GET a, REPLY ON, GET b */
	assert_int_equal(proto_redis.requests_started(&f->c->st), 3);
	feed(f, IN, "$-1\r\n+OK\r\n$1\r\n2\r\n", 20);
	assert_int_equal(f->n, 8);
	assert_string_equal(f->x[5].name, "GET");
	assert_string_equal(f->x[6].name, "CLIENT");
	assert_int_equal(f->x[6].end, 20);
	assert_string_equal(f->x[7].name, "GET");
	assert_attr(&f->x[7], "db.namespace", "2");
	assert_int_equal(rc_of(f)->count, 0);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 0);
	/* RESET answers after OFF and turns replies on (as redis-server 7.0
	 * does); after SKIP, its reply is the one skipped. */
	w[0] = '\0';
	command(w, sizeof(w), 3, "CLIENT", "REPLY", "OFF");
	command(w, sizeof(w), 1, "RESET");
	command(w, sizeof(w), 2, "GET", "c");
	feed(f, OUT, w, 30);
	feed(f, IN, "+RESET\r\n$1\r\n3\r\n", 40);
	assert_int_equal(f->n, 11);
	assert_string_equal(f->x[9].name, "RESET");
	assert_int_equal(f->x[9].end, 40);
	assert_string_equal(f->x[10].name, "GET");
	w[0] = '\0';
	command(w, sizeof(w), 3, "CLIENT", "REPLY", "SKIP");
	command(w, sizeof(w), 1, "RESET");
	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 50);
	assert_int_equal(f->n, 13);
	feed(f, IN, "+PONG\r\n", 60);
	assert_int_equal(f->n, 14);
	assert_string_equal(f->x[13].name, "PING");
	assert_int_equal(f->x[13].end, 60);
	assert_int_equal(rc_of(f)->count, 0);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 0);
}

/* Past REDIS_QUEUE_MAX commands waiting: counted, their replies skipped,
 * the others all answered. */
static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	int n = REDIS_QUEUE_MAX + 904;
	size_t len;
	char *w = pipeline(n, &len);
	char *r = replies(n, ":1\r\n");

	for (size_t off = 0; off < len; off += 4096) {
		size_t part = len - off < 4096 ? len - off : 4096;

		feed_part(f, OUT, w + off, part, part, 10);
	}
	assert_int_equal(rc_of(f)->count, REDIS_QUEUE_MAX);
	assert_int_equal(rc_of(f)->stats.queue_full, 904);
	feed(f, IN, r, 20);
	assert_int_equal(f->n, REDIS_QUEUE_MAX);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 0);
	/* In step again: the next command gets the next reply. */
	feed_pings(f, 1, 30);
	feed(f, IN, "+PONG\r\n", 40);
	assert_int_equal(f->n, REDIS_QUEUE_MAX + 1);
	assert_attr(&f->x[REDIS_QUEUE_MAX], "db.operation.name", "PING");
	free(w);
	free(r);
}

/* Bad input: what is no command still gets its (error) reply; bytes
 * that are no RESP lose the place until the next command. */
static void test_malformed(void **state)
{
	struct fixture *f = *state;
	char w[512] = "";

	command(w, sizeof(w), 1, "PING");
	feed(f, OUT, w, 10);
	feed(f, OUT, "*2\r\n:1\r\n*1\r\n$1\r\nx\r\n", 11);
	feed(f, OUT, "PING  now\r\n\r\n", 12);
	feed(f, IN, "+PONG\r\n-ERR Protocol error\r\n+PONG\r\n", 20);
	assert_int_equal(f->n, 3);
	assert_null(attr(&f->x[1], "db.operation.name"));
	assert_string_equal(f->x[1].name, "redis");
	assert_attr(&f->x[2], "db.operation.name", "PING");
	assert_int_equal(rc_of(f)->stats.malformed, 1);
	/* Not RESP in the commands: lost until the next write. */
	feed(f, OUT, "*abc\r\n", 30);
	assert_int_equal(rc_of(f)->stats.lost_requests, 1);
	feed(f, IN, "-ERR Protocol error\r\n", 31);
	assert_int_equal(rc_of(f)->stats.orphan_replies, 1);
	feed_pings(f, 1, 40);
	feed(f, IN, "+PONG\r\n", 41);
	assert_int_equal(f->n, 4);
	/* Not RESP in the replies. */
	feed_pings(f, 2, 50);
	feed(f, IN, "@@@\r\n", 51);
	assert_int_equal(rc_of(f)->stats.lost_replies, 1);
	feed_pings(f, 1, 60);
	assert_int_equal(f->n, 6);
	assert_attr(&f->x[4], "spanprobe.partial", "response");
	assert_attr(&f->x[5], "spanprobe.partial", "response");
	feed(f, IN, "+PONG\r\n", 61);
	assert_int_equal(f->n, 7);
	assert_null(attr(&f->x[6], "spanprobe.partial"));
	/* Nested deeper than RESP_DEPTH_MAX. */
	feed_pings(f, 1, 70);
	w[0] = '\0';
	for (int i = 0; i < RESP_DEPTH_MAX + 1; i++)
		strcat(w, "*1\r\n");
	strcat(w, ":1\r\n");
	feed(f, IN, w, 71);
	assert_int_equal(rc_of(f)->stats.lost_replies, 2);
	/* Lengths out of range, a chunk outside a streamed string. */
	feed_pings(f, 1, 80);
	feed(f, IN, "$-2\r\n", 81);
	feed_pings(f, 1, 90);
	feed(f, IN, ";3\r\nabc\r\n", 91);
	feed_pings(f, 1, 100);
	feed(f, IN, "*99999999999999999999\r\n", 101);
	assert_int_equal(rc_of(f)->stats.lost_replies, 5);
	/* A chunk whose captured bytes exceed its length is refused. */
	{
		struct stream_chunk ch = { .conn_id = f->c->id, .ts_ns = 1, .dir = IN,
					   .local = &f->c->local, .peer = &f->c->peer,
					   .data = "+OK\r\n", .captured = 5, .total_len = 4 };

		assert_int_equal(proto_redis.feed(f->c, &ch, &f->emit), -EINVAL);
	}
}

/* The connection closes with commands in flight: they end there. */
static void test_close(void **state)
{
	struct fixture *f = *state;

	feed_pings(f, 2, 10);
	feed(f, IN, "+PONG\r\n", 20);
	close_conn(f, 30);
	assert_int_equal(f->n, 2);
	assert_null(attr(&f->x[0], "spanprobe.partial"));
	assert_attr(&f->x[1], "spanprobe.partial", "response");
	assert_int_equal(f->x[1].end, 30);
	assert_int_equal(rc_of(f)->count, 0);
}

/* Not Redis at all: ignored. */
static void test_not_redis(void **state)
{
	struct fixture *f = *state;

	feed(f, OUT, "+OK\r\n", 10);
	assert_int_equal(proto_redis.verdict(&f->c->st), STREAM_VERDICT_IGNORE);
	feed_pings(f, 1, 20);
	assert_int_equal(proto_redis.requests_started(&f->c->st), 0);
}

/* The traced process is the server: nothing unless SERVER spans are
 * asked for; then SERVER exchanges, commands whole. */
static void test_server_side(void **state)
{
	struct fixture *f = *state;
	char w[256] = "";

	command(w, sizeof(w), 2, "GET", "k");
	feed(f, IN, w, 10);
	assert_int_equal(proto_redis.role(&f->c->st), PROTO_ROLE_SERVER);
	assert_int_equal(proto_redis.verdict(&f->c->st), STREAM_VERDICT_IGNORE);
	feed(f, OUT, "$1\r\nv\r\n", 20);
	assert_int_equal(f->n, 0);
	assert_int_equal(proto_redis.requests_started(&f->c->st), 0);

	proto_redis.release(&f->c->st);
	proto_redis.init(&f->c->st);
	f->opts.db_server_spans = true;
	feed(f, IN, w, 30);
	assert_int_equal(proto_redis.verdict(&f->c->st), STREAM_VERDICT_WHOLE_IN);
	assert_int_equal(proto_redis.requests_started(&f->c->st), 1);
	feed(f, OUT, "$1\r\nv\r\n", 40);
	assert_int_equal(f->n, 1);
	assert_true(f->x[0].server);
	assert_int_equal(f->x[0].start, 30);
	assert_int_equal(f->x[0].end, 40);
	assert_attr(&f->x[0], "db.operation.name", "GET");
}

/* --- through the exchange stage: spans ----------------------------------------- */

struct span_fixture {
	struct sp_spanpool pool;
	struct sp_batch bsp;
	struct sp_exporter exp;
	struct sp_pipeline *p;
	struct exchange_spans *xs;
	struct stream_sink sink;
	struct stream_addr local, peer;
};

static struct span_fixture *span_setup(void)
{
	struct span_fixture *f = calloc(1, sizeof(*f));
	struct sp_bsp_opts bopts = { .max_queue = 4096, .max_batch = 512,
				     .delay_ms = 60000, .export_timeout_ms = 1000 };
	struct sp_pipeline_opts popts = { .span_pool = 4096, .max_threads = 16,
					  .max_depth = 8, .max_processes = 8,
					  .id_seed = 42 };
	struct proto_streams_opts sopts = { .max_conns = 8 };

	assert_non_null(f);
	assert_int_equal(spanpool_init(&f->pool, 4096), 0);
	f->exp.ops = &keep_ops;
	assert_int_equal(batch_start(&f->bsp, &bopts, &f->exp, &f->pool), 0);
	popts.sink = batch_sink(&f->bsp);
	popts.pool = &f->pool;
	f->p = pipeline_create(&popts);
	assert_non_null(f->p);
	f->xs = exchange_create(f->p, &sopts);
	assert_non_null(f->xs);
	f->sink = exchange_sink(f->xs);
	set_v4(&f->local, "10.0.0.1", 40000);
	set_v4(&f->peer, "10.0.0.2", 6379);
	n_exported = 0;
	return f;
}

static void span_teardown(struct span_fixture *f)
{
	exchange_destroy(f->xs);
	pipeline_destroy(f->p);
	batch_shutdown(&f->bsp);
	spanpool_destroy(&f->pool);
	free(f);
}

static void span_feed(struct span_fixture *f, enum stream_dir dir, const char *p,
		      size_t len, uint64_t ts)
{
	struct stream_chunk ch = {
		.conn_id = 0x4000, .ts_ns = ts, .pid = (uint32_t)getpid(),
		.tid = 7, .dir = dir, .local = &f->local, .peer = &f->peer,
		.data = p, .captured = len, .total_len = len,
	};

	f->sink.data(f->sink.ctx, &ch);
}

static void test_spans_pipeline_1000(void **state)
{
	struct span_fixture *f = span_setup();
	struct exchange_stats st;
	size_t len;
	char *w = pipeline(1000, &len);
	char *r = replies(1000, "+OK\r\n");

	/* As the kernel sends a whole call: records of up to 4 KiB. */
	for (size_t off = 0; off < len; off += 4096) {
		size_t part = len - off < 4096 ? len - off : 4096;

		span_feed(f, OUT, w + off, part, 1000);
	}
	span_feed(f, IN, r, strlen(r), 2000);
	batch_flush(&f->bsp);
	assert_int_equal(n_exported, 1000);
	exchange_stats(f->xs, &st);
	assert_int_equal(st.client_spans, 1000);
	assert_int_equal(st.over_inflight, 0);
	assert_int_equal(st.discarded, 0);
	assert_int_equal(st.no_span, 0);
	for (int i = 0; i < MAX_SPANS; i++)
		assert_int_equal(exported[i].kind, SP_KIND_CLIENT);
	f->sink.close(f->sink.ctx, 0x4000, 3000);
	batch_flush(&f->bsp);
	assert_int_equal(n_exported, 1000);
	free(w);
	free(r);
	span_teardown(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recognise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_text_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_1000, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_text_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pubsub_resp2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pubsub_resp3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_in_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_loses_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_in_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_redis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_side, setup, teardown),
		cmocka_unit_test(test_spans_pipeline_1000),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
