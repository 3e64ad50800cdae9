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
#include "fuzz/fuzz_net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct outcome {
	int ret;       /* last h1_ops.on_readable() result that ended the play */
	bool done;     /* the exchange was finished by the parser */
	struct http_response resp;
};

static struct http_target target;
static struct http_conn conn;

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

		off += fuzz_push(fds[1], data + off, want);
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

	fuzz_check_fields(r, true);
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
	fuzz_check_same(ra, rb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, pieces;

	if (size < 1)
		return 0;
	fuzz_conn_init(&target, &conn);
	play(data + 1, size - 1, 0, &whole);
	check_response(&whole);
	play(data + 1, size - 1, (size_t)data[0] + 1, &pieces);
	check_response(&pieces);
	check_same(&whole, &pieces);
	return 0;
}
