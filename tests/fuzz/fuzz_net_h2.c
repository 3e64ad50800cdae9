/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP/2 client side of the exporter
 * (transport/h2.c and the nghttp2 callbacks it registers), driven as
 * fuzz_net_h1.c drives HTTP/1.1: a session is opened on one end of a
 * socketpair, up to three requests are put on it and sent, and the fuzz
 * input is written to the other end as what a hostile collector sends
 * over h2c (SETTINGS, HEADERS and CONTINUATION, DATA, GOAWAY, RST_STREAM,
 * WINDOW_UPDATE, PING, PUSH_PROMISE...).  What the client writes back is
 * read and dropped, so it never blocks.
 *
 * Input: byte 0 is the piece size of the second play (the first writes
 * the answer whole), byte 1 the number of requests (1 + byte % 3); the
 * rest is the server's byte stream, whose end is the end of the stream.
 * Both plays must end every request the same way, since where reads
 * split the frames must not change the answers.
 *
 *   make fuzz && build/fuzz/fuzz_net_h2 -dict=tests/fuzz/net_h2.dict \
 *     tests/fuzz/corpus_net_h2
 */
#include "transport/exchange.h"
#include "transport/h2.h"
#include "fuzz/fuzz_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQ 3

struct outcome {
	int ret;    /* the on_readable()/on_writable() result that ended it */
	size_t n;
	struct http_exchange x[MAX_REQ];
	struct http_response resp[MAX_REQ];
};

static struct http_target target;
static struct http_conn conn;
static uint8_t sink[1 << 16];

static void check_ret(int ret)
{
	CHECK(ret == 0 || ret == -EPROTO || ret == -ECONNRESET ||
	      ret == -EPROTONOSUPPORT || ret == -ENOMEM || ret == -EPIPE);
}

/* What the client wrote: read and dropped, so its writes never block. */
static void drain(int fd)
{
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

/* The pool's part: what the connection could not answer ends as lost. */
static void finish_open(struct outcome *o)
{
	for (size_t i = 0; i < o->n; i++)
		http_exchange_finish(&o->x[i], -ECONNRESET);
}

static void start(struct outcome *o, size_t n, int fd_server)
{
	static const struct http_request rq = {
		.content_type = "application/x-protobuf",
		.body = (const uint8_t *)"spans",
		.body_len = 5,
	};

	CHECK(h2_ops.open(&conn) == 0);
	o->n = n;
	for (size_t i = 0; i < n; i++) {
		http_response_reset(&o->resp[i]);
		o->x[i] = (struct http_exchange){ .req = &rq, .resp = &o->resp[i],
						  .conn = &conn, .started = true };
		CHECK(h2_ops.start(&conn, &o->x[i]) == 0);
		conn.active++;
	}
	o->ret = h2_ops.on_writable(&conn);
	CHECK(o->ret == 0);
	drain(fd_server);
}

static void play(const uint8_t *data, size_t size, size_t piece, size_t n,
		 struct outcome *o)
{
	int fds[2];
	size_t off = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
	conn.io.fd = fds[0];
	conn.ops = &h2_ops;
	conn.fresh = true;
	conn.active = 0;
	start(o, n, fds[1]);
	while (off < size && o->ret == 0) {
		size_t want = piece && piece < size - off ? piece : size - off;

		off += fuzz_push(fds[1], data + off, want);
		o->ret = h2_ops.on_readable(&conn);
		drain(fds[1]);
	}
	if (o->ret == 0) {
		shutdown(fds[1], SHUT_WR);
		o->ret = h2_ops.on_readable(&conn);
	}
	check_ret(o->ret);
	/* Both are asked of a connection the pool keeps: must not crash. */
	(void)h2_ops.usable(&conn);
	(void)h2_ops.wants_write(&conn);
	finish_open(o);
	h2_ops.close(&conn);
	close(fds[0]);
	close(fds[1]);
	conn.io.fd = -1;
}

static void check_response(const struct http_response *r)
{
	fuzz_check_fields(r, false);
	CHECK(r->body_len <= HTTP_BODY_MAX);
	CHECK(r->body_len == 0 || r->body);
	if (r->error == 0) {
		CHECK(r->version == 2);
		/* nghttp2 admits only three digits, and no 1xx as final. */
		CHECK(r->status >= 200 && r->status <= 999);
	} else {
		CHECK(r->error == -ECONNRESET);
	}
}

static void check_same(const struct outcome *a, const struct outcome *b)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct http_response *ra = &a->resp[i], *rb = &b->resp[i];

		CHECK(ra->error == rb->error);
		if (ra->error)
			continue;
		fuzz_check_same(ra, rb);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, pieces;
	size_t n;

	if (size < 2)
		return 0;
	fuzz_conn_init(&target, &conn);
	n = 1 + data[1] % MAX_REQ;
	play(data + 2, size - 2, 0, n, &whole);
	play(data + 2, size - 2, (size_t)data[0] + 1, n, &pieces);
	for (size_t i = 0; i < n; i++) {
		CHECK(whole.x[i].done && pieces.x[i].done);
		check_response(&whole.resp[i]);
		check_response(&pieces.resp[i]);
	}
	check_same(&whole, &pieces);
	return 0;
}
