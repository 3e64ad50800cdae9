/* SPDX-License-Identifier: MIT */
/*
 * What a database call means as a span, in the terms of the stable
 * database semantic conventions, whatever the wire protocol that carried
 * it: the span name, db.*, the server and the status.  The PostgreSQL,
 * MySQL and Redis decoders fill a struct db_attrs_msg.
 */
#ifndef SPANPROBE_DB_ATTRS_H
#define SPANPROBE_DB_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/conntable.h"
#include "protocol/protocol.h"

/* Bytes of an exchange's text left for what a decoder adds after
 * db_attrs_describe(). */
#define DB_ATTRS_TEXT_RESERVE 192

/* One call and its outcome.  Strings NUL-terminated; NULL when absent. */
struct db_attrs_msg {
	const char *system;      /* db.system.name: "postgresql", "mysql",
				    "mariadb", "redis" */
	const char *query;       /* the statement (SQL) or the command (Redis:
				    its words, space-separated) as captured,
				    `query_len` bytes, not NUL-terminated */
	size_t query_len;
	bool sql;                /* query is SQL; else a Redis command, whose
				    arguments (all but the command's name and
				    a subcommand) are literals */
	uint32_t argc;           /* Redis: the command's words, its name
				    included, and with `arg1` its first
				    argument: db.query.text (unless raw) is
				    counted, not split from `query` (whose
				    words may hold spaces or be empty);
				    0: split */
	const char *arg1;
	const char *operation;   /* db.operation.name when the protocol says
				    it (a Redis command, "EXECUTE"...); NULL:
				    from the SQL */
	const char *namespace_;  /* db.namespace (the database; Redis: the
				    index, "0" by default) */
	const char *status_code; /* db.response.status_code: SQLSTATE, the
				    MySQL error number, the Redis error prefix;
				    NULL: success */
	const char *error_message; /* the server's message, with status_code */
	int64_t batch_size;      /* db.operation.batch.size (>= 2), 0: none */
	bool cut_short;          /* no response: the connection closed, or its
				    bytes were not all captured */
};

/*
 * Name and describe `o`, a call seen on `c`: db.system.name,
 * db.namespace, db.operation.name (m->operation, else the statement's
 * first keyword or the Redis command's name), db.collection.name (one
 * table), db.query.text, db.query.summary ("SELECT orders"; a Redis
 * command's name), db.operation.batch.size (from 2), and on an error
 * db.response.status_code and error.type (the code) with status ERROR
 * and the server's message; server.address/server.port (the server's
 * end of the socket: the peer, or the traced server's own end),
 * network.peer.* (and client.* on a SERVER span); spanprobe.partial =
 * "response" when cut_short.  The span name is the summary, else the
 * operation, else the system.
 *
 * Unless opts->db_query_raw: SQL is sanitised by the system's dialect
 * (sql_sanitize_dialect(): MySQL/MariaDB, PostgreSQL, else standard); a
 * Redis command keeps its name (when Redis knows it) and a container
 * command's subcommand (CLIENT SETNAME, CONFIG GET...), every other word
 * becomes "?" ("SET ? ?"; m->argc of them when given); the error message loses its quoted runs and numbers ("Duplicate
 * entry ? for key ?": MySQL puts the row's value there).  The query text
 * takes what o->text has left but DB_ATTRS_TEXT_RESERVE bytes for the
 * decoder's own attributes, cut at a token (raw: at a character) when
 * longer.  Strings of `m` are copied: they may go once this returns.
 */
void db_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
		       const struct db_attrs_msg *m, const struct proto_opts *opts);

#endif /* SPANPROBE_DB_ATTRS_H */
