// SPDX-License-Identifier: MIT
#include "protocol/streams.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct proto_streams {
	struct conntable conns;
	struct proto_streams_opts opts;
	struct proto_events ev;
	struct proto_emit emit;
	struct proto_streams_stats stats;
	const struct stream_chunk *cur; /* the chunk being fed */
	bool switching; /* the decoder said it may have switched (emit) */
};

static void on_exchange(void *ctx, struct proto_conn *c,
			const struct proto_exchange *x)
{
	struct proto_streams *s = ctx;

	s->ev.exchange(s->ev.ctx, c, x);
}

/*
 * Requests the decoder started since the last look (it counts `now`),
 * announced from chunk `ch`: they began where the decoder says (a
 * request line may end a read after its first byte), else in `ch`.
 */
static void announce_from(struct proto_streams *s, struct proto_conn *c,
			  const struct stream_chunk *ch, uint32_t now)
{
	for (; (int32_t)(now - c->requests) > 0; c->requests++) {
		uint64_t start = c->ops->request_start_ns
					 ? c->ops->request_start_ns(&c->st, c->requests)
					 : 0;

		s->ev.request(s->ev.ctx, c, c->requests, ch->tid, ch->dir,
			      start ? start : ch->ts_ns);
	}
}

/* Inline: a chunk most often starts no request (a response, a body). */
static inline void announce_requests(struct proto_streams *s, struct proto_conn *c,
				     const struct stream_chunk *ch)
{
	uint32_t now = c->ops->requests_started(&c->st);

	/* Forward only: a decoder that counted fewer than were announced
	 * (none should) must not make this go round 2^32 numbers. */
	if ((int32_t)(now - c->requests) > 0)
		announce_from(s, c, ch, now);
}

static void on_switching(void *ctx, struct proto_conn *c)
{
	struct proto_streams *s = ctx;

	s->switching = true;
}

static void on_announce(void *ctx, struct proto_conn *c)
{
	struct proto_streams *s = ctx;

	if (s->cur)
		announce_requests(s, c, s->cur);
}

struct proto_streams *proto_streams_create(const struct proto_streams_opts *opts,
					   const struct proto_events *events)
{
	struct proto_streams *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	s->opts = *opts;
	s->ev = *events;
	err = conntable_init(&s->conns, opts->max_conns, events->user_size);
	if (!err && events->user_clear)
		conntable_set_user_clear(&s->conns, events->user_clear);
	if (err) {
		free(s);
		errno = -err;
		return NULL;
	}
	s->emit.exchange = on_exchange;
	s->emit.announce = on_announce;
	s->emit.switching = on_switching;
	s->emit.ctx = s;
	s->emit.opts = &s->opts.decode;
	return s;
}

/* The stage above and the decoder let go of `c`. */
static void let_go(struct proto_streams *s, struct proto_conn *c)
{
	s->ev.release(s->ev.ctx, c);
	if (c->ops && c->ops->release)
		c->ops->release(&c->st);
}

/* The connection leaves the table. */
static void release(struct proto_streams *s, struct proto_conn *c)
{
	let_go(s, c);
	conntable_free(&s->conns, c);
}

static void release_each(struct proto_conn *c, void *arg)
{
	let_go(arg, c);
}

void proto_streams_destroy(struct proto_streams *s)
{
	if (!s)
		return;
	conntable_each(&s->conns, release_each, s);
	conntable_destroy(&s->conns);
	free(s);
}

/* Tell capture what the decoders learnt, once per connection and verdict. */
static void tell_verdict(struct proto_streams *s, struct proto_conn *c)
{
	enum stream_verdict v = c->ignored ? STREAM_VERDICT_IGNORE
			      : c->ops    ? c->ops->verdict(&c->st)
					  : STREAM_VERDICT_NONE;

	if (v == STREAM_VERDICT_NONE || c->verdict == v || !s->opts.verdict)
		return;
	c->verdict = (uint8_t)v;
	if (s->opts.verdict(s->opts.verdict_ctx, c->id, c->local.port,
			    c->peer.port, v))
		s->stats.verdict_errors++;
}

/* The connection ended at `ts_ns`: its decoder finishes, it leaves the table. */
static void end_conn(struct proto_streams *s, struct proto_conn *c, uint64_t ts_ns)
{
	if (c->ops)
		c->ops->close(c, ts_ns, &s->emit);
	conntable_remove(&s->conns, c);
	release(s, c);
}

static bool same_addr(const struct stream_addr *a, const struct stream_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/*
 * A socket is known by its kernel address, which a new socket reuses once
 * the old one is freed.  Its close record normally ends the connection
 * first; but a read that returns after TCP released the socket (the last
 * bytes of a response, its local port already given back) comes after
 * that close and brings the connection back.  The next connection on the
 * same socket shows other ports: the one left over ends there, or the new
 * connection's first bytes would be fed to it and its tuple would be the
 * dead one's (no same-host peer found).
 */
static bool end_if_reused(struct proto_streams *s, struct proto_conn *c,
			  const struct stream_chunk *ch)
{
	if (same_addr(&c->local, ch->local) && same_addr(&c->peer, ch->peer))
		return false;
	s->stats.reused++;
	end_conn(s, c, ch->ts_ns);
	return true;
}

static struct proto_conn *conn_for(struct proto_streams *s,
				   const struct stream_chunk *ch)
{
	struct proto_conn *c = conntable_find(&s->conns, ch->conn_id), *old;

	if (c && end_if_reused(s, c, ch))
		c = NULL;
	if (!c) {
		c = conntable_add(&s->conns, ch->conn_id, &old);
		if (old)
			release(s, old);
		if (!c)
			return NULL;
		c->local = *ch->local;
		c->peer = *ch->peer;
		c->tls = ch->tls;
		c->peer_text_len = (uint8_t)strlen(
			stream_addr_str(&c->peer, c->peer_text, sizeof(c->peer_text)));
		conntable_index_tuple(&s->conns, c);
	}
	c->pid = ch->pid;
	return c;
}

/*
 * The first bytes choose the decoder; none that fits: ignored for good.
 * So is a connection of our own exporter, at either end: tracing it
 * would export a span for every export request, forever.
 */
static bool choose_decoder(struct proto_streams *s, struct proto_conn *c,
			   const struct stream_chunk *ch)
{
	if (c->ops || c->ignored)
		return c->ops != NULL;
	if (s->opts.own && ownconns_match(s->opts.own, &c->local, &c->peer, ch->ts_ns)) {
		c->ignored = 1;
		return false;
	}
	c->ops = proto_recognise(ch->data, ch->captured, ch->dir);
	if (!c->ops) {
		c->ignored = 1;
		s->stats.not_recognised++;
		return false;
	}
	c->ops->init(&c->st);
	c->requests = c->ops->requests_started(&c->st);
	return true;
}

/*
 * After a chunk: the connection may have left its decoder's protocol for
 * another (HTTP/1.1 "Upgrade: h2c"), which takes over from the request
 * that asked, and from where it starts in the chunk.  A decoder that
 * cannot take over leaves the connection ignored.
 */
static void switch_decoder(struct proto_streams *s, struct proto_conn *c,
			   const struct stream_chunk *ch)
{
	const struct proto_ops *next;
	struct proto_switch sw;
	struct stream_chunk rest;

	if (!c->ops || !c->ops->switched || !c->ops->switched(&c->st, &sw))
		return;
	next = proto_find(sw.next);
	c->ops->release(&c->st);
	c->ops = NULL;
	if (next && next->adopt) {
		next->init(&c->st);
		if (next->adopt(&c->st, &sw)) {
			next->release(&c->st);
			next = NULL;
		}
	} else {
		next = NULL;
	}
	if (!next) {
		c->ignored = 1;
		s->stats.switch_failures++;
		return;
	}
	c->ops = next;
	s->stats.switched++;
	if (sw.rest >= ch->total_len)
		return;
	rest = *ch;
	rest.data = sw.rest < ch->captured ? (const char *)ch->data + sw.rest : NULL;
	rest.captured = sw.rest < ch->captured ? ch->captured - sw.rest : 0;
	rest.total_len = ch->total_len - sw.rest;
	if (next->feed(c, &rest, &s->emit))
		s->stats.feed_errors++;
}

static void on_data(void *ctx, const struct stream_chunk *ch)
{
	struct proto_streams *s = ctx;
	struct proto_conn *c;

	s->stats.chunks++;
	if (ch->total_len == 0)
		return; /* end of stream: the socket's release ends the exchange */
	c = conn_for(s, ch);
	if (!c)
		return;
	/* The stage above reads its part of the entry (some 2 KiB past the
	 * header, a line of its own) once the chunk is decoded: asked for
	 * now, it comes while the decoder works. */
	__builtin_prefetch(proto_conn_user(c), 1);
	if (choose_decoder(s, c, ch)) {
		s->cur = ch;
		if (c->ops->feed(c, ch, &s->emit))
			s->stats.feed_errors++;
		if (s->switching) {
			switch_decoder(s, c, ch);
			s->switching = false;
		}
		s->cur = NULL;
		if (c->ops)
			announce_requests(s, c, ch);
		if (ch->dir == STREAM_IN)
			s->ev.updated(s->ev.ctx, c);
	}
	tell_verdict(s, c);
}

static void on_close(void *ctx, uint64_t conn_id, uint64_t ts_ns)
{
	struct proto_streams *s = ctx;
	struct proto_conn *c = conntable_find(&s->conns, conn_id);

	s->stats.closes++;
	if (c)
		end_conn(s, c, ts_ns);
}

struct stream_sink proto_streams_sink(struct proto_streams *s)
{
	return (struct stream_sink){ .data = on_data, .close = on_close, .ctx = s };
}

struct proto_conn *proto_streams_peer(struct proto_streams *s, struct proto_conn *c)
{
	return conntable_find_peer(&s->conns, c);
}

void proto_streams_stats(const struct proto_streams *s,
			 struct proto_streams_stats *out)
{
	*out = s->stats;
	out->open = s->conns.count;
	out->evictions = s->conns.evictions;
	out->alloc_failures = s->conns.alloc_failures;
}
