/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the MySQL/MariaDB decoder (packets, handshake,
 * commands, responses, prepared statements) and what makes spans of its
 * calls, through the protocol interface.  The input is a script of chunks,
 * each: one op byte (bit 0 direction, bit 1 close the connection first,
 * bits 2-3 log2 of the gap unit, bit 4 --db-query-raw, bit 5
 * --db-server-spans), one length byte (captured bytes that follow), one
 * gap byte (gap = value << 4*unit), then the data.  Calls are checked for
 * the invariants the assembly stage relies on, and, without gaps or lost
 * places, must not depend on where reads begin and end.
 *
 *   make fuzz && build/fuzz/fuzz_mysql -dict=tests/fuzz/mysql.dict \
 *     tests/fuzz/corpus_mysql
 */
#include "protocol/conntable.h"
#include "protocol/mysql_internal.h"
#include "protocol/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

extern const struct proto_ops proto_mysql;

struct run {
	struct proto_conn c;
	uint64_t ts;
	int had_gap;
	uint32_t losses; /* summed before each close resets them */
	size_t out_len;
	char out[1 << 16]; /* every call, as text */
};

static bool in_text(const struct proto_exchange *x, const char *s)
{
	return s >= x->text && s < x->text + sizeof(x->text);
}

static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *x)
{
	struct run *r = ctx;
	int n;

	CHECK(x->n_attrs <= PROTO_ATTRS_MAX && x->text_used <= PROTO_TEXT_MAX);
	CHECK(x->name && x->name_len > 0 && strlen(x->name) == x->name_len);
	CHECK(x->req_start_ns >= 1 && x->req_start_ns <= x->end_ns);
	CHECK(x->end_ns <= r->ts);
	CHECK(!x->unordered);
	CHECK(!x->error || x->n_attrs > 0);
	n = snprintf(r->out + r->out_len, sizeof(r->out) - r->out_len,
		     "%d %d %llu %llu %.*s", x->server, x->error,
		     (unsigned long long)x->req_start_ns,
		     (unsigned long long)x->end_ns, (int)x->name_len, x->name);
	if (n > 0 && (size_t)n < sizeof(r->out) - r->out_len)
		r->out_len += (size_t)n;
	for (uint32_t i = 0; i < x->n_attrs; i++) {
		const struct proto_attr *a = &x->attrs[i];

		CHECK(a->key && a->key[0]);
		if (!a->is_int) {
			CHECK(a->str && strnlen(a->str, a->len + 1) >= a->len);
			if (in_text(x, a->str))
				CHECK(a->str + a->len <= x->text + x->text_used);
		}
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
	r->losses += r->c.st.mysql.stats.lost_places + r->c.st.mysql.stats.inflight_overflows;
	proto_mysql.close(&r->c, r->ts, emit);
	CHECK(r->c.st.mysql.count == 0 && r->c.st.mysql.cmds == NULL);
	proto_mysql.release(&r->c.st);
	proto_mysql.init(&r->c.st);
}

static void feed(struct run *r, int dir, const uint8_t *p, size_t captured,
		 size_t total, const struct proto_emit *emit)
{
	struct stream_chunk ch = {
		.conn_id = 1, .ts_ns = r->ts, .tid = 9, .dir = dir ? STREAM_OUT : STREAM_IN,
		.local = &r->c.local, .peer = &r->c.peer, .data = p,
		.captured = captured, .total_len = total,
	};
	const struct mysql_conn *m = &r->c.st.mysql;

	CHECK(proto_mysql.feed(&r->c, &ch, emit) == 0);
	CHECK(m->count <= MYSQL_PENDING_MAX && m->announced <= MYSQL_INFLIGHT && m->n_stmts <= MYSQL_STMTS_MAX);
	/* Requests in req_buf, responses (and the first message) in resp_buf. */
	for (int d = 0; d < 2; d++) {
		bool req = m->role != PROTO_ROLE_UNKNOWN &&
			   (d == STREAM_OUT) == (m->role == PROTO_ROLE_CLIENT);

		CHECK(m->rd[d].kept <= (req ? sizeof(m->req_buf) : sizeof(m->resp_buf)));
	}
	(void)proto_mysql.verdict(&r->c.st);
}

/* Plays the script; with `bytewise` every captured chunk is fed one byte
 * per read. */
static void play(struct run *r, const uint8_t *data, size_t size, int bytewise)
{
	struct proto_opts opts = { .db_query_raw = data[0] & 0x10,
				   .db_server_spans = data[0] & 0x20 };
	struct proto_emit emit = { .exchange = on_exchange, .announce = on_announce,
				   .ctx = r, .opts = &opts };
	size_t i = 0;

	memset(&r->c, 0, sizeof(r->c));
	r->c.local.family = r->c.peer.family = 2;
	r->c.local.port = 50000;
	r->c.peer.port = 3306;
	proto_mysql.init(&r->c.st);
	r->ts = 0;
	r->had_gap = 0;
	r->losses = 0;
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
	(void)proto_mysql.recognise(data, size, STREAM_IN);
	(void)proto_mysql.recognise(data, size, STREAM_OUT);
	play(&whole, data, size, 0);
	play(&bytes, data, size, 1);
	if (whole.had_gap || whole.losses || bytes.losses)
		return 0;
	CHECK(whole.out_len == bytes.out_len);
	CHECK(memcmp(whole.out, bytes.out, whole.out_len) == 0);
	return 0;
}
