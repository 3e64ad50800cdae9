// SPDX-License-Identifier: MIT
/*
 * The h2c client's test for an HTTP/1 server (transport/h2.c): the first
 * five bytes of the server's stream decide, in however many reads they
 * come, and a connection whose stream may still begin a status line has
 * received nothing (it may fall back to HTTP/1.1).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/exchange.h"
#include "transport/h2.h"

static const struct http_request rq = {
	.content_type = "application/x-protobuf",
	.body = (const uint8_t *)"x",
	.body_len = 1,
};

struct rig {
	struct http_target target;
	struct http_conn conn;
	struct http_response resp;
	struct http_exchange x;
	int fds[2];
};

/* An h2c connection with one request sent; the server's end is fds[1]. */
static int setup(void **state)
{
	static struct rig r;
	char sink[4096];

	memset(&r, 0, sizeof(r));
	assert_int_equal(url_parse("http://collector:4318/v1/traces", &r.target.url), 0);
	r.target.user_agent = "test";
	r.conn.target = &r.target;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r.fds), 0);
	r.conn.io.fd = r.fds[0];
	r.conn.ops = &h2_ops;
	r.conn.fresh = true;
	http_response_reset(&r.resp);
	r.x = (struct http_exchange){ .req = &rq, .resp = &r.resp, .conn = &r.conn,
				      .started = true };
	assert_int_equal(h2_ops.open(&r.conn), 0);
	assert_int_equal(h2_ops.start(&r.conn, &r.x), 0);
	assert_int_equal(h2_ops.on_writable(&r.conn), 0);
	while (read(r.fds[1], sink, sizeof(sink)) > 0)
		;
	*state = &r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	h2_ops.close(&r->conn);
	close(r->fds[0]);
	close(r->fds[1]);
	return 0;
}

/* The server sends `s`; what the client's read makes of it. */
static int server_sends(struct rig *r, const void *s, size_t n)
{
	assert_int_equal(write(r->fds[1], s, n), (ssize_t)n);
	return h2_ops.on_readable(&r->conn);
}

static void status_line_in_pieces(void **state)
{
	struct rig *r = *state;

	assert_int_equal(server_sends(r, "HTT", 3), 0);
	assert_true(r->conn.fresh);
	assert_int_equal(server_sends(r, "P/1.1 400 Bad Request\r\n\r\n", 25),
			 -EPROTONOSUPPORT);
	assert_true(r->conn.fresh); /* so the pool falls back to HTTP/1.1 */
}

static void status_line_whole(void **state)
{
	struct rig *r = *state;
	const char *s = "HTTP/1.1 400 Bad Request\r\n\r\n";

	assert_int_equal(server_sends(r, s, strlen(s)), -EPROTONOSUPPORT);
	assert_true(r->conn.fresh);
}

/* "HTTP/" inside a SETTINGS frame, at the start of a read, is payload. */
static void http_inside_settings(void **state)
{
	struct rig *r = *state;
	/* SETTINGS, 12 bytes: MAX_CONCURRENT_STREAMS 100, then an unknown
	 * setting 0x4854 whose bytes read "HTTP/\xff". */
	static const uint8_t head[] = { 0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100 };
	static const uint8_t rest[] = { 'H', 'T', 'T', 'P', '/', 0xff };

	assert_int_equal(server_sends(r, head, sizeof(head)), 0);
	assert_false(r->conn.fresh);
	assert_int_equal(server_sends(r, rest, sizeof(rest)), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(status_line_in_pieces),
		T(status_line_whole),
		T(http_inside_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
