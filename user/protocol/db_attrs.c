// SPDX-License-Identifier: MIT
/* A database call as a span: what PostgreSQL, MySQL and Redis share. */
#include "protocol/db_attrs.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "protocol/http_attrs.h"
#include "protocol/redis.h"
#include "protocol/sql.h"

/* An error message longer than this is cut (the span's status message). */
#define DB_ATTRS_MESSAGE_MAX 256

/* Redis commands whose second word is a subcommand (CLIENT SETNAME...):
 * it names the operation, it is not a value. */
static const char *const redis_containers[] = {
	"ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY",
	"MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP",
	"XINFO", NULL
};

static enum sql_dialect dialect_of(const char *system)
{
	if (!system)
		return SQL_DIALECT_STANDARD;
	if (!strcmp(system, "mysql") || !strcmp(system, "mariadb"))
		return SQL_DIALECT_MYSQL;
	if (!strcmp(system, "postgresql"))
		return SQL_DIALECT_POSTGRESQL;
	return SQL_DIALECT_STANDARD;
}

/* The word at `p` (up to a space), its length. */
static size_t word_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != ' ')
		q++;
	return (size_t)(q - p);
}

/* A command's name: letters, digits, '_', '-', '.' (module commands as
 * JSON.SET), upper-cased into `out`; false when it is not one. */
static bool redis_word(const char *p, size_t n, char *out, size_t cap)
{
	if (!n || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.') {
			out[0] = '\0';
			return false;
		}
		out[i] = (char)toupper(c);
	}
	out[n] = '\0';
	return true;
}

/* Word `w` after the `n` bytes of `out` (`cap`), a space between; the
 * length now, or 0 when it does not fit. */
static size_t put_word(char *out, size_t cap, size_t n, const char *w)
{
	size_t wl = strlen(w), sp = n ? 1 : 0;

	if (n + sp + wl + 1 > cap)
		return 0;
	if (sp)
		out[n++] = ' ';
	memcpy(out + n, w, wl);
	return n + wl;
}

static bool redis_container(const char *name)
{
	for (const char *const *c = redis_containers; *c; c++)
		if (!strcmp(name, *c))
			return true;
	return false;
}

/*
 * A Redis command's words -> its name (in `name`, upper case, "" when the
 * first word is not a command Redis knows) and, in `out` (`cap` bytes),
 * the name, the subcommand of a container command, then "?" for every
 * other word.  Returns the length written (cut at a word when full).
 */
static size_t redis_text(const char *q, size_t len, char *name, size_t name_cap,
			 char *out, size_t cap)
{
	const char *p = q, *end = q + len;
	char word[32];
	size_t n = 0, k, put;
	bool container = false;

	name[0] = '\0';
	if (!cap)
		return 0;
	for (int i = 0; p < end; i++) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		k = word_len(p, end);
		const char *w = "?";

		/* A name Redis does not know may be a value. */
		if (i == 0 && redis_command_known(p, k) &&
		    redis_word(p, k, name, name_cap)) {
			w = name;
			container = redis_container(name);
		} else if (i == 1 && container && redis_word(p, k, word, sizeof(word))) {
			w = word;
		}
		put = put_word(out, cap, n, w);
		if (!put)
			break;
		n = put;
		p += k;
	}
	out[n] = '\0';
	return n;
}

/*
 * The same from the command's count of words (m->argc): the name
 * (m->operation, "?" when none), a container's subcommand (m->arg1, whole:
 * shorter than REDIS_WORD_MAX), then "?" for every other argument,
 * whatever its bytes.
 */
static size_t redis_text_counted(const struct db_attrs_msg *m, char *out,
				 size_t cap)
{
	const char *name = m->operation && m->operation[0] ? m->operation : "?";
	char sub[REDIS_WORD_MAX];
	size_t n = 0, put;
	uint32_t i = 1;

	if (!cap)
		return 0;
	n = put_word(out, cap, 0, name);
	if (n && m->argc > 1 && m->arg1 && redis_container(name) &&
	    strlen(m->arg1) < sizeof(sub) - 1 &&
	    redis_word(m->arg1, strlen(m->arg1), sub, sizeof(sub))) {
		put = put_word(out, cap, n, sub);
		n = put ? put : n;
		i += put ? 1 : m->argc;
	}
	for (; n && i < m->argc; i++) {
		put = put_word(out, cap, n, "?");
		if (!put)
			break;
		n = put;
	}
	out[n] = '\0';
	return n;
}

/*
 * An error message with what may be a value hidden: every quoted run
 * ('...', "...", `...`, the quote not inside a word, as in "doesn't")
 * and every number not inside a word becomes "?".  MySQL's "Duplicate
 * entry '...'" carries the row's value.
 */
static size_t scrub_message(const char *in, char *out, size_t cap)
{
	size_t n = 0, i = 0, len = strlen(in);

	while (i < len && n + 2 <= cap) {
		unsigned char c = (unsigned char)in[i];
		bool word_before = i && (isalnum((unsigned char)in[i - 1]) ||
					 in[i - 1] == '_');

		if ((c == '\'' || c == '"' || c == '`') && !word_before) {
			const char *close = strchr(in + i + 1, c);

			out[n++] = '?';
			i = close ? (size_t)(close - in) + 1 : len;
			continue;
		}
		if (isdigit(c) && !word_before) {
			while (i < len && (isalnum((unsigned char)in[i]) ||
					   in[i] == '.' || in[i] == '_'))
				i++;
			out[n++] = '?';
			continue;
		}
		out[n++] = (char)c;
		i++;
	}
	out[n] = '\0';
	return n;
}

/* db.response.status_code, error.type and the status with its message. */
static void add_status(struct proto_exchange *o, const struct db_attrs_msg *m,
		       const struct proto_opts *opts)
{
	char msg[DB_ATTRS_MESSAGE_MAX + 1];
	const char *code;

	if (!m->status_code || !m->status_code[0])
		return;
	code = proto_text(o, "%s", m->status_code);
	proto_attr_cstr(o, "db.response.status_code", code);
	proto_attr_cstr(o, "error.type", code);
	o->error = true;
	if (!m->error_message || !m->error_message[0])
		return;
	if (opts && opts->db_query_raw)
		snprintf(msg, sizeof(msg), "%s", m->error_message);
	else
		scrub_message(m->error_message, msg, sizeof(msg));
	o->status_message = proto_text(o, "%s", msg);
}

/* The cut of `n` bytes that ends on a UTF-8 character. */
static size_t utf8_cut(const char *p, size_t n)
{
	while (n && ((unsigned char)p[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* db.query.text in what x->text has left, but the decoder's reserve. */
static void add_query(struct proto_exchange *o, const struct db_attrs_msg *m,
		      const struct proto_opts *opts)
{
	char buf[PROTO_TEXT_MAX], name[32];
	size_t left = sizeof(o->text) - o->text_used, room, n;

	if (!m->query || !m->query_len)
		return;
	room = left > 2 * DB_ATTRS_TEXT_RESERVE ? left - DB_ATTRS_TEXT_RESERVE
						 : left / 2;
	if (room < 2)
		return;
	if (opts && opts->db_query_raw) {
		n = m->query_len < room - 1 ? m->query_len : room - 1;
		if (n < m->query_len)
			n = utf8_cut(m->query, n);
		memcpy(buf, m->query, n);
	} else if (m->sql) {
		n = sql_sanitize_dialect(m->query, m->query_len, buf, room,
					 dialect_of(m->system));
	} else if (m->argc) {
		n = redis_text_counted(m, buf, room);
	} else {
		n = redis_text(m->query, m->query_len, name, sizeof(name), buf, room);
	}
	if (n)
		proto_attr_str(o, "db.query.text", buf, n, true);
}

/* The operation and the summary (into x->text); the operation's text. */
static const char *add_operation(struct proto_exchange *o,
				 const struct db_attrs_msg *m,
				 const char **summary)
{
	struct sql_summary sum = { "", "" };
	char scratch[8];
	const char *op;

	if (m->query && m->sql)
		sql_summarize_dialect(m->query, m->query_len, &sum,
				      dialect_of(m->system));
	else if (m->query && !m->operation)
		redis_text(m->query, m->query_len, sum.operation,
			   sizeof(sum.operation), scratch, sizeof(scratch));
	op = m->operation && m->operation[0] ? m->operation : sum.operation;
	op = op[0] ? proto_text(o, "%s", op) : "";
	if (op[0])
		proto_attr_cstr(o, "db.operation.name", op);
	if (sum.collection[0])
		proto_attr_str(o, "db.collection.name", sum.collection,
			       strlen(sum.collection), true);
	/* The summary: "SELECT orders" from the statement; a Redis command
	 * or an operation the protocol named alone. */
	if (sum.operation[0] && sum.collection[0] && m->sql)
		*summary = proto_text_join(o, sum.operation, ' ', sum.collection);
	else if (sum.operation[0] && m->sql)
		*summary = proto_text(o, "%s", sum.operation);
	else
		*summary = op;
	if ((*summary)[0])
		proto_attr_cstr(o, "db.query.summary", *summary);
	return op;
}

void db_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
		       const struct db_attrs_msg *m, const struct proto_opts *opts)
{
	bool server = o->server;
	const char *system = "", *op, *summary = "";

	if (m->system && m->system[0]) {
		system = proto_text(o, "%s", m->system);
		proto_attr_cstr(o, "db.system.name", system);
	}
	if (m->namespace_ && m->namespace_[0])
		proto_attr_str(o, "db.namespace", m->namespace_,
			       strlen(m->namespace_), true);
	op = add_operation(o, m, &summary);
	o->name = summary[0] ? summary : op[0] ? op : system;
	o->name_len = strlen(o->name);
	if (m->batch_size >= 2)
		proto_attr_int(o, "db.operation.batch.size", m->batch_size);
	add_status(o, m, opts);
	http_attrs_server(o, "", 0, server ? &c->local : &c->peer, false);
	http_attrs_peer(o, c, server);
	if (m->cut_short)
		proto_attr_cstr(o, "spanprobe.partial", "response");
	add_query(o, m, opts);
}
