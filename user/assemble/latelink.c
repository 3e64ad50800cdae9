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
		   const struct stream_addr *local, const struct stream_addr *peer, bool tls)
{
	struct latelink_slot *s;

	if (ll->n == LATELINK_SLOTS)
		return false;
	s = &ll->slots[ll->n++];
	*s = (struct latelink_slot){ .span = span, .end_ns = end_ns, .local = *local,
				     .peer = *peer, .tls = tls };
	ll->held++;
	return true;
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
	for (unsigned i = 0; i < ll->n; i++) {
		struct latelink_slot *s = &ll->slots[i];
		struct sp_span *span = s->span;

		if (s->tls != tls || !stream_addr_same(&s->local, peer) ||
		    !stream_addr_same(&s->peer, local))
			continue;
		*end_ns = s->end_ns;
		take_slot(ll, i);
		ll->adopted++;
		return span;
	}
	return NULL;
}

void latelink_expire_oldest(struct latelink *ll,
			    void (*end)(void *ctx, struct sp_span *span, uint64_t end_ns),
			    void *ctx)
{
	struct latelink_slot s;

	if (!ll->n)
		return;
	s = ll->slots[0];
	take_slot(ll, 0);
	end(ctx, s.span, s.end_ns);
}

void latelink_expire(struct latelink *ll, uint64_t now_ns,
		     void (*end)(void *ctx, struct sp_span *span, uint64_t end_ns), void *ctx)
{
	unsigned i = 0;

	while (i < ll->n) {
		struct latelink_slot s = ll->slots[i];

		if (now_ns != UINT64_MAX && s.end_ns + LATELINK_WAIT_NS > now_ns) {
			i++;
			continue;
		}
		take_slot(ll, i);
		end(ctx, s.span, s.end_ns);
	}
}
