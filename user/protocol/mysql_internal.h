/* SPDX-License-Identifier: MIT */
/* Shared by mysql.c (calls as spans) and mysql_wire.c (packets). */
#ifndef SPANPROBE_MYSQL_INTERNAL_H
#define SPANPROBE_MYSQL_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mysql.h"
#include "protocol/protocol.h"

/* Capability flags (the protocol's CLIENT_*); MariaDB's own above bit 32. */
#define CLIENT_MYSQL                (1ull << 0)  /* unset: a MariaDB peer */
#define CLIENT_CONNECT_WITH_DB      (1ull << 3)
#define CLIENT_COMPRESS             (1ull << 5)
#define CLIENT_PROTOCOL_41          (1ull << 9)
#define CLIENT_SSL                  (1ull << 11)
#define CLIENT_SECURE_CONNECTION    (1ull << 15)
#define CLIENT_PLUGIN_AUTH_LENENC   (1ull << 21)
#define CLIENT_DEPRECATE_EOF        (1ull << 24)
#define CLIENT_OPTIONAL_METADATA    (1ull << 25) /* MySQL 8 */
#define CLIENT_ZSTD_COMPRESSION     (1ull << 26) /* MySQL 8 */
#define MARIADB_CACHE_METADATA      (1ull << 36)

/* Server status flags. */
#define SERVER_MORE_RESULTS_EXISTS 0x0008

/* Commands (COM_*). */
enum {
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_STATISTICS = 0x09,
	COM_PING = 0x0e,
	COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_BINLOG_DUMP_GTID = 0x1e,
	COM_LAST = 0x1f, /* COM_RESET_CONNECTION */
	COM_STMT_BULK_EXECUTE = 0xfa, /* MariaDB */
};

/* Where the head command's response stands. */
enum rstate {
	RS_FIRST = 0, /* its first packet: OK, ERR, EOF or a column count */
	RS_COLS,      /* column definitions of a result set */
	RS_COLS_EOF,  /* the EOF after them (without CLIENT_DEPRECATE_EOF) */
	RS_ROWS,      /* rows, up to an EOF (or an OK with 0xfe) */
	RS_PARAMS,    /* a prepare's parameter definitions */
	RS_PARAMS_EOF,
	RS_PCOLS,     /* a prepare's result column definitions */
	RS_PCOLS_EOF,
	RS_MORE,      /* a command whose response takes several packets */
};

/* What a response packet did to its call. */
enum mysql_step {
	MYSQL_STEP_MORE, /* the response goes on */
	MYSQL_STEP_DONE, /* it ended with this packet */
	MYSQL_STEP_LOST, /* it cannot be followed (a column count not seen) */
};

/* A command sent, waiting for its response. */
struct mysql_cmd {
	uint64_t start_ns;
	uint32_t tid, seq;
	uint32_t stmt_id;
	uint8_t cmd;
	uint8_t announced; /* counted in requests_started (seq is its number) */
	uint8_t has_text; /* text is the statement (or the database) */
	uint8_t text_cut; /* the statement was longer than what is kept */
	uint16_t text_len;
	char text[MYSQL_QUERY_MAX];
};

struct mysql_stmt {
	uint32_t id;
	uint16_t len;
	char *text;
};

/* What the walk of one direction calls, and where it keeps payloads. */
struct mysql_walk {
	void (*message)(void *ctx, struct mysql_reader *r);
	void (*lost)(void *ctx, struct mysql_reader *r);
	void *ctx;
	uint8_t *buf;
	size_t cap;
	uint64_t ts_ns;
	uint32_t tid;
	const bool *stop; /* NULL, or true: the walk stops after a message */
};

struct mysql_greeting {
	uint64_t caps;
	bool mariadb;
};

struct mysql_login {
	uint64_t caps;
	bool ssl_request;   /* TLS follows */
	const char *db;     /* CLIENT_CONNECT_WITH_DB: the database, else NULL */
	size_t db_len;
};

struct mysql_err {
	uint16_t code;
	char state[6];      /* SQLSTATE, "" when the packet has none */
	const char *msg;
	size_t msg_len;
};

/* Little-endian integer of `n` (<= 4) bytes. */
uint32_t mysql_le(const uint8_t *p, unsigned n);
/* A length-encoded integer at *off of `n` bytes: false when cut or not one. */
bool mysql_lenenc(const uint8_t *p, size_t n, size_t *off, uint64_t *v);

void mysql_reader_reset(struct mysql_reader *r);
/* One chunk of a direction: `captured` bytes of `p`, then a gap up to
 * `total`.  Calls w->message for each message complete, w->lost when a
 * header falls in the gap (the reader then waits for a reset).  Returns
 * the bytes walked: `total`, or fewer when *w->stop became true. */
size_t mysql_walk(struct mysql_reader *r, const uint8_t *p, size_t captured,
		  size_t total, const struct mysql_walk *w);

/* First bytes of a connection: a server's greeting? */
enum proto_guess mysql_greeting_guess(const uint8_t *p, size_t n);
/* A greeting's payload.  Returns 0 or -EINVAL. */
int mysql_parse_greeting(const uint8_t *p, size_t n, struct mysql_greeting *g);
/* A handshake response's (or SSL request's) `n` kept bytes of `total`.
 * Returns 0 or -EINVAL (not protocol 4.1). */
int mysql_parse_login(const uint8_t *p, size_t n, size_t total,
		      struct mysql_login *l);
uint16_t mysql_ok_status(const uint8_t *p, size_t n);
void mysql_parse_err(const uint8_t *p, size_t n, struct mysql_err *e);

/*
 * One message of the response to `k` (`n` of its `len` bytes kept in `p`;
 * not an ERR, which ends any response): moves m->rstate on, counts rows,
 * remembers a prepared statement.
 */
enum mysql_step mysql_response_step(struct mysql_conn *m, const struct mysql_cmd *k,
				    const uint8_t *p, size_t n, uint32_t len);

/* The prepared statements of a connection (bounded; counted when full). */
const struct mysql_stmt *mysql_stmt_get(struct mysql_conn *m, uint32_t id);
void mysql_stmt_put(struct mysql_conn *m, uint32_t id, const char *text,
		    size_t len);
void mysql_stmt_forget(struct mysql_conn *m, uint32_t id);
void mysql_stmts_free(struct mysql_conn *m);

#endif /* SPANPROBE_MYSQL_INTERNAL_H */
