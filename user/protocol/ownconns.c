// SPDX-License-Identifier: MIT
#include "protocol/ownconns.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/clock.h"

/*
 * How long a closed pair keeps matching: the reader thread may still have
 * to read the collector's side of the last request from the ring buffer.
 * The kernel keeps the pair in TIME_WAIT (60 s) at the end that closed,
 * so no other connection takes it meanwhile.
 */
#define CLOSED_KEEP_NS (10ULL * 1000000000ULL)

struct own_pair {
	struct stream_addr a, b;
	uint64_t closed_ns; /* 0: open */
	bool used;
};

struct ownconns {
	pthread_mutex_t lock;
	uint32_t max;
	uint32_t used; /* slots in use: a lookup without any is lock-free */
	struct ownconns_stats stats;
	struct own_pair pairs[];
};

struct ownconns *ownconns_create(uint32_t max)
{
	struct ownconns *o;

	if (max == 0 || max > 65536) {
		errno = EINVAL;
		return NULL;
	}
	o = calloc(1, sizeof(*o) + max * sizeof(o->pairs[0]));
	if (!o)
		return NULL;
	o->max = max;
	pthread_mutex_init(&o->lock, NULL);
	return o;
}

void ownconns_destroy(struct ownconns *o)
{
	if (!o)
		return;
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static int pair_of(const struct sockaddr *local, const struct sockaddr *peer,
		   struct own_pair *p)
{
	int err = stream_addr_from_sockaddr(local, &p->a);

	return err ? err : stream_addr_from_sockaddr(peer, &p->b);
}

/* A free slot, or one closed long enough ago (lock held). */
static struct own_pair *slot_free(struct ownconns *o, uint64_t now)
{
	for (uint32_t i = 0; i < o->max; i++) {
		struct own_pair *p = &o->pairs[i];

		if (!p->used)
			return p;
		if (p->closed_ns && now - p->closed_ns > CLOSED_KEEP_NS) {
			p->used = false;
			__atomic_sub_fetch(&o->used, 1, __ATOMIC_RELAXED);
			return p;
		}
	}
	return NULL;
}

int ownconns_add(struct ownconns *o, const struct sockaddr *local,
		 const struct sockaddr *peer)
{
	struct own_pair np = { .used = true }, *slot;
	int err = pair_of(local, peer, &np);

	if (err)
		return err;
	pthread_mutex_lock(&o->lock);
	slot = slot_free(o, clock_mono_ns());
	if (slot) {
		*slot = np;
		__atomic_add_fetch(&o->used, 1, __ATOMIC_RELEASE);
	} else {
		o->stats.full++;
	}
	pthread_mutex_unlock(&o->lock);
	return slot ? 0 : -ENOSPC;
}

/* `p` is (x, y) or (y, x). */
static bool pair_is(const struct own_pair *p, const struct stream_addr *x,
		    const struct stream_addr *y)
{
	return (stream_addr_same(&p->a, x) && stream_addr_same(&p->b, y)) ||
	       (stream_addr_same(&p->a, y) && stream_addr_same(&p->b, x));
}

void ownconns_remove(struct ownconns *o, const struct sockaddr *local,
		     const struct sockaddr *peer)
{
	struct own_pair gone;

	if (pair_of(local, peer, &gone))
		return;
	pthread_mutex_lock(&o->lock);
	for (uint32_t i = 0; i < o->max; i++) {
		struct own_pair *p = &o->pairs[i];

		if (p->used && !p->closed_ns && pair_is(p, &gone.a, &gone.b))
			p->closed_ns = clock_mono_ns();
	}
	pthread_mutex_unlock(&o->lock);
}

bool ownconns_match(struct ownconns *o, const struct stream_addr *local,
		    const struct stream_addr *peer, uint64_t ts_ns)
{
	bool found = false;

	if (!__atomic_load_n(&o->used, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&o->lock);
	for (uint32_t i = 0; i < o->max && !found; i++) {
		const struct own_pair *p = &o->pairs[i];

		found = p->used && (!p->closed_ns || ts_ns <= p->closed_ns) &&
			pair_is(p, local, peer);
	}
	if (found)
		o->stats.left_out++;
	pthread_mutex_unlock(&o->lock);
	return found;
}

void ownconns_stats(struct ownconns *o, struct ownconns_stats *out)
{
	pthread_mutex_lock(&o->lock);
	*out = o->stats;
	pthread_mutex_unlock(&o->lock);
}

void ownconns_report(struct ownconns *o, FILE *out)
{
	struct ownconns_stats st;

	ownconns_stats(o, &st);
	fprintf(out, "protocol: %llu own connections left out (spanprobe's export), "
		"%llu not registered (set full)\n",
		(unsigned long long)st.left_out, (unsigned long long)st.full);
}
