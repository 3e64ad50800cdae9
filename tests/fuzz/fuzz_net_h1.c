/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP/1.1 client's answer parser (transport/h1.c),
 * driven through its real entry points: h1_ops.start() puts a request on a
 * connection whose socket is one end of a socketpair, the fuzz input is
 * written to the other end, and h1_ops.on_readable() reads and parses it as
 * it would a collector's answer.  The first input byte is the size of
 * the pieces the answer is written in for the second play (the first
 * writes it whole); both must give the same response, since where reads
 * split an answer must not change it.  The end of the input is the end
 * of the stream.
 *
 *   make fuzz && build/fuzz/fuzz_net_h1 -dict=tests/fuzz/net_h1.dict \
 *     tests/fuzz/corpus_net_h1
 */
#include "transport/exchange.h"
#include "transport/h1.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

struct outcome {
	int ret;       /* last h1_ops.on_readable() result that ended the play */
	bool done;     /* the exchange was finished by the parser */
	struct http_response resp;
};

static struct http_target target;
static struct http_conn conn;

/* Fields are "name\0value\0" pairs, names lower case, within the bound. */
static void check_fields(const struct http_response *r)
{
	size_t strings = 0;

	CHECK(r->fields_len <= HTTP_FIELDS_MAX);
	CHECK(r->fields_len == 0 || r->fields[r->fields_len - 1] == '\0');
	for (size_t off = 0; off < r->fields_len; strings++) {
		const char *s = r->fields + off;

		if (strings % 2 == 0)
			for (const char *c = s; *c; c++)
				CHECK(!(*c >= 'A' && *c <= 'Z'));
		off += strlen(s) + 1;
	}
	CHECK(strings % 2 == 0);
}

/* Write what the socket takes; returns how much. */
static size_t push(int fd, const uint8_t *p, size_t len)
{
	ssize_t n = write(fd, p, len);

	if (n < 0) {
		CHECK(errno == EAGAIN);
		return 0;
	}
	return (size_t)n;
}

/* Play the answer in pieces of `piece` bytes (0: as much as fits). */
static void play(const uint8_t *data, size_t size, size_t piece,
		 struct outcome *o)
{
	static const struct http_request rq = {
		.content_type = "application/x-protobuf",
		.body = (const uint8_t *)"x",
		.body_len = 1,
	};
	struct http_exchange x = { .req = &rq, .resp = &o->resp, .conn = &conn };
	int fds[2];
	size_t off = 0;

	http_response_reset(&o->resp);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
	conn.io.fd = fds[0];
	conn.ops = &h1_ops;
	conn.fresh = true;
	CHECK(h1_ops.start(&conn, &x) == 0);
	o->ret = 0;
	while (off < size && o->ret == 0 && !x.done) {
		size_t want = piece && piece < size - off ? piece : size - off;

		off += push(fds[1], data + off, want);
		o->ret = h1_ops.on_readable(&conn);
	}
	if (o->ret == 0 && !x.done) {
		shutdown(fds[1], SHUT_WR);
		o->ret = h1_ops.on_readable(&conn);
	}
	o->done = x.done;
	CHECK(o->ret == 0 || o->ret == 1 || o->ret == -EPROTO ||
	      o->ret == -ECONNRESET || o->ret == -ENOMEM);
	h1_ops.close(&conn);
	close(fds[0]);
	close(fds[1]);
	conn.io.fd = -1;
}

static void check_response(const struct outcome *o)
{
	const struct http_response *r = &o->resp;

	check_fields(r);
	CHECK(r->body_len <= HTTP_BODY_MAX);
	CHECK(r->body_len == 0 || r->body);
	if (o->done) {
		CHECK(r->error == 0 && r->version == 1);
		CHECK(r->status >= 200 && r->status <= 999);
	}
}

/* The same answer, read in other pieces. */
static void check_same(const struct outcome *a, const struct outcome *b)
{
	const struct http_response *ra = &a->resp, *rb = &b->resp;

	CHECK(a->done == b->done);
	if (!a->done)
		return;
	CHECK(ra->status == rb->status);
	CHECK(ra->body_len == rb->body_len &&
	      ra->body_truncated == rb->body_truncated);
	CHECK(ra->body_len == 0 || memcmp(ra->body, rb->body, ra->body_len) == 0);
	CHECK(ra->fields_len == rb->fields_len);
	CHECK(ra->fields_len == 0 ||
	      memcmp(ra->fields, rb->fields, ra->fields_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, pieces;

	if (size < 1)
		return 0;
	if (!target.user_agent) {
		CHECK(url_parse("http://collector:4318/v1/traces", &target.url) == 0);
		target.user_agent = "spanprobe-fuzz";
		conn.target = &target;
		conn.io.fd = -1;
	}
	play(data + 1, size - 1, 0, &whole);
	check_response(&whole);
	play(data + 1, size - 1, (size_t)data[0] + 1, &pieces);
	check_response(&pieces);
	check_same(&whole, &pieces);
	return 0;
}
