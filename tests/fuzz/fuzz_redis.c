/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Redis decoder: the RESP walk, the queue of
 * commands and what makes exchanges of them (database attributes),
 * through the decoder's protocol interface.  The input is a script of
 * chunks, each: one op byte (bit 0 direction, bit 1 close the connection
 * first, bits 2-3 log2 of the gap unit), one length byte (captured bytes
 * that follow), one gap byte (gap = value << 4*unit), then the data; the
 * first byte of the input chooses the options (bit 0 SERVER spans, bit 1
 * raw query text).  Exchanges are checked for the invariants the assembly
 * stage relies on and, without gaps or lost places, must not depend on
 * where reads begin and end.
 *
 *   make fuzz && build/fuzz/fuzz_redis -dict=tests/fuzz/redis.dict \
 *     tests/fuzz/corpus_redis
 */
#include "protocol/conntable.h"
#include "protocol/protocol.h"
#include "protocol/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

extern const struct proto_ops proto_redis;

struct run {
	struct proto_conn c;
	uint64_t ts;
	int had_gap;
	uint32_t losses, commands, exchanges; /* summed over connections */
	size_t out_len;
	char out[1 << 16]; /* every exchange, as text */
};

static void check_str(const struct proto_exchange *x, const char *s, size_t len)
{
	CHECK(s);
	CHECK(strnlen(s, len + 1) >= len);
	if (s >= x->text && s < x->text + sizeof(x->text))
		CHECK(s + len <= x->text + x->text_used);
}

static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *x)
{
	struct run *r = ctx;
	const struct redis_conn *rc = &c->st.redis;
	int n;

	CHECK(x->n_attrs <= PROTO_ATTRS_MAX && x->text_used <= PROTO_TEXT_MAX);
	CHECK(x->name && x->name_len > 0 && strlen(x->name) == x->name_len);
	CHECK(x->req_start_ns >= 1 && x->req_start_ns <= x->end_ns);
	CHECK(x->end_ns <= r->ts);
	CHECK(x->unordered);
	CHECK(!x->announced || x->seq < rc->req_seq);
	CHECK(!x->error || x->n_attrs > 0);
	CHECK(!x->traceparent);
	r->exchanges++;
	n = snprintf(r->out + r->out_len, sizeof(r->out) - r->out_len,
		     "%d %d %d %.*s", x->server, x->error, x->announced,
		     (int)x->name_len, x->name);
	if (n > 0 && (size_t)n < sizeof(r->out) - r->out_len)
		r->out_len += (size_t)n;
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		CHECK(a->key && a->key[0]);
		if (!a->is_int)
			check_str(x, a->str, a->len);
		n = snprintf(r->out + r->out_len, sizeof(r->out) - r->out_len,
			     " %s=%.*s", a->key, a->is_int ? 0 : (int)a->len,
			     a->is_int ? "" : a->str);
		if (n > 0 && (size_t)n < sizeof(r->out) - r->out_len)
			r->out_len += (size_t)n;
	}
}

static void on_announce(void *ctx, struct proto_conn *c)
{
}

static void check_conn(const struct redis_conn *rc)
{
	CHECK(rc->count <= REDIS_QUEUE_MAX && rc->count <= rc->cap);
	CHECK(rc->announced_open <= REDIS_INFLIGHT);
	CHECK(rc->announced_open <= rc->count);
	CHECK(rc->cur.text_len <= REDIS_TEXT_MAX);
	CHECK(rc->req.depth <= RESP_DEPTH_MAX && rc->resp.depth <= RESP_DEPTH_MAX);
	CHECK(memchr(rc->ns, '\0', sizeof(rc->ns)));
}

static void close_conn(struct run *r, const struct proto_emit *emit)
{
	struct redis_conn *rc = &r->c.st.redis;

	r->losses += rc->stats.lost_requests + rc->stats.lost_replies;
	r->commands += rc->stats.commands;
	proto_redis.close(&r->c, r->ts, emit);
	CHECK(rc->count == 0 && rc->announced_open == 0);
	proto_redis.release(&r->c.st);
	proto_redis.init(&r->c.st);
}

static void feed(struct run *r, int dir, const uint8_t *p, size_t captured,
		 size_t total, const struct proto_emit *emit)
{
	struct stream_chunk ch = {
		.conn_id = 1, .ts_ns = r->ts, .tid = 9,
		.dir = dir ? STREAM_OUT : STREAM_IN,
		.local = &r->c.local, .peer = &r->c.peer, .data = p,
		.captured = captured, .total_len = total,
	};

	CHECK(proto_redis.feed(&r->c, &ch, emit) == 0);
	check_conn(&r->c.st.redis);
}

/* Plays the script; with `bytewise` every captured chunk but a
 * connection's first (which its decoder is chosen by) is fed one byte
 * per read. */
static void play(struct run *r, const uint8_t *data, size_t size, int bytewise)
{
	struct proto_opts opts = { .db_server_spans = data[0] & 1,
				   .db_query_raw = data[0] & 2 };
	struct proto_emit emit = { .exchange = on_exchange, .announce = on_announce,
				   .ctx = r, .opts = &opts };
	size_t i = 1;
	bool fresh = true;

	memset(&r->c, 0, sizeof(r->c));
	r->c.local.family = r->c.peer.family = 2;
	r->c.local.port = 40000;
	r->c.peer.port = 6379;
	proto_redis.init(&r->c.st);
	r->ts = 0;
	r->had_gap = 0;
	r->losses = r->commands = r->exchanges = 0;
	r->out_len = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		size_t gap = (size_t)data[i + 2] << (4 * ((op >> 2) & 3));

		i += 3;
		if (len > size - i)
			len = size - i;
		r->had_gap |= gap != 0;
		r->ts++;
		if (op & 2) {
			close_conn(r, &emit);
			fresh = true;
		}
		if (!bytewise || fresh || len == 0 || gap) {
			feed(r, op & 1, data + i, len, len + gap, &emit);
		} else {
			for (size_t k = 0; k < len; k++)
				feed(r, op & 1, data + i + k, 1, 1, &emit);
		}
		fresh = fresh && len == 0;
		i += len;
	}
	r->ts++;
	close_conn(r, &emit);
	/* Every exchange is a command read (a command not kept has none). */
	CHECK(r->exchanges <= r->commands);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, bytes;

	if (size == 0)
		return 0;
	play(&whole, data, size, 0);
	play(&bytes, data, size, 1);
	if (whole.had_gap || whole.losses || bytes.losses)
		return 0;
	CHECK(whole.exchanges == bytes.exchanges);
	CHECK(whole.out_len == bytes.out_len);
	CHECK(memcmp(whole.out, bytes.out, whole.out_len) == 0);
	return 0;
}
