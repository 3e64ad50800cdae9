/* SPDX-License-Identifier: MIT */
/*
 * The daemon's table of TCP connections that carry (or may carry) HTTP:
 * keyed by the kernel socket (sock_id), with a second index by address
 * pair so that the two ends of a connection on this host find each other.
 * Fixed capacity; when full, the connection idle the longest is evicted
 * (counted) to make room.  Entries are allocated on first use and freed on
 * removal, so an idle daemon holds little memory.
 */
#ifndef SPANPROBE_CONNTABLE_H
#define SPANPROBE_CONNTABLE_H

#include <stdint.h>

#include "assemble/httpspan.h"

struct sockconn {
	struct httpspan_conn hc; /* hc.sock_id is the key */
	struct sockconn *lru_prev, *lru_next; /* most recent first */
	uint64_t tuple_key;  /* 0: not in the address index */
	uint8_t bpf_state;   /* enum sp_sock_conn_state told to BPF, 0: none */
};

/* Open-addressing map from a non-zero 64-bit key to a pointer. */
struct sockconn_index {
	uint64_t *keys; /* 0: empty */
	struct sockconn **values;
	uint32_t mask;
};

struct sockconn_table {
	struct sockconn_index by_id, by_tuple;
	struct sockconn *lru_head, *lru_tail;
	uint32_t count, max;
	uint64_t evictions;
	uint64_t alloc_failures;
};

/* Room for `max` connections.  Returns 0, -EINVAL or -ENOMEM. */
int sockconn_init(struct sockconn_table *t, uint32_t max);

/* Free every entry (their spans must have been dealt with) and the table. */
void sockconn_destroy(struct sockconn_table *t);

/* The connection, or NULL.  Marks it most recently used. */
struct sockconn *sockconn_find(struct sockconn_table *t, uint64_t sock_id);

/*
 * A new entry for `sock_id` (caller fills hc).  When the table is full,
 * `evicted` receives the least recently used entry, already unlinked: the
 * caller ends its spans and frees it (sockconn_free).  Returns NULL when
 * memory is short (counted).
 */
struct sockconn *sockconn_add(struct sockconn_table *t, uint64_t sock_id,
			      struct sockconn **evicted);

/* Unlink `conn` from the table (does not free it). */
void sockconn_remove(struct sockconn_table *t, struct sockconn *conn);

void sockconn_free(struct sockconn *conn);

/* Index `conn` by its address pair (hc.local, hc.peer); call when set. */
void sockconn_index_tuple(struct sockconn_table *t, struct sockconn *conn);

/* The connection whose local end is `c`'s peer and peer is `c`'s local end. */
struct sockconn *sockconn_find_peer(struct sockconn_table *t,
				    const struct httpspan_conn *c);

/* Call fn for every entry; fn may not change the table. */
void sockconn_each(struct sockconn_table *t,
		   void (*fn)(struct sockconn *conn, void *arg), void *arg);

#endif /* SPANPROBE_CONNTABLE_H */
