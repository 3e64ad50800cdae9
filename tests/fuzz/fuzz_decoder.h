/* SPDX-License-Identifier: MIT */
/*
 * What the protocol decoders' fuzz targets (fuzz_http2.c, fuzz_redis.c,
 * fuzz_mysql.c, fuzz_pgsql.c) share: a player of chunk scripts through a
 * decoder's struct proto_ops, the invariants every exchange keeps for the
 * assembly stage, and the check that where reads begin and end does not
 * change the exchanges.  A target brings its decoder, the options its
 * first byte chooses and its own checks (struct fuzz_target).
 *
 * The input is a script of chunks, each: one op byte (bit 0 direction,
 * bit 1 close the connection first, bits 2-3 log2 of the gap unit), one
 * length byte (captured bytes that follow), one gap byte (gap = value <<
 * 4*unit), then the data.  Chunk k is read at time k (from 1); the
 * connection closes after the last one.  The script is played twice:
 * each chunk as one read, then each captured byte as one read (but a
 * chunk with a gap, and what the target keeps whole); without gaps and
 * without losses the decoder counted, both plays give the same
 * exchanges.
 */
#ifndef SPANPROBE_FUZZ_DECODER_H
#define SPANPROBE_FUZZ_DECODER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/protocol.h"

#ifndef CHECK
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)
#endif

/* Which chunks the byte-per-read play still feeds as one read. */
enum fuzz_whole {
	FUZZ_WHOLE_NONE,       /* none: every chunk is split */
	FUZZ_WHOLE_FIRST,      /* a connection's first non-empty chunk */
	FUZZ_WHOLE_UNTIL_ROLE, /* every chunk until ops->role() is known */
};

/* What of an exchange must not depend on where reads begin and end,
 * besides its side, its status, the keys and integer values of its
 * attributes and the length of its string attributes. */
#define FUZZ_SAME_ANNOUNCED 1u /* whether it was announced */
#define FUZZ_SAME_TIMES 2u     /* its start and end */
#define FUZZ_SAME_NAME 4u      /* its span name */
#define FUZZ_SAME_TEXT 8u      /* its string attributes' text */

struct fuzz_dec;

/* A target: its decoder and its own checks (each hook may be NULL). */
struct fuzz_target {
	const struct proto_ops *proto;
	uint16_t local_port, peer_port;
	size_t skip;            /* bytes before the script (options alone) */
	bool unordered;         /* every exchange's `unordered` */
	size_t traceparent_max; /* bound of x->traceparent; 0: always NULL */
	enum fuzz_whole whole;  /* what the byte-per-read play keeps whole */
	unsigned same;          /* FUZZ_SAME_* */
	/* The options from the input's first byte. */
	void (*opts)(uint8_t first, struct proto_opts *opts);
	/* An exchange that passed the common checks. */
	void (*exchange)(struct fuzz_dec *d, const struct proto_conn *c,
			 const struct proto_exchange *x);
	/* After each chunk (or byte) fed; `started` is requests_started()
	 * before it. */
	void (*fed)(struct fuzz_dec *d, uint32_t started);
	/* Before a close resets the decoder's counters: what it lost (read
	 * boundaries may matter when not 0). */
	uint32_t (*closing)(struct fuzz_dec *d);
	/* After a close, before the state is released. */
	void (*closed)(struct fuzz_dec *d);
};

/* One play of a script. */
struct fuzz_dec {
	const struct fuzz_target *t;
	struct proto_conn c;
	struct proto_opts opts;
	struct proto_emit emit;
	uint64_t ts;
	bool had_gap;
	uint32_t losses, exchanges; /* summed over connections */
	size_t out_len;
	char out[1 << 16]; /* every exchange, as text (what fits) */
};

/* A string attribute: `len` bytes there; in x->text, within what is used. */
static inline void fuzz_check_str(const struct proto_exchange *x,
				  const char *s, size_t len)
{
	CHECK(s);
	CHECK(strnlen(s, len + 1) >= len);
	if (s >= x->text && s < x->text + sizeof(x->text))
		CHECK(s + len <= x->text + x->text_used);
}

/* printf onto d->out; what does not fit is left out. */
static inline __attribute__((format(printf, 2, 3))) void
fuzz_out(struct fuzz_dec *d, const char *fmt, ...)
{
	size_t room = sizeof(d->out) - d->out_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(d->out + d->out_len, room, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < room)
		d->out_len += (size_t)n;
}

/* An exchange as the assembly stage takes it, kept as text. */
static inline void fuzz_record(struct fuzz_dec *d,
			       const struct proto_exchange *x)
{
	unsigned same = d->t->same;

	fuzz_out(d, "%d %d", x->server, x->error);
	if (same & FUZZ_SAME_ANNOUNCED)
		fuzz_out(d, " %d", x->announced);
	if (same & FUZZ_SAME_TIMES)
		fuzz_out(d, " %llu %llu", (unsigned long long)x->req_start_ns,
			 (unsigned long long)x->end_ns);
	if (same & FUZZ_SAME_NAME)
		fuzz_out(d, " %.*s", (int)x->name_len, x->name);
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		if (a->is_int)
			fuzz_out(d, " %s=%lld", a->key, (long long)a->i);
		else if (same & FUZZ_SAME_TEXT)
			fuzz_out(d, " %s=%.*s", a->key, (int)a->len, a->str);
		else
			fuzz_out(d, " %s=#%u", a->key, a->len);
	}
	fuzz_out(d, "\n");
}

static inline void fuzz_on_exchange(void *ctx, struct proto_conn *c,
				    const struct proto_exchange *x)
{
	struct fuzz_dec *d = ctx;
	const struct fuzz_target *t = d->t;

	CHECK(x->n_attrs <= PROTO_ATTRS_MAX && x->text_used <= PROTO_TEXT_MAX);
	CHECK(x->name && x->name_len > 0 && strlen(x->name) == x->name_len);
	CHECK(x->req_start_ns >= 1 && x->req_start_ns <= x->end_ns);
	CHECK(x->end_ns <= d->ts);
	CHECK(x->unordered == t->unordered);
	/* An unordered exchange names the request by its number. */
	if (t->unordered)
		CHECK(!x->announced ||
		      x->seq < t->proto->requests_started(&c->st));
	CHECK(!x->error || x->n_attrs > 0);
	if (t->traceparent_max)
		CHECK(!x->traceparent ||
		      strlen(x->traceparent) < t->traceparent_max);
	else
		CHECK(!x->traceparent);
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		CHECK(a->key && a->key[0]);
		if (!a->is_int)
			fuzz_check_str(x, a->str, a->len);
	}
	if (t->exchange)
		t->exchange(d, c, x);
	d->exchanges++;
	fuzz_record(d, x);
}

static inline void fuzz_on_announce(void *ctx, struct proto_conn *c)
{
}

/* The connection closes; the decoder starts again on a fresh state. */
static inline void fuzz_dec_close(struct fuzz_dec *d)
{
	const struct proto_ops *ops = d->t->proto;

	if (d->t->closing)
		d->losses += d->t->closing(d);
	ops->close(&d->c, d->ts, &d->emit);
	if (d->t->closed)
		d->t->closed(d);
	ops->release(&d->c.st);
	ops->init(&d->c.st);
}

static inline void fuzz_dec_feed(struct fuzz_dec *d, int dir, const uint8_t *p,
				 size_t captured, size_t total)
{
	const struct proto_ops *ops = d->t->proto;
	struct stream_chunk ch = {
		.conn_id = 1, .ts_ns = d->ts, .tid = 9,
		.dir = dir ? STREAM_OUT : STREAM_IN,
		.local = &d->c.local, .peer = &d->c.peer, .data = p,
		.captured = captured, .total_len = total, .tls = false,
	};
	uint32_t started = ops->requests_started(&d->c.st);

	CHECK(ops->feed(&d->c, &ch, &d->emit) == 0);
	if (d->t->fed)
		d->t->fed(d, started);
	(void)ops->verdict(&d->c.st);
}

/* Plays the script of `data`; with `bytewise` every captured chunk but
 * those kept whole is fed one byte per read. */
static inline void fuzz_dec_play(struct fuzz_dec *d, const struct fuzz_target *t,
				 const uint8_t *data, size_t size, bool bytewise)
{
	size_t i = t->skip;
	bool fresh = true; /* no data on this connection yet */

	memset(&d->c, 0, sizeof(d->c));
	memset(&d->opts, 0, sizeof(d->opts));
	d->t = t;
	t->opts(data[0], &d->opts);
	d->emit = (struct proto_emit){ .exchange = fuzz_on_exchange,
				       .announce = fuzz_on_announce,
				       .ctx = d, .opts = &d->opts };
	d->c.ops = t->proto;
	d->c.local.family = d->c.peer.family = 2;
	d->c.local.port = t->local_port;
	d->c.peer.port = t->peer_port;
	t->proto->init(&d->c.st);
	d->ts = 0;
	d->had_gap = false;
	d->losses = d->exchanges = 0;
	d->out_len = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		size_t gap = (size_t)data[i + 2] << (4 * ((op >> 2) & 3));
		bool whole;

		i += 3;
		if (len > size - i)
			len = (uint8_t)(size - i);
		whole = !bytewise || len == 0 || gap;
		d->had_gap |= gap != 0;
		d->ts++;
		if (op & 2) {
			fuzz_dec_close(d);
			fresh = true;
		}
		if (t->whole == FUZZ_WHOLE_FIRST)
			whole |= fresh;
		else if (t->whole == FUZZ_WHOLE_UNTIL_ROLE)
			whole |= t->proto->role(&d->c.st) == PROTO_ROLE_UNKNOWN;
		if (whole) {
			fuzz_dec_feed(d, op & 1, data + i, len, len + gap);
		} else {
			for (size_t k = 0; k < len; k++)
				fuzz_dec_feed(d, op & 1, data + i + k, 1, 1);
		}
		fresh = fresh && len == 0;
		i += len;
	}
	d->ts++;
	fuzz_dec_close(d);
}

/* The whole fuzz input: both plays, then, without gaps and losses (with
 * them, where a read starts is a resync hint), the same exchanges. */
static inline int fuzz_dec_run(const struct fuzz_target *t,
			       struct fuzz_dec *whole, struct fuzz_dec *bytes,
			       const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	(void)t->proto->recognise(data, size, STREAM_IN);
	(void)t->proto->recognise(data, size, STREAM_OUT);
	fuzz_dec_play(whole, t, data, size, false);
	fuzz_dec_play(bytes, t, data, size, true);
	if (whole->had_gap || whole->losses || bytes->losses)
		return 0;
	CHECK(whole->exchanges == bytes->exchanges);
	CHECK(whole->out_len == bytes->out_len);
	CHECK(memcmp(whole->out, bytes->out, whole->out_len) == 0);
	return 0;
}

#endif /* SPANPROBE_FUZZ_DECODER_H */
