/* SPDX-License-Identifier: MIT */
/*
 * Redis commands and their replies (RESP2 and RESP3, resp.h) as database
 * calls: one exchange per command, in order, whatever the pipelining
 * (many commands in one write, many replies in one read).
 *
 * A client connection is one that sends a RESP array of bulk strings
 * first ("*N\r\n$"); one that receives it first is a server's, decoded
 * only when SERVER spans are asked for (proto_opts.db_server_spans).
 * Commands wait for their replies in a queue on the heap, bounded by
 * REDIS_QUEUE_MAX (past it a command is counted and its reply skipped).
 * What the replies mean besides success or error: "+QUEUED" inside
 * MULTI/EXEC (the queued command's exchange ends there), SELECT's index
 * (db.namespace of the later commands: none until known, as a connection
 * met mid-stream may have selected any; 0 on one the kernel saw from
 * its first command, RESET's 0, and on TLS 0 after a HELLO read as the
 * connection's first command, the handshake clients open with), HELLO's
 * protocol version,
 * subscriptions and MONITOR, whose pushed messages are counted, not
 * exchanges.  A reply whose header fell in a gap loses the place: the
 * commands in flight end at the next command or the close, cut short.
 * A command line in a gap loses the place in the commands: those before
 * it still take their replies, those read after it (from the next call
 * on) end cut short at the first command after replies came.  Records
 * lost in the kernel (proto_loss_epoch moved: whose is not known) lose
 * both places: the commands in flight end at the next command, which,
 * with those after it, ends cut short at the first command after
 * replies came.
 */
#ifndef SPANPROBE_REDIS_H
#define SPANPROBE_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/resp.h"

/* Commands announced (spans opened as they are sent) at most; the others
 * of a longer pipeline are exchanges with their thread's context. */
#define REDIS_INFLIGHT 64
/* Commands waiting for a reply on one connection, at most. */
#define REDIS_QUEUE_MAX 4096
/* Bytes of a command's words kept for db.query.text. */
#define REDIS_TEXT_MAX 96
/* Bytes of a command's name and first argument kept. */
#define REDIS_WORD_MAX 24
/* Bytes of a command's name at most (the longest, GEORADIUSBYMEMBER_RO,
 * has 20; a module's, PREFIX.NAME, a few more). */
#define REDIS_NAME_MAX 32
/* Bytes of a reply's first element kept (a pub/sub message's kind). */
#define REDIS_KIND_MAX 16

/* What a command does to the connection besides its reply. */
enum redis_kind {
	REDIS_K_OTHER = 0,
	REDIS_K_SELECT,
	REDIS_K_MULTI,
	REDIS_K_EXEC,
	REDIS_K_DISCARD,
	REDIS_K_HELLO,
	REDIS_K_SUBSCRIBE,   /* SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE */
	REDIS_K_UNSUBSCRIBE, /* UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE */
	REDIS_K_MONITOR,
	REDIS_K_RESET,
	REDIS_K_AUTH,
	REDIS_K_CLIENT,      /* CLIENT REPLY ON|OFF|SKIP among others */
	REDIS_K_CONFIG,      /* CONFIG SET requirepass... (a password) */
	REDIS_K_ACL,         /* ACL SETUSER name rules (passwords) */
	REDIS_K_MIGRATE,     /* MIGRATE ... AUTH password, AUTH2 user password */
};

/* CLIENT REPLY: whether the server answers the next commands. */
enum redis_replies { REDIS_REPLIES_ON = 0, REDIS_REPLIES_OFF, REDIS_REPLIES_SKIP };

/* A command waiting for its reply. */
struct redis_cmd {
	uint64_t start_ns;     /* the chunk that held its first line */
	uint32_t seq;          /* its number, when announced */
	uint32_t tid;          /* the thread that sent it */
	uint32_t then_skip;    /* replies after its own to skip: commands
				  dropped behind it (queue full) */
	uint32_t argc;         /* words, its name included */
	uint8_t kind;          /* enum redis_kind */
	uint8_t announced;
	uint8_t text_len;
	uint8_t name_len;      /* the name's bytes at the start of `text` */
	uint8_t unmatched;     /* read after a place lost in the commands:
				  which reply is its own is not known */
	uint8_t first;         /* the first command read on the connection */
	uint8_t mask;          /* the word being read is a credential: "?" */
	uint8_t mask_next;     /* words after it that are too */
	uint8_t word_at;       /* where the word being read starts in `text` */
	char arg1[REDIS_WORD_MAX]; /* its first argument (SELECT's index...) */
	char text[REDIS_TEXT_MAX]; /* its words, space-separated */
};

/* The reply being read. */
struct redis_reply {
	int64_t n;             /* the top-level element's count or length */
	uint32_t elems;        /* elements of a top-level aggregate so far */
	uint16_t text_len;
	uint8_t type;          /* the top-level element's type byte */
	uint8_t elem_type;     /* the type of its element being read */
	uint8_t kind_len;
	uint8_t num_len;
	char kind[REDIS_KIND_MAX]; /* its first element, when a string */
	char num[24];              /* its third element, when an integer */
	char text[RESP_LINE_MAX];  /* a simple string's or an error's text */
};

/* Counters per connection; nothing is lost without being counted. */
struct redis_stats {
	uint32_t commands;
	uint32_t queue_full;     /* commands not kept: REDIS_QUEUE_MAX */
	uint32_t no_memory;      /* commands not kept: the queue could not grow */
	uint32_t orphan_replies; /* replies with no command waiting */
	uint32_t lost_requests;  /* places lost in the commands */
	uint32_t lost_replies;   /* places lost in the replies */
	uint32_t ring_losses;    /* places lost to records lost in the kernel */
	uint32_t cut_short;      /* commands ended without their reply */
	uint32_t pushed;         /* pub/sub messages and RESP3 pushes */
	uint32_t monitor_lines;  /* MONITOR's lines */
	uint32_t malformed;      /* requests that were no command */
};

struct redis_conn {
	uint8_t state;        /* private: new, client, server, skipped */
	uint8_t server_spans; /* the traced process is the server, and
				 SERVER spans are asked for */
	uint8_t resp3;        /* HELLO 3 answered */
	uint8_t pubsub;       /* RESP2 subscribed mode */
	uint8_t monitor;      /* MONITOR answered */
	uint8_t in_multi;     /* MULTI answered, no EXEC/DISCARD yet */
	uint8_t lost;         /* the place in the replies was lost: the
				 commands end at the next command */
	uint8_t req_lost;     /* the place in the commands was lost: the
				 commands read since are unmatched */
	uint8_t ring_lost;    /* records were lost in the kernel: from the
				 next command on, the commands are unmatched */
	uint8_t read_since_write; /* a reply read since the last command */
	uint8_t cmd_ok;       /* the command being read is an array */
	uint8_t replies;      /* enum redis_replies */
	uint8_t undecided;    /* chunks read before the first command */
	uint8_t tls;          /* TLS plaintext: the kernel cannot tell its
				 start (SP_SOCK_F_START), a first HELLO does */
	uint32_t req_seq;     /* commands announced (requests_started) */
	uint32_t announced_open; /* of them, waiting for their reply */
	uint32_t reply_skip;  /* replies to skip (commands not kept) */
	uint32_t confirms;    /* subscription confirmations still to come
				 for the last (un)subscribe answered */
	uint32_t loss_epoch;  /* proto_loss_epoch when last fed */
	uint64_t last_reply_ns;
	char ns[REDIS_WORD_MAX];      /* db.namespace: the selected index
					 ("": not known) */
	char multi_ns[REDIS_WORD_MAX]; /* a SELECT queued in MULTI ("": none) */
	/* The queue: a ring of `cap` entries on the heap (NULL until the
	 * first command), doubling up to REDIS_QUEUE_MAX. */
	struct redis_cmd *q;
	uint32_t head, count, cap;
	struct redis_cmd cur;       /* the command being read */
	struct redis_reply reply;   /* the reply being read */
	struct resp_parser req, resp; /* the commands', the replies' walk */
	struct redis_stats stats;
};

/*
 * Whether the `len` bytes at `p` name a command Redis knows (any case):
 * a core command of Redis 7.x or a module's PREFIX.NAME (JSON.SET).  A
 * value a reply carries is rarely one, so it is what tells a command
 * from a reply of the same shape (MGET's, LRANGE's), and what names an
 * operation (redis_commands.c).
 */
bool redis_command_known(const char *p, size_t len);

#endif /* SPANPROBE_REDIS_H */
