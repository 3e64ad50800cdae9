// SPDX-License-Identifier: MIT
/*
 * PostgreSQL behind the protocol interface (pgsql.h): recognition, the
 * framing of the two directions, the connection's life; the messages'
 * meaning is in pgsql_calls.c.
 *
 * "Frontend" is what the client sends, "backend" what the server sends:
 * on the client's side the frontend is STREAM_OUT, on the server's side
 * STREAM_IN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/pgsql_internal.h"
#include "protocol/protocol.h"

/* Losses of closed connections (reader thread only), for the report. */
static struct {
	uint64_t stmts_evicted, names_too_long, calls_dropped;
	uint64_t fe_lost, be_lost, orphans, unknown_stmts, no_memory, conns_no_memory;
} pg_totals;

/* --- recognition ----------------------------------------------------- */

/*
 * A request on a connection met mid-stream (a pool opened before we
 * started): a simple query that is the whole write, or a Parse (its
 * name and text NUL-terminated) that a Bind, an Execute and a Sync may
 * follow.
 */
static bool midstream_request(const uint8_t *p, size_t len)
{
	size_t n; /* the length counts itself, not the type byte */
	const uint8_t *nul;

	if (len < 6 || (p[0] != 'Q' && p[0] != 'P'))
		return false;
	n = be32(p + 1);
	if (p[0] == 'Q')
		return n >= 5 && n + 1 == len && p[len - 1] == '\0' &&
		       !memchr(p + 5, '\0', len - 6);
	if (n < 8 || n + 1 > len)
		return false;
	nul = memchr(p + 5, '\0', n - 4);
	return nul && memchr(nul + 1, '\0', (size_t)(p + 1 + n - nul - 1));
}

/* A client's first message: a StartupMessage of protocol 3, or a request
 * to encrypt first (SSL, GSSAPI), or to cancel; or a request, mid-stream. */
static enum proto_guess pgsql_recognise(const void *data, size_t len,
					enum stream_dir dir)
{
	uint32_t n, code;

	if (midstream_request(data, len))
		return PROTO_YES;
	if (len < 8)
		return PROTO_NO;
	n = be32(data);
	code = be32((const uint8_t *)data + 4);
	if (code == PG_CODE_SSL || code == PG_CODE_GSSENC)
		return n == 8 ? PROTO_YES : PROTO_NO;
	if (code == PG_CODE_CANCEL)
		return n == 16 ? PROTO_YES : PROTO_NO;
	if (code >> 16 != PG_PROTO_MAJOR3 || n < 9 || n > PG_STARTUP_MAX)
		return PROTO_NO;
	/* Parameters are NUL-terminated names: the first is a letter or
	 * the final NUL. */
	if (len > 8) {
		uint8_t c = ((const uint8_t *)data)[8];

		if (c && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
			return PROTO_NO;
	}
	return PROTO_YES;
}

/* --- framing ------------------------------------------------------------ */

static bool fe_type_ok(uint8_t t)
{
	return t && strchr("QPBEDCSHFdcfpX", t);
}

static bool be_type_ok(uint8_t t)
{
	return t && strchr("RKSZTDCIENA123ntsGHWdcVv", t);
}

/* Bytes of the body worth keeping, by type. */
static uint32_t keep_of(bool frontend, uint8_t type, uint32_t len)
{
	uint32_t cap;

	if (frontend) {
		switch (type) {
		case 0:
			cap = 1024; /* startup parameters */
			break;
		case 'Q':
		case 'P':
			cap = PG_FE_KEEP;
			break;
		case 'B':
		case 'E':
		case 'C':
			cap = 2 * PGSQL_NAME_MAX + 2; /* names, not values */
			break;
		default:
			cap = 0; /* passwords and copy data are not kept */
		}
	} else {
		cap = type == 'C' || type == 'E' || type == 'Z' ? PG_BE_KEEP : 0;
	}
	return len < cap ? len : cap;
}

static void message_done(struct pg_ctx *x, struct pg_dir *d, bool frontend)
{
	size_t kept = d->got < d->keep ? d->got : d->keep;

	d->buf[kept] = '\0'; /* keep <= the buffer's size - 1 */
	if (frontend)
		pgsql_fe_message(x, d, kept);
	else
		pgsql_be_message(x, d, kept);
	d->hdr_len = 0;
	d->cut = false;
}

/* The header is complete: its length, and whether it is one. */
static bool header_done(struct pg_ctx *x, struct pg_dir *d, bool frontend)
{
	uint32_t n;

	if (d->startup && frontend) {
		n = be32(d->hdr);
		d->type = 0;
		if (n < 8 || n > PG_STARTUP_MAX)
			return false;
	} else {
		d->type = d->hdr[0];
		n = be32(d->hdr + 1);
		if (n < 4 || n > PG_MESSAGE_MAX ||
		    !(frontend ? fe_type_ok(d->type) : be_type_ok(d->type)))
			return false;
	}
	d->len = n - 4;
	d->got = 0;
	d->keep = keep_of(frontend, d->type, d->len);
	return true;
}

static void lose(struct pg_ctx *x, struct pg_dir *d, bool frontend)
{
	d->lost = true;
	d->hdr_len = 0;
	x->c->st.pgsql.losses++;
	if (frontend) {
		x->s->st.fe_lost++;
		d->resync = true; /* sends are captured whole: the next starts one */
	} else {
		x->s->st.be_lost++;
	}
}

/* The answer to an SSLRequest or GSSENCRequest: 'N' goes on in plain. */
static void ssl_answer(struct pg_ctx *x, uint8_t b)
{
	x->s->be.ssl_answer = false;
	if (b != 'N')
		x->c->st.pgsql.quiet = 1; /* TLS or GSSAPI: the TLS path sees it */
}

/* Body bytes of the message in progress from `p` (`n` at most): kept up
 * to d->keep.  Returns how many it took. */
static size_t body(struct pg_dir *d, const uint8_t *p, size_t n)
{
	if (n > d->len - d->got)
		n = d->len - d->got;
	if (d->got < d->keep)
		memcpy(d->buf + d->got, p, d->keep - d->got < n ? d->keep - d->got : n);
	d->got += (uint32_t)n;
	return n;
}

static void walk(struct pg_ctx *x, struct pg_dir *d, bool frontend,
		 const uint8_t *p, size_t cap, size_t total)
{
	size_t hsize, i = 0, gap = total - cap;

	if (d->resync) {
		d->resync = false;
		d->lost = false;
		d->hdr_len = 0;
	}
	while (i < cap && !d->lost && !x->c->st.pgsql.quiet) {
		if (!frontend && d->ssl_answer && !d->hdr_len) {
			ssl_answer(x, p[i++]);
			continue;
		}
		hsize = d->startup && frontend ? 4 : 5;
		if (d->hdr_len < hsize) {
			if (!d->hdr_len)
				d->start_ns = x->ch->ts_ns;
			d->hdr[d->hdr_len++] = p[i++];
			if (d->hdr_len == hsize && !header_done(x, d, frontend))
				lose(x, d, frontend);
			else if (d->hdr_len == hsize && !d->len)
				message_done(x, d, frontend);
			continue;
		}
		i += body(d, p + i, cap - i);
		if (d->got == d->len)
			message_done(x, d, frontend);
	}
	if (!gap || d->lost || x->c->st.pgsql.quiet)
		return;
	/* Past the capture: a body is skipped by its length; a header
	 * there is out of sight, and the place with it. */
	hsize = d->startup && frontend ? 4 : 5;
	if (d->hdr_len == hsize && d->got < d->len) {
		size_t n = gap < d->len - d->got ? gap : d->len - d->got;

		if (d->got < d->keep)
			d->keep = d->got;
		d->cut = true;
		d->got += (uint32_t)n;
		gap -= n;
		if (d->got == d->len)
			message_done(x, d, frontend);
	}
	if (gap)
		lose(x, d, frontend);
}

/* --- the interface ----------------------------------------------------- */

static void pgsql_init(union proto_state *st)
{
	memset(&st->pgsql, 0, sizeof(st->pgsql));
}

static void add_totals(const struct pgsql_state *s)
{
	pg_totals.stmts_evicted += s->st.stmts_evicted;
	pg_totals.names_too_long += s->st.names_too_long;
	pg_totals.calls_dropped += s->st.calls_dropped;
	pg_totals.fe_lost += s->st.fe_lost;
	pg_totals.be_lost += s->st.be_lost;
	pg_totals.orphans += s->st.orphans;
	pg_totals.unknown_stmts += s->st.unknown_stmts;
	pg_totals.no_memory += s->st.no_memory;
}

static void pgsql_release(union proto_state *st)
{
	struct pgsql_state *s = st->pgsql.s;

	if (!s)
		return;
	add_totals(s);
	pgsql_state_free(s);
	st->pgsql.s = NULL;
}

/* The first chunk: which side we are, and whether it is wanted. */
static int first_chunk(struct proto_conn *c, const struct stream_chunk *ch,
		       const struct proto_emit *emit)
{
	struct pgsql_conn *pc = &c->st.pgsql;
	struct pgsql_state *s;

	pc->role = ch->dir == STREAM_OUT ? PROTO_ROLE_CLIENT : PROTO_ROLE_SERVER;
	if (pc->role == PROTO_ROLE_SERVER) {
		pc->server_spans = emit->opts && emit->opts->db_server_spans;
		if (!pc->server_spans) {
			pc->quiet = 1;
			return 0;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		pg_totals.conns_no_memory++;
		pc->quiet = 1;
		return -ENOMEM;
	}
	s->fe.buf = s->fe_buf;
	s->be.buf = s->be_buf;
	/* Mid-stream, the client's first bytes are a typed request. */
	s->fe.startup = !midstream_request(ch->data, ch->captured);
	pc->s = s;
	return 0;
}

static int pgsql_feed(struct proto_conn *c, const struct stream_chunk *ch,
		      const struct proto_emit *emit)
{
	struct pgsql_conn *pc = &c->st.pgsql;
	struct pg_ctx x = { .c = c, .emit = emit, .ch = ch };
	bool frontend;
	int err;

	if (ch->captured > ch->total_len || (ch->captured && !ch->data))
		return -EINVAL;
	if (!pc->role && (err = first_chunk(c, ch, emit)))
		return err;
	if (pc->quiet || !pc->s)
		return 0;
	x.s = pc->s;
	frontend = (pc->role == PROTO_ROLE_CLIENT) == (ch->dir == STREAM_OUT);
	if (!frontend)
		x.s->be_last_ns = ch->ts_ns;
	walk(&x, frontend ? &x.s->fe : &x.s->be, frontend, ch->data, ch->captured,
	     ch->total_len);
	return 0;
}

static void pgsql_close(struct proto_conn *c, uint64_t ts_ns,
			const struct proto_emit *emit)
{
	struct stream_chunk none = { .ts_ns = ts_ns };
	struct pg_ctx x = { .c = c, .emit = emit, .s = c->st.pgsql.s, .ch = &none };

	if (x.s)
		pgsql_end_all_cut(&x, ts_ns);
	pgsql_release(&c->st);
	pgsql_init(&c->st);
}

static uint32_t pgsql_requests_started(const union proto_state *st)
{
	return st->pgsql.req_seq;
}

static enum proto_role pgsql_role(const union proto_state *st)
{
	return (enum proto_role)st->pgsql.role;
}

/* A client's requests whole (a pipeline in one write); the responses'
 * first bytes only.  A server's requests, when its spans are asked for. */
static enum stream_verdict pgsql_verdict(const union proto_state *st)
{
	const struct pgsql_conn *pc = &st->pgsql;

	if (!pc->role)
		return STREAM_VERDICT_NONE;
	if (pc->quiet)
		return STREAM_VERDICT_IGNORE;
	return pc->role == PROTO_ROLE_CLIENT ? STREAM_VERDICT_WHOLE_OUT
					     : STREAM_VERDICT_WHOLE_IN;
}

static uint64_t pgsql_request_start_ns(const union proto_state *st, uint32_t seq)
{
	struct pgsql_state *s = st->pgsql.s;

	for (uint32_t i = 0; s && i < s->count; i++) {
		const struct pg_call *call = call_at(s, i);

		if (call->announced && call->seq == seq)
			return call->start_ns;
	}
	return 0;
}

/* The protocol carries no trace context (a comment in the SQL may, and
 * is not read). */
static const char *pgsql_request_traceparent(const union proto_state *st,
					     uint32_t seq)
{
	return NULL;
}

static void pgsql_report(FILE *out)
{
	fprintf(out, "pgsql: %llu statements forgotten (%u a connection), "
		"%llu names too long, %llu executes of unknown statements, "
		"%llu calls past the queue (%u), %llu frontend and %llu backend "
		"framing losses, %llu responses to no call, %llu not kept for "
		"want of memory, %llu connections not decoded for want of memory\n",
		(unsigned long long)pg_totals.stmts_evicted, (unsigned)PGSQL_STMTS_MAX,
		(unsigned long long)pg_totals.names_too_long,
		(unsigned long long)pg_totals.unknown_stmts,
		(unsigned long long)pg_totals.calls_dropped, (unsigned)PGSQL_CALLS_MAX,
		(unsigned long long)pg_totals.fe_lost,
		(unsigned long long)pg_totals.be_lost,
		(unsigned long long)pg_totals.orphans,
		(unsigned long long)pg_totals.no_memory,
		(unsigned long long)pg_totals.conns_no_memory);
}

const struct proto_ops proto_pgsql = {
	.name = "pgsql",
	.inflight_max = PROTO_INFLIGHT,
	.recognise = pgsql_recognise,
	.init = pgsql_init,
	.release = pgsql_release,
	.feed = pgsql_feed,
	.close = pgsql_close,
	.requests_started = pgsql_requests_started,
	.role = pgsql_role,
	.verdict = pgsql_verdict,
	.request_traceparent = pgsql_request_traceparent,
	.request_start_ns = pgsql_request_start_ns,
	.report = pgsql_report,
};
