// SPDX-License-Identifier: MIT
/*
 * Hand-written OTLP protobuf encoder.
 *
 * One pass over the batch.  Protobuf prefixes each nested message with its
 * length as a minimal varint: a KeyValue's and an AnyValue's are known
 * from the attribute's own lengths before it is written; a Span's, a
 * ScopeSpans' and a ResourceSpans' are not, so their prefixes are reserved
 * (the size they nearly always take) and written after the body, which
 * moves only when the size takes another number of bytes.  It mirrors
 * what protobuf-c emits for the same message tree (see otlp_pb.c), so
 * that the two are byte-identical:
 *  - fields in field-number order (Span.flags, number 16, comes last);
 *  - proto3 scalars and strings outside a oneof are omitted when zero or
 *    empty; AnyValue members (a oneof) are always written;
 *  - strings end at their first NUL byte (protobuf-c takes C strings);
 *  - Status is present only when the span has a code or a message;
 *    Resource only when the span has one.
 */
#include "export/otlp_pb_fast.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"
#include "export/otlp_encode.h"
#include "util/simd16.h"
#include "util/swar.h"

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
 * Prefix bytes reserved before a body of unknown size: a Span is nearly
 * always 128 bytes to 16 KiB, a batch's ScopeSpans and ResourceSpans 16
 * KiB to 2 MiB.
 */
#define SPAN_PREFIX 2
#define GROUP_PREFIX 3

/* The request being written: a buffer that grows, and where it is. */
struct pb_out {
	uint8_t *buf;
	size_t used, cap;
};

/* Bytes per span the last batch took, for the next one's first guess. */
static __thread size_t last_span_bytes = 1024;

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

/* The first zero byte of the word `w` (little-endian): its index, or the
 * word's size. */
static inline size_t zero_at64(uint64_t w)
{
	uint64_t z = swar_zero_bytes(w);

	return z ? (size_t)__builtin_ctzll(z) >> 3 : 8;
}

/* copy_cut() of fewer than 16 bytes: two words that overlap or meet, or
 * byte by byte below eight. */
static inline size_t copy_cut_short(uint8_t *dst, const char *src, size_t len)
{
	uint64_t a, b;
	size_t at;

	if (len < 8) {
		for (at = 0; at < len && src[at]; at++)
			dst[at] = (uint8_t)src[at];
		return at;
	}
	memcpy(&a, src, 8);
	memcpy(&b, src + len - 8, 8);
	memcpy(dst, &a, 8);
	memcpy(dst + len - 8, &b, 8);
	at = zero_at64(a);
	return at < 8 ? at : len - 8 + zero_at64(b);
}

/*
 * Copy `len` bytes of a string to `dst` up to its first NUL byte and
 * return how many that is (`len` when there is none): one pass where
 * memchr() and memcpy() were two library calls, for what is mostly a
 * value of a few dozen bytes.  It reads and writes no byte outside
 * [src, src + len) and [dst, dst + len): the last piece ends at `len`,
 * over bytes already looked at (a NUL among those was found first).
 */
static inline __attribute__((always_inline)) size_t
copy_cut(uint8_t *dst, const char *src, size_t len)
{
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len < 16)
		return copy_cut_short(dst, src, len);
	for (size_t i = 0;; i += 16) {
		__m128i v;
		unsigned nul;

		if (i + 16 > len)
			i = len - 16;
		v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		_mm_storeu_si128((__m128i *)(void *)(dst + i), v);
		nul = simd16_eq(v, 0);
		if (nul)
			return i + (size_t)__builtin_ctz(nul);
		if (i + 16 == len)
			return len;
	}
#else
	const char *nul = memchr(src, 0, len);

	if (nul)
		len = (size_t)(nul - src);
	memcpy(dst, src, len);
	return len;
#endif
}

/*
 * Span attribute keys, each with the KeyValue field it makes (tag,
 * length, bytes), by the key's address: keys have static storage
 * (span/span.h), so an address names one text for good, and a batch
 * uses a few dozen of them thousands of times.  Per thread, open
 * addressing: a key takes the first free slot of the KEY_PROBES from
 * its hash, or, all taken, the first (a table of KEY_SLOTS keys that
 * keep coming back in turn would measure some every time: still right).
 * A key too long for a slot is measured every time.
 */
#define KEY_SLOTS OTLP_PB_KEY_SLOTS
#define KEY_PROBES 4
#define KEY_FIELD_MAX OTLP_PB_KEY_FIELD_MAX

struct key_slot {
	const char *key;
	uint8_t len;                  /* of field[]: 0 for "", no field */
	uint8_t field[KEY_FIELD_MAX]; /* TAG_KV_KEY, length, the key */
};

static __thread struct key_slot *key_slots;

/* The slot of a key not found in its probes, filled; NULL: too long. */
static struct key_slot *key_fill(struct key_slot *first, const char *key)
{
	struct key_slot *k = first;
	size_t n = strlen(key);

	if (n + 2 > KEY_FIELD_MAX)
		return NULL;
	for (unsigned i = 0; i < KEY_PROBES; i++) {
		struct key_slot *at = key_slots + (size_t)(first - key_slots + i) % KEY_SLOTS;

		if (!at->key) {
			k = at;
			break;
		}
	}
	k->key = key;
	k->len = (uint8_t)(n ? n + 2 : 0);
	k->field[0] = TAG_KV_KEY;
	k->field[1] = (uint8_t)n;
	memcpy(k->field + 2, key, n);
	return k;
}

static size_t key_hash(const char *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ULL;

	_Static_assert(KEY_SLOTS == 1 << (64 - 57), "KEY_SLOTS is 2 ^ (64 - 57)");
	return (size_t)(h >> 57);
}

/* The key's slot after its first probe missed: the other probes, or a
 * slot filled; NULL when the key is too long for one. */
static __attribute__((noinline)) const struct key_slot *key_probe(const char *key)
{
	size_t at = key_hash(key);

	for (unsigned i = 0; i < KEY_PROBES; i++) {
		const struct key_slot *k = &key_slots[(at + i) % KEY_SLOTS];

		if (k->key == key)
			return k;
		if (!k->key)
			break;
	}
	return key_fill(&key_slots[at], key);
}

/* The thread's key table, made at its first use; NULL: no memory. */
static struct key_slot *key_table(void)
{
	if (!key_slots)
		key_slots = calloc(KEY_SLOTS, sizeof(*key_slots));
	return key_slots;
}

/* The key's slot in `slots` (key_table()); NULL when the key is too long
 * for one. */
static inline const struct key_slot *key_slot_of(const struct key_slot *slots,
						 const char *key)
{
	const struct key_slot *k = &slots[key_hash(key)];

	return k->key == key ? k : key_probe(key);
}

/* The key's slot; NULL when the key is too long for one, or no memory. */
static inline const struct key_slot *key_field(const char *key)
{
	const struct key_slot *slots = key_table();

	return slots ? key_slot_of(slots, key) : NULL;
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
	struct resource_pb *pb = resource_encoded((void *const *)&r->encoded);
	size_t len;

	if (pb)
		return pb;
	len = resource_attrs_size(r);
	pb = malloc(sizeof(*pb) + len);
	if (!pb)
		return NULL;
	pb->len = len;
	put_resource_attrs(pb->bytes, r);
	return resource_keep_encoded((void **)&r->encoded, pb);
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

/* --- the output buffer ----------------------------------------------------- */

/* Room for `n` more bytes; returns where they go, or NULL (-ENOMEM). */
static uint8_t *out_room(struct pb_out *o, size_t n)
{
	if (n > o->cap - o->used) {
		size_t cap = o->cap * 2;
		uint8_t *grown;

		if (cap < o->used + n)
			cap = o->used + n;
		grown = realloc(o->buf, cap);
		if (!grown)
			return NULL;
		o->buf = grown;
		o->cap = cap;
	}
	return o->buf + o->used;
}

/*
 * The body that began `reserved` bytes after `at` is complete: its length
 * goes in front of it, the body moved when the varint is not `reserved`
 * bytes long.  Returns 0 or -ENOMEM.
 */
static int out_prefix(struct pb_out *o, size_t at, size_t reserved)
{
	size_t body = o->used - at - reserved, k = varint_size(body);

	if (k != reserved) {
		if (k > reserved && !out_room(o, k - reserved))
			return -ENOMEM;
		memmove(o->buf + at + k, o->buf + at + reserved, body);
		o->used = o->used + k - reserved;
	}
	put_varint(o->buf + at, body);
	return 0;
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

/*
 * copy_cut() of a string of the arena that has 16 bytes of the arena from
 * its start (`slack`) and fewer than 16 of its own: one load and one
 * store, to a `dst` with 16 bytes of room.  The bytes past `len` are
 * written over by what follows, or lie past the end of the output.
 */
static inline size_t copy_cut_arena(uint8_t *dst, const char *src, size_t len,
				    bool slack)
{
#if defined(__SSE2__)
	if (len < 16 && slack) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)src);
		unsigned nul;

		_mm_storeu_si128((__m128i *)(void *)dst, v);
		nul = simd16_eq(v, 0) & ((1u << len) - 1);
		return nul ? (size_t)__builtin_ctz(nul) : len;
	}
#endif
	(void)slack;
	return copy_cut(dst, src, len);
}

/* An AnyValue's string: tag, length, and the bytes copied as they are
 * looked at (copy_cut_arena(), `slack` as there; *cut as copy_cut()). */
static inline __attribute__((always_inline)) uint8_t *
put_any_string(uint8_t *p, const char *v, size_t len, bool slack, size_t *cut)
{
	*p++ = TAG_ANY_STRING;
	p = put_varint(p, len);
	*cut = copy_cut_arena(p, v, len, slack);
	return p + len;
}

/* An AnyValue's integer: tag and varint. */
static inline uint8_t *put_any_int(uint8_t *p, int64_t i)
{
	*p++ = TAG_ANY_INT;
	return put_varint(p, (uint64_t)i);
}

/*
 * Attribute `a` of a span at `p`, its key's field from `k` (or `a->key`
 * measured, `klen` bytes, when NULL) and its string value, when a string,
 * `str` bytes at `v`.  The string is copied as it is looked at: *cut is
 * where its first NUL is (`str` when none), and when that is not `str`
 * what was written is wrong and the caller writes it again with `cut`.
 * Returns the end.
 */
static inline __attribute__((always_inline)) uint8_t *
put_attr(uint8_t *p, const struct sp_attr *a, const struct key_slot *k,
	 size_t klen, const char *v, size_t str, size_t *cut)
{
	size_t kfield = k ? k->len : klen ? len_field_size(klen) : 0;
	size_t vsize = any_value_size(a, str);
	uint64_t bits;

	*p++ = TAG_SPAN_ATTRIBUTES;
	p = put_varint(p, kfield + len_field_size(vsize));
	if (k)
		memcpy(p, k->field, KEY_FIELD_MAX); /* a fixed size: no call */
	else if (klen)
		put_len_field(p, TAG_KV_KEY, a->key, klen);
	p += kfield;
	*p++ = TAG_KV_VALUE;
	p = put_varint(p, vsize);
	*cut = str;
	switch (a->type) {
	case SP_ATTR_STRING:
		p = put_any_string(p, v, str, false, cut);
		break;
	case SP_ATTR_INT:
		p = put_any_int(p, a->v.i);
		break;
	case SP_ATTR_BOOL:
		*p++ = TAG_ANY_BOOL;
		*p++ = a->v.b ? 1 : 0;
		break;
	case SP_ATTR_DOUBLE:
		memcpy(&bits, &a->v.d, 8);
		p = put_fixed64(p, TAG_ANY_DOUBLE, bits);
		break;
	default:
		break;
	}
	return p;
}

/* put_attr() again, the string's length cut at its NUL byte: rare. */
static __attribute__((noinline)) uint8_t *
put_attr_cut(uint8_t *p, const struct sp_attr *a, const struct key_slot *k,
	     size_t klen, const char *v, size_t cut)
{
	return put_attr(p, a, k, klen, v, cut, &cut);
}

/* One attribute of span `s`, its lengths taken as it is written. */
static int put_span_attr(struct pb_out *o, const struct sp_span *s,
			 const struct sp_attr *a)
{
	const struct key_slot *k = key_field(a->key);
	size_t klen = k ? 0 : strlen(a->key), str = 0, cut;
	const char *v = NULL;
	uint8_t *p;

	if (a->type == SP_ATTR_STRING) {
		v = span_str(s, a->v.str.off);
		str = a->v.str.len;
	}
	/* tag, two lengths, key and value with their tags and lengths, and
	 * the key slot's whole field copied */
	p = out_room(o, 2 * 5 + len_field_size(klen) + any_value_size(a, str) +
				4 + KEY_FIELD_MAX);
	if (!p)
		return -ENOMEM;
	p = put_attr(o->buf + o->used, a, k, klen, v, str, &cut);
	if (cut != str) /* a NUL byte in the value */
		p = put_attr_cut(o->buf + o->used, a, k, klen, v, cut);
	o->used = (size_t)(p - o->buf);
	return 0;
}

/*
 * Room an attribute of the common kinds takes besides its string's bytes:
 * its tag and length, the key's field as copied from its slot (whole),
 * the value's tag and length, the AnyValue's tag and an integer or a
 * string's length, and what copy_cut_arena() may write past the string.
 */
#define ATTR_ROOM (1 + 5 + KEY_FIELD_MAX + 1 + 5 + 1 + 10 + 16)

/* A string attribute, its key's field from `k`: put_attr() for the kind
 * most attributes are, without its choices. */
static inline __attribute__((always_inline)) uint8_t *
put_str_attr(uint8_t *p, const struct key_slot *k, const char *v, size_t len,
	     bool slack, size_t *cut)
{
	size_t vsize = len_field_size(len);

	*p++ = TAG_SPAN_ATTRIBUTES;
	p = put_varint(p, k->len + len_field_size(vsize));
	memcpy(p, k->field, KEY_FIELD_MAX);
	p += k->len;
	*p++ = TAG_KV_VALUE;
	p = put_varint(p, vsize);
	return put_any_string(p, v, len, slack, cut);
}

/* An integer attribute, its key's field from `k`: every length here is
 * one byte (a key's field is at most KEY_FIELD_MAX, the value 11). */
static inline __attribute__((always_inline)) uint8_t *
put_int_attr(uint8_t *p, const struct key_slot *k, int64_t i)
{
	uint8_t vsize = (uint8_t)(1 + varint_size((uint64_t)i));

	_Static_assert(KEY_FIELD_MAX + 2 + 11 < 128, "an integer's KeyValue length is one byte");
	*p++ = TAG_SPAN_ATTRIBUTES;
	*p++ = (uint8_t)(k->len + 2 + vsize);
	memcpy(p, k->field, KEY_FIELD_MAX);
	p += k->len;
	*p++ = TAG_KV_VALUE;
	*p++ = vsize;
	return put_any_int(p, i);
}

/*
 * The span's attributes.  Strings and integers under a key its slot holds
 * (nearly all) are written here, the output's end kept in a register;
 * any other, or one the room left does not take, by put_span_attr().
 */
static int put_attrs(struct pb_out *o, const struct sp_span *s)
{
	const struct key_slot *slots = key_table();
	uint8_t *p = o->buf + o->used, *end = o->buf + o->cap;
	/* Read once: a store through `p` (bytes) may alias anything. */
	const unsigned n = s->n_attrs;

	for (unsigned i = 0; i < n; i++) {
		const struct sp_attr *a = &s->attrs[i];
		const struct key_slot *k = slots ? key_slot_of(slots, a->key) : NULL;
		const uint8_t type = a->type;
		bool str = type == SP_ATTR_STRING;
		size_t len = str ? a->v.str.len : 0, cut;
		uint8_t *at = p;

		if (!k || (!str && type != SP_ATTR_INT) ||
		    (size_t)(end - p) < ATTR_ROOM + len) {
			o->used = (size_t)(p - o->buf);
			if (put_span_attr(o, s, a))
				return -ENOMEM;
			p = o->buf + o->used;
			end = o->buf + o->cap;
			continue;
		}
		if (!str) {
			p = put_int_attr(p, k, a->v.i);
			continue;
		}
		p = put_str_attr(p, k, span_str(s, a->v.str.off), len,
				 a->v.str.off + 16u <= SP_SPAN_ARENA, &cut);
		if (cut != len) /* a NUL byte in the value: it ends there */
			p = put_str_attr(at, k, span_str(s, a->v.str.off), cut, false, &cut);
	}
	o->used = (size_t)(p - o->buf);
	return 0;
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

/* The span's name (field 5), its bytes copied as they are looked at. */
static uint8_t *put_name(uint8_t *p, const struct sp_span *s)
{
	const char *name = span_str(s, s->name_off);
	uint8_t *at = p;
	size_t cut;

	*p++ = TAG_SPAN_NAME;
	p = put_varint(p, s->name_len);
	cut = copy_cut(p, name, s->name_len);
	if (cut == s->name_len)
		return p + cut;
	/* A NUL byte in the name: the name ends there (rare). */
	return cut ? put_len_field(at, TAG_SPAN_NAME, name, cut) : at;
}

/* Up to the attributes: at most this many bytes besides the name. */
#define SPAN_HEAD_MAX (1 + SPAN_PREFIX + 18 + 10 + 10 + 1 + 5 + 11 + 9 + 9)

/* The span's fields before its attributes, after the reserved prefix. */
static int put_span_head(struct pb_out *o, const struct sp_span *s)
{
	uint8_t *p = out_room(o, SPAN_HEAD_MAX + s->name_len);

	if (!p)
		return -ENOMEM;
	p += 1 + SPAN_PREFIX;
	p = put_len_field(p, TAG_SPAN_TRACE_ID, s->trace_id, 16);
	p = put_len_field(p, TAG_SPAN_SPAN_ID, s->span_id, 8);
	if (span_has_parent(s))
		p = put_len_field(p, TAG_SPAN_PARENT, s->parent_span_id, 8);
	if (s->name_len)
		p = put_name(p, s);
	if (s->kind) {
		*p++ = TAG_SPAN_KIND;
		p = put_varint(p, s->kind);
	}
	if (s->start_unix_ns)
		p = put_fixed64(p, TAG_SPAN_START, s->start_unix_ns);
	if (s->end_unix_ns)
		p = put_fixed64(p, TAG_SPAN_END, s->end_unix_ns);
	o->used = (size_t)(p - o->buf);
	return 0;
}

/* The span's fields after its attributes: status and flags. */
static int put_span_tail(struct pb_out *o, const struct sp_span *s)
{
	size_t msg = str_cut(span_str(s, s->status_msg_off), s->status_msg_len);
	uint8_t *p = out_room(o, 1 + 5 + 1 + 5 + msg + 1 + 10 + 6);

	if (!p)
		return -ENOMEM;
	if (span_has_status(s))
		p = put_status(p, s, msg);
	/* W3C trace-flags bit 0: the span was sampled. */
	if (s->sampled)
		p = put_fixed32(p, 1);
	o->used = (size_t)(p - o->buf);
	return 0;
}

/* One Span as field 2 of ScopeSpans. */
static int put_span(struct pb_out *o, const struct sp_span *s)
{
	size_t at = o->used;
	int ret = put_span_head(o, s);

	if (ret)
		return ret;
	o->buf[at] = TAG_SS_SPANS;
	ret = put_attrs(o, s);
	if (!ret)
		ret = put_span_tail(o, s);
	return ret ? ret : out_prefix(o, at + 1, SPAN_PREFIX);
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

/* Resource (field 1 of ResourceSpans): its attributes encoded once. */
static int put_resource(struct pb_out *o, const struct sp_resource *r)
{
	const struct resource_pb *pb = resource_pb(r);
	size_t len = pb ? pb->len : resource_attrs_size(r);
	uint8_t *p = out_room(o, 1 + 10 + len);

	if (!p)
		return -ENOMEM;
	*p++ = TAG_RS_RESOURCE;
	p = put_varint(p, len);
	if (pb) {
		memcpy(p, pb->bytes, len);
		p += len;
	} else {
		p = put_resource_attrs(p, r);
	}
	o->used = (size_t)(p - o->buf);
	return 0;
}

static int put_scope(struct pb_out *o)
{
	uint8_t *p = out_room(o, 1 + 5 + scope_size());

	if (!p)
		return -ENOMEM;
	*p++ = TAG_SS_SCOPE;
	p = put_varint(p, scope_size());
	p = put_len_field(p, TAG_SCOPE_NAME, SP_SCOPE_NAME,
			  strlen(SP_SCOPE_NAME));
	p = put_len_field(p, TAG_SCOPE_VERSION, SP_VERSION, strlen(SP_VERSION));
	o->used = (size_t)(p - o->buf);
	return 0;
}

/* A tag and the room of a length prefix written later; returns where the
 * prefix goes, or SIZE_MAX (-ENOMEM). */
static size_t put_open(struct pb_out *o, uint8_t tag)
{
	uint8_t *p = out_room(o, 1 + GROUP_PREFIX);

	if (!p)
		return SIZE_MAX;
	*p = tag;
	o->used += 1 + GROUP_PREFIX;
	return o->used - GROUP_PREFIX;
}

/* Ask for the cache lines of [p, p + n). */
static inline void prefetch_lines(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + n;

	for (; a < end; a += 64)
		__builtin_prefetch((const void *)a);
}

/*
 * The spans come cold: the reader wrote them a batch ago and has read
 * records through the cache since.  Encoding a span waits on its lines
 * one after the other; asked for a few spans ahead, the lines come while
 * the spans before are encoded.  A span's head is asked for first, further
 * ahead, so that its attribute count and arena size are there when its
 * other lines are asked for.
 */
static void prefetch_ahead(struct sp_span *const *spans, size_t n, size_t i)
{
	if (i + 4 < n)
		prefetch_lines(spans[i + 4], offsetof(struct sp_span, attrs));
	if (i + 2 < n) {
		const struct sp_span *s = spans[i + 2];

		prefetch_lines(s->attrs, s->n_attrs * sizeof(s->attrs[0]));
		prefetch_lines(s->arena, s->arena_used);
	}
}

/* One ResourceSpans (field 1 of the request) for spans[0..n). */
static int put_group(struct pb_out *o, struct sp_span *const *spans, size_t n)
{
	size_t rs = put_open(o, TAG_REQ_RESOURCE_SPANS), ss;
	int ret = 0;

	if (rs == SIZE_MAX)
		return -ENOMEM;
	if (spans[0]->resource)
		ret = put_resource(o, spans[0]->resource);
	ss = ret ? SIZE_MAX : put_open(o, TAG_RS_SCOPE_SPANS);
	if (ss == SIZE_MAX)
		return -ENOMEM;
	ret = put_scope(o);
	for (size_t i = 0; i < n && !ret; i++) {
		prefetch_ahead(spans, n, i);
		ret = put_span(o, spans[i]);
	}
	if (!ret)
		ret = out_prefix(o, ss, GROUP_PREFIX);
	return ret ? ret : out_prefix(o, rs, GROUP_PREFIX);
}

int otlp_encode_protobuf_fast(struct sp_span *const *spans, size_t count,
			      uint8_t **out, size_t *len)
{
	struct pb_out o = { .cap = count * (last_span_bytes + last_span_bytes / 4) + 256 };
	int ret = 0;

	o.buf = malloc(o.cap);
	if (!o.buf)
		return -ENOMEM;
	for (size_t i = 0, n; i < count && !ret; i += n) {
		n = group_len(spans, count, i);
		ret = put_group(&o, spans + i, n);
	}
	if (ret) {
		free(o.buf);
		return ret;
	}
	if (count)
		last_span_bytes = o.used / count + 1;
	*out = o.buf;
	*len = o.used;
	return 0;
}
