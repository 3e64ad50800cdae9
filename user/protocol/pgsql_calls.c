// SPDX-License-Identifier: MIT
/*
 * PostgreSQL's calls (pgsql_internal.h): the statements prepared by name
 * and the portals bound to them, the calls in flight (simple queries,
 * Executes, Syncs) and what each means as a span (db_attrs.h), from the
 * messages the framing (pgsql.c) completes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/conntable.h"
#include "protocol/db_attrs.h"
#include "protocol/pgsql_internal.h"

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
void pgsql_end_all_cut(struct pg_ctx *x, uint64_t end_ns)
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
		/* Cut where its code was: nothing after it can be read. */
		s->st.fe_lost++;
		x->c->st.pgsql.losses++;
		x->c->st.pgsql.quiet = 1;
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
	pgsql_end_all_cut(x, s->be_last_ns);
	s->be.lost = false;
	s->be.resync = true;
}

void pgsql_fe_message(struct pg_ctx *x, struct pg_dir *d, size_t kept)
{
	struct pgsql_state *s = x->s;
	const char *b = d->buf;
	bool fresh = !s->batch_start_ns || s->flushed;
	uint64_t start = fresh ? d->start_ns : s->batch_start_ns;
	struct pg_text *t;

	if (d->type == 0) {
		fe_startup(x, b, kept, d->len);
		return;
	}
	if (!strchr("QPBDCHES", d->type))
		return; /* copy data, function call, password, terminate */
	if (fresh)
		new_request(x);
	s->flushed = false;
	switch (d->type) {
	case 'Q':
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
		if (fresh)
			s->batch_start_ns = d->start_ns;
		if (d->type == 'P')
			fe_parse(x, b, kept);
		else if (d->type == 'B')
			fe_bind(x, b, kept);
		else if (d->type == 'C')
			fe_close(s, b, kept);
		else
			s->flushed = true;
		return;
	case 'E':
		fe_execute(x, b, kept, start);
		text_put(&s->batch_parse);
		s->batch_start_ns = 0;
		return;
	default: /* 'S' */
		s->batch_start_ns = 0;
		if (s->sync_owed) {
			s->sync_owed = false;
			text_put(&s->batch_parse);
			return;
		}
		/* A statement prepared and not executed (a driver's prepare
		 * round trip): its text, should the server refuse it. */
		call_start(x, PG_SYNC, s->batch_parse, start);
		text_put(&s->batch_parse);
		return;
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

	if (!call && !s->count && s->batch_parse && s->batch_start_ns) {
		/* A statement refused when prepared with a Flush, before any
		 * Sync (asyncpg, postgres.js): its call now, standing for the
		 * Sync to come, so that it is ended by that ReadyForQuery. */
		call_start(x, PG_SYNC, s->batch_parse, s->batch_start_ns);
		text_put(&s->batch_parse);
		s->batch_start_ns = 0;
		s->sync_owed = s->count != 0;
	}
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

void pgsql_be_message(struct pg_ctx *x, struct pg_dir *d, size_t kept)
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

void pgsql_state_free(struct pgsql_state *s)
{
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
}
