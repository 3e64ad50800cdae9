/* SPDX-License-Identifier: MIT */
/*
 * MySQL and MariaDB client/server protocol: one call per command
 * (COM_QUERY, COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_INIT_DB, COM_PING...)
 * from its first byte to the end of its response.
 *
 * The server speaks first: its greeting (protocol version 10 and a version
 * string such as "10.11.6-MariaDB") says MySQL or MariaDB and which
 * capabilities it offers; the client's handshake response says which it
 * takes (and may name the database).  Packets are a 3-byte length and a
 * sequence number; a packet of 0xffffff bytes continues in the next one.
 * The decoder walks packets by their lengths, through capture gaps too;
 * when a packet header falls in a gap of a response it has lost its place
 * there, and the calls waiting end (cut short) when the client's next
 * command comes, or at the close.
 *
 * The per-connection state is small; the commands awaiting a response
 * and the prepared statements' text live on the heap, bounded (policies
 * at the constants below), and go in mysql_release().
 */
#ifndef SPANPROBE_MYSQL_H
#define SPANPROBE_MYSQL_H

#include <stdint.h>

/* Bytes of a statement's text kept (the rest is cut; counted). */
#ifndef MYSQL_QUERY_MAX
#define MYSQL_QUERY_MAX 1024
#endif
/* Bytes of a response message kept: enough for any header, an OK, an ERR
 * with its message, a prepare's answer. */
#define MYSQL_RESP_KEEP 320
/* Commands sent and not yet answered (a client pipelining, as MariaDB's
 * connector does with a prepare and its first execute) that the stage
 * above opens a span for when they are sent (inflight_max); the commands
 * past them still make their spans when answered, up to MYSQL_PENDING_MAX
 * waiting.  More are not followed: the decoder loses its place in the
 * responses (counted). */
#define MYSQL_INFLIGHT 32
#define MYSQL_PENDING_MAX 128
/* Prepared statements remembered per connection; when full, a new one is
 * not (counted), and its executions are spans without text. */
#define MYSQL_STMTS_MAX 256
#define MYSQL_DB_MAX 64

/* One direction's packets: where the walk stands. */
struct mysql_reader {
	uint64_t msg_ns;   /* chunk that held the message's first byte */
	uint32_t msg_tid;  /* thread that moved it */
	uint32_t need;     /* payload bytes of the packet still to come */
	uint32_t msg_len;  /* payload bytes of the message so far */
	uint16_t kept;     /* of them in the buffer */
	uint8_t hdr[4], hdr_len;
	uint8_t seq;       /* the message's first packet's sequence number */
	uint8_t more;      /* the packet is 0xffffff bytes: the message goes on */
	uint8_t in_msg;    /* a message has begun */
	uint8_t lost;      /* a header fell in a gap: no framing until resync */
	uint8_t cut;       /* some of the message's bytes were not captured */
};

struct mysql_cmd;
struct mysql_stmt;

/* Losses of one connection; nothing is lost without being counted here. */
struct mysql_stats {
	uint32_t inflight_overflows; /* commands not followed: too many waiting */
	uint32_t stmts_full;         /* prepared statements not remembered */
	uint32_t unknown_stmts;      /* executions of a statement not known */
	uint32_t lost_places;        /* a header in a gap: calls cut short */
	uint32_t orphans;            /* responses with no command waiting */
	uint32_t no_memory;
	uint32_t compressed;         /* connections left out: compressed */
};

struct mysql_conn {
	uint8_t phase;        /* private: greeting, login, auth, commands... */
	uint8_t role;         /* enum proto_role */
	uint8_t mariadb;      /* the version string says MariaDB */
	uint8_t server_spans; /* opts->db_server_spans, seen at the first chunk */
	uint8_t tls;          /* the client asked for TLS: the socket is left */
	uint8_t rstate;       /* private: where the head command's response is */
	uint8_t resp_lost;    /* the head's response lost its place */
	uint8_t had_rows;     /* the head's response is a result set */
	uint8_t midstream;    /* met after its handshake: capabilities unknown */
	uint8_t db_len;
	uint64_t caps;        /* capabilities both ends took (MariaDB's extended
			       * ones in the upper 32 bits) */
	uint64_t server_caps;
	uint64_t resp_last_ns; /* the latest chunk of responses */
	uint64_t overflow_ns; /* the write whose commands overflowed the ring */
	uint32_t started;     /* commands announced (requests_started) */
	uint32_t cols_left;   /* column definitions still to come */
	uint32_t prep_cols;   /* a prepare's answer: result columns after params */
	uint64_t rows;        /* rows of the head command's response so far */
	uint32_t last_stmt;   /* the latest prepared statement's id */
	/* Commands awaiting a response: a ring on the heap that doubles up
	 * to MYSQL_PENDING_MAX slots as needed (NULL until the first); the
	 * first MYSQL_INFLIGHT of them announced. */
	uint16_t head, count, cmds_cap, announced;
	struct mysql_cmd *cmds;
	/* Prepared statements: an array that doubles up to MYSQL_STMTS_MAX. */
	struct mysql_stmt *stmts;
	uint32_t n_stmts, stmts_cap;
	struct mysql_stats stats;
	char db[MYSQL_DB_MAX];       /* db.namespace: the current database */
	struct mysql_reader rd[2];   /* indexed by enum stream_dir */
	uint8_t req_buf[MYSQL_QUERY_MAX + 16]; /* command: byte, id... text */
	uint8_t resp_buf[MYSQL_RESP_KEEP];
};

#endif /* SPANPROBE_MYSQL_H */
