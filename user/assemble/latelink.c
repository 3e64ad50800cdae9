// SPDX-License-Identifier: MIT
#include "assemble/latelink.h"

#include <string.h>

bool latelink_same_host(const struct stream_addr *local, const struct stream_addr *peer)
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t loopback6[16] = { [15] = 1 };
	uint8_t l[16], p[16];

	stream_addr_v6(local, l);
	stream_addr_v6(peer, p);
	if (memcmp(l, p, 16) == 0)
		return true;
	if (memcmp(p, v4_mapped, 12) == 0)
		return p[12] == 127;
	return memcmp(p, loopback6, 16) == 0;
}

bool latelink_hold(struct latelink *ll, struct sp_span *span, uint64_t end_ns,
		   const struct stream_addr *local, const struct stream_addr *peer, bool tls,
		   bool ready)
{
	struct latelink_slot *s;

	if (ll->n == LATELINK_SLOTS)
		return false;
	s = &ll->slots[ll->n++];
	*s = (struct latelink_slot){ .span = span, .end_ns = end_ns, .local = *local,
				     .peer = *peer, .tls = tls, .ready = ready,
				     .tick = ll->ticks };
	ll->held++;
	return true;
}

/* Is slot s of server connection (local, peer, tls)? */
static bool slot_of(const struct latelink_slot *s, const struct stream_addr *local,
		    const struct stream_addr *peer, bool tls)
{
	return s->tls == tls && stream_addr_same(&s->local, local) &&
	       stream_addr_same(&s->peer, peer);
}

bool latelink_holds(const struct latelink *ll, const struct stream_addr *local,
		    const struct stream_addr *peer, bool tls)
{
	for (unsigned i = 0; i < ll->n; i++)
		if (slot_of(&ll->slots[i], local, peer, tls))
			return true;
	return false;
}

/* Out of the table, the others keeping their order (spans leave in the
 * order they finished). */
static void take_slot(struct latelink *ll, unsigned i)
{
	memmove(&ll->slots[i], &ll->slots[i + 1], (ll->n - i - 1) * sizeof(ll->slots[0]));
	ll->n--;
}

struct sp_span *latelink_take(struct latelink *ll, const struct stream_addr *local,
			      const struct stream_addr *peer, bool tls, uint64_t *end_ns)
{
	/* The server's end of this client connection: its addresses swapped. */
	for (unsigned i = 0; i < ll->n; i++) {
		struct latelink_slot *s = &ll->slots[i];
		struct sp_span *span = s->span;

		if (s->ready || !slot_of(s, peer, local, tls))
			continue;
		*end_ns = s->end_ns;
		take_slot(ll, i);
		ll->adopted++;
		return span;
	}
	return NULL;
}

void latelink_release(struct latelink *ll, const struct stream_addr *local,
		      const struct stream_addr *peer, bool tls, latelink_end_fn *end, void *ctx)
{
	unsigned i = 0;

	while (i < ll->n) {
		struct latelink_slot s = ll->slots[i];

		if (!slot_of(&s, local, peer, tls)) {
			i++;
			continue;
		}
		if (!s.ready)
			return; /* the rest wait behind this one */
		take_slot(ll, i);
		end(ctx, s.span, s.end_ns);
	}
}

void latelink_expire_oldest(struct latelink *ll, latelink_end_fn *end, void *ctx)
{
	struct latelink_slot s;

	if (!ll->n)
		return;
	s = ll->slots[0];
	take_slot(ll, 0);
	end(ctx, s.span, s.end_ns);
	latelink_release(ll, &s.local, &s.peer, s.tls, end, ctx);
}

/* Is a slot of the same connection as slot i held before it? */
static bool waits_behind(const struct latelink *ll, unsigned i)
{
	const struct latelink_slot *s = &ll->slots[i];

	for (unsigned j = 0; j < i; j++)
		if (slot_of(&ll->slots[j], &s->local, &s->peer, s->tls))
			return true;
	return false;
}

void latelink_expire(struct latelink *ll, uint64_t now_ns, latelink_end_fn *end, void *ctx)
{
	uint64_t tick = ++ll->ticks;
	unsigned i = 0;

	while (i < ll->n) {
		struct latelink_slot s = ll->slots[i];
		bool due = s.ready ? !waits_behind(ll, i)
				   : now_ns == UINT64_MAX ||
					     (s.end_ns + LATELINK_WAIT_NS <= now_ns &&
					      s.tick + 1 < tick);

		if (!due) {
			i++;
			continue;
		}
		/* A ready span waits only for spans before it: those after i
		 * are judged next, with this one gone. */
		take_slot(ll, i);
		end(ctx, s.span, s.end_ns);
	}
}
