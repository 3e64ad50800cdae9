/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x exchanges from captured socket chunks: one state machine per
 * direction (struct http1_half), a FIFO of pending exchanges shared by the
 * two.  A request enters the FIFO when its request line is complete; a
 * final response pairs with the FIFO head and pops it when complete.
 * Request and response numbers (req_seq, resp_seq) keep the pairing exact
 * when pipelined requests overflow the FIFO: the response to a dropped
 * request is recognised by its number and skipped.
 */
#include "protocol/http1_internal.h"
#include "util/hex.h"
#include "util/ring.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/simd16.h"

enum conn_state { C_SNIFF = 0, C_HTTP, C_NOT_HTTP, C_UPGRADED, C_H2C };

enum half_state {
	H_IDLE = 0, /* between messages */
	H_START, /* request or status line */
	H_HEADERS,
	H_BODY_LEN, /* Content-Length bytes left in `remaining` */
	H_CHUNK_SIZE,
	H_CHUNK_DATA,
	H_CHUNK_END, /* the CRLF after chunk data */
	H_TRAILERS,
	H_BODY_CLOSE, /* until the connection closes */
	H_BODY_UNKNOWN, /* framing lost: ends where the next message starts */
	H_RESYNC, /* no message: wait for a chunk that opens one */
	H_COUNT /* not a state */
};

struct feed {
	struct http1_conn *c;
	uint64_t ts;
	http1_exchange_cb cb;
	void *user;
};

void http1_init(struct http1_conn *c)
{
	/* The inline slots are cleared when taken. */
	memset(c, 0, offsetof(struct http1_conn, fifo));
	c->fifo = c->inline_fifo;
	c->cap = HTTP1_FIFO_INLINE;
}

void http1_release(struct http1_conn *c)
{
	if (!c)
		return;
	if (c->fifo != c->inline_fifo)
		free(c->fifo);
	http1_init(c);
}

/* The ring's sizes are powers of two: a mask, not a division, finds a
 * slot (asked for on every header line). */
_Static_assert((HTTP1_FIFO_INLINE & (HTTP1_FIFO_INLINE - 1)) == 0 &&
		       (HTTP1_PIPELINE_MAX & (HTTP1_PIPELINE_MAX - 1)) == 0 &&
		       HTTP1_PIPELINE_MAX >= HTTP1_FIFO_INLINE,
	       "http1: the pending ring's sizes must be powers of two");

static struct http1_pending *fifo_at(struct http1_conn *c, unsigned i)
{
	return &c->fifo[(c->head + i) & (c->cap - 1u)];
}

/*
 * Room for one more pending exchange: the ring doubles (up to
 * HTTP1_PIPELINE_MAX), its entries copied in order.  Returns 0, or
 * -ENOSPC at the limit, -ENOMEM.
 */
static int fifo_grow(struct http1_conn *c)
{
	unsigned cap = c->cap * 2u;
	struct http1_pending *ring;

	if (c->count < c->cap)
		return 0;
	if (c->cap >= HTTP1_PIPELINE_MAX)
		return -ENOSPC;
	if (cap > HTTP1_PIPELINE_MAX)
		cap = HTTP1_PIPELINE_MAX;
	ring = ring_regrow(c->fifo, c->cap, c->head, c->count, sizeof(*ring), cap);
	if (!ring)
		return -ENOMEM;
	if (c->fifo != c->inline_fifo)
		free(c->fifo);
	c->fifo = ring;
	c->cap = (uint16_t)cap;
	c->head = 0;
	return 0;
}

/*
 * Nothing pending: back to the first inline slot, the heap ring freed.
 * Without pipelining every exchange then takes the same slot, whose cache
 * lines are still there from the last one (slots are found by number,
 * never by place).
 */
static void fifo_shrink(struct http1_conn *c)
{
	if (c->count)
		return;
	c->head = 0;
	if (c->fifo == c->inline_fifo)
		return;
	free(c->fifo);
	c->fifo = c->inline_fifo;
	c->cap = HTTP1_FIFO_INLINE;
	c->head = 0;
}

_Static_assert(H_RESYNC == H_BODY_UNKNOWN + 1 && H_RESYNC + 1 == H_COUNT,
	       "http1: the states a chunk may reopen come last");
_Static_assert(C_NOT_HTTP > C_HTTP && C_UPGRADED > C_NOT_HTTP && C_H2C > C_UPGRADED,
	       "http1: the states a connection is skipped in come last");

int http1_is_skipped(const struct http1_conn *c)
{
	return c->state >= C_NOT_HTTP; /* asked after every line */
}

static int half_dir(const struct http1_conn *c, const struct http1_half *h)
{
	return h == &c->half[HTTP1_OUTBOUND] ? HTTP1_OUTBOUND : HTTP1_INBOUND;
}

static struct http1_half *other_half(struct http1_conn *c,
				     struct http1_half *h)
{
	return &c->half[!half_dir(c, h)];
}

/* The requests' direction, or -1 while the role is unknown. */
static int request_dir(const struct http1_conn *c)
{
	if (c->role == HTTP1_ROLE_SERVER)
		return HTTP1_INBOUND;
	if (c->role == HTTP1_ROLE_CLIENT)
		return HTTP1_OUTBOUND;
	return -1;
}

static struct http1_pending *fifo_head(struct http1_conn *c)
{
	return c->count ? &c->fifo[c->head] : NULL;
}

/* half_entry() past the head: pipelined requests, or none. */
static __attribute__((noinline)) struct http1_pending *
half_entry_walk(struct http1_conn *c, struct http1_half *h)
{
	for (unsigned i = 1; i < c->count; i++) {
		struct http1_pending *p = fifo_at(c, i);

		if (p->seq == h->msg_seq)
			return p;
	}
	h->slot_valid = 0;
	return NULL;
}

/* The pending exchange of the half's current message, NULL when it was
 * dropped, is an orphan, or was already emitted.  Without pipelining it
 * is the head: one compare where it is asked, no call. */
static inline __attribute__((always_inline)) struct http1_pending *
half_entry(struct http1_conn *c, struct http1_half *h)
{
	if (!h->slot_valid)
		return NULL;
	if (c->count && c->fifo[c->head].seq == h->msg_seq)
		return &c->fifo[c->head];
	return half_entry_walk(c, h);
}

static void set_desync(struct http1_conn *c)
{
	c->desynced = 1;
	c->stats.desyncs++;
}

static void emit_head(struct feed *f, uint32_t flags)
{
	struct http1_conn *c = f->c;
	struct http1_pending *p = fifo_head(c);

	if (!p)
		return;
	p->x.flags |= flags;
	if (c->desynced)
		p->x.flags |= HTTP1_X_DESYNC;
	if (!p->req_done && p->x.status)
		p->x.flags |= HTTP1_X_REQUEST_PARTIAL;
	p->x.role = c->role;
	p->x.seq = p->seq;
	c->stats.exchanges++;
	if (f->cb)
		f->cb(&p->x, f->user);
	c->head = (c->head + 1) & (c->cap - 1u);
	c->count--;
	fifo_shrink(c);
}

static void half_idle(struct http1_half *h)
{
	http1_line_reset(h);
	h->state = H_IDLE;
	h->kind = KIND_NONE;
	h->slot_valid = 0;
}

static int64_t half_body(const struct http1_half *h)
{
	return h->body_lost ? -1 : (int64_t)h->body;
}

/* The half's current message ended with the chunk of h->last_ns. */
static void message_done(struct feed *f, struct http1_half *h)
{
	struct http1_pending *p = half_entry(f->c, h);
	int64_t body = half_body(h);

	if (p && h->kind == KIND_REQUEST) {
		p->x.req_end_ns = h->last_ns;
		p->x.req_body_size = body;
		p->req_done = 1;
	} else if (p && h->kind == KIND_RESPONSE) {
		p->x.resp_end_ns = h->last_ns;
		p->x.resp_body_size = body;
		emit_head(f, 0);
	}
	half_idle(h);
}

/* Framing is gone mid-message: keep the message, end it at the next
 * visible start. */
static void lose_framing(struct http1_half *h)
{
	h->body_lost = 1;
	h->state = H_BODY_UNKNOWN;
	http1_line_reset(h);
}

/* Bytes that cannot start the expected message. */
static void start_invalid(struct feed *f, struct http1_half *h)
{
	struct http1_conn *c = f->c;

	http1_line_reset(h);
	h->kind = KIND_NONE;
	if (c->state == C_SNIFF && !c->seen_http) {
		c->state = C_NOT_HTTP;
		return;
	}
	h->state = H_RESYNC;
	c->stats.desyncs++;
	if (c->role != HTTP1_ROLE_UNKNOWN)
		c->desynced = 1;
}

static void message_begin(struct feed *f, struct http1_half *h)
{
	h->state = H_START;
	h->kind = KIND_NONE;
	h->start_ok = 0;
	h->slot_valid = 0;
	h->body = h->remaining = h->content_length = h->framing = 0;
	h->header_bytes = 0;
	h->has_cl = h->chunked = h->cl_bad = h->no_body = h->connect = 0;
	h->upgrade_h2c = 0;
	h->body_lost = 0;
	h->status = 0;
	h->first_ns = h->last_ns = f->ts;
	http1_line_reset(h);
}

/*
 * A slot taken for a new request: its numbers cleared, its strings empty.
 * Nothing reads a string past its NUL, so the rest of the slot (1.1 KiB of
 * text fields) is left as the last exchange wrote it, not cleared again.
 */
static void pending_clear(struct http1_pending *p)
{
	struct http1_exchange *x = &p->x;

	_Static_assert(offsetof(struct http1_exchange, user_agent_len) <
			       offsetof(struct http1_exchange, method_original),
		       "http1: the field lengths are cleared with the numbers");
	memset(x, 0, offsetof(struct http1_exchange, method_original));
	x->method_original[0] = '\0';
	x->path[0] = '\0';
	x->query[0] = '\0';
	x->host[0] = '\0';
	x->user_agent[0] = '\0';
	x->traceparent[0] = '\0';
	x->tracestate[0] = '\0';
	x->req_content_type[0] = '\0';
	x->resp_content_type[0] = '\0';
	p->seq = 0;
	p->req_done = 0;
}

/* A request line was seen whole (or cut by a gap) in `h`. */
static int request_begin(struct feed *f, struct http1_half *h,
			 const struct http1_reqline *rl)
{
	struct http1_conn *c = f->c;
	int dir = half_dir(c, h);
	struct http1_half *o = other_half(c, h);
	struct http1_pending *p;
	int err;

	if (c->role == HTTP1_ROLE_UNKNOWN)
		c->role = dir == HTTP1_INBOUND ? HTTP1_ROLE_SERVER
					       : HTTP1_ROLE_CLIENT;
	else if (request_dir(c) != dir)
		return -1;
	c->state = C_HTTP;
	c->seen_http = 1;
	/* Without framing the response ran until this request (no
	 * pipelining assumed then). */
	if (o->state == H_BODY_UNKNOWN && o->kind == KIND_RESPONSE)
		message_done(f, o);
	if (c->desynced && c->count == 0 && o->state == H_IDLE &&
	    c->req_seq == c->resp_seq)
		c->desynced = 0;
	h->kind = KIND_REQUEST;
	h->msg_seq = c->req_seq++;
	err = fifo_grow(c);
	if (err) {
		/* Counted and skipped; its response is recognised by
		 * number and skipped too, so pairing stays exact. */
		if (err == -ENOSPC)
			c->stats.pipeline_overflows++;
		else
			c->stats.fifo_no_memory++;
		return 0;
	}
	p = fifo_at(c, c->count);
	pending_clear(p);
	p->seq = h->msg_seq;
	c->count++;
	h->slot_valid = 1;
	http1_fill_request(&p->x, h, rl);
	return 0;
}

/* Request `seq` is not after `resp`, the number the next final response
 * answers: numbers wrap (a busy keep-alive connection makes 2^32 requests
 * in days), so by their difference. */
static bool seq_answered_by(uint32_t seq, uint32_t resp)
{
	return (int32_t)(seq - resp) <= 0;
}

static void pair_response(struct http1_half *h, struct http1_pending *p,
			  uint8_t version)
{
	h->slot_valid = 1;
	h->msg_seq = p->seq;
	p->x.status = h->status;
	p->x.resp_version = version;
	p->x.resp_start_ns = h->first_ns;
	p->x.resp_end_ns = h->last_ns;
	p->x.resp_body_size = -1;
	if (p->x.method == HTTP1_M_HEAD)
		h->no_body = 1;
	if (p->x.method == HTTP1_M_CONNECT && h->status / 100 == 2)
		h->connect = 1;
}

/*
 * A status line was seen in `h`.  Interim responses (1xx but 101) attach
 * to the head without consuming it.  A final response pairs with the head
 * when the head's number is not ahead of it; otherwise it answers a
 * dropped request and is parsed only to be skipped.
 */
static int response_begin(struct feed *f, struct http1_half *h,
			  uint8_t version)
{
	struct http1_conn *c = f->c;
	struct http1_half *o = other_half(c, h);
	struct http1_pending *p = fifo_head(c);
	bool interim = h->status < 200 && h->status != 101;

	if (request_dir(c) == half_dir(c, h))
		return -1;
	c->state = C_HTTP;
	c->seen_http = 1;
	h->kind = KIND_RESPONSE;
	if (h->status / 100 == 1 || h->status == 204 || h->status == 304)
		h->no_body = 1;
	if (interim) {
		if (p && seq_answered_by(p->seq, c->resp_seq))
			p->x.flags |= HTTP1_X_INTERIM;
		return 0;
	}
	/* Without framing the request ran until its final response. */
	if (o->state == H_BODY_UNKNOWN && o->kind == KIND_REQUEST &&
	    p && half_entry(c, o) == p)
		message_done(f, o);
	if (p && seq_answered_by(p->seq, c->resp_seq)) {
		c->resp_seq = p->seq + 1;
		pair_response(h, p, version);
		return 0;
	}
	if (p || !seq_answered_by(c->req_seq, c->resp_seq))
		c->resp_seq++;
	c->stats.orphan_responses++;
	return 0;
}

static void mark_truncated(struct feed *f, struct http1_half *h);

static void start_line_done(struct feed *f, struct http1_half *h,
			    const struct http1_line *l, bool cut)
{
	struct http1_reqline rl;
	uint8_t version = 0;
	int err;

	if (h->kind == KIND_REQUEST) {
		err = http1_parse_request_line(l, cut, &rl);
		if (!err)
			err = request_begin(f, h, &rl);
	} else {
		err = http1_parse_status_line(l, cut, &version, &h->status);
		if (!err)
			err = response_begin(f, h, version);
	}
	if (err) {
		start_invalid(f, h);
		return;
	}
	h->state = H_HEADERS;
	http1_line_reset(h);
	if (h->header_bytes > HTTP1_HEADER_MAX)
		mark_truncated(f, h);
}

static void finish_upgrade(struct feed *f, struct http1_half *h)
{
	struct http1_pending *p = half_entry(f->c, h);

	/* HTTP/2 answers the request (its stream 1, RFC 7540 section 3.2):
	 * the exchange waits there for the HTTP/2 decoder (http1_h2c()). */
	if (p && h->status == 101 && h->upgrade_h2c && f->c->count == 1) {
		f->c->state = C_H2C;
		return;
	}
	if (p) {
		p->x.resp_end_ns = h->last_ns;
		p->x.resp_body_size = 0;
		emit_head(f, HTTP1_X_UPGRADED);
	}
	f->c->state = C_UPGRADED;
}

/* The empty line after the headers: choose the body framing (RFC 9112
 * 6.3).  Once a message: kept out of header_lines(), which inlines all it
 * calls. */
static __attribute__((noinline)) void headers_done(struct feed *f,
						   struct http1_half *h)
{
	bool response = h->kind == KIND_RESPONSE;

	http1_line_reset(h);
	if (response && (h->status == 101 || h->connect)) {
		finish_upgrade(f, h);
		return;
	}
	if (response && h->status < 200) {
		half_idle(h); /* interim: the final response follows */
		return;
	}
	if (response && h->no_body) {
		message_done(f, h);
	} else if (h->chunked == TE_CHUNKED) {
		h->state = H_CHUNK_SIZE;
		h->chunk_phase = 0;
		h->remaining = 0;
		h->line_total = 0;
	} else if (h->chunked == TE_OTHER || h->cl_bad) {
		/* A request like this is invalid; a response runs until
		 * close, which is also where an unknown one ends. */
		if (response && !h->cl_bad) {
			h->state = H_BODY_CLOSE;
		} else {
			f->c->stats.desyncs++;
			lose_framing(h);
		}
	} else if (h->has_cl && h->content_length > 0) {
		h->state = H_BODY_LEN;
		h->remaining = h->content_length;
	} else if (h->has_cl || !response) {
		message_done(f, h);
	} else {
		h->state = H_BODY_CLOSE;
	}
}

/* The headers of the current message stop being complete. */
static void mark_truncated(struct feed *f, struct http1_half *h)
{
	struct http1_pending *p = half_entry(f->c, h);

	f->c->stats.truncated_headers++;
	if (p)
		p->x.flags |= HTTP1_X_HEADERS_TRUNCATED;
}

/* A header line other than the empty one that ends the block: its `len`
 * kept bytes at `l`, and whether the line was longer.  `p` is the half's
 * pending exchange (half_entry()), NULL when there is none or the block is
 * past HTTP1_HEADER_MAX: the caller looks it up once for its lines. */
static void header_field(struct http1_half *h, struct http1_pending *p,
			 const char *l, size_t len, bool overflowed)
{
	const char *v = NULL; /* set when a header is split; LTO cannot tell */
	size_t n = 0;
	uint64_t cl = 0;
	int id;

	id = http1_split_header(l, len, overflowed, &v, &n);
	if (id == HDR_OTHER)
		return;
	if (id == HDR_CONTENT_LENGTH) {
		if (http1_parse_content_length(v, n, &cl) ||
		    (h->has_cl && cl != h->content_length))
			h->cl_bad = 1;
		h->has_cl = 1;
		h->content_length = cl;
	} else if (id == HDR_TRANSFER_ENCODING) {
		h->chunked = http1_parse_transfer_encoding(v, n);
	} else if (id == HDR_UPGRADE && h->kind == KIND_RESPONSE) {
		h->upgrade_h2c = http1_value_is(v, n, "h2c");
	}
	if (p)
		http1_store_header(&p->x, h, overflowed, id, v, n);
}

static void header_line_done(struct feed *f, struct http1_half *h,
			     const struct http1_line *l)
{
	if (http1_line_is_empty(l)) {
		headers_done(f, h);
		return;
	}
	header_field(h, h->header_bytes <= HTTP1_HEADER_MAX ? half_entry(f->c, h)
							   : NULL,
		     l->p, l->len, l->total > l->len);
	http1_line_reset(h);
}

static void gap_at_boundary(struct feed *f, struct http1_half *h);

/* The start line or the header block was cut by a gap. */
static void header_block_cut(struct feed *f, struct http1_half *h)
{
	if (h->state == H_START) {
		struct http1_line l;

		if (!h->start_ok) {
			/* Too little seen to tell: not proof of non-HTTP. */
			gap_at_boundary(f, h);
			return;
		}
		http1_line_of_half(h, &l);
		start_line_done(f, h, &l, true);
		if (h->state != H_HEADERS)
			return;
	}
	mark_truncated(f, h);
	/* Responses that have no body end with their headers anyway. */
	if (h->kind == KIND_RESPONSE && (h->no_body || h->status == 101 ||
					 h->connect)) {
		headers_done(f, h);
		return;
	}
	lose_framing(h);
}

/* A start line of class `cls` cannot be in the half's direction (the
 * other one's kind came there first). */
static bool start_wrong_dir(struct feed *f, struct http1_half *h,
			    enum http1_class cls)
{
	int rdir = request_dir(f->c);

	return rdir >= 0 && (cls == CLASS_REQUEST) != (rdir == half_dir(f->c, h));
}

/* In H_START before the line is known to be HTTP: sniff its first bytes. */
static void start_sniff(struct feed *f, struct http1_half *h,
			const struct http1_line *l)
{
	enum http1_class cls = http1_classify(l->p, l->len);

	if (cls == CLASS_MAYBE)
		return;
	if (cls == CLASS_NO || start_wrong_dir(f, h, cls)) {
		start_invalid(f, h);
		return;
	}
	h->start_ok = 1;
	h->kind = cls == CLASS_REQUEST ? KIND_REQUEST : KIND_RESPONSE;
}

/*
 * A start line that opens the chunk's bytes `p` (n of them), nothing of it
 * buffered (message_begin() has just emptied the line buffer), read in one
 * pass when it has the form nearly every one has
 * (http1_quick_request_line(), http1_quick_status_line()), with the same
 * outcome as one_line()'s sniff and parse of it.  Returns the bytes taken,
 * 0 when one_line() is to read the line.
 */
static size_t start_line_quick(struct feed *f, struct http1_half *h,
			       const char *p, size_t n)
{
	struct http1_reqline rl;
	uint16_t status = 0;
	uint8_t version = 0;
	bool response = p[0] == 'H' && n > 1 && p[1] == 'T';
	size_t used;
	int err;

	used = response ? http1_quick_status_line(p, n, &version, &status)
			: http1_quick_request_line(p, n, &rl);
	if (!used)
		return 0;
	h->header_bytes = (uint32_t)used;
	/* A line in the wrong direction is refused by request_begin() and
	 * response_begin() before they change anything, as start_wrong_dir()
	 * would have; what is set here is then dead until message_begin(). */
	h->start_ok = 1;
	if (response) {
		h->kind = KIND_RESPONSE;
		h->status = status;
		err = response_begin(f, h, version);
	} else {
		h->kind = KIND_REQUEST;
		err = request_begin(f, h, &rl);
	}
	if (err)
		start_invalid(f, h);
	else
		h->state = H_HEADERS;
	return used;
}

/*
 * The line as it will be parsed: where it was captured when it is whole
 * there and fits the line buffer (nothing of it is in the buffer yet),
 * else appended to the buffer.
 */
static void line_take(struct http1_half *h, const char *p, size_t seg,
		      bool whole, struct http1_line *l)
{
	if (whole && h->line_total == 0 && seg <= HTTP1_LINE_MAX) {
		*l = (struct http1_line){ .p = p, .len = seg, .total = (uint32_t)seg };
		return;
	}
	http1_line_append(h, p, seg);
	http1_line_of_half(h, l);
}

static size_t one_line(struct feed *f, struct http1_half *h, const char *p,
		       size_t n)
{
	const char *lf = memchr(p, '\n', n);
	size_t seg = lf ? (size_t)(lf - p) : n, used = lf ? seg + 1 : n;
	uint32_t before = h->header_bytes;
	struct http1_line l;

	line_take(h, p, seg, lf, &l);
	h->header_bytes = before + used < before ? UINT32_MAX : before + used;
	/* A start line over the limit is marked once it is parsed. */
	if (before <= HTTP1_HEADER_MAX && h->header_bytes > HTTP1_HEADER_MAX &&
	    h->state == H_HEADERS)
		mark_truncated(f, h);
	if (h->state == H_START) {
		if (!h->start_ok)
			start_sniff(f, h, &l);
		if (h->state != H_START)
			return used;
		if (!lf && h->line_total > HTTP1_START_HARD_MAX) {
			start_invalid(f, h);
			return used;
		}
		if (lf && h->start_ok)
			start_line_done(f, h, &l, false);
		else if (lf)
			start_invalid(f, h);
		return used;
	}
	if (h->header_bytes > HTTP1_HEADER_HARD_MAX) {
		f->c->stats.desyncs++;
		lose_framing(h);
		return used;
	}
	if (lf)
		header_line_done(f, h, &l);
	return used;
}

/*
 * The first LF in [q, end), NULL when there is none.  Most header lines
 * are shorter than 32 bytes: their LF is found by two compares of 16
 * bytes, without the call, and memchr() looks at the rest of the others.
 */
static inline const char *next_lf(const char *q, const char *end)
{
#if defined(__SSE2__)
	if (end - q >= 32) {
		uint32_t lf = simd16_eq_at(q, '\n') | simd16_eq_at(q + 16, '\n') << 16;

		if (lf)
			return q + __builtin_ctz(lf);
		return memchr(q + 32, '\n', (size_t)(end - q - 32));
	}
#endif
	return memchr(q, '\n', (size_t)(end - q));
}

/*
 * The header lines that are whole in the chunk, as one_line() would take
 * them, in the case nearly every line is: nothing of it buffered, no
 * longer than the line buffer, and the block still within
 * HTTP1_HEADER_MAX after it (only the LFs before that bound are looked
 * for), so that none of one_line()'s limits can apply and the line is
 * read where it was captured.  Stops after the empty line, and before a
 * line that is not such a line; returns the bytes taken.  Everything a
 * line calls is inlined here (the split and store of http1_parse.c
 * included, which LTO would otherwise call), so that a line does not pay
 * for a call that saves and restores the loop's registers.
 */
static __attribute__((flatten)) size_t
header_lines(struct feed *f, struct http1_half *h, const char *p, size_t n)
{
	uint32_t before = h->header_bytes;
	size_t room = HTTP1_HEADER_MAX - before;
	const char *q = p, *end, *lf;
	struct http1_pending *x;

	if (h->line_total || before >= HTTP1_HEADER_MAX)
		return 0;
	end = p + (n < room ? n : room);
	/* The lines stay within HTTP1_HEADER_MAX, and none of them adds or
	 * takes a pending exchange: the message's is found once.  Nor do
	 * they read the block's size, which is counted once, at the end. */
	x = half_entry(f->c, h);
	while ((lf = next_lf(q, end))) {
		const char *l = q;
		size_t seg = (size_t)(lf - l);

		if (seg > HTTP1_LINE_MAX)
			break;
		q = lf + 1;
		/* One compare for a line of a field (two bytes at least). */
		if (seg <= 1 && (seg == 0 || l[0] == '\r')) {
			h->header_bytes = before + (uint32_t)(q - p);
			headers_done(f, h);
			return (size_t)(q - p);
		}
		header_field(h, x, l, seg, false);
	}
	h->header_bytes = before + (uint32_t)(q - p);
	return (size_t)(q - p);
}

/* No more lines for line_step() in this chunk. */
static bool lines_end(struct feed *f, struct http1_half *h, size_t used,
		      size_t n)
{
	return used == n || h->state != H_HEADERS || http1_is_skipped(f->c);
}

/* The start line and the header lines the chunk holds, one after another
 * (half_step() would only come back here between them). */
static size_t line_step(struct feed *f, struct http1_half *h, const char *p,
			size_t n)
{
	size_t used = 0;

	for (;;) {
		if (h->state == H_HEADERS) {
			used += header_lines(f, h, p + used, n - used);
			if (lines_end(f, h, used, n))
				return used;
		}
		used += one_line(f, h, p + used, n - used);
		if (lines_end(f, h, used, n))
			return used;
	}
}

static size_t idle_step(struct feed *f, struct http1_half *h, const char *p,
			size_t n)
{
	size_t i = 0, used;

	/* RFC 9112 2.2: empty lines before a start line are ignored. */
	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i == n)
		return i;
	message_begin(f, h);
	/* The message's lines follow here rather than after a turn of
	 * http1_feed()'s loop. */
	used = start_line_quick(f, h, p + i, n - i);
	if (used && h->state == H_HEADERS && i + used < n)
		used += line_step(f, h, p + i + used, n - i - used);
	return i + used;
}

static void chunk_bad(struct feed *f, struct http1_half *h)
{
	f->c->stats.desyncs++;
	lose_framing(h);
}

/* "hex [; ext] CRLF", possibly one byte per chunk: chunk_phase is 0 before
 * the first digit, 1 in digits, 2 in whitespace or extensions. */
static size_t chunk_size_step(struct feed *f, struct http1_half *h,
			      const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = hex_digit(p[i]);

		if (++h->line_total > HTTP1_CHUNK_LINE_MAX) {
			chunk_bad(f, h);
			return i + 1;
		}
		if (v >= 0 && h->chunk_phase < 2) {
			if (h->remaining > (1ULL << 56)) {
				chunk_bad(f, h);
				return i + 1;
			}
			h->remaining = h->remaining * 16 + v;
			h->chunk_phase = 1;
		} else if (h->chunk_phase == 0) {
			chunk_bad(f, h);
			return i + 1;
		} else if (p[i] == '\n') {
			h->line_total = 0;
			h->chunk_phase = 0;
			h->state = h->remaining ? H_CHUNK_DATA : H_TRAILERS;
			return i + 1;
		} else {
			h->chunk_phase = 2;
		}
	}
	return n;
}

static size_t chunk_end_step(struct feed *f, struct http1_half *h,
			     const char *p, size_t n)
{
	if (p[0] == '\r' && h->chunk_phase == 0) {
		h->chunk_phase = 1;
	} else if (p[0] == '\n') {
		h->chunk_phase = 0;
		h->line_total = 0;
		h->state = H_CHUNK_SIZE;
	} else {
		chunk_bad(f, h);
	}
	return 1;
}

static size_t trailers_step(struct feed *f, struct http1_half *h,
			    const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);
	size_t seg = lf ? (size_t)(lf - p) : n;
	struct http1_line l;

	http1_line_append(h, p, seg);
	if (!lf)
		return n;
	http1_line_of_half(h, &l);
	if (http1_line_is_empty(&l))
		message_done(f, h);
	else
		http1_line_reset(h);
	return seg + 1;
}

static size_t body_step(struct feed *f, struct http1_half *h, size_t n)
{
	size_t take = n < h->remaining ? n : (size_t)h->remaining;

	h->body += take;
	h->remaining -= take;
	if (h->remaining == 0) {
		if (h->state == H_BODY_LEN) {
			message_done(f, h);
		} else {
			h->state = H_CHUNK_END;
			h->chunk_phase = 0;
		}
	}
	return take;
}

/* Consumes a prefix of the chunk's captured bytes; returns its length. */
static size_t half_step(struct feed *f, struct http1_half *h, const char *p,
			size_t n)
{
	size_t used;

	if (h->state != H_IDLE && h->state != H_RESYNC)
		h->last_ns = f->ts;
	switch (h->state) {
	case H_IDLE:
		return idle_step(f, h, p, n);
	case H_START:
	case H_HEADERS:
		return line_step(f, h, p, n);
	case H_BODY_LEN:
	case H_CHUNK_DATA:
		return body_step(f, h, n);
	case H_CHUNK_SIZE:
		used = chunk_size_step(f, h, p, n);
		h->framing += used;
		return used;
	case H_CHUNK_END:
		h->framing++;
		return chunk_end_step(f, h, p, n);
	case H_TRAILERS:
		return trailers_step(f, h, p, n);
	case H_BODY_CLOSE:
	case H_BODY_UNKNOWN:
		h->body += n;
		return n;
	default: /* H_RESYNC */
		return n;
	}
}

/* A gap where the half expected the start of a message: whatever began
 * there is lost. */
static void gap_at_boundary(struct feed *f, struct http1_half *h)
{
	half_idle(h);
	h->state = H_RESYNC;
	if (f->c->role != HTTP1_ROLE_UNKNOWN)
		set_desync(f->c);
}

/*
 * A gap of `g` bytes hides chunk framing: the body goes on being counted
 * in bytes transferred after the headers (the semantic conventions' body
 * size), framing included since it can no longer be told from the data.
 */
static void chunks_in_gap(struct http1_half *h, uint64_t g)
{
	lose_framing(h);
	h->body_lost = 0;
	h->body += h->framing + g;
}

/* The last chunk without trailers: "0" CRLF CRLF. */
#define LAST_CHUNK_LEN 5

/*
 * A gap in the CRLF after chunk data: assume it held the CRLF when it is
 * exactly that long, and the CRLF and the last chunk when it is exactly
 * that long (a writer's final call: no other chunk fits in 5 bytes), so
 * the body's size is still known.
 */
static void chunk_end_gap(struct feed *f, struct http1_half *h, uint64_t g)
{
	uint64_t need = h->chunk_phase == 0 ? 2 : 1;

	if (g == need) {
		h->state = H_CHUNK_SIZE;
		h->chunk_phase = 0;
		h->line_total = 0;
	} else if (g == need + LAST_CHUNK_LEN) {
		message_done(f, h);
	} else {
		chunks_in_gap(h, g);
	}
}

static void half_gap(struct feed *f, struct http1_half *h, uint64_t g)
{
	uint64_t take;

	if (h->state != H_IDLE && h->state != H_RESYNC)
		h->last_ns = f->ts;
	switch (h->state) {
	case H_IDLE:
		gap_at_boundary(f, h);
		break;
	case H_START:
	case H_HEADERS:
		header_block_cut(f, h);
		break;
	case H_BODY_LEN:
	case H_CHUNK_DATA:
		take = g < h->remaining ? g : h->remaining;
		body_step(f, h, take);
		g -= take;
		if (g && h->state == H_IDLE)
			gap_at_boundary(f, h);
		else if (g && h->state == H_CHUNK_END)
			chunk_end_gap(f, h, g);
		break;
	case H_CHUNK_END:
		chunk_end_gap(f, h, g);
		break;
	case H_CHUNK_SIZE:
		chunks_in_gap(h, g);
		break;
	case H_TRAILERS:
		/* The last chunk was seen: the gap holds the end of the
		 * trailers, most often just the final CRLF. */
		message_done(f, h);
		break;
	case H_BODY_CLOSE:
	case H_BODY_UNKNOWN:
		h->body += g;
		break;
	default:
		break;
	}
}

/* In resync or with lost framing, a chunk that opens with a start line of
 * the direction's kind begins a new message. */
static void chunk_opening(struct feed *f, struct http1_half *h,
			  const char *p, size_t n)
{
	enum http1_class cls;
	int rdir;

	if (h->state < H_BODY_UNKNOWN) /* nor H_RESYNC: nearly every chunk */
		return;
	rdir = request_dir(f->c);
	cls = http1_classify(p, n < HTTP1_METHOD_MAX ? n : HTTP1_METHOD_MAX);
	if (cls == CLASS_NO || cls == CLASS_MAYBE)
		return;
	if (rdir >= 0 && (cls == CLASS_REQUEST) != (rdir == half_dir(f->c, h)))
		return;
	if (h->state == H_BODY_UNKNOWN)
		message_done(f, h);
	else
		half_idle(h);
}

const struct http1_exchange *http1_h2c(const struct http1_conn *c, uint32_t *seq,
				      size_t *rest)
{
	const struct http1_pending *p;

	if (c->state != C_H2C || c->count != 1)
		return NULL;
	p = &c->fifo[c->head];
	*seq = p->seq;
	*rest = c->h2c_rest;
	return &p->x;
}

int http1_feed(struct http1_conn *c, enum http1_dir dir, const void *data,
	       size_t captured, size_t total_len, uint64_t ts_ns,
	       http1_exchange_cb cb, void *user)
{
	struct feed f = { .c = c, .ts = ts_ns, .cb = cb, .user = user };
	const char *p = data;
	size_t gap = total_len - captured;
	struct http1_half *h;

	if (!c || (dir != HTTP1_INBOUND && dir != HTTP1_OUTBOUND) ||
	    captured > total_len || (captured && !data))
		return -EINVAL;
	if (http1_is_skipped(c))
		return 0;
	h = &c->half[dir];
	/* A start line reads the other direction's state and takes or pairs
	 * a pending slot; after a few hundred other connections' chunks
	 * their lines are no longer near, and the line's parsing hides
	 * their way back. */
	__builtin_prefetch(&c->half[!dir]);
	__builtin_prefetch(fifo_at(c, c->count), 1);
	if (captured)
		chunk_opening(&f, h, p, captured);
	while (captured && !http1_is_skipped(c)) {
		size_t used = half_step(&f, h, p, captured);

		p += used;
		captured -= used;
	}
	if (c->state == C_H2C)
		c->h2c_rest = (uint32_t)(p - (const char *)data);
	if (gap && !http1_is_skipped(c))
		half_gap(&f, h, gap);
	return 0;
}

/* Ends what the close ends: close-delimited bodies, lost framing. */
static void close_half(struct feed *f, struct http1_half *h)
{
	if (h->state == H_BODY_CLOSE || h->state == H_BODY_UNKNOWN ||
	    (h->kind == KIND_REQUEST && h->state == H_TRAILERS))
		message_done(f, h);
}

/* Emits every pending exchange as incomplete, with what was seen of it. */
static void close_pending(struct feed *f)
{
	struct http1_conn *c = f->c;

	while (c->count) {
		struct http1_pending *p = fifo_head(c);

		for (int d = 0; d < 2; d++) {
			struct http1_half *h = &c->half[d];

			if (half_entry(c, h) != p)
				continue;
			if (h->kind == KIND_REQUEST) {
				p->x.req_end_ns = h->last_ns;
				p->x.req_body_size = half_body(h);
			} else {
				p->x.resp_end_ns = h->last_ns;
				p->x.resp_body_size = half_body(h);
			}
			h->slot_valid = 0;
		}
		p->req_done = 1; /* HTTP1_X_INCOMPLETE says it all */
		emit_head(f, HTTP1_X_INCOMPLETE);
	}
}

void http1_close(struct http1_conn *c, uint64_t ts_ns, http1_exchange_cb cb,
		 void *user)
{
	struct feed f = { .c = c, .ts = ts_ns, .cb = cb, .user = user };
	int rdir;

	if (!c)
		return;
	rdir = request_dir(c);
	if (c->state == C_HTTP) {
		/* Requests first: a response completed here must see its
		 * request done. */
		if (rdir >= 0)
			close_half(&f, &c->half[rdir]);
		close_half(&f, &c->half[HTTP1_INBOUND]);
		close_half(&f, &c->half[HTTP1_OUTBOUND]);
		close_pending(&f);
	}
	http1_release(c);
}
