/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Redis decoder: the RESP walk, the queue of
 * commands and what makes exchanges of them (database attributes),
 * through the decoder's protocol interface.  The first byte of the input
 * chooses the options (bit 0 SERVER spans, bit 1 raw query text); a
 * script of chunks follows (fuzz_decoder.h).  Exchanges are checked for
 * the invariants the assembly stage relies on and, without gaps or lost
 * places, must not depend on where reads begin and end (but a
 * connection's first chunk, which its decoder is chosen by).
 *
 *   make fuzz && build/fuzz/fuzz_redis -dict=tests/fuzz/redis.dict \
 *     tests/fuzz/corpus_redis
 */
#include "protocol/redis.h"
#include "fuzz/fuzz_decoder.h"

extern const struct proto_ops proto_redis;

struct run {
	struct fuzz_dec d; /* first: a hook's `d` is its run */
	uint32_t commands; /* summed over connections */
};

static void opts(uint8_t first, struct proto_opts *o)
{
	o->db_server_spans = first & 1;
	o->db_query_raw = first & 2;
}

static void fed(struct fuzz_dec *d, uint32_t started)
{
	const struct redis_conn *rc = &d->c.st.redis;

	CHECK(rc->count <= REDIS_QUEUE_MAX && rc->count <= rc->cap);
	CHECK(rc->announced_open <= REDIS_INFLIGHT);
	CHECK(rc->announced_open <= rc->count);
	CHECK(rc->cur.text_len <= REDIS_TEXT_MAX);
	CHECK(rc->req.depth <= RESP_DEPTH_MAX && rc->resp.depth <= RESP_DEPTH_MAX);
	CHECK(memchr(rc->ns, '\0', sizeof(rc->ns)));
}

static uint32_t closing(struct fuzz_dec *d)
{
	const struct redis_conn *rc = &d->c.st.redis;

	((struct run *)d)->commands += rc->stats.commands;
	return rc->stats.lost_requests + rc->stats.lost_replies;
}

static void closed(struct fuzz_dec *d)
{
	const struct redis_conn *rc = &d->c.st.redis;

	CHECK(rc->count == 0 && rc->announced_open == 0);
	/* Every exchange is a command read (a command not kept has none). */
	CHECK(d->exchanges <= ((struct run *)d)->commands);
}

static const struct fuzz_target target = {
	.proto = &proto_redis,
	.local_port = 40000, .peer_port = 6379,
	.skip = 1,
	.unordered = true,
	.whole = FUZZ_WHOLE_UNTIL_ROLE, /* the first command decides */
	.same = FUZZ_SAME_ANNOUNCED | FUZZ_SAME_NAME | FUZZ_SAME_TEXT,
	.opts = opts, .fed = fed, .closing = closing, .closed = closed,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, bytes;

	whole.commands = bytes.commands = 0;
	return fuzz_dec_run(&target, &whole.d, &bytes.d, data, size);
}
