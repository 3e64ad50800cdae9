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
 * db.namespace, db.operation.name, db.collection.name (one table),
 * db.query.text (literals as "?" unless opts->db_query_raw),
 * db.query.summary, db.response.status_code and error.type (status ERROR
 * on any error response), server.address/server.port (the server's end
 * of the socket), network.peer.*; the span name is the summary ("SELECT
 * orders"), else the operation, else the system.
 */
void db_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
		       const struct db_attrs_msg *m, const struct proto_opts *opts);

#endif /* SPANPROBE_DB_ATTRS_H */
