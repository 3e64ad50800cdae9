// SPDX-License-Identifier: MIT
#include "protocol/conntable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/u64map.h"

/* Mixes the address pair into one key of the address index. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Remove `key` when it maps to `value` (another entry may have taken it). */
static void index_del(struct sp_u64map *ix, uint64_t key,
		      const struct proto_conn *value)
{
	if (u64map_get(ix, key) == value)
		u64map_del(ix, key);
}

static void peer_unlink(struct proto_conn *c)
{
	if (c->peer_link) {
		c->peer_link->peer_link = NULL;
		c->peer_link = NULL;
	}
}

/* --- least recently used order ----------------------------------------- */

static void lru_unlink(struct conntable *t, struct proto_conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		t->lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		t->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_push_front(struct conntable *t, struct proto_conn *c)
{
	c->lru_prev = NULL;
	c->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = c;
	t->lru_head = c;
	if (!t->lru_tail)
		t->lru_tail = c;
}

/* --- the table ---------------------------------------------------------- */

void conntable_set_user_clear(struct conntable *t, size_t bytes)
{
	t->user_clear = bytes < t->user_size ? bytes : t->user_size;
}

int conntable_init(struct conntable *t, uint32_t max, size_t user_size)
{
	memset(t, 0, sizeof(*t));
	if (max == 0 || max > (1u << 24) || user_size > (1u << 20))
		return -EINVAL;
	t->max = max;
	t->user_size = user_size;
	t->user_clear = user_size;
	t->max_spare = max / 8 < CONNTABLE_SPARE ? max / 8 : CONNTABLE_SPARE;
	if (u64map_init(&t->by_id, max) || u64map_init(&t->by_tuple, max)) {
		conntable_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

void conntable_destroy(struct conntable *t)
{
	struct proto_conn *c = t->lru_head, *next;

	for (int list = 0; list < 2; list++, c = t->spare) {
		for (; c; c = next) {
			next = c->lru_next;
			free(c);
		}
	}
	t->spare = NULL;
	t->n_spare = 0;
	u64map_destroy(&t->by_id);
	u64map_destroy(&t->by_tuple);
	t->lru_head = t->lru_tail = NULL;
	t->count = 0;
}

/*
 * A request's records alternate between its two sockets (the client's
 * send, the server's receive and send, the client's receive): the two
 * most recent entries answer most finds without the index, whose slot
 * is a cache miss once it outgrows the caches.
 */
struct proto_conn *conntable_find(struct conntable *t, uint64_t sock_id)
{
	struct proto_conn *c = t->lru_head;

	if (c && c->id == sock_id)
		return c;
	if (c && c->lru_next && c->lru_next->id == sock_id)
		c = c->lru_next;
	else
		c = sock_id ? u64map_get(&t->by_id, sock_id) : NULL;
	if (c && c != t->lru_head) {
		lru_unlink(t, c);
		lru_push_front(t, c);
	}
	return c;
}

void conntable_remove(struct conntable *t, struct proto_conn *c)
{
	index_del(&t->by_id, c->id, c);
	if (c->tuple_key)
		index_del(&t->by_tuple, c->tuple_key, c);
	c->tuple_key = 0;
	peer_unlink(c);
	lru_unlink(t, c);
	t->count--;
}

void conntable_free(struct conntable *t, struct proto_conn *c)
{
	if (t->n_spare >= t->max_spare) {
		free(c);
		return;
	}
	c->lru_next = t->spare;
	t->spare = c;
	t->n_spare++;
}

void *proto_conn_user(struct proto_conn *c)
{
	return (char *)c + CONNTABLE_USER_OFFSET;
}

struct proto_conn *conntable_add(struct conntable *t, uint64_t sock_id,
				 struct proto_conn **evicted)
{
	struct proto_conn *c;

	*evicted = NULL;
	if (!sock_id)
		return NULL;
	if (t->count == t->max) {
		*evicted = t->lru_tail;
		conntable_remove(t, *evicted);
		t->evictions++;
	}
	c = t->spare;
	if (c) {
		t->spare = c->lru_next;
		t->n_spare--;
		/* The header and what the stage above needs cleared; the
		 * decoder's init() sets the state. */
		memset(c, 0, offsetof(struct proto_conn, st));
		memset(proto_conn_user(c), 0, t->user_clear);
	} else {
		c = calloc(1, CONNTABLE_USER_OFFSET + t->user_size);
	}
	if (!c) {
		t->alloc_failures++;
		return NULL;
	}
	c->id = sock_id;
	/* Cannot fail: the table holds fewer than max entries here. */
	u64map_put(&t->by_id, sock_id, c);
	lru_push_front(t, c);
	t->count++;
	return c;
}

/* The address pair, and whether the stream is a TLS plaintext one (the
 * socket's ciphertext stream has the same addresses). */
static uint64_t tuple_key(const struct stream_addr *local,
			  const struct stream_addr *peer, bool tls)
{
	uint8_t a[16], b[16];
	uint64_t h = tls ? 0x7f4a7c159e3779b9ULL : 0x9e3779b97f4a7c15ULL, w;

	stream_addr_v6(local, a);
	stream_addr_v6(peer, b);
	for (int i = 0; i < 16; i += 8) {
		memcpy(&w, a + i, 8);
		h = mix64(h ^ w);
		memcpy(&w, b + i, 8);
		h = mix64(h ^ w);
	}
	h = mix64(h ^ ((uint64_t)local->port << 16 | peer->port));
	return h ? h : 1;
}

/* A newer entry with the same addresses takes the slot (the older one's
 * close was not seen): the older one leaves the index. */
void conntable_index_tuple(struct conntable *t, struct proto_conn *c)
{
	uint64_t key = tuple_key(&c->local, &c->peer, c->tls);
	struct proto_conn *old;

	if (c->tuple_key == key)
		return;
	if (c->tuple_key) {
		index_del(&t->by_tuple, c->tuple_key, c);
		peer_unlink(c);
	}
	old = u64map_get(&t->by_tuple, key);
	if (old) {
		old->tuple_key = 0;
		peer_unlink(old);
	}
	c->tuple_key = key;
	u64map_put(&t->by_tuple, key, c); /* entries <= connections <= max */
}

/*
 * Linked only when `c` holds its own slot: then the peer's peer key
 * finds `c`, and the link is the lookup's answer both ways until either
 * leaves the index (removed, or its slot taken above).
 */
struct proto_conn *conntable_find_peer(struct conntable *t, struct proto_conn *c)
{
	struct proto_conn *p;

	if (c->peer_link)
		return c->peer_link;
	p = u64map_get(&t->by_tuple, tuple_key(&c->peer, &c->local, c->tls));
	/* A 64-bit hash may collide: check the addresses themselves. */
	if (!p || p == c || p->tls != c->tls || !stream_addr_same(&p->local, &c->peer) ||
	    !stream_addr_same(&p->peer, &c->local))
		return NULL;
	if (c->tuple_key) {
		c->peer_link = p;
		p->peer_link = c;
	}
	return p;
}

void conntable_each(struct conntable *t,
		    void (*fn)(struct proto_conn *conn, void *arg), void *arg)
{
	for (struct proto_conn *c = t->lru_head; c; c = c->lru_next)
		fn(c, arg);
}
