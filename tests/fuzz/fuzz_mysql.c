/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the MySQL/MariaDB decoder (packets, handshake,
 * commands, responses, prepared statements) and what makes spans of its
 * calls, through the protocol interface.  The input is a script of
 * chunks (fuzz_decoder.h); bit 4 of its first byte is --db-query-raw,
 * bit 5 --db-server-spans.  Calls are checked for the invariants the
 * assembly stage relies on, and, without gaps or lost places, must not
 * depend on where reads begin and end.
 *
 *   make fuzz && build/fuzz/fuzz_mysql -dict=tests/fuzz/mysql.dict \
 *     tests/fuzz/corpus_mysql
 */
#include "protocol/mysql_internal.h"
#include "fuzz/fuzz_decoder.h"

extern const struct proto_ops proto_mysql;

static void opts(uint8_t first, struct proto_opts *o)
{
	o->db_query_raw = first & 0x10;
	o->db_server_spans = first & 0x20;
}

static void fed(struct fuzz_dec *d, uint32_t started)
{
	const struct mysql_conn *m = &d->c.st.mysql;

	CHECK(m->count <= MYSQL_PENDING_MAX && m->announced <= MYSQL_INFLIGHT &&
	      m->n_stmts <= MYSQL_STMTS_MAX);
	/* Requests in req_buf, responses (and the first message) in resp_buf. */
	for (int dir = 0; dir < 2; dir++) {
		bool req = m->role != PROTO_ROLE_UNKNOWN &&
			   (dir == STREAM_OUT) == (m->role == PROTO_ROLE_CLIENT);

		CHECK(m->rd[dir].kept <= (req ? sizeof(m->req_buf) : sizeof(m->resp_buf)));
	}
}

static uint32_t closing(struct fuzz_dec *d)
{
	const struct mysql_conn *m = &d->c.st.mysql;

	return m->stats.lost_places + m->stats.inflight_overflows;
}

static void closed(struct fuzz_dec *d)
{
	CHECK(d->c.st.mysql.count == 0 && d->c.st.mysql.cmds == NULL);
}

static const struct fuzz_target target = {
	.proto = &proto_mysql,
	.local_port = 50000, .peer_port = 3306,
	.unordered = false,
	.whole = FUZZ_WHOLE_NONE,
	.same = FUZZ_SAME_TIMES | FUZZ_SAME_NAME,
	.opts = opts, .fed = fed, .closing = closing, .closed = closed,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_dec whole, bytes;

	return fuzz_dec_run(&target, &whole, &bytes, data, size);
}
