/* SPDX-License-Identifier: MIT */
/*
 * What the Redis decoder's files share (redis.c: the protocol interface,
 * commands, the queue and exchanges; redis_reply.c: what replies mean).
 */
#ifndef SPANPROBE_REDIS_INTERNAL_H
#define SPANPROBE_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/protocol.h"
#include "protocol/redis.h"

/* What a chunk's hooks need. */
struct redis_feed {
	struct proto_conn *c;
	const struct proto_emit *emit;
	uint64_t ts_ns;
	uint32_t tid;
};

/* Command `i` of the queue (0: the oldest). */
struct redis_cmd *redis_q_at(struct redis_conn *rc, uint32_t i);
/* The oldest command leaves the queue. */
void redis_q_pop(struct redis_conn *rc);
/* An error reply (-, or RESP3's blob error !). */
bool redis_is_error(const struct redis_reply *r);
/* `ch`, or '.' for a byte that is no printable ASCII. */
char redis_printable(char ch);
/* Command `cmd` ended at `end_ns`: with reply `r`, or cut short (NULL). */
void redis_emit_command(struct redis_feed *fc, const struct redis_cmd *cmd,
			uint64_t end_ns, const struct redis_reply *r);

/* What the reply `r` to `cmd` changes on the connection (SELECT's
 * index, MULTI, HELLO...). */
void redis_apply_reply(struct redis_conn *rc, const struct redis_cmd *cmd,
		       const struct redis_reply *r);
/* The reply of a command the server does not answer (CLIENT REPLY OFF):
 * taken as "+OK". */
extern const struct redis_reply redis_no_reply;

/* The walk's hooks for replies (redis_reply.c). */
void redis_rep_elem(void *ctx, unsigned depth, char type, int64_t n);
void redis_rep_text(void *ctx, unsigned depth, const char *p, size_t len);
void redis_rep_done(void *ctx);

#endif /* SPANPROBE_REDIS_INTERNAL_H */
