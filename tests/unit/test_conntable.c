/* SPDX-License-Identifier: MIT */
/*
 * The connection table's peer lookup against a model: connections come
 * and go with addresses from a small pool (so that two entries share an
 * address pair, as when a close was not seen, and both ends of a pair
 * are often present), the table evicts when full, and after every step
 * each entry's peer must be what the address index alone would give:
 * the entry that holds the slot of the reversed pair.  The peer link
 * that spares the lookup must never answer otherwise; nor may the most
 * recent entries, which answer a find before the socket index does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "protocol/conntable.h"

#define MAX_CONNS 24
#define PORTS 4  /* ports per end: 4 x 4 pairs, each way, TLS or not */
#define IDS 4096 /* sock_id 1..IDS-1 */

struct model {
	struct proto_conn *by_id[IDS]; /* the table's entries */
	/* The entry that took each address pair's slot last, while it is
	 * in the table (index: client port, server port, direction, tls). */
	struct proto_conn *holder[PORTS][PORTS][2][2];
};

static struct stream_addr addr(uint16_t port)
{
	struct stream_addr a = { .family = AF_INET, .port = port };

	a.addr[0] = 127;
	a.addr[3] = 1;
	return a;
}

/* Client ports 1000.., server ports 80..: which pair an entry has. */
static struct proto_conn **holder_of(struct model *m, const struct stream_addr *local,
				     const struct stream_addr *peer, bool tls)
{
	bool client_end = local->port >= 1000;
	uint16_t cp = client_end ? local->port : peer->port;
	uint16_t sp = client_end ? peer->port : local->port;

	return &m->holder[cp - 1000][sp - 80][client_end][tls];
}

static void model_forget(struct model *m, struct proto_conn *c)
{
	struct proto_conn **h = holder_of(m, &c->local, &c->peer, c->tls);

	if (*h == c)
		*h = NULL;
	m->by_id[c->id] = NULL;
}

static void add_one(struct conntable *t, struct model *m, uint32_t *rnd)
{
	uint64_t id = 1 + rand_r(rnd) % (IDS - 1);
	uint16_t cp = 1000 + rand_r(rnd) % PORTS, sp = 80 + rand_r(rnd) % PORTS;
	bool client_end = rand_r(rnd) & 1;
	struct proto_conn *c, *evicted;

	if (m->by_id[id])
		return;
	c = conntable_add(t, id, &evicted);
	if (evicted) {
		model_forget(m, evicted);
		conntable_free(t, evicted);
	}
	assert_non_null(c);
	c->local = addr(client_end ? cp : sp);
	c->peer = addr(client_end ? sp : cp);
	c->tls = rand_r(rnd) % 4 == 0;
	conntable_index_tuple(t, c);
	m->by_id[id] = c;
	*holder_of(m, &c->local, &c->peer, c->tls) = c;
}

static void remove_one(struct conntable *t, struct model *m, uint32_t *rnd)
{
	struct proto_conn *c = m->by_id[1 + rand_r(rnd) % (IDS - 1)];

	if (!c)
		return;
	model_forget(m, c);
	conntable_remove(t, c);
	conntable_free(t, c);
}

/* Every entry's peer as the model has it. */
static unsigned check_peers(struct conntable *t, struct model *m)
{
	unsigned found = 0;

	for (uint64_t id = 1; id < IDS; id++) {
		struct proto_conn *c = m->by_id[id], *want;

		if (!c)
			continue;
		want = *holder_of(m, &c->peer, &c->local, c->tls);
		if (want == c)
			want = NULL;
		assert_ptr_equal(conntable_find_peer(t, c), want);
		found += want != NULL;
	}
	return found;
}

/* Finds in a random order, absent IDs among them: the two most recent
 * entries answer before the index does, and must answer as it would. */
static void check_finds(struct conntable *t, struct model *m, uint32_t *rnd)
{
	for (int i = 0; i < 16; i++) {
		uint64_t id = 1 + rand_r(rnd) % (IDS - 1);

		if (i % 3 == 2 && t->lru_head && t->lru_head->lru_next)
			id = t->lru_head->lru_next->id;
		assert_ptr_equal(conntable_find(t, id), m->by_id[id]);
		if (m->by_id[id])
			assert_ptr_equal(t->lru_head, m->by_id[id]);
	}
	assert_null(conntable_find(t, 0));
}

static void test_peer_against_model(void **state)
{
	struct conntable t;
	struct model *m = calloc(1, sizeof(*m));
	uint32_t rnd = 12345;
	unsigned found = 0;

	(void)state;
	assert_non_null(m);
	assert_int_equal(conntable_init(&t, MAX_CONNS, 64), 0);
	for (int step = 0; step < 200000; step++) {
		if (rand_r(&rnd) % 3)
			add_one(&t, m, &rnd);
		else
			remove_one(&t, m, &rnd);
		if (step % 7 == 0)
			found += check_peers(&t, m);
		check_finds(&t, m, &rnd);
	}
	/* The pool makes peers common: the check saw the link used. */
	assert_true(found > 10000);
	conntable_destroy(&t);
	free(m);
}

/* The plain case: both ends present, then one closes and comes back. */
static void test_peer_close_and_reopen(void **state)
{
	struct conntable t;
	struct proto_conn *client, *server, *again, *evicted;

	(void)state;
	assert_int_equal(conntable_init(&t, 8, 64), 0);
	client = conntable_add(&t, 1, &evicted);
	server = conntable_add(&t, 2, &evicted);
	client->local = addr(1000);
	client->peer = addr(80);
	server->local = addr(80);
	server->peer = addr(1000);
	conntable_index_tuple(&t, client);
	assert_null(conntable_find_peer(&t, client));
	conntable_index_tuple(&t, server);
	assert_ptr_equal(conntable_find_peer(&t, client), server);
	assert_ptr_equal(conntable_find_peer(&t, server), client);

	conntable_remove(&t, server);
	conntable_free(&t, server);
	assert_null(conntable_find_peer(&t, client));

	again = conntable_add(&t, 3, &evicted);
	again->local = addr(80);
	again->peer = addr(1000);
	conntable_index_tuple(&t, again);
	assert_ptr_equal(conntable_find_peer(&t, client), again);

	/* A newer entry with the client's addresses (its close unseen)
	 * takes the client's slot: the server's peer is the newer one. */
	server = conntable_add(&t, 4, &evicted);
	server->local = addr(1000);
	server->peer = addr(80);
	conntable_index_tuple(&t, server);
	assert_ptr_equal(conntable_find_peer(&t, again), server);
	assert_ptr_equal(conntable_find_peer(&t, client), again);
	conntable_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_against_model),
		cmocka_unit_test(test_peer_close_and_reopen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
