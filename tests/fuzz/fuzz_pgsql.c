/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the PostgreSQL decoder (framing both ways,
 * statements and portals, calls in flight) and what makes spans of its
 * calls (the database attributes, the SQL sanitiser and summary),
 * through the decoder's protocol interface.  The first byte of the input
 * chooses the options (bit 0 raw query text, bit 1 SERVER spans); a
 * script of chunks follows (fuzz_decoder.h), the first chunk's direction
 * choosing the side.  Exchanges are checked for the invariants the
 * assembly stage relies on, and, without gaps or lost framing, must not
 * depend on where reads begin and end (but the chunks before the side is
 * known: the first chunk of a connection is how it was recognised).
 *
 *   make fuzz && build/fuzz/fuzz_pgsql -dict=tests/fuzz/pgsql.dict \
 *     tests/fuzz/corpus_pgsql
 */
#include "protocol/pgsql.h"
#include "fuzz/fuzz_decoder.h"

extern const struct proto_ops proto_pgsql;

static void opts(uint8_t first, struct proto_opts *o)
{
	o->db_query_raw = first & 1;
	o->db_server_spans = first & 2;
}

static void exchange(struct fuzz_dec *d, const struct proto_conn *c,
		     const struct proto_exchange *x)
{
	if (x->status_message)
		CHECK(x->error && strlen(x->status_message) < 4096);
}

/* Announced calls stay within what the stage above keeps. */
static void fed(struct fuzz_dec *d, uint32_t started)
{
	CHECK(d->c.st.pgsql.req_seq - started <= PGSQL_CALLS_MAX);
}

static uint32_t closing(struct fuzz_dec *d)
{
	return d->c.st.pgsql.losses;
}

static void closed(struct fuzz_dec *d)
{
	CHECK(d->c.st.pgsql.s == NULL);
}

static const struct fuzz_target target = {
	.proto = &proto_pgsql,
	.local_port = 40000, .peer_port = 5432,
	.skip = 1,
	.unordered = false,
	.whole = FUZZ_WHOLE_UNTIL_ROLE,
	.same = FUZZ_SAME_TIMES,
	.opts = opts, .exchange = exchange, .fed = fed, .closing = closing,
	.closed = closed,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_dec whole, bytes;

	return fuzz_dec_run(&target, &whole, &bytes, data, size);
}
