// SPDX-License-Identifier: MIT
/*
 * PostgreSQL behind the protocol interface (pgsql.h): the framing of the
 * two directions, the statements and portals of the extended protocol,
 * the calls in flight and what each means as a span (db_attrs.h).
 *
 * "Frontend" is what the client sends, "backend" what the server sends:
 * on the client's side the frontend is STREAM_OUT, on the server's side
 * STREAM_IN.
 */
#include "protocol/pgsql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/db_attrs.h"
#include "protocol/protocol.h"

/* The first message's codes (the protocol version, or a request). */
#define PG_PROTO_MAJOR3 3u
#define PG_CODE_CANCEL 80877102u
#define PG_CODE_SSL 80877103u
#define PG_CODE_GSSENC 80877104u
/* A StartupMessage longer than this is not one (the server's limit). */
#define PG_STARTUP_MAX 10000u
/* No message is longer (the server's limit is 1 GB). */
#define PG_MESSAGE_MAX 0x40000000u

/* Body bytes kept of a frontend message (Parse: its name and text). */
#define PG_FE_KEEP (PGSQL_NAME_MAX + PGSQL_TEXT_MAX + 8)
/* Of a backend message (an ErrorResponse's fields, a command tag). */
#define PG_BE_KEEP 512
/* Bytes of an error message kept for the span's status. */
#define PG_ERRMSG_MAX 256

/* A statement's text, shared by the statement, its portals and calls. */
struct pg_text {
	uint32_t refs;
	uint32_t len;
	char s[];
};

struct pg_stmt {
	char name[PGSQL_NAME_MAX];
	struct pg_text *text; /* NULL: slot free */
	uint64_t used;        /* stamp of the last use (least recent goes) */
};

/* One direction's framing. */
struct pg_dir {
	uint8_t hdr[5];
	uint8_t hdr_len;    /* header bytes of the message in progress */
	uint8_t type;       /* its type; 0: untyped (startup) */
	bool startup;       /* the next frontend message is untyped */
	bool ssl_answer;    /* the next backend byte answers a request */
	bool lost;          /* a header fell in a gap: bytes are ignored */
	bool resync;        /* the next chunk starts at a message */
	bool cut;           /* a gap hid part of the body */
	uint32_t len;       /* body length */
	uint32_t got;       /* body bytes passed (kept or not) */
	uint32_t keep;      /* body bytes to keep */
	uint64_t start_ns;  /* the chunk of the header's first byte */
	char *buf;          /* keep bytes */
};

enum pg_kind { PG_CALL_SIMPLE = 1, PG_CALL_EXECUTE, PG_SYNC };

struct pg_call {
	struct pg_text *text;
	uint64_t start_ns;
	uint32_t tid, seq;
	uint8_t kind;
	bool announced;
	bool skipped;       /* not run: an earlier error in its Sync */
	bool cut;           /* its response was not seen */
	bool rows_pending;  /* rows described or sent since the last tag */
	char status[6];     /* SQLSTATE; "": success */
	int64_t rows;       /* rows returned; -1: no count */
	char *errmsg;       /* heap; NULL: none */
};

struct pgsql_state {
	struct pg_dir fe, be;
	char fe_buf[PG_FE_KEEP + 1]; /* and a NUL */
	char be_buf[PG_BE_KEEP + 1];
	char user[PGSQL_NAME_MAX], database[PGSQL_NAME_MAX];
	struct pg_text *unnamed_stmt, *unnamed_portal;
	struct pg_text *batch_parse; /* a Parse no Execute followed yet */
	struct pg_stmt stmts[PGSQL_STMTS_MAX];
	struct pg_stmt portals[PGSQL_PORTALS_MAX];
	uint64_t stamp;
	uint64_t batch_start_ns; /* first message of the extended batch; 0 */
	uint64_t be_last_ns;     /* the latest backend chunk */
	struct pg_call *calls;   /* ring */
	uint32_t head, count, cap;
	uint32_t open;           /* announced calls not yet ended */
	struct {
		uint64_t stmts_evicted, names_too_long, calls_dropped;
		uint64_t fe_lost, be_lost, orphans, unknown_stmts, no_memory;
	} st;
};

/* Losses of closed connections (reader thread only), for the report. */
static struct {
	uint64_t stmts_evicted, names_too_long, calls_dropped;
	uint64_t fe_lost, be_lost, orphans, unknown_stmts, no_memory, conns_no_memory;
} pg_totals;

/* What a call back out of the framing needs. */
struct pg_ctx {
	struct proto_conn *c;
	const struct proto_emit *emit;
	struct pgsql_state *s;
	const struct stream_chunk *ch;
};

static uint32_t be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

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

/* --- texts, statements, portals ---------------------------------------- */

static struct pg_text *text_new(struct pgsql_state *s, const char *p, size_t len)
{
	struct pg_text *t;

	if (len > PGSQL_TEXT_MAX)
		len = PGSQL_TEXT_MAX;
	t = malloc(sizeof(*t) + len + 1);
	if (!t) {
		s->st.no_memory++;
		return NULL;
	}
	t->refs = 1;
	t->len = (uint32_t)len;
	memcpy(t->s, p, len);
	t->s[len] = '\0';
	return t;
}

static struct pg_text *text_ref(struct pg_text *t)
{
	if (t)
		t->refs++;
	return t;
}

static void text_put(struct pg_text **t)
{
	if (*t && --(*t)->refs == 0)
		free(*t);
	*t = NULL;
}

/* The slot named `name` in `tab` (n slots), or NULL. */
static struct pg_stmt *slot_find(struct pg_stmt *tab, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (tab[i].text && strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

/* Remember `name` -> `t` (a reference of its own) in `tab`: a free slot,
 * else the least recently used one (returned in *evicted). */
static void slot_set(struct pgsql_state *s, struct pg_stmt *tab, unsigned n,
		     const char *name, struct pg_text *t, bool *evicted)
{
	struct pg_stmt *e = slot_find(tab, n, name), *lru = NULL;

	*evicted = false;
	for (unsigned i = 0; !e && i < n; i++) {
		if (!tab[i].text) {
			e = &tab[i];
			break;
		}
		if (!lru || tab[i].used < lru->used)
			lru = &tab[i];
	}
	if (!e) {
		e = lru;
		*evicted = true;
	}
	text_put(&e->text);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->text = text_ref(t);
	e->used = ++s->stamp;
}

/* --- the calls in flight ------------------------------------------------ */

static struct pg_call *call_at(struct pgsql_state *s, uint32_t i)
{
	return &s->calls[(s->head + i) % s->cap];
}

/* A new entry at the tail, or NULL (full: counted). */
static struct pg_call *call_push(struct pgsql_state *s)
{
	struct pg_call *x;

	if (s->count == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 8;
		struct pg_call *n;

		if (cap > PGSQL_CALLS_MAX) {
			s->st.calls_dropped++;
			return NULL;
		}
		n = malloc(cap * sizeof(*n));
		if (!n) {
			s->st.no_memory++;
			return NULL;
		}
		for (uint32_t i = 0; i < s->count; i++)
			n[i] = *call_at(s, i);
		free(s->calls);
		s->calls = n;
		s->head = 0;
		s->cap = cap;
	}
	x = call_at(s, s->count++);
	memset(x, 0, sizeof(*x));
	x->rows = -1;
	return x;
}

static void call_pop(struct pgsql_state *s)
{
	struct pg_call *x = call_at(s, 0);

	text_put(&x->text);
	free(x->errmsg);
	x->errmsg = NULL;
	s->head = (s->head + 1) % s->cap;
	s->count--;
}

/* A call of the kind `kind` running `t`, from the frontend message just
 * read; announced while fewer than inflight_max are open. */
static void call_start(struct pg_ctx *x, enum pg_kind kind, struct pg_text *t,
		       uint64_t start_ns)
{
	struct pgsql_state *s = x->s;
	struct pg_call *call = call_push(s);

	if (!call)
		return;
	call->kind = (uint8_t)kind;
	call->text = text_ref(t);
	call->start_ns = start_ns;
	call->tid = x->ch->tid;
	if (kind != PG_SYNC && s->open < x->c->ops->inflight_max) {
		call->announced = true;
		call->seq = x->c->st.pgsql.req_seq++;
		s->open++;
	}
}

/* Call `call` ended at `end_ns`: a span. */
static void call_emit(struct pg_ctx *x, struct pg_call *call, uint64_t end_ns)
{
	const struct proto_opts *opts = x->emit->opts;
	struct pgsql_state *s = x->s;
	struct proto_exchange o;
	static const char skipped[] = "not run: an earlier statement of its pipeline failed";
	struct db_attrs_msg m = {
		.system = "postgresql",
		.sql = true,
		.namespace_ = s->database[0] ? s->database : s->user[0] ? s->user : NULL,
		.status_code = call->status[0] ? call->status : NULL,
		.error_message = call->skipped ? skipped : call->errmsg,
		.cut_short = call->cut,
	};

	if (call->text) {
		m.query = call->text->s;
		m.query_len = call->text->len;
	}
	if (end_ns < call->start_ns)
		end_ns = call->start_ns;
	proto_exchange_begin(&o, x->c->st.pgsql.role == PROTO_ROLE_SERVER,
			     call->start_ns, end_ns);
	o.tid = call->tid;
	db_attrs_describe(&o, x->c, &m, opts);
	if (call->rows >= 0 && !call->status[0])
		proto_attr_int(&o, "db.response.returned_rows", call->rows);
	if (call->announced)
		s->open--;
	x->emit->exchange(x->emit->ctx, x->c, &o);
}

/* The head call ended: its span, and it leaves the queue. */
static void head_end(struct pg_ctx *x, uint64_t end_ns)
{
	call_emit(x, call_at(x->s, 0), end_ns);
	call_pop(x->s);
}

/* Every call in flight ends at `end_ns` without its response (the
 * backend's place was lost, or the connection closed). */
static void end_all_cut(struct pg_ctx *x, uint64_t end_ns)
{
	struct pgsql_state *s = x->s;

	while (s->count) {
		struct pg_call *call = call_at(s, 0);

		if (call->kind == PG_SYNC) {
			call_pop(s);
			continue;
		}
		if (!call->status[0] && !call->skipped)
			call->cut = true;
		head_end(x, end_ns);
	}
}

/* --- frontend messages ----------------------------------------------- */

/* "name\0value\0...\0": the user and the database. */
static void startup_params(struct pgsql_state *s, const char *b, size_t n)
{
	size_t i = 0;

	while (i < n && b[i]) {
		const char *key = b + i;
		size_t klen = strnlen(key, n - i), vlen;
		const char *val;

		if (i + klen + 1 >= n)
			break;
		val = key + klen + 1;
		vlen = strnlen(val, n - (i + klen + 1));
		if (i + klen + 1 + vlen >= n)
			break; /* cut: the value may be partial */
		if (strcmp(key, "user") == 0)
			snprintf(s->user, sizeof(s->user), "%.*s", (int)vlen, val);
		else if (strcmp(key, "database") == 0)
			snprintf(s->database, sizeof(s->database), "%.*s", (int)vlen, val);
		i += klen + 1 + vlen + 1;
	}
}

static void fe_startup(struct pg_ctx *x, const char *b, size_t n, uint32_t len)
{
	struct pgsql_state *s = x->s;
	uint32_t code;

	if (len < 4 || n < 4) {
		s->fe.lost = true;
		return;
	}
	code = be32(b);
	if (code == PG_CODE_SSL || code == PG_CODE_GSSENC) {
		s->be.ssl_answer = true; /* 'S'/'G' or 'N'; a startup follows */
		return;
	}
	if (code >> 16 != PG_PROTO_MAJOR3) {
		x->c->st.pgsql.quiet = 1; /* a cancel, or not a session */
		return;
	}
	s->fe.startup = false;
	startup_params(s, b + 4, n - 4);
}

/* A NUL-terminated string at `*i` in `b` (`n` bytes), or NULL (cut). */
static const char *cstr(const char *b, size_t n, size_t *i, size_t *len)
{
	const char *p = b + *i;
	size_t l;

	if (*i >= n)
		return NULL;
	l = strnlen(p, n - *i);
	*len = l;
	*i += l + 1;
	return p;
}

static void fe_parse(struct pg_ctx *x, const char *b, size_t n)
{
	struct pgsql_state *s = x->s;
	size_t i = 0, nlen = 0, qlen = 0;
	const char *name = cstr(b, n, &i, &nlen), *q = cstr(b, n, &i, &qlen);
	struct pg_text *t;
	bool evicted;

	if (!name || !q)
		return;
	t = text_new(s, q, qlen);
	if (!t)
		return;
	text_put(&s->batch_parse);
	s->batch_parse = text_ref(t);
	if (!nlen) {
		text_put(&s->unnamed_stmt);
		s->unnamed_stmt = t;
		return;
	}
	if (nlen >= PGSQL_NAME_MAX) {
		s->st.names_too_long++;
	} else {
		slot_set(s, s->stmts, PGSQL_STMTS_MAX, name, t, &evicted);
		s->st.stmts_evicted += evicted;
	}
	text_put(&t);
}

/* The text of statement `name`, or NULL (unknown: counted). */
static struct pg_text *stmt_text(struct pgsql_state *s, const char *name)
{
	struct pg_stmt *e;

	if (!name[0])
		return s->unnamed_stmt;
	e = slot_find(s->stmts, PGSQL_STMTS_MAX, name);
	if (!e) {
		s->st.unknown_stmts++;
		return NULL;
	}
	e->used = ++s->stamp;
	return e->text;
}

static void fe_bind(struct pg_ctx *x, const char *b, size_t n)
{
	struct pgsql_state *s = x->s;
	size_t i = 0, plen = 0, slen = 0;
	const char *portal = cstr(b, n, &i, &plen), *stmt = cstr(b, n, &i, &slen);
	struct pg_text *t;
	bool evicted;

	if (!portal || !stmt || i > n || slen >= PGSQL_NAME_MAX)
		return;
	t = stmt_text(s, stmt);
	if (!plen) {
		text_put(&s->unnamed_portal);
		s->unnamed_portal = text_ref(t);
	} else if (plen < PGSQL_NAME_MAX && t) {
		slot_set(s, s->portals, PGSQL_PORTALS_MAX, portal, t, &evicted);
	}
}

static void fe_execute(struct pg_ctx *x, const char *b, size_t n, uint64_t start)
{
	struct pgsql_state *s = x->s;
	size_t i = 0, plen = 0;
	const char *portal = cstr(b, n, &i, &plen);
	struct pg_text *t = NULL;
	struct pg_stmt *e;

	if (portal && !plen) {
		t = s->unnamed_portal;
	} else if (portal && plen < PGSQL_NAME_MAX) {
		e = slot_find(s->portals, PGSQL_PORTALS_MAX, portal);
		t = e ? e->text : NULL;
	}
	call_start(x, PG_CALL_EXECUTE, t, start);
}

/* Close: 'S' a statement, 'P' a portal. */
static void fe_close(struct pgsql_state *s, const char *b, size_t n)
{
	size_t i = 1, len = 0;
	const char *name = n ? cstr(b, n, &i, &len) : NULL;
	struct pg_stmt *e;

	if (!name)
		return;
	if (!len) {
		text_put(b[0] == 'S' ? &s->unnamed_stmt : &s->unnamed_portal);
		return;
	}
	e = slot_find(b[0] == 'S' ? s->stmts : s->portals,
		      b[0] == 'S' ? PGSQL_STMTS_MAX : PGSQL_PORTALS_MAX, name);
	if (e)
		text_put(&e->text);
}

/*
 * A new request after the backend lost its place: the calls waiting end
 * where the backend was last heard (their responses were not all seen),
 * and its next chunk starts at a message (the client read the last
 * response before it asked again).
 */
static void new_request(struct pg_ctx *x)
{
	struct pgsql_state *s = x->s;

	if (!s->be.lost)
		return;
	end_all_cut(x, s->be_last_ns);
	s->be.lost = false;
	s->be.resync = true;
}

static void fe_message(struct pg_ctx *x, struct pg_dir *d, size_t kept)
{
	struct pgsql_state *s = x->s;
	const char *b = d->buf;
	uint64_t start = s->batch_start_ns ? s->batch_start_ns : d->start_ns;
	struct pg_text *t;

	if (d->type == 0) {
		fe_startup(x, b, kept, d->len);
		return;
	}
	switch (d->type) {
	case 'Q':
		new_request(x);
		t = text_new(s, b, strnlen(b, kept));
		call_start(x, PG_CALL_SIMPLE, t, d->start_ns);
		text_put(&t);
		s->batch_start_ns = 0;
		return;
	case 'P':
	case 'B':
	case 'D':
	case 'C':
	case 'H':
		if (!s->batch_start_ns) {
			new_request(x);
			s->batch_start_ns = d->start_ns;
		}
		if (d->type == 'P')
			fe_parse(x, b, kept);
		else if (d->type == 'B')
			fe_bind(x, b, kept);
		else if (d->type == 'C')
			fe_close(s, b, kept);
		return;
	case 'E':
		if (!s->batch_start_ns)
			new_request(x);
		fe_execute(x, b, kept, start);
		text_put(&s->batch_parse);
		s->batch_start_ns = 0;
		return;
	case 'S':
		/* A statement prepared and not executed (a driver's prepare
		 * round trip): its text, should the server refuse it. */
		if (!s->batch_start_ns)
			new_request(x);
		call_start(x, PG_SYNC, s->batch_parse, start);
		text_put(&s->batch_parse);
		s->batch_start_ns = 0;
		return;
	default:
		return; /* copy data, function call, password, terminate */
	}
}

/* --- backend messages ------------------------------------------------ */

/* The count at the end of a command tag ("SELECT 5", "INSERT 0 1"), or
 * -1; `rows_back` when the command's kind returns rows. */
static int64_t tag_rows(const char *tag, size_t n, bool *rows_back)
{
	const char *sp = memrchr(tag, ' ', n);
	int64_t v = 0;

	*rows_back = (n >= 6 && memcmp(tag, "SELECT", 6) == 0) ||
		     (n >= 5 && memcmp(tag, "FETCH", 5) == 0);
	if (!sp || sp + 1 == tag + n)
		return -1;
	for (const char *p = sp + 1; p < tag + n; p++) {
		if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/* The head call, or NULL when the head is a Sync (or nothing waits). */
static struct pg_call *head_call(struct pgsql_state *s)
{
	struct pg_call *call = s->count ? call_at(s, 0) : NULL;

	return call && call->kind != PG_SYNC ? call : NULL;
}

static void be_complete(struct pg_ctx *x, struct pg_dir *d, size_t kept)
{
	struct pgsql_state *s = x->s;
	struct pg_call *call = head_call(s);
	bool rows_back = false;
	int64_t rows = -1;

	if (!call) {
		s->st.orphans++;
		return;
	}
	if (d->type == 'C')
		rows = tag_rows(d->buf, strnlen(d->buf, kept), &rows_back);
	/* The rows of every statement of a simple query that returned some
	 * (INSERT ... RETURNING too: rows were described). */
	if (rows >= 0 && (rows_back || call->rows_pending))
		call->rows = (call->rows > 0 ? call->rows : 0) + rows;
	call->rows_pending = false;
	if (call->kind == PG_CALL_EXECUTE)
		head_end(x, x->ch->ts_ns);
}

/* ErrorResponse: fields of a type byte and a string each. */
static void be_error(struct pg_ctx *x, struct pg_dir *d, size_t kept)
{
	struct pgsql_state *s = x->s;
	struct pg_call *call = head_call(s);
	const char *code = "", *msg = NULL;
	size_t i = 0, mlen = 0;

	if (!call && s->count && call_at(s, 0)->text && !call_at(s, 0)->status[0]) {
		call = call_at(s, 0); /* a statement refused when prepared */
	} else if (!call) {
		/* A failed startup, a notice of a terminated session: no
		 * call of ours. */
		if (s->count)
			s->st.orphans++;
		return;
	}
	while (i < kept && d->buf[i]) {
		char f = d->buf[i++];
		size_t len = 0;
		const char *v = cstr(d->buf, kept, &i, &len);

		if (!v)
			break;
		if (f == 'C' && len == 5)
			code = v;
		else if (f == 'M') {
			msg = v;
			mlen = len;
		}
	}
	if (call->status[0])
		return; /* the first error of a simple query's statements */
	snprintf(call->status, sizeof(call->status), "%s", code[0] ? code : "XX000");
	/* Its values are hidden by db_attrs_describe(), unless raw. */
	if (msg && !call->errmsg) {
		call->errmsg = strndup(msg, mlen < PG_ERRMSG_MAX ? mlen : PG_ERRMSG_MAX);
		if (!call->errmsg)
			s->st.no_memory++;
	}
	if (call->kind == PG_SYNC) {
		/* Its span now; the ReadyForQuery then ends the Sync alone. */
		call_emit(x, call, x->ch->ts_ns);
		text_put(&call->text);
		return;
	}
	if (call->kind != PG_CALL_EXECUTE)
		return;
	/* The server skips what follows up to the Sync. */
	for (uint32_t k = 1; k < s->count; k++) {
		struct pg_call *next = call_at(s, k);

		if (next->kind == PG_SYNC)
			break;
		next->skipped = true;
		memcpy(next->status, call->status, sizeof(next->status));
	}
	head_end(x, x->ch->ts_ns);
}

/* ReadyForQuery: the calls up to the Sync (or the simple query) end. */
static void be_ready(struct pg_ctx *x)
{
	struct pgsql_state *s = x->s;
	uint32_t k;

	for (k = 0; k < s->count; k++)
		if (call_at(s, k)->kind != PG_CALL_EXECUTE)
			break;
	if (k == s->count)
		return; /* the end of the startup, or a function call */
	while (s->count) {
		struct pg_call *call = call_at(s, 0);
		enum pg_kind kind = call->kind;

		if (kind == PG_SYNC)
			call_pop(s);
		else
			head_end(x, x->ch->ts_ns);
		if (kind != PG_CALL_EXECUTE)
			return;
	}
}

static void be_message(struct pg_ctx *x, struct pg_dir *d, size_t kept)
{
	struct pg_call *call = head_call(x->s);

	switch (d->type) {
	case 'C':
	case 'I':
	case 's':
		be_complete(x, d, kept);
		return;
	case 'E':
		be_error(x, d, kept);
		return;
	case 'Z':
		be_ready(x);
		return;
	case 'T':
	case 'D':
		if (call)
			call->rows_pending = true;
		return;
	default:
		return; /* parameters, keys, authentication, notices, copy */
	}
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
		fe_message(x, d, kept);
	else
		be_message(x, d, kept);
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
	while (s->count)
		call_pop(s);
	free(s->calls);
	text_put(&s->unnamed_stmt);
	text_put(&s->unnamed_portal);
	text_put(&s->batch_parse);
	for (unsigned i = 0; i < PGSQL_STMTS_MAX; i++)
		text_put(&s->stmts[i].text);
	for (unsigned i = 0; i < PGSQL_PORTALS_MAX; i++)
		text_put(&s->portals[i].text);
	free(s);
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

	if (!pc->role && (err = first_chunk(c, ch, emit)))
		return err;
	if (pc->quiet || !pc->s)
		return 0;
	if (ch->captured > ch->total_len || (ch->captured && !ch->data))
		return -EINVAL;
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
		end_all_cut(&x, ts_ns);
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
