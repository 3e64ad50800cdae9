// SPDX-License-Identifier: MIT
#include "protocol/hpack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STATIC_ENTRIES 61
#define ENTRY_OVERHEAD 32 /* RFC 7541 4.1 */

struct hpack_entry {
	char *name;  /* NULL: the name of an entry from before the loss */
	char *value; /* in the same allocation as name */
	uint32_t name_len, value_len;
};

int hpack_dec_init(struct hpack_dec *d, uint32_t limit)
{
	memset(d, 0, sizeof(*d));
	d->limit = d->max = limit;
	return nghttp2_hd_inflate_new(&d->lit) ? -ENOMEM : 0;
}

static struct hpack_entry *entry_at(struct hpack_dec *d, uint32_t j)
{
	return &d->ring[(d->head + j) % d->cap];
}

static uint32_t entry_size(const struct hpack_entry *e)
{
	return e->name_len + e->value_len + ENTRY_OVERHEAD;
}

static void drop_oldest(struct hpack_dec *d)
{
	struct hpack_entry *e = entry_at(d, d->count - 1);

	d->size -= entry_size(e);
	free(e->value);
	d->count--;
}

void hpack_dec_forget(struct hpack_dec *d)
{
	while (d->count)
		drop_oldest(d);
	d->max = d->limit; /* a bound said before is not known either */
}

void hpack_dec_free(struct hpack_dec *d)
{
	hpack_dec_forget(d);
	free(d->ring);
	free(d->mini);
	if (d->lit)
		nghttp2_hd_inflate_del(d->lit);
	memset(d, 0, sizeof(*d));
}

static void evict_to(struct hpack_dec *d, uint32_t room)
{
	while (d->count && d->size > room)
		drop_oldest(d);
}

void hpack_dec_set_limit(struct hpack_dec *d, uint32_t limit)
{
	d->limit = limit;
	if (d->max > limit) {
		d->max = limit;
		evict_to(d, limit);
	}
}

/* Room for one more entry in the ring (it holds at most limit / 32). */
static int ring_room(struct hpack_dec *d)
{
	struct hpack_entry *grown;
	uint32_t cap = d->cap ? 2 * d->cap : 16;

	if (d->count < d->cap)
		return 0;
	grown = malloc(cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	for (uint32_t j = 0; j < d->count; j++)
		grown[j] = *entry_at(d, j);
	free(d->ring);
	d->ring = grown;
	d->cap = cap;
	d->head = 0;
	return 0;
}

/* RFC 7541 4.4: room made from the oldest, then the entry added (an
 * entry larger than the table empties it and is not kept). */
static int insert(struct hpack_dec *d, const nghttp2_nv *nv, bool name_known)
{
	struct hpack_entry e = { .name_len = name_known ? (uint32_t)nv->namelen : 0,
				 .value_len = (uint32_t)nv->valuelen };
	uint32_t size = entry_size(&e);

	if (size > d->max) {
		evict_to(d, 0);
		return 0;
	}
	/* Copied first: the name may be an entry's that eviction frees. */
	e.value = malloc(e.name_len + e.value_len + 1);
	if (!e.value)
		return -ENOMEM;
	memcpy(e.value, nv->value, e.value_len);
	if (name_known) {
		e.name = e.value + e.value_len;
		memcpy(e.name, nv->name, e.name_len);
	}
	evict_to(d, d->max - size);
	if (ring_room(d)) {
		free(e.value);
		return -ENOMEM;
	}
	d->head = (d->head + d->cap - 1) % d->cap;
	d->ring[d->head] = e;
	d->count++;
	d->size += size;
	return 0;
}

int hpack_dec_take(struct hpack_dec *d, struct nghttp2_hd_inflater *from)
{
	size_t n = nghttp2_hd_inflate_get_num_table_entries(from);
	size_t max = nghttp2_hd_inflate_get_max_dynamic_table_size(from);

	hpack_dec_forget(d);
	d->max = max < d->limit ? (uint32_t)max : d->limit;
	/* Oldest first (nghttp2 counts from 1, static entries first): each
	 * entry added makes the ones before it older, as the encoder did. */
	for (size_t i = n; i > STATIC_ENTRIES; i--) {
		const nghttp2_nv *nv = nghttp2_hd_inflate_get_table_entry(from, i);

		if (!nv || insert(d, nv, true)) {
			hpack_dec_forget(d);
			return -ENOMEM;
		}
	}
	return 0;
}

/* An integer with an `bits`-bit prefix (RFC 7541 5.1) at *p. */
static int get_int(const uint8_t **p, const uint8_t *end, unsigned bits,
		   uint32_t *out)
{
	uint32_t mask = (1u << bits) - 1;
	uint64_t v;

	if (*p >= end)
		return -EPROTO;
	v = *(*p)++ & mask;
	if (v == mask) {
		for (unsigned shift = 0;; shift += 7) {
			uint8_t b;

			if (*p >= end || shift > 28)
				return -EPROTO;
			b = *(*p)++;
			v += (uint64_t)(b & 0x7f) << shift;
			if (v > UINT32_MAX)
				return -EPROTO;
			if (!(b & 0x80))
				break;
		}
	}
	*out = (uint32_t)v;
	return 0;
}

/* Past one string literal (RFC 7541 5.2) at *p. */
static int skip_string(const uint8_t **p, const uint8_t *end)
{
	uint32_t len;

	if (get_int(p, end, 7, &len) || (size_t)(end - *p) < len)
		return -EPROTO;
	*p += len;
	return 0;
}

static uint8_t *put_int(uint8_t *q, uint8_t first, unsigned bits, uint32_t v)
{
	uint32_t mask = (1u << bits) - 1;

	if (v < mask) {
		*q++ = first | (uint8_t)v;
		return q;
	}
	*q++ = first | (uint8_t)mask;
	for (v -= mask; v >= 0x80; v >>= 7)
		*q++ = (uint8_t)(v | 0x80);
	*q++ = (uint8_t)v;
	return q;
}

/* An inflater that failed once fails every call after: a new one. */
static int lit_renew(struct hpack_dec *d)
{
	nghttp2_hd_inflate_del(d->lit);
	d->lit = NULL;
	return nghttp2_hd_inflate_new(&d->lit) ? -ENOMEM : 0;
}

/* One field through the private inflater: `mini` holds it without
 * indexing, so that inflater's table never changes.  nv is good until
 * the next call (the block before is ended first, not at once: ending
 * it frees what nv points at). */
static int inflate_one(struct hpack_dec *d, size_t len, nghttp2_nv *nv)
{
	const uint8_t *p = d->mini;

	if (!d->lit && lit_renew(d)) /* (one renewed without memory) */
		return -ENOMEM;
	nghttp2_hd_inflate_end_headers(d->lit);
	for (;;) {
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(d->lit, nv, &flags, p, len, 1);

		if (rv < 0)
			return lit_renew(d) ? -ENOMEM : -EPROTO;
		p += rv;
		len -= (size_t)rv;
		/* The one field, and nothing after it; asked once more, the
		 * inflater would free nv's bytes. */
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			return len ? -EPROTO : 0;
		if ((flags & NGHTTP2_HD_INFLATE_FINAL) || !len || !rv)
			return -EPROTO;
	}
}

static int mini_room(struct hpack_dec *d, size_t n)
{
	uint8_t *grown;

	if (n <= d->mini_cap)
		return 0;
	grown = realloc(d->mini, n);
	if (!grown)
		return -ENOMEM;
	d->mini = grown;
	d->mini_cap = n;
	return 0;
}

/* The dynamic entry `index` names, or NULL when it is from before. */
static struct hpack_entry *dynamic(struct hpack_dec *d, uint32_t index)
{
	uint32_t j = index - STATIC_ENTRIES - 1;

	return j < d->count ? entry_at(d, j) : NULL;
}

struct field {
	const uint8_t *start; /* the representation */
	uint32_t index;       /* the name's (literal) or the field's (indexed) */
	const uint8_t *name;  /* a new name's string literal, else NULL */
	const uint8_t *value, *end; /* the value's string literal */
	bool indexing;        /* literal with incremental indexing */
};

/*
 * A literal field: its name and value decoded; `name_known` false when
 * the name is an entry from before the loss (nv then has a stand-in).
 */
static int literal(struct hpack_dec *d, const struct field *f, nghttp2_nv *nv,
		   bool *name_known)
{
	struct hpack_entry *e = NULL;
	uint8_t *q;
	int err;

	if (mini_room(d, (size_t)(f->end - f->value) + (size_t)(f->value - f->start) + 8))
		return -ENOMEM;
	q = d->mini;
	*name_known = true;
	if (f->name) { /* a new name: 0x00 and its string, as they came */
		*q++ = 0x00;
		memcpy(q, f->name, (size_t)(f->value - f->name));
		q += f->value - f->name;
	} else if (f->index <= STATIC_ENTRIES) {
		q = put_int(q, 0x00, 4, f->index);
	} else { /* the name is ours to give: a stand-in for the inflater */
		e = dynamic(d, f->index);
		*name_known = e && e->name;
		*q++ = 0x00;
		*q++ = 0x01;
		*q++ = 'x';
	}
	memcpy(q, f->value, (size_t)(f->end - f->value));
	q += f->end - f->value;
	err = inflate_one(d, (size_t)(q - d->mini), nv);
	if (!err && e && e->name) {
		nv->name = (uint8_t *)e->name;
		nv->namelen = e->name_len;
	}
	return err;
}

/* One field whose representation starts at *p: parsed, then emitted or
 * counted.  Returns 1 for a field left out, 0, or a negative errno. */
static int one_field(struct hpack_dec *d, const uint8_t **p, const uint8_t *end,
		     void (*emit)(void *, const nghttp2_nv *), void *arg)
{
	struct field f = { .start = *p };
	uint8_t b = **p;
	nghttp2_nv nv;
	bool name_known;
	int err;

	if (b & 0x80) { /* indexed (6.1) */
		struct hpack_entry *e;

		if (get_int(p, end, 7, &f.index) || !f.index)
			return -EPROTO;
		if (f.index <= STATIC_ENTRIES) {
			if (mini_room(d, (size_t)(*p - f.start)))
				return -ENOMEM;
			memcpy(d->mini, f.start, (size_t)(*p - f.start));
			err = inflate_one(d, (size_t)(*p - f.start), &nv);
			if (!err)
				emit(arg, &nv);
			return err;
		}
		e = dynamic(d, f.index);
		if (!e || !e->name)
			return 1;
		nv = (nghttp2_nv){ .name = (uint8_t *)e->name, .namelen = e->name_len,
				   .value = (uint8_t *)e->value, .valuelen = e->value_len };
		emit(arg, &nv);
		return 0;
	}
	if ((b & 0xe0) == 0x20) { /* dynamic table size update (6.3) */
		uint32_t max;

		if (get_int(p, end, 5, &max) || max > d->limit)
			return -EPROTO;
		d->max = max;
		evict_to(d, max);
		return 0;
	}
	f.indexing = (b & 0xc0) == 0x40;
	if (get_int(p, end, f.indexing ? 6 : 4, &f.index))
		return -EPROTO;
	if (!f.index) {
		f.name = *p;
		if (skip_string(p, end))
			return -EPROTO;
	}
	f.value = *p;
	if (skip_string(p, end))
		return -EPROTO;
	f.end = *p;
	err = literal(d, &f, &nv, &name_known);
	if (err)
		return err;
	/* Emitted before it is added: adding may evict the entry whose
	 * name nv points at. */
	if (name_known)
		emit(arg, &nv);
	if (f.indexing && insert(d, &nv, name_known))
		return -ENOMEM;
	return name_known ? 0 : 1;
}

int hpack_dec_block(struct hpack_dec *d, const uint8_t *p, size_t n,
		    void (*emit)(void *arg, const nghttp2_nv *nv), void *arg)
{
	const uint8_t *end;
	int unknown = 0;

	if (!n)
		return 0; /* (p may be NULL then) */
	end = p + n;
	while (p < end) {
		int r = one_field(d, &p, end, emit, arg);

		if (r < 0) { /* the block's insertions were not all made */
			hpack_dec_forget(d);
			return r;
		}
		unknown += r;
	}
	return unknown;
}
