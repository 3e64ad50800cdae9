// SPDX-License-Identifier: MIT
/*
 * MySQL and MariaDB behind the protocol interface: the handshake (which
 * server, which capabilities, which database), then one call per command
 * and its response, described in the database semantic conventions
 * (db_attrs.h).  Packets are walked in mysql_wire.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/conntable.h"
#include "protocol/db_attrs.h"
#include "protocol/mysql_internal.h"
#include "protocol/protocol.h"

enum phase { PH_GREETING = 0, PH_LOGIN, PH_AUTH, PH_COMMANDS, PH_IGNORED };

/* What a chunk's callbacks need. */
struct feed_ctx {
	struct proto_conn *c;
	const struct proto_emit *emit;
	const struct stream_chunk *ch;
	bool role_known;           /* the first message has been read */
	struct stream_chunk rest;  /* what follows it in its chunk */
};

/* How a call ended. */
struct call_end {
	uint64_t end_ns;
	const struct mysql_err *err; /* an ERR packet, or NULL */
	bool cut_short;
};

/* Losses of closed connections (reader thread only), for the report. */
#define MYSQL_COMPRESSED (CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION)

static struct {
	uint64_t inflight_overflows, stmts_full, unknown_stmts, lost_places,
		orphans, unknown_commands, no_memory, compressed;
} mysql_totals;

/* Commands that begin a call on a connection met mid-stream. */
static bool mid_stream_command(uint8_t cmd)
{
	return cmd == COM_QUERY || cmd == COM_STMT_PREPARE || cmd == COM_STMT_EXECUTE;
}

static enum proto_guess mysql_recognise(const void *data, size_t len,
					enum stream_dir dir)
{
	const uint8_t *p = data;

	/* Through TLS, the plaintext begins with the client's handshake
	 * response (after its SSL request on the socket): sequence 2,
	 * protocol 4.1 and TLS in its capabilities, then a zero filler. */
	if (dir == STREAM_OUT && len >= 36 && p[3] == 2 && mysql_le(p, 3) >= 32 &&
	    (mysql_le(p + 4, 4) & (CLIENT_PROTOCOL_41 | CLIENT_SSL)) ==
		    (CLIENT_PROTOCOL_41 | CLIENT_SSL)) {
		for (unsigned i = 13; i < 32; i++)
			if (p[i])
				return PROTO_NO;
		return PROTO_YES;
	}
	/* A connection met mid-stream (opened before spanprobe started): a
	 * query or statement command, one packet of sequence 0 that is all
	 * of the call. */
	if (len >= 6 && p[3] == 0 && mysql_le(p, 3) + 4 == len &&
	    mid_stream_command(p[4]) &&
	    (p[4] == COM_STMT_EXECUTE ? len >= 14 : (p[5] >= 0x20 && p[5] < 0x7f) || p[5] == '\n'))
		return PROTO_YES;
	return mysql_greeting_guess(data, len);
}

static void mysql_init(union proto_state *st)
{
	memset(&st->mysql, 0, sizeof(st->mysql));
}

/* --- commands awaiting a response ---------------------------------------- */

static struct mysql_cmd *cmd_at(struct mysql_conn *m, unsigned i)
{
	return &m->cmds[(m->head + i) % m->cmds_cap];
}

/* Room for one more command at the ring's tail: NULL when full. */
static struct mysql_cmd *cmd_push(struct mysql_conn *m)
{
	if (m->count == m->cmds_cap) {
		unsigned cap = m->cmds_cap ? m->cmds_cap * 2u : 1u;
		struct mysql_cmd *ring;

		if (m->cmds_cap == MYSQL_PENDING_MAX)
			return NULL;
		ring = malloc(cap * sizeof(*ring));
		if (!ring) {
			m->stats.no_memory++;
			return NULL;
		}
		for (unsigned i = 0; i < m->count; i++)
			ring[i] = *cmd_at(m, i);
		free(m->cmds);
		m->cmds = ring;
		m->cmds_cap = (uint16_t)cap;
		m->head = 0;
	}
	return cmd_at(m, m->count++);
}

static void cmd_pop(struct mysql_conn *m)
{
	if (cmd_at(m, 0)->announced)
		m->announced--;
	m->head = (uint16_t)((m->head + 1) % m->cmds_cap);
	m->count--;
	m->rstate = RS_FIRST;
	m->rows = 0;
	m->had_rows = 0;
}

/* --- calls as spans ------------------------------------------------------ */

/* db.operation.name for a command that is not a statement. */
static const char *command_name(const struct mysql_cmd *k)
{
	switch (k->cmd) {
	case COM_QUERY:
		return NULL; /* the statement says */
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		return k->has_text ? NULL : "EXECUTE";
	case COM_STMT_PREPARE:
		return "PREPARE";
	case COM_INIT_DB:
		return "INIT_DB";
	case COM_PING:
		return "PING";
	case COM_FIELD_LIST:
		return "FIELD_LIST";
	case COM_STATISTICS:
		return "STATISTICS";
	case COM_CHANGE_USER:
		return "CHANGE_USER";
	case 0x1a:
		return "STMT_RESET";
	case 0x1b:
		return "SET_OPTION";
	case 0x1c:
		return "STMT_FETCH";
	case COM_LAST:
		return "RESET_CONNECTION";
	default:
		return "COMMAND";
	}
}

/*
 * The server's message, for the span's status; db_attrs hides what looks
 * like a value in it.  But MySQL quotes the statement's rest as it came
 * ("... near 'x = 's3cret'' at line 1"), quotes inside quotes: unless the
 * raw text is asked for, all from the first quote to the last is one "?".
 * An apostrophe between two letters ("doesn't") is the message's English,
 * not a quote.
 */
static bool apostrophe(const char *m, size_t len, size_t i)
{
	return m[i] == '\'' && i > 0 && i + 1 < len && isalpha((unsigned char)m[i - 1]) &&
	       isalpha((unsigned char)m[i + 1]);
}

static const char *error_text(const struct mysql_err *e, bool raw, char *buf,
			      size_t size)
{
	size_t len = e->msg_len, first = len, last = 0;

	for (size_t i = 0; !raw && i < len; i++) {
		if (e->msg[i] != '\'' && e->msg[i] != '"' && e->msg[i] != '`')
			continue;
		if (apostrophe(e->msg, len, i))
			continue;
		if (first == len)
			first = i;
		last = i;
	}
	if (first < last)
		snprintf(buf, size, "%.*s?%.*s", (int)first, e->msg,
			 (int)(len - last - 1), e->msg + last + 1);
	else
		snprintf(buf, size, "%.*s", (int)len, e->msg);
	return buf;
}

static void emit_call(struct proto_conn *c, const struct proto_emit *emit,
		      const struct mysql_cmd *k, const struct call_end *e,
		      bool rows, uint64_t n_rows)
{
	const struct mysql_conn *m = &c->st.mysql;
	const struct proto_opts *opts = emit->opts;
	struct db_attrs_msg d = {
		.system = m->mariadb ? "mariadb" : "mysql",
		.sql = true,
		.operation = command_name(k),
		.namespace_ = m->db[0] ? m->db : NULL,
		.cut_short = e->cut_short,
	};
	struct proto_exchange o;
	char code[8], msg[MYSQL_RESP_KEEP];

	proto_exchange_begin(&o, m->role == PROTO_ROLE_SERVER, k->start_ns,
			     e->end_ns > k->start_ns ? e->end_ns : k->start_ns);
	o.tid = k->tid;
	if (k->has_text && k->cmd != COM_INIT_DB) {
		d.query = k->text;
		d.query_len = k->text_len;
	}
	if (e->err) {
		snprintf(code, sizeof(code), "%u", e->err->code);
		d.status_code = code;
		d.error_message = error_text(e->err, opts && opts->db_query_raw,
					     msg, sizeof(msg));
	}
	db_attrs_describe(&o, c, &d, opts);
	/* The SQLSTATE, a class of error and no value, before the message. */
	if (e->err && e->err->state[0])
		o.status_message = o.status_message
			? proto_text(&o, "SQLSTATE %s: %s", e->err->state, o.status_message)
			: proto_text(&o, "SQLSTATE %s", e->err->state);
	if (rows)
		proto_attr_int(&o, "db.response.returned_rows", (int64_t)n_rows);
	emit->exchange(emit->ctx, c, &o);
}

static void set_db(struct mysql_conn *m, const char *name, size_t len)
{
	if (len > sizeof(m->db) - 1)
		len = sizeof(m->db) - 1;
	memcpy(m->db, name, len);
	m->db[len] = '\0';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * A query "USE name" (or `name`), as libraries send it, changes the
 * database as COM_INIT_DB does: its name in *name, or false.
 */
static bool use_statement(const char *q, size_t n, const char **name, size_t *len)
{
	size_t i = 0, start;

	while (i < n && is_space(q[i]))
		i++;
	if (n - i < 4 || strncasecmp(q + i, "use", 3) != 0 || !is_space(q[i + 3]))
		return false;
	for (i += 3; i < n && is_space(q[i]); i++)
		;
	if (i < n && q[i] == '`') {
		for (start = ++i; i < n && q[i] != '`'; i++)
			;
		if (i == n)
			return false;
		*len = i++ - start;
	} else {
		for (start = i; i < n && !is_space(q[i]) && q[i] != ';'; i++)
			if (!isalnum((unsigned char)q[i]) && q[i] != '_' && q[i] != '$')
				return false;
		*len = i - start;
	}
	while (i < n && (is_space(q[i]) || q[i] == ';'))
		i++;
	*name = q + start;
	return i == n && *len > 0;
}

/* The head command's response ended at `ts_ns` (err: an ERR packet). */
static void call_done(struct feed_ctx *fc, uint64_t ts_ns,
		      const struct mysql_err *err)
{
	struct mysql_conn *m = &fc->c->st.mysql;
	struct mysql_cmd *k = cmd_at(m, 0);
	struct call_end e = { .end_ns = ts_ns, .err = err };
	const char *name;
	size_t len;

	if (k->cmd == COM_INIT_DB && !err && k->has_text)
		set_db(m, k->text, k->text_len);
	else if (k->cmd == COM_QUERY && !err && !k->text_cut &&
		 use_statement(k->text, k->text_len, &name, &len))
		set_db(m, name, len);
	emit_call(fc->c, fc->emit, k, &e, m->had_rows, m->rows);
	cmd_pop(m);
}

/*
 * Every command waiting ends cut short at `ts_ns` (or the last response
 * bytes seen, when later than its start): the responses lost their place,
 * or the connection closed.  The responses' walk starts afresh.
 */
static void end_all(struct proto_conn *c, const struct proto_emit *emit,
		    uint64_t ts_ns)
{
	struct mysql_conn *m = &c->st.mysql;
	bool server = m->role == PROTO_ROLE_SERVER;

	while (m->count) {
		struct mysql_cmd *k = cmd_at(m, 0);
		struct call_end e = { .end_ns = ts_ns, .cut_short = true };

		/* Rows counted up to the loss are not the result's. */
		emit_call(c, emit, k, &e, false, 0);
		cmd_pop(m);
	}
	mysql_reader_reset(&m->rd[server ? STREAM_OUT : STREAM_IN]);
	m->resp_lost = 0;
}

/* --- responses ----------------------------------------------------------- */

/* The responses lost their place: the calls end at the next command. */
static void lose_responses(struct mysql_conn *m, struct mysql_reader *r)
{
	if (!m->resp_lost)
		m->stats.lost_places++;
	m->resp_lost = 1;
	r->lost = 1;
}

static void on_response(struct feed_ctx *fc, struct mysql_reader *r)
{
	struct mysql_conn *m = &fc->c->st.mysql;
	const uint8_t *p = m->resp_buf;
	size_t n = r->kept;
	struct mysql_cmd *k;
	struct mysql_err err;
	enum mysql_step s;

	if (!m->count) {
		m->stats.orphans++;
		return;
	}
	k = cmd_at(m, 0);
	if (n && p[0] == 0xff) {
		mysql_parse_err(p, n, &err);
		call_done(fc, fc->ch->ts_ns, &err);
		return;
	}
	s = mysql_response_step(m, k, p, n, r->msg_len);
	if (s == MYSQL_STEP_DONE)
		call_done(fc, fc->ch->ts_ns, NULL);
	else if (s == MYSQL_STEP_LOST)
		lose_responses(m, r);
}

/* --- commands ------------------------------------------------------------ */

/* The statement an execution names: id -1 (MariaDB) is the latest
 * prepared, maybe still waiting for its answer in the same write. */
static void execute_text(struct mysql_conn *m, struct mysql_cmd *k, uint32_t id)
{
	const struct mysql_stmt *s;

	if (id == 0xffffffffu) {
		for (unsigned i = m->count - 1; i-- > 0;) {
			const struct mysql_cmd *prep = cmd_at(m, i);

			if (prep->cmd != COM_STMT_PREPARE)
				continue;
			memcpy(k->text, prep->text, prep->text_len);
			k->text_len = prep->text_len;
			k->has_text = prep->has_text;
			return;
		}
		id = m->last_stmt;
	}
	s = mysql_stmt_get(m, id);
	if (!s) {
		m->stats.unknown_stmts++;
		return;
	}
	memcpy(k->text, s->text, s->len);
	k->text_len = s->len;
	k->has_text = 1;
}

static void command_text(struct mysql_cmd *k, const uint8_t *p, size_t n,
			 const struct mysql_reader *r)
{
	size_t len = n - 1;

	k->text_cut = r->msg_len > n || len > MYSQL_QUERY_MAX;
	if (len > MYSQL_QUERY_MAX)
		len = MYSQL_QUERY_MAX;
	memcpy(k->text, p + 1, len);
	k->text_len = (uint16_t)len;
	k->has_text = 1;
}

/* Commands that are no call: no response comes, or one that never ends
 * (a replica's binary log).  True when `cmd` is one (dealt with). */
static bool not_a_call(struct mysql_conn *m, uint8_t cmd, const uint8_t *p,
		       size_t n)
{
	switch (cmd) {
	case COM_STMT_CLOSE:
		if (n >= 5)
			mysql_stmt_forget(m, mysql_le(p + 1, 4));
		return true;
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
		return true;
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
		m->phase = PH_IGNORED;
		return true;
	}
	if (cmd > COM_LAST && cmd != COM_STMT_BULK_EXECUTE) {
		mysql_totals.unknown_commands++;
		return true;
	}
	return false;
}

static void on_command(struct feed_ctx *fc, struct mysql_reader *r,
		       const uint8_t *p)
{
	struct mysql_conn *m = &fc->c->st.mysql;
	size_t n = r->kept;
	struct mysql_cmd *k;
	bool server = m->role == PROTO_ROLE_SERVER;

	if (!n || not_a_call(m, p[0], p, n))
		return;
	if (m->overflow_ns && m->overflow_ns == r->msg_ns) {
		m->stats.inflight_overflows++; /* the rest of that pipeline */
		return;
	}
	if (m->resp_lost || m->rd[server ? STREAM_OUT : STREAM_IN].lost)
		end_all(fc->c, fc->emit,
			m->resp_last_ns ? m->resp_last_ns : r->msg_ns);
	k = cmd_push(m);
	if (!k) {
		/* Not followed: the responses can no longer be matched. */
		m->stats.inflight_overflows++;
		m->overflow_ns = r->msg_ns;
		lose_responses(m, &m->rd[server ? STREAM_OUT : STREAM_IN]);
		return;
	}
	memset(k, 0, offsetof(struct mysql_cmd, text));
	k->cmd = p[0];
	k->start_ns = r->msg_ns;
	k->tid = r->msg_tid;
	/* Past inflight_max, the span opens from the exchange, with the
	 * thread's context then. */
	if (m->announced < MYSQL_INFLIGHT) {
		k->announced = 1;
		k->seq = m->started++;
		m->announced++;
	}
	if (k->cmd == COM_QUERY || k->cmd == COM_STMT_PREPARE || k->cmd == COM_INIT_DB)
		command_text(k, p, n, r);
	else if ((k->cmd == COM_STMT_EXECUTE || k->cmd == COM_STMT_BULK_EXECUTE) && n >= 5)
		execute_text(m, k, mysql_le(p + 1, 4));
}

/* --- the handshake ------------------------------------------------------- */

static void on_login(struct mysql_conn *m, const uint8_t *p,
		     const struct mysql_reader *r)
{
	struct mysql_login l;

	if (mysql_parse_login(p, r->kept, r->msg_len, &l)) {
		m->phase = PH_IGNORED;
		return;
	}
	if (l.ssl_request) {
		/* The rest is TLS: its plaintext, where the library is traced,
		 * is another connection for this decoder. */
		m->tls = 1;
		m->phase = PH_IGNORED;
		return;
	}
	m->caps = l.caps & m->server_caps;
	if (m->caps & MYSQL_COMPRESSED) {
		/* Every packet after the handshake is compressed (zlib or
		 * zstd): not read, and said, rather than misread. */
		m->stats.compressed++;
		m->phase = PH_IGNORED;
		return;
	}
	if (l.db && l.db_len)
		set_db(m, l.db, l.db_len);
	m->phase = PH_AUTH;
}

static void on_client_message(void *ctx, struct mysql_reader *r)
{
	struct feed_ctx *fc = ctx;
	struct mysql_conn *m = &fc->c->st.mysql;

	if (m->phase == PH_LOGIN)
		on_login(m, m->req_buf, r);
	else if (m->phase == PH_COMMANDS && r->seq == 0)
		on_command(fc, r, m->req_buf);
	/* Else: authentication data, a LOCAL INFILE's contents. */
}

static void on_server_message(void *ctx, struct mysql_reader *r)
{
	struct feed_ctx *fc = ctx;
	struct mysql_conn *m = &fc->c->st.mysql;
	struct mysql_greeting g;

	switch (m->phase) {
	case PH_GREETING:
		if (mysql_parse_greeting(m->resp_buf, r->kept, &g)) {
			m->phase = PH_IGNORED;
			return;
		}
		m->server_caps = g.caps;
		m->mariadb = g.mariadb;
		m->phase = PH_LOGIN;
		return;
	case PH_AUTH:
		/* An OK (or ERR) ends it; an auth switch or more data goes on. */
		if (r->kept && (m->resp_buf[0] == 0x00 || m->resp_buf[0] == 0xff))
			m->phase = PH_COMMANDS;
		return;
	case PH_COMMANDS:
		on_response(fc, r);
		return;
	}
}

/* A header in a gap: before the commands, nothing more can be followed. */
static void on_lost(void *ctx, struct mysql_reader *r)
{
	struct feed_ctx *fc = ctx;
	struct mysql_conn *m = &fc->c->st.mysql;
	bool from_client = (fc->ch->dir == STREAM_OUT) == (m->role == PROTO_ROLE_CLIENT);

	if (m->phase != PH_COMMANDS)
		m->phase = PH_IGNORED;
	else if (from_client)
		m->stats.lost_places++; /* the next write starts afresh */
	else
		lose_responses(m, r);
}

/* --- the protocol interface ---------------------------------------------- */

/*
 * The connection's first message says which end is the server: the one
 * that sends the greeting.  Through TLS the greeting went on the socket,
 * and the plaintext begins with the handshake response (sequence 2): its
 * sender is the client.
 */
static void on_first_message(void *ctx, struct mysql_reader *r)
{
	struct feed_ctx *fc = ctx;
	struct mysql_conn *m = &fc->c->st.mysql;
	bool in = fc->ch->dir == STREAM_IN;

	fc->role_known = true;

	if (r->seq == 0 && r->kept && m->resp_buf[0] == 10) {
		m->role = in ? PROTO_ROLE_CLIENT : PROTO_ROLE_SERVER;
		on_server_message(ctx, r);
	} else if (r->seq == 0 && r->kept && r->kept == r->msg_len &&
		   mid_stream_command(m->resp_buf[0])) {
		/* A connection opened before: its database and its
		 * capabilities are not known. */
		m->role = in ? PROTO_ROLE_SERVER : PROTO_ROLE_CLIENT;
		m->midstream = 1;
		m->phase = PH_COMMANDS;
		on_command(fc, r, m->resp_buf);
	} else if (r->seq == 2) {
		m->role = in ? PROTO_ROLE_SERVER : PROTO_ROLE_CLIENT;
		m->server_caps = ~0ull; /* not seen: take the client's */
		m->phase = PH_LOGIN;
		on_login(m, m->resp_buf, r);
	} else {
		m->phase = PH_IGNORED;
	}
}

/*
 * Until the first message says which end is which; the rest of the chunk
 * after it is fed as a chunk of its own.  Returns true when nothing is
 * left of the chunk.
 */
static bool first_chunk(struct feed_ctx *fc, const struct stream_chunk *ch)
{
	struct mysql_conn *m = &fc->c->st.mysql;
	size_t done;

	done = mysql_walk(&m->rd[ch->dir], ch->data, ch->captured, ch->total_len,
			  &(struct mysql_walk){
				  .message = on_first_message, .lost = on_lost,
				  .ctx = fc, .buf = m->resp_buf,
				  .cap = sizeof(m->resp_buf), .ts_ns = ch->ts_ns,
				  .tid = ch->tid, .stop = &fc->role_known,
			  });
	if (done == ch->total_len || m->phase == PH_IGNORED)
		return true;
	fc->rest = *ch;
	fc->rest.data = (const uint8_t *)ch->data + done;
	fc->rest.captured -= done;
	fc->rest.total_len -= done;
	fc->ch = &fc->rest;
	return false;
}

static int mysql_feed(struct proto_conn *c, const struct stream_chunk *ch,
		      const struct proto_emit *emit)
{
	struct mysql_conn *m = &c->st.mysql;
	struct feed_ctx fc = { .c = c, .emit = emit, .ch = ch };
	struct mysql_reader *r;
	bool from_client;

	if (ch->captured > ch->total_len || (ch->captured && !ch->data) ||
	    (ch->dir != STREAM_IN && ch->dir != STREAM_OUT))
		return -EINVAL;
	if (m->phase == PH_IGNORED)
		return 0;
	m->server_spans = emit->opts && emit->opts->db_server_spans;
	if (m->role == PROTO_ROLE_UNKNOWN) {
		if (first_chunk(&fc, ch))
			return 0;
		ch = fc.ch;
	}
	if (m->role == PROTO_ROLE_SERVER && !m->server_spans)
		return 0; /* the database itself: its clients' spans suffice */
	from_client = (ch->dir == STREAM_OUT) == (m->role == PROTO_ROLE_CLIENT);
	r = &m->rd[ch->dir];
	if (from_client && r->lost)
		mysql_reader_reset(r); /* a write begins with a command */
	if (!from_client)
		m->resp_last_ns = ch->ts_ns;
	mysql_walk(r, ch->data, ch->captured, ch->total_len,
		   &(struct mysql_walk){
			   .message = from_client ? on_client_message : on_server_message,
			   .lost = on_lost,
			   .ctx = &fc,
			   .buf = from_client ? m->req_buf : m->resp_buf,
			   .cap = from_client ? sizeof(m->req_buf) : sizeof(m->resp_buf),
			   .ts_ns = ch->ts_ns,
			   .tid = ch->tid,
		   });
	return 0;
}

static void add_totals(const struct mysql_stats *s)
{
	mysql_totals.inflight_overflows += s->inflight_overflows;
	mysql_totals.stmts_full += s->stmts_full;
	mysql_totals.unknown_stmts += s->unknown_stmts;
	mysql_totals.lost_places += s->lost_places;
	mysql_totals.orphans += s->orphans;
	mysql_totals.no_memory += s->no_memory;
	mysql_totals.compressed += s->compressed;
}

static void mysql_release(union proto_state *st)
{
	struct mysql_conn *m = &st->mysql;

	add_totals(&m->stats);
	mysql_stmts_free(m);
	free(m->cmds);
	memset(m, 0, sizeof(*m));
}

/* Calls still waiting end cut short: at the last response bytes when the
 * responses had lost their place, else at the close. */
static void mysql_close(struct proto_conn *c, uint64_t ts_ns,
			const struct proto_emit *emit)
{
	struct mysql_conn *m = &c->st.mysql;

	if (m->count)
		end_all(c, emit, m->resp_lost && m->resp_last_ns ? m->resp_last_ns
								  : ts_ns);
	mysql_release(&c->st);
}

static uint32_t mysql_requests_started(const union proto_state *st)
{
	return st->mysql.started;
}

static enum proto_role mysql_role(const union proto_state *st)
{
	return (enum proto_role)st->mysql.role;
}

/* A client's commands whole; a server's, with --db-server-spans. */
static enum stream_verdict mysql_verdict(const union proto_state *st)
{
	const struct mysql_conn *m = &st->mysql;

	if (m->phase == PH_IGNORED)
		return STREAM_VERDICT_IGNORE;
	if (m->role == PROTO_ROLE_CLIENT)
		return STREAM_VERDICT_WHOLE_OUT;
	if (m->role == PROTO_ROLE_SERVER)
		return m->server_spans ? STREAM_VERDICT_WHOLE_IN : STREAM_VERDICT_IGNORE;
	return STREAM_VERDICT_NONE;
}

/* A command carries no trace context. */
static const char *mysql_request_traceparent(const union proto_state *st,
					     uint32_t seq)
{
	return NULL;
}

static uint64_t mysql_request_start_ns(const union proto_state *st, uint32_t seq)
{
	const struct mysql_conn *m = &st->mysql;

	for (unsigned i = 0; i < m->count; i++) {
		const struct mysql_cmd *k = &m->cmds[(m->head + i) % m->cmds_cap];

		if (k->announced && k->seq == seq)
			return k->start_ns;
	}
	return 0;
}

static void mysql_report(FILE *out)
{
	fprintf(out, "mysql: %llu commands past the in-flight limit (%u), "
		"%llu prepared statements not kept (limit %u), "
		"%llu executions of unknown statements, %llu responses lost "
		"in capture gaps, %llu responses to no command, "
		"%llu unknown commands, %llu allocation failures, %llu "
		"compressed connections not read\n",
		(unsigned long long)mysql_totals.inflight_overflows,
		(unsigned)MYSQL_PENDING_MAX,
		(unsigned long long)mysql_totals.stmts_full, (unsigned)MYSQL_STMTS_MAX,
		(unsigned long long)mysql_totals.unknown_stmts,
		(unsigned long long)mysql_totals.lost_places,
		(unsigned long long)mysql_totals.orphans,
		(unsigned long long)mysql_totals.unknown_commands,
		(unsigned long long)mysql_totals.no_memory,
		(unsigned long long)mysql_totals.compressed);
}

const struct proto_ops proto_mysql = {
	.name = "mysql",
	.inflight_max = MYSQL_INFLIGHT,
	.recognise = mysql_recognise,
	.init = mysql_init,
	.release = mysql_release,
	.feed = mysql_feed,
	.close = mysql_close,
	.requests_started = mysql_requests_started,
	.role = mysql_role,
	.verdict = mysql_verdict,
	.request_traceparent = mysql_request_traceparent,
	.request_start_ns = mysql_request_start_ns,
	.report = mysql_report,
};
