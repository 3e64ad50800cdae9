// SPDX-License-Identifier: MIT
/*
 * Hand-written OTLP protobuf encoder.
 *
 * Two passes over the batch: the first sizes every span (protobuf prefixes
 * each nested message with its length, and lengths are minimal varints, so
 * sizes must be known before the bytes), the second writes into a buffer of
 * exactly the total size.  It mirrors what protobuf-c emits for the same
 * message tree (see otlp_pb.c), so that the two are byte-identical:
 *  - fields in field-number order (Span.flags, number 16, comes last);
 *  - proto3 scalars and strings outside a oneof are omitted when zero or
 *    empty; AnyValue members (a oneof) are always written;
 *  - strings end at their first NUL byte (protobuf-c takes C strings);
 *  - Status is present only when the span has a code or a message;
 *    Resource only when the span has one.
 */
#include "export/otlp_pb_fast.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"
#include "export/otlp_encode.h"

/* Wire types (protobuf encoding guide). */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define TAG(field, wt) (((field) << 3) | (wt))

/* Tags used below; all fit one byte except Span.flags (16). */
enum {
	TAG_REQ_RESOURCE_SPANS = TAG(1, WT_LEN),
	TAG_RS_RESOURCE = TAG(1, WT_LEN),
	TAG_RS_SCOPE_SPANS = TAG(2, WT_LEN),
	TAG_RES_ATTRIBUTES = TAG(1, WT_LEN),
	TAG_SS_SCOPE = TAG(1, WT_LEN),
	TAG_SS_SPANS = TAG(2, WT_LEN),
	TAG_SCOPE_NAME = TAG(1, WT_LEN),
	TAG_SCOPE_VERSION = TAG(2, WT_LEN),
	TAG_SPAN_TRACE_ID = TAG(1, WT_LEN),
	TAG_SPAN_SPAN_ID = TAG(2, WT_LEN),
	TAG_SPAN_PARENT = TAG(4, WT_LEN),
	TAG_SPAN_NAME = TAG(5, WT_LEN),
	TAG_SPAN_KIND = TAG(6, WT_VARINT),
	TAG_SPAN_START = TAG(7, WT_I64),
	TAG_SPAN_END = TAG(8, WT_I64),
	TAG_SPAN_ATTRIBUTES = TAG(9, WT_LEN),
	TAG_SPAN_STATUS = TAG(15, WT_LEN),
	TAG_SPAN_FLAGS = TAG(16, WT_I32), /* two bytes as a varint */
	TAG_STATUS_MESSAGE = TAG(2, WT_LEN),
	TAG_STATUS_CODE = TAG(3, WT_VARINT),
	TAG_KV_KEY = TAG(1, WT_LEN),
	TAG_KV_VALUE = TAG(2, WT_LEN),
	TAG_ANY_STRING = TAG(1, WT_LEN),
	TAG_ANY_BOOL = TAG(2, WT_VARINT),
	TAG_ANY_INT = TAG(3, WT_VARINT),
	TAG_ANY_DOUBLE = TAG(4, WT_I64),
};

/*
 * Lengths measured by the sizing pass and reused by the writing pass, so
 * that each string is scanned once: per span, then per span attribute in
 * batch order.  Below this many bytes the scratch lives on the stack.
 */
#define STACK_SCRATCH 4096

struct span_len {
	size_t size;   /* Span message body */
	uint16_t name; /* name cut at its first NUL */
	uint16_t msg;  /* status message, same */
};

struct attr_len {
	uint32_t key; /* strlen(key); keys are short static strings */
	uint32_t str; /* string value cut at its first NUL; 0 otherwise */
};

static inline size_t varint_size(uint64_t v)
{
	/* Branches, not a division: nearly all values here are small. */
	if (v < (1ULL << 7))
		return 1;
	if (v < (1ULL << 14))
		return 2;
	if (v < (1ULL << 21))
		return 3;
	return (64 - __builtin_clzll(v) + 6) / 7;
}

/* A one-byte tag, a length and `n` bytes. */
static inline size_t len_field_size(size_t n)
{
	return 1 + varint_size(n) + n;
}

static inline size_t str_cut(const char *s, size_t len)
{
	const char *nul = memchr(s, 0, len);

	return nul ? (size_t)(nul - s) : len;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *put_len_field(uint8_t *p, uint8_t tag, const void *data,
				     size_t n)
{
	*p++ = tag;
	p = put_varint(p, n);
	memcpy(p, data, n);
	return p + n;
}

static inline uint8_t *put_fixed64(uint8_t *p, uint8_t tag, uint64_t v)
{
	*p++ = tag;
	v = htole64(v);
	memcpy(p, &v, 8);
	return p + 8;
}

static inline uint8_t *put_fixed32(uint8_t *p, uint32_t v)
{
	p = put_varint(p, TAG_SPAN_FLAGS);
	v = htole32(v);
	memcpy(p, &v, 4);
	return p + 4;
}

/* --- sizes ---------------------------------------------------------------- */

/* AnyValue body of `a`; `str` is its string length when a string. */
static inline size_t any_value_size(const struct sp_attr *a, size_t str)
{
	switch (a->type) {
	case SP_ATTR_STRING:
		return len_field_size(str);
	case SP_ATTR_INT:
		return 1 + varint_size((uint64_t)a->v.i);
	case SP_ATTR_BOOL:
		return 2;
	case SP_ATTR_DOUBLE:
		return 9;
	default:
		return 0;
	}
}

static inline size_t key_value_size(size_t key_len, size_t value_size)
{
	return (key_len ? len_field_size(key_len) : 0) +
	       len_field_size(value_size);
}

static bool span_has_status(const struct sp_span *s)
{
	return s->status_code != SP_STATUS_UNSET || s->status_msg_len != 0;
}

static size_t status_size(const struct sp_span *s, size_t msg)
{
	return (msg ? len_field_size(msg) : 0) +
	       (s->status_code ? 1 + varint_size(s->status_code) : 0);
}

/* Measure span `s` into *sl and its attributes into al[]. */
static void span_measure(const struct sp_span *s, struct span_len *sl,
			 struct attr_len *al)
{
	size_t n = len_field_size(16) + len_field_size(8);

	sl->name = (uint16_t)str_cut(span_str(s, s->name_off), s->name_len);
	sl->msg = (uint16_t)str_cut(span_str(s, s->status_msg_off),
				    s->status_msg_len);
	if (span_has_parent(s))
		n += len_field_size(8);
	if (sl->name)
		n += len_field_size(sl->name);
	if (s->kind)
		n += 1 + varint_size(s->kind);
	if (s->start_unix_ns)
		n += 9;
	if (s->end_unix_ns)
		n += 9;
	for (unsigned i = 0; i < s->n_attrs; i++) {
		const struct sp_attr *a = &s->attrs[i];

		al[i].key = (uint32_t)strlen(a->key);
		al[i].str = a->type == SP_ATTR_STRING ?
			(uint32_t)str_cut(span_str(s, a->v.str.off), a->v.str.len) : 0;
		n += len_field_size(
			key_value_size(al[i].key, any_value_size(a, al[i].str)));
	}
	if (span_has_status(s))
		n += len_field_size(status_size(s, sl->msg));
	if (s->sampled)
		n += 2 + 4;
	sl->size = n;
}

static size_t resattr_value_size(const struct sp_resattr *ra)
{
	if (ra->type == SP_RES_INT)
		return 1 + varint_size((uint64_t)ra->i);
	return len_field_size(ra->str ? strlen(ra->str) : 0);
}

static size_t resource_attrs_size(const struct sp_resource *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->count; i++)
		n += len_field_size(key_value_size(
			strlen(r->attrs[i].key), resattr_value_size(&r->attrs[i])));
	return n;
}

/* A resource's attributes, encoded once (struct sp_resource's `encoded`). */
struct resource_pb {
	size_t len;
	uint8_t bytes[];
};

static uint8_t *put_resource_attrs(uint8_t *p, const struct sp_resource *r);

/*
 * The resource's encoded attributes, made at its first batch; NULL when
 * memory is short (then they are encoded in place, as every time).
 */
static const struct resource_pb *resource_pb(const struct sp_resource *r)
{
	struct resource_pb *pb = __atomic_load_n((void **)&r->encoded, __ATOMIC_ACQUIRE);
	void *none = NULL;
	size_t len;

	if (pb)
		return pb;
	len = resource_attrs_size(r);
	pb = malloc(sizeof(*pb) + len);
	if (!pb)
		return NULL;
	pb->len = len;
	put_resource_attrs(pb->bytes, r);
	/* Two encoders at once: the first one's copy stays. */
	if (!__atomic_compare_exchange_n((void **)&r->encoded, &none, pb, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(pb);
		return none;
	}
	return pb;
}

static size_t resource_size(const struct sp_resource *r)
{
	const struct resource_pb *pb = resource_pb(r);

	return pb ? pb->len : resource_attrs_size(r);
}

static size_t scope_size(void)
{
	return len_field_size(strlen(SP_SCOPE_NAME)) +
	       len_field_size(strlen(SP_VERSION));
}

/* Run of spans from `i` sharing spans[i]'s resource: its length. */
static size_t group_len(struct sp_span *const *spans, size_t count, size_t i)
{
	size_t n = 1;

	while (i + n < count && spans[i + n]->resource == spans[i]->resource)
		n++;
	return n;
}

/* Sizes of a group's ScopeSpans and ResourceSpans bodies. */
static void group_sizes(struct sp_span *const *spans, const struct span_len *sl,
			size_t n, size_t *ss, size_t *rs)
{
	const struct sp_resource *r = spans[0]->resource;

	*ss = len_field_size(scope_size());
	for (size_t i = 0; i < n; i++)
		*ss += len_field_size(sl[i].size);
	*rs = len_field_size(*ss);
	if (r)
		*rs += len_field_size(resource_size(r));
}

/* --- writing -------------------------------------------------------------- */

/* A KeyValue up to the AnyValue's body, as field `tag` of its parent. */
static inline uint8_t *put_key_value_head(uint8_t *p, uint8_t tag,
					  const char *key, size_t klen,
					  size_t vsize)
{
	*p++ = tag;
	p = put_varint(p, key_value_size(klen, vsize));
	if (klen)
		p = put_len_field(p, TAG_KV_KEY, key, klen);
	*p++ = TAG_KV_VALUE;
	return put_varint(p, vsize);
}

static inline uint8_t *put_span_attr(uint8_t *p, const struct sp_span *s,
				     const struct sp_attr *a,
				     const struct attr_len *al)
{
	uint64_t bits;

	p = put_key_value_head(p, TAG_SPAN_ATTRIBUTES, a->key, al->key,
			       any_value_size(a, al->str));
	switch (a->type) {
	case SP_ATTR_STRING:
		return put_len_field(p, TAG_ANY_STRING,
				     span_str(s, a->v.str.off), al->str);
	case SP_ATTR_INT:
		*p++ = TAG_ANY_INT;
		return put_varint(p, (uint64_t)a->v.i);
	case SP_ATTR_BOOL:
		*p++ = TAG_ANY_BOOL;
		*p++ = a->v.b ? 1 : 0;
		return p;
	case SP_ATTR_DOUBLE:
		memcpy(&bits, &a->v.d, 8);
		return put_fixed64(p, TAG_ANY_DOUBLE, bits);
	default:
		return p;
	}
}

static uint8_t *put_status(uint8_t *p, const struct sp_span *s, size_t msg)
{
	*p++ = TAG_SPAN_STATUS;
	p = put_varint(p, status_size(s, msg));
	if (msg)
		p = put_len_field(p, TAG_STATUS_MESSAGE,
				  span_str(s, s->status_msg_off), msg);
	if (s->status_code) {
		*p++ = TAG_STATUS_CODE;
		p = put_varint(p, s->status_code);
	}
	return p;
}

static uint8_t *put_span(uint8_t *p, const struct sp_span *s,
			 const struct span_len *sl, const struct attr_len *al)
{
	*p++ = TAG_SS_SPANS;
	p = put_varint(p, sl->size);
	p = put_len_field(p, TAG_SPAN_TRACE_ID, s->trace_id, 16);
	p = put_len_field(p, TAG_SPAN_SPAN_ID, s->span_id, 8);
	if (span_has_parent(s))
		p = put_len_field(p, TAG_SPAN_PARENT, s->parent_span_id, 8);
	if (sl->name)
		p = put_len_field(p, TAG_SPAN_NAME, span_str(s, s->name_off),
				  sl->name);
	if (s->kind) {
		*p++ = TAG_SPAN_KIND;
		p = put_varint(p, s->kind);
	}
	if (s->start_unix_ns)
		p = put_fixed64(p, TAG_SPAN_START, s->start_unix_ns);
	if (s->end_unix_ns)
		p = put_fixed64(p, TAG_SPAN_END, s->end_unix_ns);
	for (unsigned i = 0; i < s->n_attrs; i++)
		p = put_span_attr(p, s, &s->attrs[i], &al[i]);
	if (span_has_status(s))
		p = put_status(p, s, sl->msg);
	/* W3C trace-flags bit 0: the span was sampled. */
	if (s->sampled)
		p = put_fixed32(p, 1);
	return p;
}

static uint8_t *put_resource(uint8_t *p, const struct sp_resource *r)
{
	const struct resource_pb *pb = resource_pb(r);

	*p++ = TAG_RS_RESOURCE;
	if (pb) {
		p = put_varint(p, pb->len);
		memcpy(p, pb->bytes, pb->len);
		return p + pb->len;
	}
	p = put_varint(p, resource_attrs_size(r));
	return put_resource_attrs(p, r);
}

static uint8_t *put_resource_attrs(uint8_t *p, const struct sp_resource *r)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct sp_resattr *ra = &r->attrs[i];

		p = put_key_value_head(p, TAG_RES_ATTRIBUTES, ra->key,
				       strlen(ra->key), resattr_value_size(ra));
		if (ra->type == SP_RES_INT) {
			*p++ = TAG_ANY_INT;
			p = put_varint(p, (uint64_t)ra->i);
		} else {
			const char *v = ra->str ? ra->str : "";

			p = put_len_field(p, TAG_ANY_STRING, v, strlen(v));
		}
	}
	return p;
}

static uint8_t *put_scope(uint8_t *p)
{
	*p++ = TAG_SS_SCOPE;
	p = put_varint(p, scope_size());
	p = put_len_field(p, TAG_SCOPE_NAME, SP_SCOPE_NAME,
			  strlen(SP_SCOPE_NAME));
	return put_len_field(p, TAG_SCOPE_VERSION, SP_VERSION,
			     strlen(SP_VERSION));
}

/* One ResourceSpans for spans[0..n), measured in sl[] and al[]. */
static uint8_t *put_group(uint8_t *p, struct sp_span *const *spans,
			  const struct span_len *sl, const struct attr_len *al,
			  size_t n)
{
	size_t ss, rs;

	group_sizes(spans, sl, n, &ss, &rs);
	*p++ = TAG_REQ_RESOURCE_SPANS;
	p = put_varint(p, rs);
	if (spans[0]->resource)
		p = put_resource(p, spans[0]->resource);
	*p++ = TAG_RS_SCOPE_SPANS;
	p = put_varint(p, ss);
	p = put_scope(p);
	for (size_t i = 0; i < n; i++) {
		p = put_span(p, spans[i], &sl[i], al);
		al += spans[i]->n_attrs;
	}
	return p;
}

/* Measure every span into sl[] and al[]; returns the request's size. */
static size_t size_request(struct sp_span *const *spans, size_t count,
			   struct span_len *sl, struct attr_len *al)
{
	size_t total = 0;

	for (size_t i = 0; i < count; i++) {
		span_measure(spans[i], &sl[i], al);
		al += spans[i]->n_attrs;
	}
	for (size_t i = 0, n; i < count; i += n) {
		size_t ss, rs;

		n = group_len(spans, count, i);
		group_sizes(spans + i, sl + i, n, &ss, &rs);
		total += len_field_size(rs);
	}
	return total;
}

/* Write the request measured in sl[]/al[] into buf; returns its end. */
static uint8_t *put_request(uint8_t *p, struct sp_span *const *spans,
			    size_t count, const struct span_len *sl,
			    const struct attr_len *al)
{
	for (size_t i = 0, n; i < count; i += n) {
		n = group_len(spans, count, i);
		p = put_group(p, spans + i, sl + i, al, n);
		for (size_t k = i; k < i + n; k++)
			al += spans[k]->n_attrs;
	}
	return p;
}

int otlp_encode_protobuf_fast(struct sp_span *const *spans, size_t count,
			      uint8_t **out, size_t *len)
{
	_Alignas(max_align_t) char stack[STACK_SCRATCH];
	size_t attrs = 0, need, total;
	struct span_len *sl;
	struct attr_len *al;
	void *scratch = stack;
	uint8_t *buf, *end;

	for (size_t i = 0; i < count; i++)
		attrs += spans[i]->n_attrs;
	need = count * sizeof(*sl) + attrs * sizeof(*al);
	if (need > sizeof(stack)) {
		scratch = malloc(need);
		if (!scratch)
			return -ENOMEM;
	}
	sl = scratch;
	al = (struct attr_len *)(sl + count);
	total = size_request(spans, count, sl, al);
	buf = malloc(total ? total : 1);
	if (buf) {
		end = put_request(buf, spans, count, sl, al);
		/* The sizing pass and the writers mirror each other. */
		assert((size_t)(end - buf) == total);
		(void)end;
	}
	if (scratch != stack)
		free(scratch);
	if (!buf)
		return -ENOMEM;
	*out = buf;
	*len = total;
	return 0;
}
