/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL's frontend/backend protocol (version 3) as database calls.
 *
 * A connection opens with the client's StartupMessage (or an SSLRequest
 * or GSSENCRequest first); after it every message is a type byte, a
 * 32-bit length that counts itself, and a body.  One call is a simple
 * query ('Q', ended by ReadyForQuery) or one Execute of the extended
 * protocol ('E', ended by its CommandComplete, EmptyQueryResponse,
 * PortalSuspended or ErrorResponse; an Execute the server skipped after
 * an earlier error in the same Sync ends at the ReadyForQuery).  The
 * statement text an Execute runs comes from the Parse that prepared it,
 * by name: prepared once, executed many times.  A statement the server
 * refuses when a driver prepares it alone (Parse, Sync) is a call too.
 *
 * The inline state is a pointer and a few words: the framing of both
 * directions, the statements, portals and calls in flight live on the
 * heap (struct pgsql_state, pgsql_internal.h), allocated with the first
 * bytes and freed in release().  Every table is bounded; what does not
 * fit is counted (the decoder's report line).
 */
#ifndef SPANPROBE_PGSQL_H
#define SPANPROBE_PGSQL_H

#include <stdbool.h>
#include <stdint.h>

/* Prepared statements remembered per connection (the unnamed one aside):
 * past it, the one used least recently is forgotten (counted); an
 * Execute of a forgotten statement has no text.  As many as the drivers
 * keep (asyncpg and psycopg 100, pgjdbc 256): 80 bytes each. */
#define PGSQL_STMTS_MAX 256
/* Named portals remembered (cursors; the unnamed portal aside). */
#define PGSQL_PORTALS_MAX 8
/* Bytes of a statement kept: the rest of a longer one is not seen. */
#define PGSQL_TEXT_MAX 2048
/* Bytes of a statement or portal name kept; a longer name is not kept. */
#define PGSQL_NAME_MAX 64
/* Calls and Syncs waiting for their responses (a long pipeline): past
 * it, calls are dropped (counted). */
#define PGSQL_CALLS_MAX 1024

struct pgsql_state;

struct pgsql_conn {
	struct pgsql_state *s; /* NULL until the first bytes */
	uint32_t req_seq;      /* calls announced so far */
	uint8_t role;          /* enum proto_role */
	uint8_t quiet;         /* nothing more to decode (TLS, not wanted) */
	uint8_t server_spans;  /* a server, and its spans were asked for */
	uint32_t losses;       /* framing lost on this connection (either way) */
};

#endif /* SPANPROBE_PGSQL_H */
