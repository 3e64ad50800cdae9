// SPDX-License-Identifier: MIT
/*
 * The MySQL protocol's packets: one direction's walk by lengths (through
 * capture gaps), the greeting, the handshake response, the fields of OK
 * and ERR packets, and the prepared statements a connection remembers.
 */
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql_internal.h"

uint32_t mysql_le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

bool mysql_lenenc(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
	unsigned size;

	if (*off >= n)
		return false;
	switch (p[*off]) {
	case 0xfc:
		size = 2;
		break;
	case 0xfd:
		size = 3;
		break;
	case 0xfe:
		size = 8;
		break;
	case 0xfb:
	case 0xff:
		return false; /* NULL, or not an integer */
	default:
		*v = p[(*off)++];
		return true;
	}
	if (n - *off < size + 1u)
		return false;
	*v = 0;
	for (unsigned i = 0; i < size; i++)
		*v |= (uint64_t)p[*off + 1 + i] << (8 * i);
	*off += size + 1;
	return true;
}

void mysql_reader_reset(struct mysql_reader *r)
{
	memset(r, 0, sizeof(*r));
}

/* A packet's payload is all here (or counted through a gap). */
static void packet_done(struct mysql_reader *r, const struct mysql_walk *w)
{
	if (r->more)
		return; /* 0xffffff bytes: the message goes on in the next */
	r->in_msg = 0;
	w->message(w->ctx, r);
}

/* A packet header has its 4 bytes. */
static void header_done(struct mysql_reader *r, const struct mysql_walk *w)
{
	uint32_t len = mysql_le(r->hdr, 3);

	r->hdr_len = 0;
	if (!r->in_msg) {
		r->in_msg = 1;
		r->seq = r->hdr[3];
		r->msg_len = 0;
		r->kept = 0;
		r->cut = 0;
	}
	r->more = len == 0xffffff;
	r->need = len;
	if (!len)
		packet_done(r, w);
}

/* The captured bytes: headers and payloads, the latter kept up to `cap`. */
static size_t walk_bytes(struct mysql_reader *r, const uint8_t *p, size_t n,
			 const struct mysql_walk *w)
{
	size_t off = 0;

	while (off < n && !r->lost && !(w->stop && *w->stop)) {
		size_t take, keep;

		if (!r->need) {
			if (!r->hdr_len && !r->in_msg) {
				r->msg_ns = w->ts_ns;
				r->msg_tid = w->tid;
			}
			r->hdr[r->hdr_len++] = p[off++];
			if (r->hdr_len == 4)
				header_done(r, w);
			continue;
		}
		take = n - off < r->need ? n - off : r->need;
		keep = r->kept < w->cap ? w->cap - r->kept : 0;
		keep = keep < take ? keep : take;
		memcpy(w->buf + r->kept, p + off, keep);
		r->kept += (uint16_t)keep;
		r->msg_len += (uint32_t)take;
		r->need -= (uint32_t)take;
		off += take;
		if (!r->need)
			packet_done(r, w);
	}
	return off;
}

size_t mysql_walk(struct mysql_reader *r, const uint8_t *p, size_t captured,
		  size_t total, const struct mysql_walk *w)
{
	size_t gap = total - captured, done = 0;

	if (captured)
		done = walk_bytes(r, p, captured, w);
	if (done < captured)
		return done; /* stopped */
	if (!gap || r->lost)
		return total;
	/* Uncaptured bytes: a payload's are counted; a header among them
	 * (or a message starting there) leaves no way to know the lengths. */
	if (r->need) {
		uint32_t n = gap < r->need ? (uint32_t)gap : r->need;

		r->need -= n;
		r->msg_len += n;
		r->cut = 1;
		gap -= n;
		if (!r->need)
			packet_done(r, w);
	}
	if (gap && !r->lost) {
		r->lost = 1;
		if (w->lost)
			w->lost(w->ctx, r);
	}
	return total;
}

/* "5.5.5-10.11.6-MariaDB...": digits and dots first, then anything. */
static bool version_ok(const uint8_t *v, size_t n, size_t *len)
{
	size_t i = 0;
	bool dot = false;

	if (!n || v[0] < '0' || v[0] > '9')
		return false;
	for (; i < n && v[i]; i++) {
		if (v[i] == '.')
			dot = true;
		else if (v[i] < 0x20 || v[i] > 0x7e)
			return false;
	}
	*len = i;
	return dot;
}

enum proto_guess mysql_greeting_guess(const uint8_t *p, size_t n)
{
	size_t vlen;
	uint32_t len;

	if (n < 3)
		return PROTO_MAYBE;
	len = mysql_le(p, 3);
	/* A greeting is tens of bytes; 0xffffff would be a continued one. */
	if (len < 20 || len > 1024)
		return PROTO_NO;
	if (n < 4)
		return PROTO_MAYBE;
	if (p[3] != 0)
		return PROTO_NO;
	if (n < 5)
		return PROTO_MAYBE;
	if (p[4] != 10)
		return PROTO_NO;
	if (n < 6)
		return PROTO_MAYBE;
	if (!version_ok(p + 5, n - 5 < len - 1 ? n - 5 : len - 1, &vlen))
		return PROTO_NO;
	if (vlen + 1 >= len || 5 + vlen >= n)
		return n - 4 < len ? PROTO_MAYBE : PROTO_NO; /* no NUL yet */
	return PROTO_YES;
}

int mysql_parse_greeting(const uint8_t *p, size_t n, struct mysql_greeting *g)
{
	size_t vlen, off;

	memset(g, 0, sizeof(*g));
	if (n < 2 || p[0] != 10 || !version_ok(p + 1, n - 1, &vlen) || 1 + vlen >= n)
		return -EINVAL;
	g->mariadb = memmem(p + 1, vlen, "MariaDB", 7) != NULL;
	off = 1 + vlen + 1 + 4 + 8 + 1; /* NUL, thread id, scramble, filler */
	if (n < off + 2)
		return -EINVAL;
	g->caps = mysql_le(p + off, 2);
	off += 2 + 1 + 2; /* charset, status */
	if (n < off + 2)
		return 0; /* an old server: no upper flags */
	g->caps |= (uint64_t)mysql_le(p + off, 2) << 16;
	off += 2 + 1 + 6; /* auth data length, filler */
	/* MariaDB's own capabilities, where a MySQL server has filler. */
	if (!(g->caps & CLIENT_MYSQL) && n >= off + 4)
		g->caps |= (uint64_t)mysql_le(p + off, 4) << 32;
	return 0;
}

/* A NUL-terminated field at *off: its length, *off past the NUL. */
static int cstring(const uint8_t *p, size_t n, size_t *off, size_t *len)
{
	const uint8_t *z;

	if (*off > n)
		return -EINVAL;
	z = memchr(p + *off, 0, n - *off);
	if (!z)
		return -EINVAL;
	*len = (size_t)(z - (p + *off));
	*off += *len + 1;
	return 0;
}

int mysql_parse_login(const uint8_t *p, size_t n, size_t total,
		      struct mysql_login *l)
{
	size_t off = 32, len;
	uint64_t alen;

	memset(l, 0, sizeof(*l));
	if (n < 32)
		return -EINVAL;
	l->caps = mysql_le(p, 4);
	if (!(l->caps & CLIENT_MYSQL))
		l->caps |= (uint64_t)mysql_le(p + 28, 4) << 32;
	if (!(l->caps & CLIENT_PROTOCOL_41))
		return -EINVAL; /* the protocol of 1998: not followed */
	l->ssl_request = total == 32 && (l->caps & CLIENT_SSL);
	if (l->ssl_request || !(l->caps & CLIENT_CONNECT_WITH_DB))
		return 0;
	if (cstring(p, n, &off, &len)) /* the user */
		return 0;
	if (l->caps & CLIENT_PLUGIN_AUTH_LENENC) {
		if (!mysql_lenenc(p, n, &off, &alen))
			return 0;
	} else if (l->caps & CLIENT_SECURE_CONNECTION) {
		if (off >= n)
			return 0;
		alen = p[off++];
	} else if (cstring(p, n, &off, &len)) {
		return 0;
	} else {
		alen = 0;
	}
	if (alen > n - off)
		return 0;
	off += alen;
	if (cstring(p, n, &off, &len))
		return 0; /* cut by the buffer: no database known */
	l->db = (const char *)p + off - len - 1;
	l->db_len = len;
	return 0;
}

/* Status flags of an OK packet (0x00 or, ending rows, 0xfe). */
uint16_t mysql_ok_status(const uint8_t *p, size_t n)
{
	size_t off = 1;
	uint64_t v;

	if (!mysql_lenenc(p, n, &off, &v) || !mysql_lenenc(p, n, &off, &v) ||
	    n < off + 2)
		return 0;
	return (uint16_t)mysql_le(p + off, 2);
}

void mysql_parse_err(const uint8_t *p, size_t n, struct mysql_err *e)
{
	memset(e, 0, sizeof(*e));
	if (n >= 3)
		e->code = (uint16_t)mysql_le(p + 1, 2);
	if (n >= 9 && p[3] == '#') {
		memcpy(e->state, p + 4, 5);
		e->msg = (const char *)p + 9;
		e->msg_len = n - 9;
	} else if (n > 3) {
		e->msg = (const char *)p + 3;
		e->msg_len = n - 3;
	}
}

/* --- prepared statements ------------------------------------------------- */

static struct mysql_stmt *stmt_find(struct mysql_conn *m, uint32_t id)
{
	for (uint32_t i = 0; i < m->n_stmts; i++)
		if (m->stmts[i].id == id)
			return &m->stmts[i];
	return NULL;
}

const struct mysql_stmt *mysql_stmt_get(struct mysql_conn *m, uint32_t id)
{
	return stmt_find(m, id);
}

void mysql_stmt_put(struct mysql_conn *m, uint32_t id, const char *text,
		    size_t len)
{
	struct mysql_stmt *s = stmt_find(m, id);
	char *copy;

	if (!s && m->n_stmts == MYSQL_STMTS_MAX) {
		m->stats.stmts_full++;
		return;
	}
	if (!s && m->n_stmts == m->stmts_cap) {
		uint32_t cap = m->stmts_cap ? m->stmts_cap * 2 : 8;
		struct mysql_stmt *grown = realloc(m->stmts, cap * sizeof(*grown));

		if (!grown) {
			m->stats.no_memory++;
			return;
		}
		m->stmts = grown;
		m->stmts_cap = cap;
	}
	copy = malloc(len ? len : 1);
	if (!copy) {
		m->stats.no_memory++;
		return;
	}
	memcpy(copy, text, len);
	if (s) {
		free(s->text); /* the server reused the id */
	} else {
		s = &m->stmts[m->n_stmts++];
		s->id = id;
	}
	s->text = copy;
	s->len = (uint16_t)len;
}

void mysql_stmt_forget(struct mysql_conn *m, uint32_t id)
{
	struct mysql_stmt *s = stmt_find(m, id);

	if (!s)
		return;
	free(s->text);
	*s = m->stmts[--m->n_stmts];
}

void mysql_stmts_free(struct mysql_conn *m)
{
	for (uint32_t i = 0; i < m->n_stmts; i++)
		free(m->stmts[i].text);
	free(m->stmts);
	m->stmts = NULL;
	m->n_stmts = m->stmts_cap = 0;
}
