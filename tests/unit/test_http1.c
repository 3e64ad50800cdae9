/* SPDX-License-Identifier: MIT */
/* HTTP/1 exchange parser: framing, pairing, gaps and bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/http1_internal.h"
#include "assemble/traceparent.h"

#define IN HTTP1_INBOUND
#define OUT HTTP1_OUTBOUND
#define MAX_SEEN (HTTP1_PIPELINE_MAX + 16)

struct seen {
	int n;
	struct http1_exchange x[MAX_SEEN];
};

static void collect(const struct http1_exchange *x, void *user)
{
	struct seen *s = user;

	/* Every exchange carries its fields' lengths as they are stored. */
	assert_int_equal(x->path_len, strlen(x->path));
	assert_int_equal(x->query_len, strlen(x->query));
	assert_int_equal(x->host_len, strlen(x->host));
	assert_int_equal(x->user_agent_len, strlen(x->user_agent));

	if (s->n < MAX_SEEN)
		s->x[s->n] = *x;
	s->n++;
}

struct fixture {
	struct http1_conn c;
	struct seen s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	http1_init(&f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	http1_release(&f->c);
	free(f);
	return 0;
}

/* Whole chunk captured. */
static void feed(struct fixture *f, int dir, const char *s, uint64_t ts)
{
	assert_int_equal(http1_feed(&f->c, dir, s, strlen(s), strlen(s), ts,
				    collect, &f->s),
			 0);
}

/* Only the first `captured` bytes of a `total`-byte read are known. */
static void feed_gap(struct fixture *f, int dir, const char *s,
		     size_t total, uint64_t ts)
{
	assert_int_equal(http1_feed(&f->c, dir, s, strlen(s), total, ts,
				    collect, &f->s),
			 0);
}

/* One read per byte; timestamps ts, ts+1, ...  Returns the next ts. */
static uint64_t feed_bytes(struct fixture *f, int dir, const char *s,
			   uint64_t ts)
{
	for (size_t i = 0; s[i]; i++)
		assert_int_equal(http1_feed(&f->c, dir, s + i, 1, 1, ts++,
					    collect, &f->s),
				 0);
	return ts;
}

static void close_conn(struct fixture *f, uint64_t ts)
{
	http1_close(&f->c, ts, collect, &f->s);
}

static const char GET_REQ[] = "GET /users/42?x=1&y=2 HTTP/1.1\r\n"
			      "Host: example.com:8080\r\n"
			      "User-Agent: curl/7.88.1\r\n"
			      "Authorization: Bearer s3cr3t-t0ken\r\n"
			      "Cookie: session=hunter2\r\n"
			      "Accept: */*\r\n\r\n";
static const char OK_RESP[] = "HTTP/1.1 200 OK\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: 13\r\n\r\n"
			      "{\"id\": \"42\"}\n";

static void test_server_get(void **state)
{
	struct fixture *f = *state;
	struct http1_exchange *x = &f->s.x[0];

	feed(f, IN, GET_REQ, 100);
	assert_int_equal(f->s.n, 0);
	feed(f, OUT, OK_RESP, 200);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(x->role, HTTP1_ROLE_SERVER);
	assert_int_equal(x->method, HTTP1_M_GET);
	assert_string_equal(x->method_original, "");
	assert_string_equal(x->path, "/users/42");
	assert_string_equal(x->query, "x=1&y=2");
	assert_string_equal(x->host, "example.com:8080");
	assert_string_equal(x->user_agent, "curl/7.88.1");
	assert_string_equal(x->resp_content_type, "application/json");
	assert_int_equal(x->req_version, 11);
	assert_int_equal(x->resp_version, 11);
	assert_int_equal(x->status, 200);
	assert_int_equal(x->req_body_size, 0);
	assert_int_equal(x->resp_body_size, 13);
	assert_int_equal(x->req_start_ns, 100);
	assert_int_equal(x->req_end_ns, 100);
	assert_int_equal(x->resp_start_ns, 200);
	assert_int_equal(x->resp_end_ns, 200);
	assert_int_equal(x->flags, 0);
	assert_int_equal(f->c.stats.exchanges, 1);
}

/* Secrets are neither copied out nor left in the connection's memory. */
static void test_secrets_not_kept(void **state)
{
	struct fixture *f = *state;
	const char *mem = (const char *)&f->c;

	feed(f, IN, GET_REQ, 1);
	assert_null(memmem(mem, sizeof(f->c), "s3cr3t", 6));
	assert_null(memmem(mem, sizeof(f->c), "hunter2", 7));
	/* Cut in the middle of the Cookie value by the end of a read. */
	http1_init(&f->c);
	feed(f, IN, "GET / HTTP/1.1\r\nCookie: session=hunt", 1);
	/* (The open line holds "session=hunt" until its end is seen.) */
	feed(f, IN, "er2\r\n\r\n", 2);
	assert_null(memmem(mem, sizeof(f->c), "hunt", 4));
	feed(f, OUT, OK_RESP, 3);
	assert_int_equal(f->s.n, 1);
	assert_null(memmem(&f->s.x[0], sizeof(f->s.x[0]), "hunt", 4));
}

static void test_client_role(void **state)
{
	struct fixture *f = *state;

	feed(f, OUT, "POST /api HTTP/1.1\r\nHost: b\r\nContent-Length: 4"
		     "\r\nContent-Type: text/plain\r\n\r\nabcd",
	     10);
	feed(f, IN, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Length: 0\r\n\r\n",
	     20);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].role, HTTP1_ROLE_CLIENT);
	assert_int_equal(f->s.x[0].method, HTTP1_M_POST);
	assert_string_equal(f->s.x[0].req_content_type, "text/plain");
	assert_int_equal(f->s.x[0].req_body_size, 4);
	assert_int_equal(f->s.x[0].status, 500);
	assert_int_equal(f->s.x[0].resp_body_size, 0);
}

/* A status outside 100..599 (LinkedIn's 999) still frames its response:
 * the requests after it keep their own responses. */
static void test_status_past_599(void **state)
{
	struct fixture *f = *state;

	feed(f, OUT, "GET /1 HTTP/1.1\r\nHost: b\r\n\r\n", 1);
	feed(f, IN, "HTTP/1.1 999 Request denied\r\nContent-Length: 2\r\n\r\nno", 2);
	feed(f, OUT, "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n", 3);
	feed(f, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4);
	feed(f, OUT, "GET /3 HTTP/1.1\r\nHost: b\r\n\r\n", 5);
	feed(f, IN, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 6);
	assert_int_equal(f->s.n, 3);
	assert_string_equal(f->s.x[0].path, "/1");
	assert_int_equal(f->s.x[0].status, 999);
	assert_int_equal(f->s.x[0].resp_body_size, 2);
	assert_string_equal(f->s.x[1].path, "/2");
	assert_int_equal(f->s.x[1].status, 200);
	assert_string_equal(f->s.x[2].path, "/3");
	assert_int_equal(f->s.x[2].status, 404);
	assert_int_equal(f->c.stats.desyncs, 0);
}

/* A whole keep-alive conversation, one byte per read in both directions. */
static void test_keepalive_one_byte(void **state)
{
	struct fixture *f = *state;
	uint64_t ts = 1000, r1, r2, r3, e1, e2, e3;

	r1 = ts;
	ts = feed_bytes(f, IN, GET_REQ, ts);
	e1 = ts;
	ts = feed_bytes(f, OUT, OK_RESP, ts);
	assert_int_equal(f->s.n, 1);
	r2 = ts;
	ts = feed_bytes(f, IN, "POST /users HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 11\r\n\r\nhello world", ts);
	e2 = ts;
	ts = feed_bytes(f, OUT, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
			ts);
	assert_int_equal(f->s.n, 2);
	r3 = ts;
	ts = feed_bytes(f, IN, "\r\nDELETE /users/42 HTTP/1.1\r\n\r\n", ts);
	e3 = ts;
	ts = feed_bytes(f, OUT, "HTTP/1.1 200 OK\r\n"
				"Transfer-Encoding: chunked\r\n\r\n"
				"5\r\nhello\r\n10;x=y\r\n0123456789abcdef\r\n"
				"0\r\nX-Trailer: 1\r\n\r\n", ts);
	assert_int_equal(f->s.n, 3);

	assert_int_equal(f->s.x[0].status, 200);
	assert_string_equal(f->s.x[0].path, "/users/42");
	assert_string_equal(f->s.x[0].host, "example.com:8080");
	assert_int_equal(f->s.x[0].resp_body_size, 13);
	assert_int_equal(f->s.x[0].req_start_ns, r1);
	assert_int_equal(f->s.x[0].req_end_ns, e1 - 1);
	assert_int_equal(f->s.x[0].resp_start_ns, e1);
	assert_int_equal(f->s.x[0].resp_end_ns, r2 - 1);

	assert_int_equal(f->s.x[1].method, HTTP1_M_POST);
	assert_int_equal(f->s.x[1].req_body_size, 11);
	assert_int_equal(f->s.x[1].status, 201);
	assert_int_equal(f->s.x[1].req_start_ns, r2);
	assert_int_equal(f->s.x[1].req_end_ns, e2 - 1);

	assert_int_equal(f->s.x[2].method, HTTP1_M_DELETE);
	/* The leading empty line is not part of the request. */
	assert_int_equal(f->s.x[2].req_start_ns, r3 + 2);
	assert_int_equal(f->s.x[2].resp_body_size, 5 + 16);
	assert_int_equal(f->s.x[2].resp_start_ns, e3);
	assert_int_equal(f->s.x[2].resp_end_ns, ts - 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f->s.x[i].flags, 0);
	assert_int_equal(f->c.stats.desyncs, 0);
}

static void test_pipelining(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
		    "GET /c HTTP/1.1\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		     "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nBB",
	     2);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 3);
	assert_int_equal(f->s.n, 3);
	assert_string_equal(f->s.x[0].path, "/a");
	assert_int_equal(f->s.x[0].status, 200);
	assert_int_equal(f->s.x[0].resp_body_size, 1);
	assert_string_equal(f->s.x[1].path, "/b");
	assert_int_equal(f->s.x[1].status, 404);
	assert_int_equal(f->s.x[1].resp_body_size, 2);
	assert_string_equal(f->s.x[2].path, "/c");
	assert_int_equal(f->s.x[2].status, 204);
	assert_int_equal(f->s.x[2].resp_body_size, 0);
	assert_int_equal(f->s.x[2].resp_start_ns, 3);
}

/* The pending ring grows while its head is past its first slot: the
 * exchanges waiting keep their order (a copy from slot 0 would answer /c
 * before /b). */
static void test_pipeline_grows_past_the_head(void **state)
{
	struct fixture *f = *state;
	static const char *paths[] = { "/a", "/b", "/c", "/d", "/e" };
	static const int status[] = { 200, 201, 202, 203, 204 };

	feed(f, IN, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	/* /b waits in the second slot; /c takes the first, /d and /e make the
	 * ring grow twice with the head on /b. */
	feed(f, IN, "GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n"
		    "GET /e HTTP/1.1\r\n\r\n", 3);
	feed(f, OUT, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
		     "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
		     "HTTP/1.1 203 Non-Authoritative Information\r\n"
		     "Content-Length: 0\r\n\r\n"
		     "HTTP/1.1 204 No Content\r\n\r\n", 4);
	assert_int_equal(f->s.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(f->s.x[i].path, paths[i]);
		assert_int_equal(f->s.x[i].status, status[i]);
		assert_int_equal(f->s.x[i].seq, i);
	}
	assert_int_equal(f->c.stats.pipeline_overflows, 0);
}

/* Three pipelined requests and their responses, one byte per read. */
static void test_pipelining_one_byte(void **state)
{
	struct fixture *f = *state;
	uint64_t ts = 1;

	ts = feed_bytes(f, OUT, "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\n"
				"Content-Length: 3\r\n\r\nxyz"
				"HEAD /c HTTP/1.1\r\n\r\n", ts);
	ts = feed_bytes(f, IN, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
			       "HTTP/1.1 201 Created\r\nTransfer-Encoding: "
			       "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
			       "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
			ts);
	assert_int_equal(f->s.n, 3);
	assert_string_equal(f->s.x[0].path, "/a");
	assert_int_equal(f->s.x[0].resp_body_size, 2);
	assert_string_equal(f->s.x[1].path, "/b");
	assert_int_equal(f->s.x[1].req_body_size, 3);
	assert_int_equal(f->s.x[1].status, 201);
	assert_int_equal(f->s.x[1].resp_body_size, 2);
	assert_string_equal(f->s.x[2].path, "/c");
	assert_int_equal(f->s.x[2].resp_body_size, 0);
	assert_int_equal(f->s.x[2].resp_end_ns, ts - 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->s.x[i].role, HTTP1_ROLE_CLIENT);
		assert_int_equal(f->s.x[i].flags, 0);
	}
}

/* HTTP/1.0 with keep-alive asked for and a Content-Length: not delimited
 * by the close. */
static void test_http10_keepalive(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
		     "Content-Length: 4\r\n\r\nabcd", 2);
	feed(f, IN, "GET /2 HTTP/1.0\r\n\r\n", 3);
	feed(f, OUT, "HTTP/1.0 404 Not Found\r\n\r\nnope", 4);
	assert_int_equal(f->s.n, 1);
	close_conn(f, 5);
	assert_int_equal(f->s.n, 2);
	assert_int_equal(f->s.x[0].resp_body_size, 4);
	assert_int_equal(f->s.x[1].status, 404);
	assert_int_equal(f->s.x[1].resp_body_size, 4);
	assert_int_equal(f->s.x[1].flags, 0);
}

/* Two requests more than the FIFO holds: counted, and their responses are
 * skipped by number, so later exchanges still pair right. */
static void test_pipeline_overflow(void **state)
{
	struct fixture *f = *state;
	char path[16];
	int i;

	for (i = 0; i < HTTP1_PIPELINE_MAX + 2; i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET /%d HTTP/1.1\r\n\r\n", i);
		feed(f, IN, req, 1);
	}
	assert_int_equal(f->c.stats.pipeline_overflows, 2);
	/* The pending requests outgrew the inline slots, up to the limit. */
	assert_ptr_not_equal(f->c.fifo, f->c.inline_fifo);
	assert_int_equal(f->c.cap, HTTP1_PIPELINE_MAX);
	for (i = 0; i < HTTP1_PIPELINE_MAX + 2; i++) {
		char resp[64];

		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", 200 + i);
		feed(f, OUT, resp, 2);
	}
	assert_int_equal(f->s.n, HTTP1_PIPELINE_MAX);
	assert_int_equal(f->c.stats.orphan_responses, 2);
	/* Nothing pending: back to the inline slots. */
	assert_ptr_equal(f->c.fifo, f->c.inline_fifo);
	assert_int_equal(f->c.cap, HTTP1_FIFO_INLINE);
	feed(f, IN, "GET /next HTTP/1.1\r\n\r\n", 3);
	feed(f, OUT, "HTTP/1.1 299 Y\r\nContent-Length: 0\r\n\r\n", 4);
	assert_int_equal(f->s.n, HTTP1_PIPELINE_MAX + 1);
	for (i = 0; i < HTTP1_PIPELINE_MAX; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		assert_string_equal(f->s.x[i].path, path);
		assert_int_equal(f->s.x[i].status, 200 + i);
	}
	assert_string_equal(f->s.x[i].path, "/next");
	assert_int_equal(f->s.x[i].status, 299);
	assert_int_equal(f->s.x[i].flags, 0);
}

/*
 * Request numbers wrap.  The request dropped past the limit is the last
 * before the wrap, and one sent after a response (number 0) is kept: the
 * dropped one's response is still skipped, not given to it.
 */
static void test_pipeline_overflow_across_the_wrap(void **state)
{
	struct fixture *f = *state;
	char msg[64];
	int i;

	f->c.req_seq = f->c.resp_seq = UINT32_MAX - HTTP1_PIPELINE_MAX;
	for (i = 0; i <= HTTP1_PIPELINE_MAX; i++) {
		snprintf(msg, sizeof(msg), "GET /%d HTTP/1.1\r\n\r\n", i);
		feed(f, IN, msg, 1);
	}
	assert_int_equal(f->c.stats.pipeline_overflows, 1);
	feed(f, OUT, "HTTP/1.1 200 X\r\nContent-Length: 0\r\n\r\n", 2);
	feed(f, IN, "GET /after HTTP/1.1\r\n\r\n", 3);
	assert_int_equal(f->c.req_seq, 1);
	for (i = 1; i < HTTP1_PIPELINE_MAX; i++) {
		snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", 200 + i);
		feed(f, OUT, msg, 4);
	}
	feed(f, OUT, "HTTP/1.1 404 Dropped\r\nContent-Length: 0\r\n\r\n", 5);
	feed(f, OUT, "HTTP/1.1 299 After\r\nContent-Length: 0\r\n\r\n", 6);
	assert_int_equal(f->s.n, HTTP1_PIPELINE_MAX + 1);
	for (i = 0; i < HTTP1_PIPELINE_MAX; i++)
		assert_int_equal(f->s.x[i].status, 200 + i);
	assert_string_equal(f->s.x[i].path, "/after");
	assert_int_equal(f->s.x[i].status, 299);
	assert_int_equal(f->c.stats.orphan_responses, 1);
}

/* Node's res.write(5000 bytes) then res.end(3000 bytes), 64 bytes of each
 * write captured: the gaps hold the data, the CRLFs and the last chunk,
 * and the body size is still 8000. */
static void test_chunked_past_capture(void **state)
{
	struct fixture *f = *state;
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				   "\r\n1388\r\nxxxxxxxx";

	feed(f, IN, "GET /big HTTP/1.1\r\n\r\n", 1);
	feed_gap(f, OUT, head, strlen(head) - 8 + 5000 + 2, 2);
	feed_gap(f, OUT, "bb8\r\nyyyy", 5 + 3000 + 2 + 5, 3);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].resp_body_size, 8000);
	assert_int_equal(f->s.x[0].resp_end_ns, 3);
}

/* The same in one write (Node's writev), captured up to the data: the
 * chunk framing is in the gap, so the body size is every byte after the
 * headers, 8000 of data and 20 of framing, once the close ends it. */
static void test_chunked_framing_in_gap(void **state)
{
	struct fixture *f = *state;
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				   "\r\n1388\r\nxxxxxxxx";

	feed(f, IN, "GET /big HTTP/1.1\r\n\r\n", 1);
	feed_gap(f, OUT, head, strlen(head) - 8 + 5000 + 2 + 5 + 3000 + 2 + 5, 2);
	assert_int_equal(f->s.n, 0);
	http1_close(&f->c, 9, collect, &f->s);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].resp_body_size, 8020);
}

/* Chunk-size lines and the CRLF after data split across reads. */
static void test_chunked_split(void **state)
{
	struct fixture *f = *state;
	static const char *parts[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"1", "a\r", "\n0123456789abcdef0123456789", "\r",
		"\n5;name=\"v\"\r\nhello\r\n0\r\n", "\r\n",
	};

	feed(f, IN, "GET /stream HTTP/1.1\r\n\r\n", 1);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		feed(f, OUT, parts[i], 10 + i);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].resp_body_size, 26 + 5);
	assert_int_equal(f->s.x[0].resp_start_ns, 10);
	assert_int_equal(f->s.x[0].resp_end_ns, 16);
	assert_int_equal(f->s.x[0].flags, 0);
}

/* Large bodies of which only the first bytes of each read are captured. */
static void test_gap_in_body(void **state)
{
	struct fixture *f = *state;
	char hdr[128];
	size_t hl;

	feed_gap(f, IN, "PUT /blob HTTP/1.1\r\nContent-Length: 5000\r\n\r\nxx",
		 44 + 1000, 1);
	for (int i = 0; i < 4; i++)
		feed_gap(f, IN, "xxxx", 1000, 2 + i);
	hl = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
	assert_int_equal(f->s.n, 0);
	feed_gap(f, OUT, hdr, hl + 100000, 10);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].req_body_size, 5000);
	assert_int_equal(f->s.x[0].req_end_ns, 5);
	assert_int_equal(f->s.x[0].resp_body_size, 100000);
	assert_int_equal(f->s.x[0].resp_end_ns, 10);
	assert_int_equal(f->s.x[0].flags, 0);
	/* Chunked data running past the capture. */
	feed(f, IN, "GET /c HTTP/1.1\r\n\r\n", 20);
	/* 47 header bytes, "1000\r\n", 4096 data bytes and their CRLF. */
	feed_gap(f, OUT, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "1000\r\nabc", 47 + 6 + 4096 + 2, 21);
	feed(f, OUT, "0\r\n\r\n", 22);
	assert_int_equal(f->s.n, 2);
	assert_int_equal(f->s.x[1].resp_body_size, 4096);
	assert_int_equal(f->s.x[1].flags, 0);
}

/* A gap that runs past the end of a body holds the start of another
 * message: that one is lost, the connection is out of step until the
 * pipeline drains. */
static void test_gap_past_body(void **state)
{
	struct fixture *f = *state;

	feed_gap(f, IN, "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
		 41 + 64, 1);
	assert_int_equal(f->c.stats.desyncs, 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].req_body_size, 2);
	assert_int_equal(f->s.x[0].flags, HTTP1_X_DESYNC);
	assert_int_equal(f->c.stats.orphan_responses, 1);
	feed(f, IN, "GET /b HTTP/1.1\r\n\r\n", 4);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	assert_int_equal(f->s.n, 2);
	assert_string_equal(f->s.x[1].path, "/b");
	assert_int_equal(f->s.x[1].flags, 0);
}

/* A gap in the header block: what was parsed is kept and flagged; the
 * message then ends where the next one visibly starts. */
static void test_gap_in_headers(void **state)
{
	struct fixture *f = *state;

	feed_gap(f, IN, "GET /big HTTP/1.1\r\nHost: h1\r\nCookie: a=", 4000, 1);
	feed_gap(f, OUT, "HTTP/1.1 200 OK\r\nServer: x\r\nX-Lo", 9000, 2);
	assert_int_equal(f->s.n, 0);
	feed_gap(f, OUT, "more body", 3000, 3);
	feed(f, IN, "GET /next HTTP/1.1\r\nHost: h2\r\n\r\n", 4);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].path, "/big");
	assert_string_equal(f->s.x[0].host, "h1");
	assert_int_equal(f->s.x[0].status, 200);
	assert_int_equal(f->s.x[0].req_body_size, -1);
	assert_int_equal(f->s.x[0].resp_body_size, -1);
	assert_int_equal(f->s.x[0].req_end_ns, 1);
	assert_int_equal(f->s.x[0].resp_end_ns, 3);
	assert_int_equal(f->s.x[0].flags, HTTP1_X_HEADERS_TRUNCATED);
	feed(f, OUT, "HTTP/1.1 304 Not Modified\r\n\r\n", 5);
	assert_int_equal(f->s.n, 2);
	assert_string_equal(f->s.x[1].host, "h2");
	assert_int_equal(f->s.x[1].flags, 0);
	assert_int_equal(f->c.stats.truncated_headers, 2);
	assert_int_equal(f->c.stats.desyncs, 0);
}

/* A request line longer than the capture. */
static void test_gap_in_request_line(void **state)
{
	struct fixture *f = *state;

	feed_gap(f, IN, "GET /very/long/path?q=", 2000, 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].path, "/very/long/path");
	assert_string_equal(f->s.x[0].query, "q=");
	assert_int_equal(f->s.x[0].req_version, 0);
	assert_int_equal(f->s.x[0].flags,
			 HTTP1_X_HEADERS_TRUNCATED | HTTP1_X_FIELD_TRUNCATED);
}

static void test_expect_100_continue(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "POST /upload HTTP/1.1\r\nExpect: 100-continue\r\n"
		    "Content-Length: 5\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 100 Continue\r\n\r\n", 2);
	assert_int_equal(f->s.n, 0);
	feed(f, IN, "hello", 3);
	feed(f, OUT, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 4);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].status, 201);
	assert_int_equal(f->s.x[0].req_body_size, 5);
	assert_int_equal(f->s.x[0].req_end_ns, 3);
	assert_int_equal(f->s.x[0].resp_start_ns, 4);
	assert_int_equal(f->s.x[0].resp_body_size, 2);
	assert_int_equal(f->s.x[0].flags,
			 HTTP1_X_INTERIM | HTTP1_X_EXPECT_CONTINUE);
}

/* HEAD, 204 and 304 responses have no body whatever their headers say. */
static void test_no_body_responses(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "HEAD /file HTTP/1.1\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].method, HTTP1_M_HEAD);
	assert_int_equal(f->s.x[0].resp_body_size, 0);
	feed(f, IN, "GET /a HTTP/1.1\r\n\r\n", 3);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 4);
	feed(f, IN, "GET /b HTTP/1.1\r\n\r\n", 5);
	feed(f, OUT, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked"
		     "\r\n\r\n", 6);
	feed(f, IN, "GET /c HTTP/1.1\r\n\r\n", 7);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 8);
	assert_int_equal(f->s.n, 4);
	assert_int_equal(f->s.x[1].status, 204);
	assert_int_equal(f->s.x[1].resp_body_size, 0);
	assert_int_equal(f->s.x[2].status, 304);
	assert_int_equal(f->s.x[3].resp_body_size, 3);
	assert_int_equal(f->c.stats.desyncs, 0);
}

static void test_http10_close_delimited(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "GET /old HTTP/1.0\r\nUser-Agent: Wget/1.0\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
	     2);
	feed_gap(f, OUT, "0123456789", 1000, 3);
	feed(f, OUT, "</html>", 4);
	assert_int_equal(f->s.n, 0);
	close_conn(f, 9);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].req_version, 10);
	assert_int_equal(f->s.x[0].resp_version, 10);
	assert_int_equal(f->s.x[0].resp_body_size, 6 + 1000 + 7);
	assert_int_equal(f->s.x[0].resp_end_ns, 4);
	assert_int_equal(f->s.x[0].flags, 0);
	assert_string_equal(f->s.x[0].resp_content_type, "text/html");
}

static void test_close_mid_message(void **state)
{
	struct fixture *f = *state;

	/* No response at all. */
	feed(f, OUT, "GET /slow HTTP/1.1\r\n\r\n", 1);
	close_conn(f, 5);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].status, 0);
	assert_int_equal(f->s.x[0].role, HTTP1_ROLE_CLIENT);
	assert_int_equal(f->s.x[0].flags, HTTP1_X_INCOMPLETE);
	/* A response cut in its body. */
	feed(f, OUT, "GET /cut HTTP/1.1\r\n\r\n", 6);
	feed(f, IN, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 7);
	close_conn(f, 8);
	assert_int_equal(f->s.n, 2);
	assert_int_equal(f->s.x[1].status, 200);
	assert_int_equal(f->s.x[1].resp_body_size, 3);
	assert_int_equal(f->s.x[1].flags, HTTP1_X_INCOMPLETE);
	/* A request cut in its body, and one never seen whole. */
	feed(f, IN, "POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n1234", 9);
	close_conn(f, 10);
	assert_int_equal(f->s.n, 3);
	assert_int_equal(f->s.x[2].req_body_size, 4);
	assert_int_equal(f->s.x[2].flags, HTTP1_X_INCOMPLETE);
	feed(f, IN, "GET /never-fini", 11);
	close_conn(f, 12);
	assert_int_equal(f->s.n, 3);
}

static void assert_not_http(struct fixture *f, const char *first, size_t n)
{
	http1_init(&f->c);
	assert_int_equal(http1_feed(&f->c, IN, first, n, n, 1, collect, &f->s),
			 0);
	assert_true(http1_is_skipped(&f->c));
	feed(f, IN, GET_REQ, 2);
	feed(f, OUT, OK_RESP, 3);
	close_conn(f, 4);
	assert_int_equal(f->s.n, 0);
}

static void test_not_http(void **state)
{
	struct fixture *f = *state;
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	char bin[4096];

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7 + 3);
	assert_not_http(f, tls, sizeof(tls) - 1);
	assert_not_http(f, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	assert_not_http(f, "*1\r\n$4\r\nPING\r\n", 14);
	assert_not_http(f, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	assert_not_http(f, "get / HTTP/1.1\r\n\r\n", 18);
	assert_not_http(f, bin, sizeof(bin));
	/* Decided on the first byte even when reads are one byte long. */
	http1_init(&f->c);
	assert_int_equal(http1_feed(&f->c, OUT, "\x16", 1, 1, 1, NULL, NULL),
			 0);
	assert_true(http1_is_skipped(&f->c));
}

/*
 * Request lines around the line buffer's size, one request each on one
 * connection, with and without a CR: " HTTP/1.1" may start inside what
 * the buffer kept.  Each is one exchange with its whole path (cut only
 * past HTTP1_PATH_MAX), and the connection stays HTTP.
 */
static void test_request_lines_near_the_buffer(void **state)
{
	struct fixture *f = *state;
	char req[HTTP1_LINE_MAX + 128];
	int n = 0;

	/* (MAX_SEEN exchanges are kept: 72 here) */
	for (size_t k = HTTP1_LINE_MAX - 16; k < HTTP1_LINE_MAX + 20; k++) {
		for (int cr = 0; cr < 2; cr++, n++) {
			size_t path = k - 4; /* "GET " and the path: k bytes */

			memcpy(req, "GET /", 5);
			memset(req + 5, 'a' + n % 26, path - 1);
			snprintf(req + 4 + path, sizeof(req) - 4 - path, " HTTP/1.1%s\nHost: h\r\n\r\n",
				 cr ? "\r" : "");
			feed(f, IN, req, 1 + 2 * (uint64_t)n);
			feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2 + 2 * (uint64_t)n);
			assert_int_equal(f->s.n, n + 1);
			assert_int_equal(strlen(f->s.x[n].path),
					 path < HTTP1_PATH_MAX ? path : HTTP1_PATH_MAX - 1);
			assert_memory_equal(f->s.x[n].path, req + 4, strlen(f->s.x[n].path));
			assert_int_equal(f->s.x[n].req_version, 11);
			assert_int_equal(f->s.x[n].status, 200);
		}
	}
	assert_false(http1_is_skipped(&f->c));
}

static void test_long_request_line(void **state)
{
	struct fixture *f = *state;
	size_t n = 10240;
	char *req = malloc(n + 64);

	memcpy(req, "GET /", 5);
	memset(req + 5, 'a', n);
	strcpy(req + 5 + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	feed(f, IN, req, 1);
	feed(f, OUT, "HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(strlen(f->s.x[0].path), HTTP1_PATH_MAX - 1);
	assert_int_equal(f->s.x[0].path[HTTP1_PATH_MAX - 2], 'a');
	assert_int_equal(f->s.x[0].req_version, 11);
	assert_int_equal(f->s.x[0].status, 414);
	/* Beyond the header limit nothing more is stored. */
	assert_string_equal(f->s.x[0].host, "");
	assert_int_equal(f->s.x[0].flags,
			 HTTP1_X_HEADERS_TRUNCATED | HTTP1_X_FIELD_TRUNCATED);

	/* Without a version it is not a request. */
	http1_init(&f->c);
	strcpy(req + 5 + n, "\r\n\r\n");
	feed(f, IN, req, 3);
	feed(f, OUT, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n", 4);
	close_conn(f, 5);
	assert_int_equal(f->s.n, 1);
	/* Nor with a control byte inside. */
	strcpy(req + 5 + n, " HTTP/1.1\r\n\r\n");
	req[100] = '\x01';
	feed(f, IN, req, 6);
	feed(f, OUT, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n", 7);
	close_conn(f, 8);
	assert_int_equal(f->s.n, 1);
	free(req);
}

/* Headers past HTTP1_HEADER_MAX are not stored, framing still is read. */
static void test_header_limit(void **state)
{
	struct fixture *f = *state;
	size_t pad = HTTP1_HEADER_MAX + 100;
	char *req = malloc(pad + 256);
	int n;

	n = sprintf(req, "POST /x HTTP/1.1\r\nHost: h\r\nX-Pad: ");
	memset(req + n, 'p', pad);
	strcpy(req + n + pad, "\r\nUser-Agent: late\r\nContent-Length: 3\r\n\r\nabc");
	feed(f, IN, req, 1);
	feed(f, OUT, "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].host, "h");
	assert_string_equal(f->s.x[0].user_agent, "");
	assert_int_equal(f->s.x[0].req_body_size, 3);
	assert_int_equal(f->s.x[0].flags, HTTP1_X_HEADERS_TRUNCATED);
	free(req);
}

/* A kept header line one byte over the line buffer is read through it:
 * its field is marked cut, even when the value kept is whole; at the
 * buffer's size it is read where it came, and is not. */
static void test_header_lines_near_the_buffer(void **state)
{
	struct fixture *f = *state;

	for (size_t len = HTTP1_LINE_MAX - 1; len <= HTTP1_LINE_MAX + 2; len++) {
		char req[2 * HTTP1_LINE_MAX];
		int n = sprintf(req, "GET /l HTTP/1.1\r\n");
		int line = sprintf(req + n, "User-Agent: ua");

		/* The line, CR included, is `len` bytes: blanks after the value. */
		memset(req + n + line, ' ', len - 1 - (size_t)line);
		strcpy(req + n + len - 1, "\r\nHost: h\r\n\r\n");
		f->s.n = 0;
		feed(f, IN, req, 1);
		feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 2);
		assert_int_equal(f->s.n, 1);
		assert_string_equal(f->s.x[0].user_agent, "ua");
		assert_string_equal(f->s.x[0].host, "h");
		assert_int_equal(f->s.x[0].flags & HTTP1_X_FIELD_TRUNCATED,
				 len > HTTP1_LINE_MAX ? HTTP1_X_FIELD_TRUNCATED : 0);
	}
}

/* A block of short lines that passes HTTP1_HEADER_MAX: the line that
 * crosses it marks the headers cut, and no header after it is kept. */
static void test_header_limit_short_lines(void **state)
{
	struct fixture *f = *state;
	char *req = malloc(HTTP1_HEADER_MAX + 1024), *at = req;

	at += sprintf(at, "GET /l HTTP/1.1\r\nHost: h\r\n");
	while (at - req < HTTP1_HEADER_MAX + 50)
		at += sprintf(at, "X-Pad: %090d\r\n", 0);
	strcpy(at, "User-Agent: late\r\n\r\n");
	feed(f, IN, req, 1);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].host, "h");
	assert_string_equal(f->s.x[0].user_agent, "");
	assert_int_equal(f->s.x[0].flags, HTTP1_X_HEADERS_TRUNCATED);
	free(req);
}

/* Header lines of every shape the line readers tell apart: whitespace
 * around values (spaces, tabs, none, nothing else), LF without CR, a NUL
 * in a value, names in any case, a kept name that begins a longer one. */
static const char SHAPES_REQ[] =
	"POST /s?q=1 HTTP/1.1\r\n"
	"host:h1\r\n"
	"USER-AGENT: \t ua  \t\r\n"
	"Content-Type:\t\tapp/x \r\n"
	"traceparent:    00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n"
	"Tracestate:\r\n"
	"Host-Extra: no\r\n"
	"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
	"Expect: 100-continue \r\n"
	"content-length:  3\r\n"
	"\r\n"
	"abc";
static const char SHAPES_RESP[] =
	"HTTP/1.1 200 OK\r\n"
	"Server: x\r\n"
	"Content-Type: text/plain; a=\"b\0c\"\r\n"
	"Upgrade: h2c\r\n"
	"Transfer-Encoding:  gzip ,\tchunked \r\n"
	"\n"
	"4\r\nwxyz\r\n0\r\n\r\n";

/* A read of exactly `n` bytes from memory of its own, so that a byte read
 * past it is an error under a sanitizer. */
static void feed_exact(struct fixture *f, int dir, const char *s, size_t n,
		       uint64_t ts)
{
	char *copy = malloc(n ? n : 1);

	memcpy(copy, s, n);
	assert_int_equal(http1_feed(&f->c, dir, copy, n, n, ts, collect, &f->s),
			 0);
	free(copy);
}

static void assert_same_exchange(const struct http1_exchange *a,
				 const struct http1_exchange *b)
{
	assert_int_equal(a->req_start_ns, b->req_start_ns);
	assert_int_equal(a->req_end_ns, b->req_end_ns);
	assert_int_equal(a->resp_start_ns, b->resp_start_ns);
	assert_int_equal(a->resp_end_ns, b->resp_end_ns);
	assert_int_equal(a->req_body_size, b->req_body_size);
	assert_int_equal(a->resp_body_size, b->resp_body_size);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->method, b->method);
	assert_int_equal(a->req_version, b->req_version);
	assert_int_equal(a->resp_version, b->resp_version);
	assert_string_equal(a->method_original, b->method_original);
	assert_string_equal(a->path, b->path);
	assert_string_equal(a->query, b->query);
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->user_agent, b->user_agent);
	assert_string_equal(a->traceparent, b->traceparent);
	assert_string_equal(a->tracestate, b->tracestate);
	assert_string_equal(a->req_content_type, b->req_content_type);
	assert_string_equal(a->resp_content_type, b->resp_content_type);
}

/* The request, then the response, each in two reads split at `at[dir]`
 * (whole when at its length). */
static void feed_shapes(struct fixture *f, const size_t at[2])
{
	static const struct { const char *s; size_t n; } msg[2] = {
		{ SHAPES_REQ, sizeof(SHAPES_REQ) - 1 },
		{ SHAPES_RESP, sizeof(SHAPES_RESP) - 1 },
	};

	http1_release(&f->c);
	f->s.n = 0;
	for (int d = 0; d < 2; d++) {
		feed_exact(f, d, msg[d].s, at[d], 10);
		if (at[d] < msg[d].n)
			feed_exact(f, d, msg[d].s + at[d], msg[d].n - at[d], 10);
	}
	assert_int_equal(f->s.n, 1);
}

/* However the reads split a head, its lines are read alike. */
static void test_header_shapes_every_split(void **state)
{
	struct fixture *f = *state;
	const size_t whole[2] = { sizeof(SHAPES_REQ) - 1, sizeof(SHAPES_RESP) - 1 };
	struct http1_exchange ref;

	feed_shapes(f, whole);
	ref = f->s.x[0];
	assert_string_equal(ref.host, "h1");
	assert_string_equal(ref.user_agent, "ua");
	assert_string_equal(ref.req_content_type, "app/x");
	assert_string_equal(ref.traceparent,
			    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	assert_string_equal(ref.tracestate, "");
	assert_string_equal(ref.resp_content_type, "text/plain; a=\"b");
	assert_int_equal(ref.req_body_size, 3);
	assert_int_equal(ref.resp_body_size, 4);
	assert_int_equal(ref.flags, HTTP1_X_EXPECT_CONTINUE);
	for (int d = 0; d < 2; d++) {
		for (size_t k = 0; k < whole[d]; k++) {
			size_t at[2] = { whole[0], whole[1] };

			at[d] = k;
			feed_shapes(f, at);
			assert_same_exchange(&f->s.x[0], &ref);
		}
	}
}

static void test_methods_and_targets(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "PROPFIND /dav/ HTTP/1.1\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 207 Multi\r\nContent-Length: 0\r\n\r\n", 2);
	feed(f, IN, "GET http://proxy.example/p/q?z=9 HTTP/1.1\r\n\r\n", 3);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4);
	feed(f, IN, "OPTIONS * HTTP/1.1\r\n\r\n", 5);
	feed(f, OUT, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 6);
	assert_int_equal(f->s.n, 3);
	assert_int_equal(f->s.x[0].method, HTTP1_M_OTHER);
	assert_string_equal(f->s.x[0].method_original, "PROPFIND");
	assert_string_equal(http1_method_name(f->s.x[0].method), "_OTHER");
	assert_string_equal(f->s.x[1].path, "/p/q");
	assert_string_equal(f->s.x[1].query, "z=9");
	assert_string_equal(f->s.x[2].path, "*");
	assert_int_equal(f->s.x[2].method, HTTP1_M_OPTIONS);
	assert_string_equal(http1_method_name(HTTP1_M_PATCH), "PATCH");
}

/* A Host's "user:password@" is never kept, whatever its length and
 * wherever its last '@' is (also with another before it). */
static void test_host_userinfo(void **state)
{
	struct fixture *f = *state;

	for (int len = 1; len <= 50; len++) {
		for (int at = -1; at < len; at++) {
			char host[64], req[128];
			int n;

			memset(host, 'a' + len % 26, (size_t)len);
			host[len] = '\0';
			if (at >= 0)
				host[at] = '@';
			if (at >= 2)
				host[at / 2] = '@';
			n = snprintf(req, sizeof(req),
				     "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
			http1_release(&f->c);
			f->s.n = 0;
			feed_exact(f, IN, req, (size_t)n, 1);
			feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 2);
			assert_int_equal(f->s.n, 1);
			assert_string_equal(f->s.x[0].host, host + at + 1);
		}
	}
}

/* The lengths of path, query, host and user agent follow what is stored:
 * cut to the field, "/" for an absolute target without a path, the
 * authority of CONNECT, a value's NUL. */
static void test_field_lengths(void **state)
{
	struct fixture *f = *state;
	static const char ua_nul[] = "GET /a HTTP/1.1\r\nHost: h\0idden\r\n"
				     "User-Agent: \0x\r\n\r\n";
	char req[1024];

	snprintf(req, sizeof(req), "GET /%0*d HTTP/1.1\r\nHost: %0*d\r\n"
		 "User-Agent: %0*d\r\n\r\n", 300, 0, 200, 0, 300, 0);
	feed(f, IN, req, 1);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 2);
	snprintf(req, sizeof(req), "GET /q?%0*d HTTP/1.1\r\n\r\n", 200, 0);
	feed(f, IN, req, 3);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 4);
	feed(f, IN, "GET http://u:p@h.example?q=1 HTTP/1.1\r\n\r\n", 5);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 6);
	feed(f, IN, "CONNECT u@db.example:5432 HTTP/1.1\r\n\r\n", 7);
	feed(f, OUT, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 8);
	assert_int_equal(http1_feed(&f->c, IN, ua_nul, sizeof(ua_nul) - 1,
				    sizeof(ua_nul) - 1, 9, collect, &f->s),
			 0);
	feed(f, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 10);
	assert_int_equal(f->s.n, 5);
	assert_int_equal(f->s.x[0].path_len, HTTP1_PATH_MAX - 1);
	assert_int_equal(f->s.x[0].host_len, HTTP1_HOST_MAX - 1);
	assert_int_equal(f->s.x[0].user_agent_len, HTTP1_UA_MAX - 1);
	assert_int_equal(f->s.x[1].path_len, 2);
	assert_int_equal(f->s.x[1].query_len, HTTP1_QUERY_MAX - 1);
	assert_string_equal(f->s.x[2].path, "/");
	assert_int_equal(f->s.x[2].path_len, 1);
	assert_int_equal(f->s.x[2].query_len, 3);
	assert_int_equal(f->s.x[2].host_len, 0);
	assert_string_equal(f->s.x[3].host, "db.example:5432");
	assert_int_equal(f->s.x[3].host_len, 15);
	assert_int_equal(f->s.x[3].path_len, 0);
	assert_int_equal(f->s.x[4].path_len, 2);
	assert_int_equal(f->s.x[4].host_len, 1);
	assert_int_equal(f->s.x[4].user_agent_len, 0);
}

/* The longest method of the first-bytes rule (HTTP1_CLASSIFY_METHOD_MAX
 * characters, as the kernel side's) is accepted however the reads split
 * it; one more character is not HTTP. */
static void test_method_length_limit(void **state)
{
	struct fixture *f = *state;
	char req[128], method[HTTP1_CLASSIFY_METHOD_MAX + 1];

	memset(method, 'M', HTTP1_CLASSIFY_METHOD_MAX);
	method[HTTP1_CLASSIFY_METHOD_MAX] = '\0';
	snprintf(req, sizeof(req), "%s /m HTTP/1.1\r\n\r\n", method);
	feed_bytes(f, IN, req, 1);
	feed(f, OUT, "HTTP/1.1 405 No\r\nContent-Length: 0\r\n\r\n", 100);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].method_original, method);
	http1_init(&f->c);
	snprintf(req, sizeof(req), "%sX /m HTTP/1.1\r\n\r\n", method);
	feed(f, IN, req, 1);
	assert_true(http1_is_skipped(&f->c));
}

static void test_trace_headers(void **state)
{
	struct fixture *f = *state;
	struct traceparent tp;

	feed(f, IN, "GET / HTTP/1.1\r\n"
		    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
		    "00f067aa0ba902b7-01\r\n"
		    "TraceState: congo=t61rcWkgMzE\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].tracestate, "congo=t61rcWkgMzE");
	assert_int_equal(traceparent_parse(f->s.x[0].traceparent,
					   strlen(f->s.x[0].traceparent), &tp),
			 0);
	assert_int_equal(tp.trace_id[0], 0x4b);
	assert_int_equal(tp.trace_id[15], 0x36);
	assert_int_equal(tp.parent_id[0], 0x00);
	assert_int_equal(tp.parent_id[7], 0xb7);
	assert_int_equal(tp.flags, 1);
}

static void test_traceparent_parse(void **state)
{
	static const char *bad[] = {
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* version 00 is exactly 55; a later one goes on with a '-' */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0100",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
		"",
	};
	struct traceparent tp = { .flags = 0x55 };

	(void)state;
	assert_int_equal(traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736"
					   "-00f067aa0ba902b7-00", 55, &tp),
			 0);
	assert_int_equal(tp.flags, 0);
	/* A later version: its first 55 characters, as version 00's. */
	assert_int_equal(traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736"
					   "-00f067aa0ba902b7-01", 55, &tp), 0);
	assert_int_equal(tp.flags, 1);
	assert_int_equal(traceparent_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736"
					   "-00f067aa0ba902b7-00-what-follows", 69, &tp), 0);
	assert_int_equal(tp.flags, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(traceparent_parse(bad[i], strlen(bad[i]), &tp),
				 -EINVAL);
	assert_int_equal(tp.flags, 0);
	assert_int_equal(traceparent_parse(NULL, 55, &tp), -EINVAL);
}

/* Every byte value at every position of a traceparent: accepted exactly
 * where it is a lower-case hex digit (or the fixed character), and the
 * IDs decoded from it. */
static void test_traceparent_every_byte(void **state)
{
	static const char good[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	char s[56];

	(void)state;
	for (size_t pos = 0; pos < 55; pos++)
		for (int c = 0; c < 256; c++) {
			/* the version: any two hex digits but "ff" */
			bool fixed = pos == 2 || pos == 35 || pos == 52;
			bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
			bool want = fixed ? c == good[pos] : hex;
			struct traceparent tp;
			uint8_t ids[25];

			memcpy(s, good, sizeof(good));
			s[pos] = (char)c;
			assert_int_equal(traceparent_parse(s, 55, &tp), want ? 0 : -EINVAL);
			if (!want)
				continue;
			for (size_t i = 0; i < 25; i++) {
				size_t at = i < 16 ? 3 + 2 * i : i < 24 ? 36 + 2 * (i - 16) : 53;
				unsigned v;

				assert_int_equal(sscanf(s + at, "%2x", &v), 1);
				ids[i] = (uint8_t)v;
			}
			assert_memory_equal(tp.trace_id, ids, 16);
			assert_memory_equal(tp.parent_id, ids + 16, 8);
			assert_int_equal(tp.flags, ids[24]);
		}
}

/* Picked up mid-connection: a response without request is skipped. */
static void test_orphan_response(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1);
	feed(f, IN, "GET /", 2); /* body bytes that look like a request */
	assert_int_equal(f->c.stats.orphan_responses, 1);
	feed(f, OUT, "GET /real HTTP/1.1\r\n\r\n", 3);
	feed(f, IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4);
	assert_int_equal(f->s.n, 1);
	assert_string_equal(f->s.x[0].path, "/real");
	assert_int_equal(f->s.x[0].role, HTTP1_ROLE_CLIENT);
}

static void test_upgrade(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\n\r\n\x81\x05hello", 2);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].status, 101);
	assert_int_equal(f->s.x[0].flags, HTTP1_X_UPGRADED);
	assert_true(http1_is_skipped(&f->c));
	feed(f, IN, "GET /x HTTP/1.1\r\n\r\n", 3);
	close_conn(f, 4);
	assert_int_equal(f->s.n, 1);
}

/* The server answers before the request body is in (e.g. 413). */
static void test_early_response(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345", 1);
	feed(f, OUT, "HTTP/1.1 413 Too Big\r\nContent-Length: 0\r\n\r\n", 2);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.x[0].flags, HTTP1_X_REQUEST_PARTIAL);
	feed(f, IN, "67890", 3);
	feed(f, IN, "GET /after HTTP/1.1\r\n\r\n", 4);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	assert_int_equal(f->s.n, 2);
	assert_string_equal(f->s.x[1].path, "/after");
	assert_int_equal(f->s.x[1].flags, 0);
}

/* Broken framing in a known HTTP connection: counted, resumed at the next
 * chunk that starts a request, flagged until a clean boundary. */
static void test_desync_recovery(void **state)
{
	struct fixture *f = *state;

	feed(f, IN, "GET /1 HTTP/1.1\r\n\r\n", 1);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	feed(f, IN, "\x01\x02garbage\r\n", 3);
	assert_int_equal(f->c.stats.desyncs, 1);
	assert_false(http1_is_skipped(&f->c));
	feed(f, IN, "GET /2 HTTP/1.1\r\n\r\n", 4);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	assert_int_equal(f->s.n, 2);
	assert_string_equal(f->s.x[1].path, "/2");
	assert_int_equal(f->s.x[1].flags, 0);
	/* A chunk-size line that is not hex. */
	feed(f, IN, "GET /3 HTTP/1.1\r\n\r\n", 6);
	feed(f, OUT, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	     7);
	feed(f, IN, "GET /4 HTTP/1.1\r\n\r\n", 8);
	assert_int_equal(f->s.n, 3);
	assert_int_equal(f->s.x[2].resp_body_size, -1);
	assert_int_equal(f->c.stats.desyncs, 2);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(http1_feed(NULL, IN, "x", 1, 1, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(http1_feed(&f->c, 7, "x", 1, 1, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(http1_feed(&f->c, IN, "x", 2, 1, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(http1_feed(&f->c, IN, NULL, 1, 1, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(http1_feed(&f->c, IN, NULL, 0, 0, 0, NULL, NULL), 0);
	http1_close(NULL, 0, NULL, NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

struct start_case {
	const char *line;
	bool quick; /* the one-pass reader takes it */
};

/* A start line the one-pass readers take is read as the step-by-step
 * ones read it; any other is left to those. */
static void test_quick_start_lines(void **state)
{
	static const struct start_case req[] = {
		{ "GET / HTTP/1.1\r\n", true },
		{ "GET /a?b=c HTTP/1.0\nHost: h\r\n", true },
		{ "DELETE /x?? HTTP/1.1\r\nHost: h\r\n", true },
		{ "OPTIONS http://h/p?q HTTP/1.1\r\n", true },
		{ "CONNECT h:443 HTTP/1.1\r\n", true },
		{ "PATCH /a%20b;c=d?e HTTP/1.1\r\n", true },
		/* Targets of one, two and three blocks of 16 bytes; a '?'
		 * past the target's end, in the block that ends it. */
		{ "GET /abc HTTP/1.1\r\n?x", true },
		{ "GET /abcdefghijklmnopq?r=s HTTP/1.1\nX?: y\r\n", true },
		{ "GET /abcdefghijklmnopqrstuvwxyz0123456789?a HTTP/1.1\r\n", true },
		{ "GET /abcdefghijklmnopqrstuvwxyz0123456789/a?? HTTP/1.0\r\n", true },
		{ "GET /a\x80\xff?\x80 HTTP/1.1\r\n", true },
		{ "GET /abcdefghijklmnop\x7fq HTTP/1.1\r\n", false },
		{ "GET /abcdefghijklmnopq\x01 HTTP/1.1\r\n", false },
		{ "GET /abcdefghijklmnopqrstuvwxyz0123456789 HTTP/1.1", false },
		{ "GET * HTTP/1.1\r\n\r\n", false },
		{ "get / HTTP/1.1\r\n", false },
		{ "GET / HTTP/1.1\r\r\n", false },
		{ "GET / HTTP/2.0\r\n", false },
		{ "GET /a\tb HTTP/1.1\r\n", false },
		{ "PROPFIND / HTTP/1.1\r\n", false },
		{ "GET /abcdef HTTP/1.1", false },
		{ "GET  / HTTP/1.1\r\n", false },
		{ "GET / HTTP/1.1 \r\n", false },
	};
	static const struct start_case st[] = {
		{ "HTTP/1.1 200 OK\r\n", true },
		{ "HTTP/1.0 999\nServer: x\r\n", true },
		{ "HTTP/1.1 101\r\nUpgrade: h2c\r\n", true },
		{ "HTTP/1.1 404 Not Found\r\nX: y\r\n", true },
		{ "HTTP/1.1 200 \x7f\x80\r\n", true },
		{ "HTTP/1.1 099 Low\r\n", false },
		{ "HTTP/1.1 200\r\r\nX: y\r\n", false },
		{ "HTTP/1.1 2000 OK\r\n", false },
		{ "HTTP/2.0 200 OK\r\n", false },
		{ "HTTP/1.1 200 OK", false },
		{ "HTTP/1.1 20 OK\r\n\r\n", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		const char *s = req[i].line, *lf = strchr(s, '\n');
		struct http1_reqline q, r;
		size_t used = http1_quick_request_line(s, strlen(s), &q);
		struct http1_line l = { .p = s };

		assert_int_equal(used != 0, req[i].quick);
		if (!used)
			continue;
		l.len = l.total = (uint32_t)used - 1; /* the line without its LF */
		assert_int_equal(used, lf + 1 - s);
		assert_int_equal(http1_classify(s, used - 1), CLASS_REQUEST);
		assert_int_equal(http1_parse_request_line(&l, false, &r), 0);
		assert_ptr_equal(q.method, r.method);
		assert_int_equal(q.method_len, r.method_len);
		assert_int_equal(q.method_id, r.method_id);
		assert_ptr_equal(q.target, r.target);
		assert_int_equal(q.target_len, r.target_len);
		assert_int_equal(q.query_at, r.query_at);
		assert_int_equal(q.version, r.version);
		assert_int_equal(q.target_cut, r.target_cut);
	}
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		const char *s = st[i].line, *lf = strchr(s, '\n');
		uint8_t qv = 0, rv = 0;
		uint16_t qs = 0, rs = 0;
		size_t used = http1_quick_status_line(s, strlen(s), &qv, &qs);
		struct http1_line l = { .p = s };

		assert_int_equal(used != 0, st[i].quick);
		if (!used)
			continue;
		l.len = l.total = (uint32_t)used - 1;
		assert_int_equal(used, lf + 1 - s);
		assert_int_equal(http1_classify(s, used - 1), CLASS_RESPONSE);
		assert_int_equal(http1_parse_status_line(&l, false, &rv, &rs), 0);
		assert_int_equal(qv, rv);
		assert_int_equal(qs, rs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_server_get),
		T(test_secrets_not_kept),
		T(test_client_role),
		T(test_status_past_599),
		T(test_keepalive_one_byte),
		T(test_pipelining),
		T(test_pipelining_one_byte),
		T(test_pipeline_grows_past_the_head),
		T(test_pipeline_overflow),
		T(test_pipeline_overflow_across_the_wrap),
		T(test_http10_keepalive),
		T(test_gap_past_body),
		T(test_chunked_past_capture),
		T(test_chunked_framing_in_gap),
		T(test_chunked_split),
		T(test_gap_in_body),
		T(test_gap_in_headers),
		T(test_gap_in_request_line),
		T(test_expect_100_continue),
		T(test_no_body_responses),
		T(test_http10_close_delimited),
		T(test_close_mid_message),
		T(test_not_http),
		T(test_long_request_line),
		T(test_request_lines_near_the_buffer),
		T(test_header_limit),
		T(test_header_lines_near_the_buffer),
		T(test_header_limit_short_lines),
		T(test_header_shapes_every_split),
		T(test_methods_and_targets),
		T(test_field_lengths),
		T(test_host_userinfo),
		T(test_method_length_limit),
		T(test_quick_start_lines),
		T(test_trace_headers),
		T(test_traceparent_parse),
		T(test_traceparent_every_byte),
		T(test_orphan_response),
		T(test_upgrade),
		T(test_early_response),
		T(test_desync_recovery),
		T(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
