// SPDX-License-Identifier: MIT
/*
 * The HTTP/1.1 client's answer parser (transport/h1.c), fed through a socketpair
 * as a collector's answer would arrive.
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
#include "transport/h1.h"

static struct http_target target;
static struct http_conn conn;

/*
 * Send `answer` on a fresh connection (then end the stream) and parse
 * it.  Returns what h1_ops.on_readable() last returned; *done says whether
 * the answer was complete.
 */
static int answer(const char *text, struct http_response *resp, bool *done)
{
	static const struct http_request rq = {
		.content_type = "application/x-protobuf",
		.body = (const uint8_t *)"x",
		.body_len = 1,
	};
	struct http_exchange x = { .req = &rq, .resp = resp, .conn = &conn };
	int fds[2], ret;

	assert_int_equal(url_parse("http://collector:4318/v1/traces", &target.url), 0);
	target.user_agent = "test";
	conn.target = &target;
	http_response_reset(resp);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
	conn.io.fd = fds[0];
	conn.ops = &h1_ops;
	assert_int_equal(h1_ops.start(&conn, &x), 0);
	assert_int_equal(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
	ret = h1_ops.on_readable(&conn);
	if (ret == 0 && !x.done) {
		shutdown(fds[1], SHUT_WR);
		ret = h1_ops.on_readable(&conn);
	}
	*done = x.done;
	h1_ops.close(&conn);
	close(fds[0]);
	close(fds[1]);
	return ret;
}

static void test_content_length(void **state)
{
	struct http_response r = { 0 };
	bool done;

	assert_int_equal(answer("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
				&r, &done), 0);
	assert_true(done);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 3);
	assert_memory_equal(r.body, "abc", 3);

	assert_int_equal(answer("HTTP/1.1 503 Busy\r\nContent-Length:  2 \r\n"
				"Retry-After: 7\r\n\r\nno", &r, &done), 0);
	assert_true(done);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.body_len, 2);
	assert_string_equal(http_response_field(&r, "retry-after"), "7");
	http_response_reset(&r);
}

/*
 * An empty Content-Length was read on past the line end, into the body
 * (here " 07": 7 bytes), and past the bytes received when they were all
 * digits.  Values that are not a number are framing errors.
 */
static void test_content_length_malformed(void **state)
{
	struct http_response r = { 0 };
	bool done;

	assert_int_equal(answer("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"
				" 07\r\n\r\nabcdefg", &r, &done), -EPROTO);
	assert_false(done);
	assert_int_equal(answer("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"
				"1234567890", &r, &done), -EPROTO);
	assert_false(done);
	assert_int_equal(answer("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
				&r, &done), -EPROTO);
	assert_int_equal(answer("HTTP/1.1 200 OK\r\nContent-Length: 4x\r\n\r\nabcd",
				&r, &done), -EPROTO);
	assert_int_equal(answer("HTTP/1.1 200 OK\r\nContent-Length: "
				"99999999999999999999\r\n\r\n", &r, &done), -EPROTO);
	http_response_reset(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_content_length_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
