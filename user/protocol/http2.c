// SPDX-License-Identifier: MIT
/*
 * HTTP/2 streams (see http2.h): the frame walkers' callbacks, header
 * blocks through nghttp2's inflater, and the table of streams in flight.
 */
#include "protocol/http2_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/hpack.h"
#include "protocol/protocol.h"
#include "util/fnv.h"

enum conn_state { C_NEW = 0, C_HTTP2, C_NOT_HTTP2 };

/* What a frame callback works on: one direction of a connection. */
struct walk {
	struct http2_conn *c;
	struct http2_half *h;
	enum http2_dir dir;
	const struct http2_cbs *cb;
	bool keep_table; /* a loss that leaves the HPACK table as it is */
};

void http2_init(struct http2_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->loss_epoch = proto_loss_epoch; /* losses before it are not its */
	/* Until eight blocks said otherwise, each may add table entries. */
	c->half[HTTP2_IN].adds = c->half[HTTP2_OUT].adds = 0xff;
}

void http2_release(struct http2_conn *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_streams; i++)
		free(c->streams[i]);
	free(c->streams);
	for (int d = 0; d < 2; d++) {
		struct http2_half *h = &c->half[d];

		if (h->hd)
			nghttp2_hd_inflate_del(h->hd);
		if (h->tol)
			hpack_dec_free(h->tol);
		free(h->tol);
		free(h->blk);
	}
	http2_init(c);
}

bool http2_is_decoding(const struct http2_conn *c)
{
	return c->state == C_HTTP2;
}

bool http2_is_skipped(const struct http2_conn *c)
{
	return c->state == C_NOT_HTTP2;
}

enum http2_guess http2_recognise(const void *data, size_t len)
{
	/* "PRI" is enough: the method is reserved for the preface
	 * (RFC 9113 section 3.4); shorter is left to HTTP/1.x. */
	if (len >= 3 && http2_frame_is_preface(data, len))
		return HTTP2_PREFACE;
	if (http2_frame_chain_fits(data, len, len))
		return HTTP2_FRAMES;
	return HTTP2_NO;
}

/* The direction requests travel in; the role must be known. */
static enum http2_dir request_dir(const struct http2_conn *c)
{
	return c->role == HTTP2_ROLE_SERVER ? HTTP2_IN : HTTP2_OUT;
}

static int stream_index(const struct http2_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i]->id == id)
			return (int)i;
	return -1;
}

const struct http2_stream *http2_find_seq(const struct http2_conn *c,
					  uint32_t seq)
{
	for (unsigned i = 0; i < c->n_streams; i++) {
		const struct http2_stream *s = c->streams[i];

		if ((s->flags & H2S_ANNOUNCED) && s->seq == seq)
			return s;
	}
	return NULL;
}

/* Room for one more stream in the table.  Returns 0, or -ENOSPC at
 * HTTP2_STREAMS_MAX, -ENOMEM. */
static int streams_room(struct http2_conn *c)
{
	unsigned cap = c->streams_cap ? c->streams_cap * 2u : 8u;
	struct http2_stream **grown;

	if (c->n_streams < c->streams_cap)
		return 0;
	if (c->n_streams >= HTTP2_STREAMS_MAX)
		return -ENOSPC;
	if (cap > HTTP2_STREAMS_MAX)
		cap = HTTP2_STREAMS_MAX;
	grown = realloc(c->streams, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	c->streams = grown;
	c->streams_cap = (uint16_t)cap;
	return 0;
}

/* Stream `i` comes out and leaves the table. */
static void stream_out(struct http2_conn *c, const struct http2_cbs *cb,
		       unsigned i)
{
	struct http2_stream *s = c->streams[i];

	/* Counted in this chunk: the stage above must hear of it first. */
	if ((s->flags & H2S_ANNOUNCED) && s->seq - c->told < c->req_seq - c->told &&
	    cb->announce) {
		cb->announce(cb->user);
		c->told = c->req_seq;
	}
	if (s->flags & (H2S_REQ_PARTIAL | H2S_RESP_PARTIAL))
		c->stats.partial++;
	c->stats.streams++;
	cb->stream(s, (enum http2_role)c->role, cb->user);
	free(s);
	c->streams[i] = c->streams[--c->n_streams];
	c->streams[c->n_streams] = NULL;
}

/* The direction's table is no longer the encoder's: from the next block
 * on, hpack.h's decoder learns it again (nghttp2's would stop at every
 * block that names an entry it never saw). */
/* hpack.h's decoder for the direction, empty; NULL: no memory. */
static struct hpack_dec *tol_new(const struct http2_half *h)
{
	struct hpack_dec *d = malloc(sizeof(*d));

	if (d && hpack_dec_init(d, h->table_max)) {
		hpack_dec_free(d);
		free(d);
		d = NULL;
	}
	return d;
}

static void hpack_drop(struct http2_conn *c, struct http2_half *h)
{
	if (h->hd) {
		nghttp2_hd_inflate_del(h->hd);
		h->hd = NULL;
	}
	if (h->tol) {
		hpack_dec_forget(h->tol);
		return;
	}
	h->tol = tol_new(h);
	if (!h->tol)
		c->stats.no_memory++; /* nghttp2's, from an empty table, then */
}

/*
 * What the direction's table is now, in a word that an entry added
 * changes: blocks are told apart by whether they changed it.  hpack.h's
 * ring moves its head at each entry; nghttp2's table is told by its
 * count, its size and its newest entry's bytes (a full table that takes
 * an entry the size of the one it drops keeps its count and size).
 */
static uint64_t table_mark(const struct http2_half *h)
{
	const nghttp2_nv *newest;
	size_t n;

	if (h->tol)
		return (uint64_t)h->tol->head << 48 ^ (uint64_t)h->tol->count << 32 ^
		       h->tol->size;
	if (!h->hd)
		return 0;
	n = nghttp2_hd_inflate_get_num_table_entries(h->hd);
	newest = n > 61 ? nghttp2_hd_inflate_get_table_entry(h->hd, 62) : NULL;
	return fnv1a(fnv1a((uint64_t)n << 32 ^ nghttp2_hd_inflate_get_dynamic_table_size(h->hd),
			   newest ? newest->name : NULL, newest ? newest->namelen : 0),
		     newest ? newest->value : NULL, newest ? newest->valuelen : 0);
}

/* The open block's headers stop here. */
static void block_cut(struct http2_conn *c, struct http2_half *h)
{
	if (h->in_block && !h->block_bad) {
		h->block_bad = 1;
		c->stats.hpack_failures++;
	}
}

/* The open block's headers stop here, and the direction's table no
 * longer is the encoder's. */
static void block_fail(struct http2_conn *c, struct http2_half *h)
{
	block_cut(c, h);
	hpack_drop(c, h);
}

/*
 * The table still is the encoder's, but nghttp2's inflater cannot go on
 * (a block it was fed is cut): hpack.h's decoder takes the table over,
 * every entry known.
 */
static void hpack_keep(struct http2_conn *c, struct http2_half *h)
{
	if (h->tol || !h->hd)
		return;
	h->tol = tol_new(h);
	if (h->tol && hpack_dec_take(h->tol, h->hd))
		c->stats.no_memory++; /* taken over empty, then */
	if (!h->tol) {
		hpack_drop(c, h);
		return;
	}
	nghttp2_hd_inflate_del(h->hd);
	h->hd = NULL;
}

/* An inflater for the next block, told the table size allowed.  A
 * connection picked up after its preface starts with hpack.h's. */
static bool hpack_ready(struct http2_conn *c, struct http2_half *h)
{
	if (!h->hd && !h->tol && c->stats.midstream)
		hpack_drop(c, h);
	if (h->tol)
		return true;
	if (!h->hd) {
		if (nghttp2_hd_inflate_new(&h->hd)) {
			h->hd = NULL;
			c->stats.no_memory++;
			return false;
		}
		h->table_told = HTTP2_HPACK_TABLE_DEFAULT;
	}
	if (h->table_told != h->table_max) {
		if (nghttp2_hd_inflate_change_table_size(h->hd, h->table_max))
			return false;
		h->table_told = h->table_max;
	}
	return true;
}

static void field_out(void *fields, const nghttp2_nv *nv)
{
	http2_fields_add(fields, nv);
}

/* Gather `n` bytes of the open block for hpack.h; decode at its end. */
static void gather(struct http2_conn *c, struct http2_half *h,
		   const uint8_t *p, size_t n, bool final)
{
	int r;

	if (h->block_bad)
		return;
	if (n > HTTP2_BLOCK_MAX - h->blk_len) {
		block_fail(c, h); /* its entries are not learned: lost */
		return;
	}
	if (h->blk_len + n > h->blk_cap) {
		uint32_t cap = (uint32_t)(h->blk_len + n) * 2;
		uint8_t *grown;

		if (cap > HTTP2_BLOCK_MAX)
			cap = HTTP2_BLOCK_MAX;
		grown = realloc(h->blk, cap);
		if (!grown) {
			c->stats.no_memory++;
			block_fail(c, h);
			return;
		}
		h->blk = grown;
		h->blk_cap = cap;
	}
	if (n)
		memcpy(h->blk + h->blk_len, p, n);
	h->blk_len += (uint32_t)n;
	if (!final)
		return;
	r = hpack_dec_block(h->tol, h->blk, h->blk_len, field_out, &h->fields);
	h->blk_len = 0;
	if (r < 0) {
		block_fail(c, h);
	} else if (r > 0) {
		h->block_bad = 1; /* its other fields are kept */
		c->stats.hpack_unknown += (uint32_t)r;
	}
}

/* Inflate `n` bytes of the open block (`final`: its last). */
static void inflate(struct http2_conn *c, struct http2_half *h,
		    const uint8_t *p, size_t n, bool final)
{
	static const uint8_t none[1];

	if (!p)
		p = none;
	if (h->tol) {
		gather(c, h, p, n, final);
		return;
	}
	while (!h->block_bad && h->hd) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(h->hd, &nv, &flags, p, n, final);

		if (rv < 0) {
			block_fail(c, h);
			return;
		}
		p += rv;
		n -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			http2_fields_add(&h->fields, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(h->hd);
			return;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
			return;
	}
}

/*
 * The table is full: the oldest stream that was in flight when bytes went
 * by unseen or records were lost in the kernel (its end may have been
 * among them) comes out, so that such
 * streams cannot keep every new one out until the connection closes.
 * Returns false when there is none: a full table of live streams.
 */
static bool push_out_lost(struct walk *k)
{
	struct http2_conn *c = k->c;
	int oldest = -1;

	for (unsigned i = 0; i < c->n_streams; i++) {
		const struct http2_stream *s = c->streams[i];

		if ((s->flags & (H2S_REQ_BODY_LOST | H2S_RESP_BODY_LOST | H2S_AT_LOSS)) &&
		    (oldest < 0 || s->seq - c->streams[oldest]->seq > (1u << 31)))
			oldest = (int)i;
	}
	if (oldest < 0)
		return false;
	c->streams[oldest]->flags |= H2S_END_LOST | H2S_RESP_PARTIAL;
	c->streams[oldest]->end_ns = c->now_ns;
	c->stats.end_lost++;
	stream_out(c, k->cb, (unsigned)oldest);
	return true;
}

/* A request's headers: a new stream, or the request's trailers. */
static void request_block(struct walk *k)
{
	struct http2_conn *c = k->c;
	struct http2_half *h = k->h;
	int i = stream_index(c, h->block_stream), err;
	struct http2_stream *s;

	if (i < 0) {
		/* Client streams are odd and each new one is higher than
		 * the last (RFC 9113 5.1.1): else its start was not seen. */
		if (!(h->block_stream & 1) || h->block_stream <= c->max_req_stream) {
			c->stats.orphan_blocks++;
			return;
		}
		c->max_req_stream = h->block_stream;
		err = streams_room(c);
		if (err == -ENOSPC && push_out_lost(k))
			err = streams_room(c);
		if (err == -ENOSPC) {
			c->stats.table_full++;
			return;
		}
		s = err ? NULL : calloc(1, sizeof(*s));
		if (!s) {
			c->stats.no_memory++;
			return;
		}
		s->id = h->block_stream;
		s->start_ns = s->end_ns = h->block_ns;
		s->grpc_status = -1;
		s->req = h->fields;
		s->seq = c->req_seq++;
		s->flags = H2S_ANNOUNCED | (h->block_bad ? H2S_REQ_PARTIAL : 0);
		c->streams[c->n_streams++] = s;
	} else {
		s = c->streams[i];
	}
	if (h->block_end_stream)
		s->flags |= H2S_REQ_END;
}

/* gRPC's status, from response headers (trailers-only) or trailers. */
static void take_grpc_status(struct http2_stream *s, const struct http2_fields *x)
{
	if (x->grpc_status < 0)
		return;
	s->grpc_status = x->grpc_status;
	memcpy(s->grpc_message, x->grpc_message, sizeof(s->grpc_message));
}

/* A response's headers (an interim 1xx is passed over) or its trailers. */
static void response_block(struct walk *k)
{
	struct http2_conn *c = k->c;
	struct http2_half *h = k->h;
	const struct http2_fields *x = &h->fields;
	int i = stream_index(c, h->block_stream);
	struct http2_stream *s;

	if (i < 0) {
		/* A pushed stream's (even: the server's) has no span. */
		if (h->block_stream & 1)
			c->stats.orphan_blocks++;
		return;
	}
	s = c->streams[i];
	if (!(s->flags & H2S_RESP_HEADERS)) {
		if (x->status >= 100 && x->status < 200 && !h->block_end_stream)
			return;
		s->flags |= H2S_RESP_HEADERS;
		s->status = x->status;
		s->req.grpc |= x->grpc;
	} else {
		s->flags |= H2S_TRAILERS;
	}
	take_grpc_status(s, x);
	if (h->block_bad)
		s->flags |= H2S_RESP_PARTIAL;
	if (h->block_end_stream) {
		s->flags |= H2S_RESP_END;
		s->end_ns = c->now_ns;
		stream_out(c, k->cb, (unsigned)i);
	}
}

/*
 * The open block is complete (or ends here, cut).  Without the preface,
 * the first block that says :method or :status tells the roles.
 */
static void block_done(struct walk *k)
{
	struct http2_conn *c = k->c;
	struct http2_half *h = k->h;

	h->in_block = 0;
	h->adds = (uint8_t)(h->adds << 1 | (table_mark(h) != h->table_at));
	if (h->block_push)
		return; /* inflated for the table's sake: no span for a push */
	if (c->role == HTTP2_ROLE_UNKNOWN) {
		if (h->fields.method[0])
			c->role = k->dir == HTTP2_IN ? HTTP2_ROLE_SERVER : HTTP2_ROLE_CLIENT;
		else if (h->fields.status)
			c->role = k->dir == HTTP2_IN ? HTTP2_ROLE_CLIENT : HTTP2_ROLE_SERVER;
		if (c->role == HTTP2_ROLE_UNKNOWN) {
			c->stats.orphan_blocks++;
			return;
		}
	}
	if (k->dir == request_dir(c))
		request_block(k);
	else
		response_block(k);
}

static void block_begin(struct walk *k, const struct h2_frame *f)
{
	struct http2_half *h = k->h;

	h->in_block = 1;
	h->block_stream = f->stream;
	h->block_ns = f->first_ns;
	h->block_push = f->type == H2_PUSH_PROMISE;
	h->block_end_stream = f->type == H2_HEADERS && (f->flags & H2_FLAG_END_STREAM);
	h->block_bad = 0;
	h->blk_len = 0;
	http2_fields_reset(&h->fields);
	if (!hpack_ready(k->c, h))
		block_fail(k->c, h);
	h->table_at = table_mark(h);
}

static void on_begin(void *user, const struct h2_frame *f)
{
	struct walk *k = user;
	struct http2_half *h = k->h;

	if (f->type == H2_CONTINUATION && h->in_block && f->stream == h->block_stream)
		return;
	/* Only CONTINUATION frames of its stream may follow an open block
	 * (RFC 9113 section 6.10); a stray CONTINUATION's block began
	 * where we could not see it. */
	if (h->in_block) {
		block_fail(k->c, h);
		block_done(k);
	} else if (f->type == H2_CONTINUATION) {
		hpack_drop(k->c, h);
	}
	if (f->type == H2_HEADERS || f->type == H2_PUSH_PROMISE)
		block_begin(k, f);
}

static void on_fragment(void *user, const struct h2_frame *f, const uint8_t *p,
			size_t n)
{
	struct walk *k = user;

	if (k->h->in_block && f->stream == k->h->block_stream)
		inflate(k->c, k->h, p, n, false);
}

static void on_fragment_cut(void *user, const struct h2_frame *f)
{
	struct walk *k = user;

	if (k->h->in_block && f->stream == k->h->block_stream)
		block_fail(k->c, k->h);
}

/* SETTINGS_HEADER_TABLE_SIZE bounds the table of the blocks coming the
 * other way.  Only raised: blocks the encoder sent before it saw a lower
 * value are inflated still, and a larger bound decodes the same. */
static void on_setting(void *user, uint16_t id, uint32_t value)
{
	struct walk *k = user;
	struct http2_half *o = &k->c->half[!k->dir];

	if (id != H2_SETTINGS_HEADER_TABLE_SIZE)
		return;
	if (value > HTTP2_HPACK_TABLE_MAX)
		value = HTTP2_HPACK_TABLE_MAX;
	if (value > o->table_max)
		o->table_max = value;
	if (o->tol)
		hpack_dec_set_limit(o->tol, o->table_max);
}

static void data_end(struct walk *k, const struct h2_frame *f,
		     const struct h2_frame_end *e)
{
	struct http2_conn *c = k->c;
	int i = c->role ? stream_index(c, f->stream) : -1;
	struct http2_stream *s;

	if (i < 0)
		return;
	s = c->streams[i];
	if (k->dir == request_dir(c)) {
		s->req_body += e->data_len;
		if (f->flags & H2_FLAG_END_STREAM)
			s->flags |= H2S_REQ_END;
		return;
	}
	s->resp_body += e->data_len;
	if (f->flags & H2_FLAG_END_STREAM) {
		/* Its headers went by in bytes not seen. */
		if (!(s->flags & H2S_RESP_HEADERS))
			s->flags |= H2S_RESP_PARTIAL;
		s->flags |= H2S_RESP_END;
		s->end_ns = c->now_ns;
		stream_out(c, k->cb, (unsigned)i);
	}
}

static void rst_end(struct walk *k, const struct h2_frame *f,
		    const struct h2_frame_end *e)
{
	struct http2_conn *c = k->c;
	int i = c->role ? stream_index(c, f->stream) : -1;
	struct http2_stream *s;

	if (i < 0)
		return;
	s = c->streams[i];
	s->flags |= H2S_RESET;
	if (k->dir == request_dir(c))
		s->flags |= H2S_RESET_BY_CLIENT;
	if (e->fields_known) {
		s->flags |= H2S_RESET_CODE;
		s->rst_code = e->error_code;
	}
	s->end_ns = c->now_ns;
	stream_out(c, k->cb, (unsigned)i);
}

/* A server's GOAWAY: the streams past its last one were not processed
 * (RFC 9113 section 6.8). */
static void goaway_end(struct walk *k, const struct h2_frame_end *e)
{
	struct http2_conn *c = k->c;

	if (!e->fields_known || !c->role || k->dir == request_dir(c))
		return;
	for (unsigned i = c->n_streams; i-- > 0;) {
		struct http2_stream *s = c->streams[i];

		if (s->id <= e->last_stream)
			continue;
		s->flags |= H2S_REFUSED;
		s->end_ns = c->now_ns;
		stream_out(c, k->cb, i);
	}
}

static void on_end(void *user, const struct h2_frame *f, const struct h2_frame_end *e)
{
	struct walk *k = user;
	struct http2_half *h = k->h;

	switch (f->type) {
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
	case H2_CONTINUATION:
		if (h->in_block && f->stream == h->block_stream &&
		    (f->flags & H2_FLAG_END_HEADERS)) {
			inflate(k->c, h, NULL, 0, true);
			block_done(k);
		}
		break;
	case H2_DATA:
		data_end(k, f, e);
		break;
	case H2_RST_STREAM:
		rst_end(k, f, e);
		break;
	case H2_GOAWAY:
		goaway_end(k, e);
		break;
	default:
		break;
	}
}

/* Frames went by unseen: header blocks among them, DATA of any stream. */
static void on_lost(void *user)
{
	struct walk *k = user;
	struct http2_conn *c = k->c;

	c->stats.losses++;
	if (k->keep_table) {
		hpack_keep(c, k->h);
		if (k->h->in_block) {
			block_cut(c, k->h);
			block_done(k);
		}
	} else {
		if (k->h->in_block) {
			block_fail(c, k->h);
			block_done(k);
		}
		hpack_drop(c, k->h);
	}
	if (!c->role)
		return;
	for (unsigned i = 0; i < c->n_streams; i++) {
		struct http2_stream *s = c->streams[i];
		bool req = k->dir == request_dir(c);

		/* A side that ended the stream sends no more DATA on it
		 * (RFC 9113 section 5.1): its body is whole. */
		if (s->flags & (req ? H2S_REQ_END : H2S_RESP_END))
			continue;
		s->flags |= req ? H2S_REQ_BODY_LOST : H2S_RESP_BODY_LOST;
	}
}

static const struct h2_frame_ops walk_ops = {
	.begin = on_begin,
	.fragment = on_fragment,
	.fragment_cut = on_fragment_cut,
	.setting = on_setting,
	.end = on_end,
	.lost = on_lost,
};

/*
 * The first chunk: the preface (its direction gives the roles) or frames
 * that line up (picked up mid-stream: the other direction waits for a
 * chunk that starts a frame).  False when it is not HTTP/2.
 */
static bool conn_start(struct http2_conn *c, enum http2_dir dir,
		       const uint8_t *p, size_t captured, size_t total)
{
	struct http2_half *same = &c->half[dir], *other = &c->half[!dir];

	if (captured && http2_frame_is_preface(p, captured)) {
		c->role = dir == HTTP2_OUT ? HTTP2_ROLE_CLIENT : HTTP2_ROLE_SERVER;
		http2_frame_init(&same->w, true, false);
		http2_frame_init(&other->w, false, false);
		/* A server may send its SETTINGS before it reads the preface,
		 * before the connection was worth capturing: the client's
		 * table may have been allowed more than we saw. */
		c->half[HTTP2_IN].table_max = c->role == HTTP2_ROLE_SERVER
						      ? HTTP2_HPACK_TABLE_MAX
						      : HTTP2_HPACK_TABLE_DEFAULT;
		c->half[HTTP2_OUT].table_max = HTTP2_HPACK_TABLE_DEFAULT;
	} else if (captured && http2_frame_chain_fits(p, captured, total)) {
		c->stats.midstream = 1;
		http2_frame_init(&same->w, false, false);
		http2_frame_init(&other->w, false, true);
		same->table_max = other->table_max = HTTP2_HPACK_TABLE_MAX;
	} else {
		c->state = C_NOT_HTTP2;
		return false;
	}
	c->state = C_HTTP2;
	return true;
}

int http2_upgraded(struct http2_conn *c, enum http2_role role, uint32_t seq,
		   uint32_t next_seq, uint64_t start_ns, int64_t req_body,
		   const struct http2_fields *req)
{
	enum http2_dir client = role == HTTP2_ROLE_CLIENT ? HTTP2_OUT : HTTP2_IN;
	struct http2_stream *s;

	if (c->state != C_NEW || (role != HTTP2_ROLE_CLIENT && role != HTTP2_ROLE_SERVER) ||
	    (int32_t)(next_seq - seq) <= 0)
		return -EINVAL;
	s = streams_room(c) ? NULL : calloc(1, sizeof(*s));
	if (!s) {
		c->stats.no_memory++;
		return -ENOMEM;
	}
	c->state = C_HTTP2;
	c->role = (uint8_t)role;
	/* The client's preface comes next; the server's frames follow its 101. */
	http2_frame_init(&c->half[client].w, true, false);
	http2_frame_init(&c->half[!client].w, false, false);
	/* The request's HTTP2-Settings may have allowed the server more. */
	c->half[client].table_max = HTTP2_HPACK_TABLE_DEFAULT;
	c->half[!client].table_max = HTTP2_HPACK_TABLE_MAX;
	s->id = 1;
	s->seq = seq;
	s->flags = H2S_ANNOUNCED | H2S_REQ_END;
	s->start_ns = s->end_ns = start_ns;
	s->req_body = req_body;
	s->grpc_status = -1;
	s->req = *req;
	c->streams[c->n_streams++] = s;
	c->req_seq = c->told = next_seq;
	c->max_req_stream = 1;
	return 0;
}

/*
 * Records were lost in the kernel since this connection was last fed
 * (protocol.h): the end of any stream in flight may have been among
 * them, so each may make room in a full table (push_out_lost()).
 */
static void streams_after_ring_loss(struct http2_conn *c)
{
	c->loss_epoch = proto_loss_epoch;
	for (unsigned i = 0; i < c->n_streams; i++)
		c->streams[i]->flags |= H2S_AT_LOSS;
}

/*
 * Calls of this direction were lost before the chunk (http2_call_seq()).
 * The HPACK table may have lost entries with them: it is kept only when
 * the direction's last eight blocks added none, the encoder then sending
 * what its table has (the lost blocks most likely did the same);
 * otherwise it is learned again.  A walk between frames goes on (a call
 * nearly always ends with a frame, and a next one that does not start
 * one is found out by its header or its gap); one inside a frame or a
 * header block has lost its step.
 */
static void calls_lost(struct walk *k)
{
	struct http2_half *h = k->h;
	bool keep = !h->adds;

	h->seq_lost = 0;
	k->c->stats.calls_lost++;
	k->c->stats.tables_kept += keep;
	if (http2_frame_between(&h->w) && !h->in_block) {
		if (!keep)
			hpack_drop(k->c, h);
		return;
	}
	k->keep_table = keep;
	http2_frame_lose(&h->w, &walk_ops, k);
	k->keep_table = false;
}

void http2_call_seq(struct http2_conn *c, enum http2_dir dir, uint8_t seq)
{
	struct http2_half *h;

	if (!c || (dir != HTTP2_IN && dir != HTTP2_OUT))
		return;
	h = &c->half[dir];
	if (h->seq_known && seq != h->seq && seq != (uint8_t)(h->seq + 1))
		h->seq_lost = 1;
	h->seq = seq;
	h->seq_known = 1;
}

int http2_feed(struct http2_conn *c, enum http2_dir dir, const void *data,
	       size_t captured, size_t total, uint64_t ts_ns,
	       const struct http2_cbs *cb)
{
	struct walk k;

	if (!c || (dir != HTTP2_IN && dir != HTTP2_OUT) || captured > total ||
	    (captured && !data) || !cb)
		return -EINVAL;
	if (c->state == C_NOT_HTTP2 ||
	    (c->state == C_NEW && !conn_start(c, dir, data, captured, total)))
		return 0;
	c->now_ns = ts_ns;
	c->told = c->req_seq; /* the stage above heard of the earlier ones */
	if (c->loss_epoch != proto_loss_epoch)
		streams_after_ring_loss(c);
	k = (struct walk){ .c = c, .h = &c->half[dir], .dir = dir, .cb = cb };
	if (k.h->seq_lost)
		calls_lost(&k);
	http2_frame_walk(&k.h->w, data, captured, total, ts_ns, &walk_ops, &k);
	return 0;
}

void http2_close(struct http2_conn *c, uint64_t ts_ns, const struct http2_cbs *cb)
{
	if (!c)
		return;
	c->told = c->req_seq;
	/* Oldest first: the lowest stream id. */
	while (cb && c->n_streams) {
		unsigned first = 0;
		struct http2_stream *s;

		for (unsigned i = 1; i < c->n_streams; i++)
			if (c->streams[i]->id < c->streams[first]->id)
				first = i;
		s = c->streams[first];
		s->flags |= H2S_CLOSED;
		s->end_ns = ts_ns > s->start_ns ? ts_ns : s->start_ns;
		stream_out(c, cb, first);
	}
}
