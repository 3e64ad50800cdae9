/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP/2 frame walker, the decoder (HPACK by
 * nghttp2's inflater) and what makes spans of its streams (HTTP and gRPC
 * attributes), through the decoder's protocol interface.  The input is a
 * script of chunks, each: one op byte (bit 0 direction, bit 1 close the
 * connection first, bits 2-3 log2 of the gap unit), one length byte
 * (captured bytes that follow), one gap byte (gap = value << 4*unit),
 * then the data.  Exchanges are checked for the invariants the assembly
 * stage relies on, and, without gaps or lost steps, must not depend on
 * where reads begin and end.
 *
 *   make fuzz && build/fuzz/fuzz_http2 -dict=tests/fuzz/http2.dict \
 *     tests/fuzz/corpus_http2
 */
#include "protocol/conntable.h"
#include "protocol/http2.h"
#include "protocol/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

extern const struct proto_ops proto_http2;

struct run {
	struct proto_conn c;
	uint64_t ts;
	int had_gap;
	uint32_t losses, midstream; /* summed before each close resets them */
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

/* Exchanges as the assembly stage takes them, kept as text. */
static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *x)
{
	struct run *r = ctx;
	int n;

	CHECK(x->n_attrs <= PROTO_ATTRS_MAX && x->text_used <= PROTO_TEXT_MAX);
	CHECK(x->name && x->name_len > 0 && strlen(x->name) == x->name_len);
	CHECK(x->req_start_ns >= 1 && x->req_start_ns <= x->end_ns);
	CHECK(x->end_ns <= r->ts);
	CHECK(x->unordered);
	CHECK(!x->announced || x->seq < c->st.http2.req_seq);
	CHECK(!x->error || x->n_attrs > 0);
	if (x->traceparent)
		CHECK(strlen(x->traceparent) < HTTP2_TRACEPARENT_MAX);
	n = snprintf(r->out + r->out_len, sizeof(r->out) - r->out_len,
		     "%d %d %d %llu %llu %.*s", x->server, x->error, x->announced,
		     (unsigned long long)x->req_start_ns,
		     (unsigned long long)x->end_ns, (int)x->name_len, x->name);
	if (n > 0 && (size_t)n < sizeof(r->out) - r->out_len)
		r->out_len += (size_t)n;
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		CHECK(a->key && a->key[0]);
		if (!a->is_int)
			check_str(x, a->str, a->len);
		n = snprintf(r->out + r->out_len, sizeof(r->out) - r->out_len,
			     " %s=%lld", a->key, a->is_int ? (long long)a->i : (long long)a->len);
		if (n > 0 && (size_t)n < sizeof(r->out) - r->out_len)
			r->out_len += (size_t)n;
	}
}

static void on_announce(void *ctx, struct proto_conn *c)
{
}

static void close_conn(struct run *r, const struct proto_emit *emit)
{
	r->losses += r->c.st.http2.stats.losses;
	r->midstream += r->c.st.http2.stats.midstream;
	proto_http2.close(&r->c, r->ts, emit);
	CHECK(r->c.st.http2.n_streams == 0);
	proto_http2.release(&r->c.st);
	proto_http2.init(&r->c.st);
}

static void feed(struct run *r, int dir, const uint8_t *p, size_t captured,
		 size_t total, const struct proto_emit *emit)
{
	struct stream_chunk ch = {
		.conn_id = 1, .ts_ns = r->ts, .dir = dir ? STREAM_OUT : STREAM_IN,
		.local = &r->c.local, .peer = &r->c.peer, .data = p,
		.captured = captured, .total_len = total, .tls = false,
	};

	CHECK(proto_http2.feed(&r->c, &ch, emit) == 0);
	CHECK(r->c.st.http2.n_streams <= HTTP2_STREAMS_MAX);
}

/* Plays the script; with `bytewise` every captured chunk is fed one byte
 * per read. */
static void play(struct run *r, const uint8_t *data, size_t size, int bytewise)
{
	struct proto_opts opts = { .with_query = data[0] & 1 };
	struct proto_emit emit = { .exchange = on_exchange, .announce = on_announce,
				   .ctx = r, .opts = &opts };
	size_t i = 0;

	memset(&r->c, 0, sizeof(r->c));
	r->c.local.family = r->c.peer.family = 2;
	r->c.local.port = 8443;
	r->c.peer.port = 50000;
	proto_http2.init(&r->c.st);
	r->ts = 0;
	r->had_gap = 0;
	r->losses = r->midstream = 0;
	r->out_len = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		size_t gap = (size_t)data[i + 2] << (4 * ((op >> 2) & 3));

		i += 3;
		if (len > size - i)
			len = size - i;
		r->had_gap |= gap != 0;
		r->ts++;
		if (op & 2)
			close_conn(r, &emit);
		if (!bytewise || len == 0 || gap) {
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
	/* Without gaps and lost steps, read boundaries must not matter (a
	 * connection picked up mid-stream is recognised by its first read's
	 * boundaries). */
	if (whole.had_gap || whole.losses || bytes.losses || whole.midstream ||
	    bytes.midstream)
		return 0;
	CHECK(whole.out_len == bytes.out_len);
	CHECK(memcmp(whole.out, bytes.out, whole.out_len) == 0);
	return 0;
}
