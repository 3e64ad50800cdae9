/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the PostgreSQL decoder (framing both ways,
 * statements and portals, calls in flight) and what makes spans of its
 * calls (the database attributes, the SQL sanitiser and summary),
 * through the decoder's protocol interface.  The input is a script of
 * chunks, each: one op byte (bit 0 direction, bit 1 close the connection
 * first, bits 2-3 log2 of the gap unit; the first chunk's direction
 * chooses the side), one length byte (captured bytes that follow), one gap
 * byte (gap = value << 4*unit), then the data.  The first byte of the
 * input also chooses the options.  Exchanges are checked for the
 * invariants the assembly stage relies on, and, without gaps or lost
 * framing, must not depend on where reads begin and end.
 *
 *   make fuzz && build/fuzz/fuzz_pgsql -dict=tests/fuzz/pgsql.dict \
 *     tests/fuzz/corpus_pgsql
 */
#include "protocol/conntable.h"
#include "protocol/pgsql.h"
#include "protocol/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

extern const struct proto_ops proto_pgsql;

struct run {
	struct proto_conn c;
	uint64_t ts;
	int had_gap;
	uint32_t losses; /* summed before each close resets them */
	uint32_t exchanges;
	size_t out_len;
	char out[1 << 16]; /* every exchange, as text */
};

static bool in_text(const struct proto_exchange *x, const char *s)
{
	return s >= x->text && s < x->text + sizeof(x->text);
}

static void check_str(const struct proto_exchange *x, const char *s, size_t len)
{
	CHECK(s);
	CHECK(strnlen(s, len + 1) >= len);
	if (in_text(x, s))
		CHECK(s + len <= x->text + x->text_used);
}

static void out_add(struct run *r, const char *fmt, long long a, long long b)
{
	int n = snprintf(r->out + r->out_len, sizeof(r->out) - r->out_len, fmt, a, b);

	if (n > 0 && (size_t)n < sizeof(r->out) - r->out_len)
		r->out_len += (size_t)n;
}

/* Exchanges as the assembly stage takes them, kept as text. */
static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *x)
{
	struct run *r = ctx;

	CHECK(x->n_attrs <= PROTO_ATTRS_MAX && x->text_used <= PROTO_TEXT_MAX);
	CHECK(x->name && x->name_len > 0 && strlen(x->name) == x->name_len);
	CHECK(x->req_start_ns >= 1 && x->req_start_ns <= x->end_ns);
	CHECK(x->end_ns <= r->ts);
	CHECK(!x->unordered);
	CHECK(!x->traceparent);
	if (x->status_message)
		CHECK(x->error && strlen(x->status_message) < 4096);
	r->exchanges++;
	out_add(r, "%lld %lld ", x->server, x->error);
	out_add(r, "%lld %lld ", (long long)x->req_start_ns, (long long)x->end_ns);
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		CHECK(a->key && a->key[0]);
		if (!a->is_int)
			check_str(x, a->str, a->len);
		out_add(r, "%lld=%lld ", (long long)strlen(a->key),
			a->is_int ? (long long)a->i : (long long)a->len);
	}
}

static void on_announce(void *ctx, struct proto_conn *c)
{
}

static void close_conn(struct run *r, const struct proto_emit *emit)
{
	r->losses += r->c.st.pgsql.losses;
	proto_pgsql.close(&r->c, r->ts, emit);
	CHECK(r->c.st.pgsql.s == NULL);
	proto_pgsql.release(&r->c.st);
	proto_pgsql.init(&r->c.st);
}

static void feed(struct run *r, int dir, const uint8_t *p, size_t captured,
		 size_t total, const struct proto_emit *emit)
{
	struct stream_chunk ch = {
		.conn_id = 1, .ts_ns = r->ts, .tid = 9, .dir = dir ? STREAM_OUT : STREAM_IN,
		.local = &r->c.local, .peer = &r->c.peer, .data = p,
		.captured = captured, .total_len = total, .tls = false,
	};
	uint32_t before = r->c.st.pgsql.req_seq;

	CHECK(proto_pgsql.feed(&r->c, &ch, emit) == 0);
	/* Announced calls stay within what the stage above keeps. */
	CHECK(r->c.st.pgsql.req_seq - before <= PGSQL_CALLS_MAX);
	(void)proto_pgsql.verdict(&r->c.st);
}

/* Plays the script; with `bytewise` every captured chunk is fed one byte
 * per read. */
static void play(struct run *r, const uint8_t *data, size_t size, int bytewise)
{
	struct proto_opts opts = { .db_query_raw = data[0] & 1,
				   .db_server_spans = data[0] & 2 };
	struct proto_emit emit = { .exchange = on_exchange, .announce = on_announce,
				   .ctx = r, .opts = &opts };
	size_t i = 1;

	memset(&r->c, 0, sizeof(r->c));
	r->c.ops = &proto_pgsql;
	r->c.local.family = r->c.peer.family = 2;
	r->c.local.port = 40000;
	r->c.peer.port = 5432;
	proto_pgsql.init(&r->c.st);
	r->ts = 0;
	r->had_gap = 0;
	r->losses = 0;
	r->exchanges = 0;
	r->out_len = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		size_t gap = (size_t)data[i + 2] << (4 * ((op >> 2) & 3));

		i += 3;
		if (len > size - i)
			len = (uint8_t)(size - i);
		r->had_gap |= gap != 0;
		r->ts++;
		if (op & 2)
			close_conn(r, &emit);
		/* The first chunk of a connection is one read (it is how the
		 * connection was recognised). */
		if (!bytewise || len == 0 || gap || !r->c.st.pgsql.role) {
			feed(r, op & 1, data + i, len, len + gap, &emit);
		} else {
			for (size_t k = 0; k < len; k++)
				feed(r, op & 1, data + i + k, 1, 1, &emit);
		}
		i += len;
	}
	r->ts++;
	close_conn(r, &emit);
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
