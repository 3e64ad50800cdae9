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
#include <stdlib.h>
#include <string.h>

#include "assemble/resource.h"
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

/* Spans sized on the stack up to this many; larger batches malloc. */
#define STACK_SPANS 128

static inline size_t varint_size(uint64_t v)
{
	return (64 - __builtin_clzll(v | 1) + 6) / 7;
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

static size_t any_value_size(const struct sp_span *s, const struct sp_attr *a)
{
	switch (a->type) {
	case SP_ATTR_STRING:
		return len_field_size(
			str_cut(span_str(s, a->v.str.off), a->v.str.len));
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

static size_t status_size(const struct sp_span *s)
{
	size_t msg = str_cut(span_str(s, s->status_msg_off), s->status_msg_len);

	return (msg ? len_field_size(msg) : 0) +
	       (s->status_code ? 1 + varint_size(s->status_code) : 0);
}

static size_t span_size(const struct sp_span *s)
{
	size_t name = str_cut(span_str(s, s->name_off), s->name_len);
	size_t n = len_field_size(16) + len_field_size(8);

	if (span_has_parent(s))
		n += len_field_size(8);
	if (name)
		n += len_field_size(name);
	if (s->kind)
		n += 1 + varint_size(s->kind);
	if (s->start_unix_ns)
		n += 9;
	if (s->end_unix_ns)
		n += 9;
	for (unsigned i = 0; i < s->n_attrs; i++) {
		const struct sp_attr *a = &s->attrs[i];

		n += len_field_size(
			key_value_size(strlen(a->key), any_value_size(s, a)));
	}
	if (span_has_status(s))
		n += len_field_size(status_size(s));
	if (s->sampled)
		n += 2 + 4;
	return n;
}

static size_t resattr_value_size(const struct sp_resattr *ra)
{
	if (ra->type == SP_RES_INT)
		return 1 + varint_size((uint64_t)ra->i);
	return len_field_size(ra->str ? strlen(ra->str) : 0);
}

static size_t resource_size(const struct sp_resource *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->count; i++)
		n += len_field_size(key_value_size(
			strlen(r->attrs[i].key), resattr_value_size(&r->attrs[i])));
	return n;
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
static void group_sizes(struct sp_span *const *spans, const size_t *sizes,
			size_t n, size_t *ss, size_t *rs)
{
	const struct sp_resource *r = spans[0]->resource;

	*ss = len_field_size(scope_size());
	for (size_t i = 0; i < n; i++)
		*ss += len_field_size(sizes[i]);
	*rs = len_field_size(*ss);
	if (r)
		*rs += len_field_size(resource_size(r));
}

/* --- writing -------------------------------------------------------------- */

/* A KeyValue up to the AnyValue's body, as field `tag` of its parent. */
static uint8_t *put_key_value_head(uint8_t *p, uint8_t tag, const char *key,
				   size_t vsize)
{
	size_t klen = strlen(key);

	*p++ = tag;
	p = put_varint(p, key_value_size(klen, vsize));
	if (klen)
		p = put_len_field(p, TAG_KV_KEY, key, klen);
	*p++ = TAG_KV_VALUE;
	return put_varint(p, vsize);
}

static uint8_t *put_span_attr(uint8_t *p, const struct sp_span *s,
			      const struct sp_attr *a)
{
	uint64_t bits;
	size_t len;

	p = put_key_value_head(p, TAG_SPAN_ATTRIBUTES, a->key,
			       any_value_size(s, a));
	switch (a->type) {
	case SP_ATTR_STRING:
		len = str_cut(span_str(s, a->v.str.off), a->v.str.len);
		return put_len_field(p, TAG_ANY_STRING,
				     span_str(s, a->v.str.off), len);
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

static uint8_t *put_status(uint8_t *p, const struct sp_span *s)
{
	size_t msg = str_cut(span_str(s, s->status_msg_off), s->status_msg_len);

	*p++ = TAG_SPAN_STATUS;
	p = put_varint(p, status_size(s));
	if (msg)
		p = put_len_field(p, TAG_STATUS_MESSAGE,
				  span_str(s, s->status_msg_off), msg);
	if (s->status_code) {
		*p++ = TAG_STATUS_CODE;
		p = put_varint(p, s->status_code);
	}
	return p;
}

static uint8_t *put_span(uint8_t *p, const struct sp_span *s, size_t size)
{
	size_t name = str_cut(span_str(s, s->name_off), s->name_len);

	*p++ = TAG_SS_SPANS;
	p = put_varint(p, size);
	p = put_len_field(p, TAG_SPAN_TRACE_ID, s->trace_id, 16);
	p = put_len_field(p, TAG_SPAN_SPAN_ID, s->span_id, 8);
	if (span_has_parent(s))
		p = put_len_field(p, TAG_SPAN_PARENT, s->parent_span_id, 8);
	if (name)
		p = put_len_field(p, TAG_SPAN_NAME, span_str(s, s->name_off),
				  name);
	if (s->kind) {
		*p++ = TAG_SPAN_KIND;
		p = put_varint(p, s->kind);
	}
	if (s->start_unix_ns)
		p = put_fixed64(p, TAG_SPAN_START, s->start_unix_ns);
	if (s->end_unix_ns)
		p = put_fixed64(p, TAG_SPAN_END, s->end_unix_ns);
	for (unsigned i = 0; i < s->n_attrs; i++)
		p = put_span_attr(p, s, &s->attrs[i]);
	if (span_has_status(s))
		p = put_status(p, s);
	/* W3C trace-flags bit 0: the span was sampled. */
	if (s->sampled)
		p = put_fixed32(p, 1);
	return p;
}

static uint8_t *put_resource(uint8_t *p, const struct sp_resource *r)
{
	*p++ = TAG_RS_RESOURCE;
	p = put_varint(p, resource_size(r));
	for (size_t i = 0; i < r->count; i++) {
		const struct sp_resattr *ra = &r->attrs[i];

		p = put_key_value_head(p, TAG_RES_ATTRIBUTES, ra->key,
				       resattr_value_size(ra));
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

/* One ResourceSpans for spans[0..n), whose body sizes are `sizes`. */
static uint8_t *put_group(uint8_t *p, struct sp_span *const *spans,
			  const size_t *sizes, size_t n)
{
	size_t ss, rs;

	group_sizes(spans, sizes, n, &ss, &rs);
	*p++ = TAG_REQ_RESOURCE_SPANS;
	p = put_varint(p, rs);
	if (spans[0]->resource)
		p = put_resource(p, spans[0]->resource);
	*p++ = TAG_RS_SCOPE_SPANS;
	p = put_varint(p, ss);
	p = put_scope(p);
	for (size_t i = 0; i < n; i++)
		p = put_span(p, spans[i], sizes[i]);
	return p;
}

/* Size every span into sizes[]; returns the size of the whole request. */
static size_t size_request(struct sp_span *const *spans, size_t count,
			   size_t *sizes)
{
	size_t total = 0;

	for (size_t i = 0; i < count; i++)
		sizes[i] = span_size(spans[i]);
	for (size_t i = 0, n; i < count; i += n) {
		size_t ss, rs;

		n = group_len(spans, count, i);
		group_sizes(spans + i, sizes + i, n, &ss, &rs);
		total += len_field_size(rs);
	}
	return total;
}

int otlp_encode_protobuf_fast(struct sp_span *const *spans, size_t count,
			      uint8_t **out, size_t *len)
{
	size_t stack_sizes[STACK_SPANS];
	size_t *sizes = stack_sizes;
	size_t total;
	uint8_t *buf, *p;

	if (count > STACK_SPANS) {
		sizes = malloc(count * sizeof(*sizes));
		if (!sizes)
			return -ENOMEM;
	}
	total = size_request(spans, count, sizes);
	buf = malloc(total ? total : 1);
	if (!buf) {
		if (sizes != stack_sizes)
			free(sizes);
		return -ENOMEM;
	}
	p = buf;
	for (size_t i = 0, n; i < count; i += n) {
		n = group_len(spans, count, i);
		p = put_group(p, spans + i, sizes + i, n);
	}
	/* The sizing pass and the writers mirror each other field by field. */
	assert((size_t)(p - buf) == total);
	if (sizes != stack_sizes)
		free(sizes);
	*out = buf;
	*len = total;
	return 0;
}
