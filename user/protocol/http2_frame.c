// SPDX-License-Identifier: MIT
/* The HTTP/2 frame walker of one direction (see http2_frame.h). */
#include "protocol/http2_frame.h"

#include <errno.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void http2_frame_init(struct h2_walker *w, bool preface, bool lost)
{
	memset(w, 0, sizeof(*w));
	w->state = lost ? H2W_LOST : preface ? H2W_PREFACE : H2W_HEADER;
}

bool http2_frame_is_preface(const uint8_t *p, size_t n)
{
	return memcmp(p, H2_PREFACE, n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN) == 0;
}

/* Flags each type defines (RFC 9113 section 6); others are ignored by
 * peers, and never sent by the implementations we know. */
static uint8_t defined_flags(uint8_t type)
{
	switch (type) {
	case H2_DATA:
		return H2_FLAG_END_STREAM | H2_FLAG_PADDED;
	case H2_HEADERS:
		return H2_FLAG_END_STREAM | H2_FLAG_END_HEADERS | H2_FLAG_PADDED |
		       H2_FLAG_PRIORITY;
	case H2_SETTINGS:
	case H2_PING:
		return 0x1; /* ACK */
	case H2_PUSH_PROMISE:
		return H2_FLAG_END_HEADERS | H2_FLAG_PADDED;
	case H2_CONTINUATION:
		return H2_FLAG_END_HEADERS;
	default:
		return 0;
	}
}

/* Payload bytes before the fragment or the data. */
static uint8_t lead_of(const struct h2_frame *f)
{
	uint8_t pad = f->flags & H2_FLAG_PADDED ? 1 : 0;

	switch (f->type) {
	case H2_DATA:
		return pad;
	case H2_HEADERS:
		return pad + (f->flags & H2_FLAG_PRIORITY ? 5 : 0);
	case H2_PUSH_PROMISE:
		return pad + 4;
	default:
		return 0;
	}
}

/* The length and stream rules of each type (RFC 9113 section 6). */
static bool type_rules(const struct h2_frame *f)
{
	bool on_stream = f->stream != 0;

	switch (f->type) {
	case H2_DATA:
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
		return on_stream && f->length >= lead_of(f);
	case H2_CONTINUATION:
		return on_stream;
	case H2_PRIORITY:
		return on_stream && f->length == 5;
	case H2_RST_STREAM:
		return on_stream && f->length == 4;
	case H2_SETTINGS:
		return !on_stream && f->length % 6 == 0 &&
		       (!(f->flags & 0x1) || f->length == 0);
	case H2_PING:
		return !on_stream && f->length == 8;
	case H2_GOAWAY:
		return !on_stream && f->length >= 8;
	case H2_WINDOW_UPDATE:
		return f->length == 4;
	default:
		return true; /* extension frames: skipped */
	}
}

bool http2_frame_parse(const uint8_t *p, struct h2_frame *f, bool strict)
{
	f->length = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	f->type = p[3];
	f->flags = p[4];
	f->stream = be32(p + 5) & 0x7fffffffu;
	if (strict && (f->type > H2_CONTINUATION || (p[5] & 0x80) ||
		       (f->flags & ~defined_flags(f->type))))
		return false;
	return type_rules(f);
}

bool http2_frame_chain_fits(const uint8_t *p, size_t captured, size_t total)
{
	size_t off = 0;
	struct h2_frame f;

	while (off + H2_FRAME_HEADER_LEN <= captured) {
		size_t end;

		if (!http2_frame_parse(p + off, &f, true))
			return false;
		end = off + H2_FRAME_HEADER_LEN + f.length;
		if (end > total)
			return false;
		if (end == total)
			return true;
		off = end;
	}
	return false;
}

static void lose(struct h2_walker *w, const struct h2_frame_ops *ops, void *user)
{
	w->state = H2W_LOST;
	w->losses++;
	ops->lost(user);
}

bool http2_frame_between(const struct h2_walker *w)
{
	return w->state == H2W_HEADER && w->hdr_len == 0;
}

void http2_frame_lose(struct h2_walker *w, const struct h2_frame_ops *ops, void *user)
{
	lose(w, ops, user);
}

static bool header_frame(const struct h2_frame *f)
{
	return f->type == H2_HEADERS || f->type == H2_PUSH_PROMISE ||
	       f->type == H2_CONTINUATION;
}

/* Where the fragment or the data ends (the padding starts). */
static uint32_t body_end(const struct h2_walker *w)
{
	return w->f.length - (w->pad_known ? w->pad : 0);
}

static void finish(struct h2_walker *w, const struct h2_frame_ops *ops, void *user)
{
	struct h2_frame_end e = { 0 };
	const struct h2_frame *f = &w->f;

	if (f->type == H2_DATA)
		e.data_len = body_end(w) - w->lead;
	if (f->type == H2_RST_STREAM) {
		e.fields_known = w->cut_at >= 4;
		e.error_code = e.fields_known ? be32(w->fixed) : 0;
	} else if (f->type == H2_GOAWAY) {
		e.fields_known = w->cut_at >= 8;
		if (e.fields_known) {
			e.last_stream = be32(w->fixed) & 0x7fffffffu;
			e.error_code = be32(w->fixed + 4);
		}
	}
	w->state = H2W_HEADER;
	w->hdr_len = 0;
	ops->end(user, f, &e);
}

/* The fixed fields of the types that have some past the lead. */
static void fixed_byte(struct h2_walker *w, uint8_t b, const struct h2_frame_ops *ops,
		       void *user)
{
	const struct h2_frame *f = &w->f;

	if ((f->type == H2_RST_STREAM && w->pos < 4) ||
	    (f->type == H2_GOAWAY && w->pos < 8)) {
		w->fixed[w->pos] = b;
	} else if (f->type == H2_SETTINGS && w->cut_at == UINT32_MAX) {
		/* After a gap, parameters would mix bytes of two: none. */
		w->fixed[w->pos % 6] = b;
		if (w->pos % 6 == 5)
			ops->setting(user, (uint16_t)(w->fixed[0] << 8 | w->fixed[1]),
				     be32(w->fixed + 2));
	}
}

/* Walks up to `n` payload bytes; returns how many it took. */
static size_t payload_step(struct h2_walker *w, const uint8_t *p, size_t n,
			   const struct h2_frame_ops *ops, void *user)
{
	size_t take = n < w->f.length - w->pos ? n : w->f.length - w->pos;
	size_t i = 0;

	for (; i < take && w->pos < w->lead; i++) {
		w->fixed[w->pos++] = p[i];
		if (w->pos == 1 && (w->f.flags & H2_FLAG_PADDED)) {
			w->pad = w->fixed[0];
			w->pad_known = 1;
			if ((uint32_t)w->lead + w->pad > w->f.length) {
				lose(w, ops, user); /* a real peer's PROTOCOL_ERROR */
				return i + 1;
			}
		}
	}
	if (header_frame(&w->f) && w->pos < body_end(w) && i < take) {
		size_t k = take - i < body_end(w) - w->pos ? take - i
							   : body_end(w) - w->pos;

		ops->fragment(user, &w->f, p + i, k);
		w->pos += (uint32_t)k;
		i += k;
	}
	if (w->f.type == H2_RST_STREAM || w->f.type == H2_GOAWAY ||
	    (w->f.type == H2_SETTINGS && !(w->f.flags & 0x1))) {
		for (; i < take; i++, w->pos++)
			fixed_byte(w, p[i], ops, user);
	}
	w->pos += (uint32_t)(take - i);
	if (w->pos == w->f.length)
		finish(w, ops, user);
	return take;
}

/* A frame header is complete: its payload follows. */
static void frame_begin(struct h2_walker *w, const struct h2_frame_ops *ops,
			void *user)
{
	if (!http2_frame_parse(w->hdr, &w->f, false)) {
		lose(w, ops, user);
		return;
	}
	w->f.first_ns = w->first_ns;
	w->pos = 0;
	w->lead = lead_of(&w->f);
	w->pad = 0;
	w->pad_known = !(w->f.flags & H2_FLAG_PADDED);
	w->frag_cut = 0;
	w->cut_at = UINT32_MAX;
	w->state = H2W_PAYLOAD;
	ops->begin(user, &w->f);
	if (w->f.length == 0)
		finish(w, ops, user);
}

static size_t header_step(struct h2_walker *w, const uint8_t *p, size_t n,
			  uint64_t ts_ns, const struct h2_frame_ops *ops, void *user)
{
	size_t take = H2_FRAME_HEADER_LEN - w->hdr_len;

	if (w->hdr_len == 0)
		w->first_ns = ts_ns;

	if (take > n)
		take = n;
	memcpy(w->hdr + w->hdr_len, p, take);
	w->hdr_len += (uint8_t)take;
	if (w->hdr_len == H2_FRAME_HEADER_LEN)
		frame_begin(w, ops, user);
	return take;
}

/* `g` bytes were not captured. */
static void walk_gap(struct h2_walker *w, size_t g, const struct h2_frame_ops *ops,
		     void *user)
{
	while (g && w->state == H2W_PAYLOAD) {
		size_t take = g < w->f.length - w->pos ? g : w->f.length - w->pos;

		if (w->cut_at == UINT32_MAX)
			w->cut_at = w->pos;
		/* The pad length or fragment bytes: the fragment is cut. */
		if (header_frame(&w->f) && !w->frag_cut &&
		    (!w->pad_known || w->pos < body_end(w))) {
			w->frag_cut = 1;
			ops->fragment_cut(user, &w->f);
		}
		w->pos += (uint32_t)take;
		g -= take;
		if (w->pos == w->f.length)
			finish(w, ops, user);
	}
	/* A frame header (or the preface) fell in the gap. */
	if (g && (w->state == H2W_HEADER || w->state == H2W_PREFACE))
		lose(w, ops, user);
}

int http2_frame_walk(struct h2_walker *w, const uint8_t *p, size_t captured,
		     size_t total, uint64_t ts_ns, const struct h2_frame_ops *ops,
		     void *user)
{
	size_t gap = total - captured;

	if (w->state == H2W_LOST) {
		/* The client preface after all (a connection first seen by
		 * the server's SETTINGS, sent before it read the preface). */
		if (captured >= H2_PREFACE_LEN && http2_frame_is_preface(p, captured)) {
			w->state = H2W_PREFACE;
			w->preface_pos = 0;
			w->resyncs++;
		} else if (!captured || !http2_frame_chain_fits(p, captured, total)) {
			return 0;
		} else {
			w->state = H2W_HEADER;
			w->hdr_len = 0;
			w->resyncs++;
		}
	}
	while (captured && w->state != H2W_LOST) {
		size_t used;

		if (w->state == H2W_PREFACE) {
			used = H2_PREFACE_LEN - w->preface_pos;
			if (used > captured)
				used = captured;
			if (memcmp(p, &H2_PREFACE[w->preface_pos], used) != 0) {
				lose(w, ops, user);
				return -EPROTO;
			}
			w->preface_pos += (uint8_t)used;
			if (w->preface_pos == H2_PREFACE_LEN)
				w->state = H2W_HEADER;
		} else if (w->state == H2W_HEADER) {
			used = header_step(w, p, captured, ts_ns, ops, user);
		} else {
			used = payload_step(w, p, captured, ops, user);
		}
		p += used;
		captured -= used;
	}
	if (gap && w->state != H2W_LOST)
		walk_gap(w, gap, ops, user);
	return 0;
}
