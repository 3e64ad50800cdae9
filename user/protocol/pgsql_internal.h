/* SPDX-License-Identifier: MIT */
/*
 * What the two halves of the PostgreSQL decoder share: pgsql.c (the
 * interface, recognition, the framing of both directions) and
 * pgsql_calls.c (statements, portals, the calls in flight and their
 * spans).
 */
#ifndef SPANPROBE_PGSQL_INTERNAL_H
#define SPANPROBE_PGSQL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/pgsql.h"
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
	/* A Flush ended the batch's messages so far: the client waits for
	 * their answers, and the next message starts anew (a driver that
	 * prepares with Flush, then executes much later). */
	bool flushed;
	/* A statement refused before its Sync came (prepared with Flush):
	 * its call stands for that Sync, which starts none of its own. */
	bool sync_owed;
	uint64_t be_last_ns;     /* the latest backend chunk */
	struct pg_call *calls;   /* ring */
	uint32_t head, count, cap;
	uint32_t open;           /* announced calls not yet ended */
	struct {
		uint64_t stmts_evicted, names_too_long, calls_dropped;
		uint64_t fe_lost, be_lost, orphans, unknown_stmts, no_memory;
	} st;
};


/* What a call back out of the framing needs. */
struct pg_ctx {
	struct proto_conn *c;
	const struct proto_emit *emit;
	struct pgsql_state *s;
	const struct stream_chunk *ch;
};


static inline uint32_t be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The i-th call in flight (0: the oldest). */
static inline struct pg_call *call_at(struct pgsql_state *s, uint32_t i)
{
	return &s->calls[(s->head + i) % s->cap];
}

/* A complete message of the frontend (type 0: the untyped first one) or
 * of the backend: `kept` bytes of its body in d->buf, NUL-terminated. */
void pgsql_fe_message(struct pg_ctx *x, struct pg_dir *d, size_t kept);
void pgsql_be_message(struct pg_ctx *x, struct pg_dir *d, size_t kept);

/* Every call in flight ends at `end_ns` without its response. */
void pgsql_end_all_cut(struct pg_ctx *x, uint64_t end_ns);

/* Free `s` and what it holds. */
void pgsql_state_free(struct pgsql_state *s);

#endif /* SPANPROBE_PGSQL_INTERNAL_H */
