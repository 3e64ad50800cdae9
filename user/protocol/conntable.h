/* SPDX-License-Identifier: MIT */
/*
 * The table of connections the decoders follow: keyed by the kernel
 * socket (conn id), with a second index by address pair so that the two
 * ends of a connection on this host find each other.  Fixed capacity;
 * when full, the connection idle the longest is evicted (counted) to make
 * room.  Entries are allocated on first use and freed on removal, so an
 * idle daemon holds little memory.  Each entry carries `user_size` bytes
 * for the stage above (proto_conn_user()), zeroed when the entry is made
 * (but see conntable_set_user_clear()).  The decoder state (`st`) of an
 * entry taken from the spares is not cleared: a decoder's init() sets
 * it, and nothing reads it before (`ops` is NULL until then).
 */
#ifndef SPANPROBE_CONNTABLE_H
#define SPANPROBE_CONNTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stream.h"
#include "protocol/protocol.h"
#include "util/u64map.h"

/* Room for an address as text: INET6_ADDRSTRLEN (<netinet/in.h>). */
#define PROTO_ADDR_TEXT_MAX 46

struct proto_conn {
	uint64_t id;                 /* the kernel socket: the key */
	uint32_t pid;                /* process doing the I/O (latest seen) */
	uint32_t requests;           /* ops->requests_started() at last look */
	struct stream_addr local, peer;
	const struct proto_ops *ops; /* NULL: no decoder chosen yet */
	uint8_t ignored;             /* no decoder wants it */
	uint8_t verdict;             /* enum stream_verdict told to capture */
	uint8_t tls;                 /* the plaintext of a TLS connection */
	struct proto_conn *lru_prev, *lru_next; /* most recent first */
	uint64_t tuple_key;          /* 0: not in the address index */
	/* The peer conntable_find_peer() found, and it this one: kept
	 * while both hold their slots in the address index, so that each
	 * request does not look it up again (a cache miss per lookup once
	 * the index outgrows the caches). */
	struct proto_conn *peer_link;
	/* The peer's address as text, formatted once per connection for
	 * the spans' attributes (peer_text_len 0: not formatted). */
	uint8_t peer_text_len;
	char peer_text[PROTO_ADDR_TEXT_MAX];
	union proto_state st;
};

/* Where the user area starts in an entry. */
#define CONNTABLE_USER_OFFSET \
	((sizeof(struct proto_conn) + 15) & ~(size_t)15)

/* The stage above's bytes of `c`. */
void *proto_conn_user(struct proto_conn *c);

struct conntable {
	struct sp_u64map by_id, by_tuple; /* conn id, address pair -> entry */
	struct proto_conn *lru_head, *lru_tail;
	uint32_t count, max;
	size_t user_size;
	size_t user_clear; /* of the user area, the bytes a new entry clears */
	uint64_t evictions;
	uint64_t alloc_failures;
	struct proto_conn *spare; /* freed entries kept for reuse (lru_next) */
	uint32_t n_spare, max_spare; /* CONNTABLE_SPARE, at most max / 8 */
};

/*
 * Freed entries kept for the next connections: a burst of connections
 * closing together gives back enough memory for the allocator to return
 * it to the kernel, and the next burst would fault it in page by page.
 */
#define CONNTABLE_SPARE 256

/* Room for `max` connections.  Returns 0, -EINVAL or -ENOMEM. */
int conntable_init(struct conntable *t, uint32_t max, size_t user_size);

/*
 * A new entry clears only the first `bytes` of its user area (at most
 * user_size; all of it until this is called): the stage above clears the
 * rest as it uses it.  An entry is some 8 KiB, and clearing all of it for
 * every connection was most of what a short connection cost.
 */
void conntable_set_user_clear(struct conntable *t, size_t bytes);

/* Free every entry (their spans must have been dealt with) and the table. */
void conntable_destroy(struct conntable *t);

/* The connection, or NULL.  Marks it most recently used. */
struct proto_conn *conntable_find(struct conntable *t, uint64_t id);

/*
 * A new entry for `id` (zeroed but for the id).  When the table is full,
 * `evicted` receives the least recently used entry, already unlinked: the
 * caller ends its spans and frees it (conntable_free).  Returns NULL when
 * memory is short (counted).
 */
struct proto_conn *conntable_add(struct conntable *t, uint64_t id,
				 struct proto_conn **evicted);

/* Unlink `conn` from the table (does not free it). */
void conntable_remove(struct conntable *t, struct proto_conn *conn);

/* Give `conn` back: kept for reuse (up to max_spare), else freed. */
void conntable_free(struct conntable *t, struct proto_conn *conn);

/* Index `conn` by its address pair (local, peer); call when set. */
void conntable_index_tuple(struct conntable *t, struct proto_conn *conn);

/* The connection whose local end is `c`'s peer and peer is `c`'s local end. */
struct proto_conn *conntable_find_peer(struct conntable *t, struct proto_conn *c);

/* Call fn for every entry; fn may not change the table. */
void conntable_each(struct conntable *t,
		    void (*fn)(struct proto_conn *conn, void *arg), void *arg);

#endif /* SPANPROBE_CONNTABLE_H */
