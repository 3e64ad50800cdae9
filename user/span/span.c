// SPDX-License-Identifier: MIT
#include "span/span.h"

#include <errno.h>
#include <string.h>

#include "util/utf8.h"

/* Words that may alias the span's fields (span_reset). */
typedef uint64_t __attribute__((may_alias)) span_word;

_Static_assert(offsetof(struct sp_span, attrs) % sizeof(span_word) == 0,
	       "span_reset clears whole words");

void span_reset(struct sp_span *span)
{
	span_word *w = (span_word *)span;

	/* The arena is not cleared: only [0, arena_used) is ever read.
	 * Plain stores, not memset(): the compiler makes a `rep stos` of
	 * that, whose stores later loads (arena_used, n_attrs) cannot take
	 * their value from, so they wait for the lines, which are often on
	 * the export thread's CPU still.  Unrolled: eleven stores, not a
	 * loop's count and branch around each. */
#pragma GCC unroll 16
	for (size_t i = 0; i < offsetof(struct sp_span, attrs) / sizeof(*w); i++) {
		w[i] = 0;
		__asm__ volatile(""); /* keeps the loop from becoming memset() */
	}
}

/* Copy up to `len` bytes into the arena, mended to UTF-8 (util/utf8.h);
 * sets *off and *out_len.  -ENOSPC when cut to fit. */
static inline __attribute__((always_inline)) int
arena_put(struct sp_span *span, const char *s, size_t len,
		     uint16_t *off, uint16_t *out_len)
{
	size_t room = SP_SPAN_ARENA - span->arena_used;
	int ret = 0;

	if (len > room) {
		len = room;
		ret = -ENOSPC;
	}
	if (!utf8_copy_ascii(span->arena + span->arena_used, s, len))
		len = utf8_mend(span->arena + span->arena_used, len);
	*off = span->arena_used;
	*out_len = (uint16_t)len;
	span->arena_used += (uint16_t)len;
	return ret;
}

int span_set_name(struct sp_span *span, const char *name, size_t len)
{
	return arena_put(span, name, len, &span->name_off, &span->name_len);
}

int span_set_status(struct sp_span *span, enum sp_status_code code,
		    const char *msg)
{
	span->status_code = (uint8_t)code;
	if (!msg)
		return 0;
	return arena_put(span, msg, strlen(msg), &span->status_msg_off,
			 &span->status_msg_len);
}

static struct sp_attr *attr_slot(struct sp_span *span, const char *key,
				 uint8_t type)
{
	struct sp_attr *a;

	if (span->n_attrs >= SP_SPAN_MAX_ATTRS)
		return NULL;
	a = &span->attrs[span->n_attrs++];
	a->key = key;
	a->type = type;
	return a;
}

int span_add_str(struct sp_span *span, const char *key, const char *val,
		 size_t len)
{
	struct sp_attr *a = attr_slot(span, key, SP_ATTR_STRING);

	if (!a)
		return -ENOSPC;
	return arena_put(span, val, len, &a->v.str.off, &a->v.str.len);
}

int span_put_str(struct sp_span *span, struct sp_attr *a, const char *val,
		 size_t len)
{
	a->type = SP_ATTR_STRING;
	return arena_put(span, val, len, &a->v.str.off, &a->v.str.len);
}

int span_add_cstr(struct sp_span *span, const char *key, const char *val)
{
	return span_add_str(span, key, val, strlen(val));
}

int span_add_arena_str(struct sp_span *span, const char *key, uint16_t off,
		       uint16_t len)
{
	struct sp_attr *a = attr_slot(span, key, SP_ATTR_STRING);

	if (!a)
		return -ENOSPC;
	a->v.str.off = off;
	a->v.str.len = len;
	return 0;
}

int span_add_name_attr(struct sp_span *span, const char *key)
{
	return span_add_arena_str(span, key, span->name_off, span->name_len);
}

int span_add_int(struct sp_span *span, const char *key, int64_t val)
{
	struct sp_attr *a = attr_slot(span, key, SP_ATTR_INT);

	if (!a)
		return -ENOSPC;
	a->v.i = val;
	return 0;
}

int span_add_bool(struct sp_span *span, const char *key, bool val)
{
	struct sp_attr *a = attr_slot(span, key, SP_ATTR_BOOL);

	if (!a)
		return -ENOSPC;
	a->v.b = val;
	return 0;
}

int span_add_double(struct sp_span *span, const char *key, double val)
{
	struct sp_attr *a = attr_slot(span, key, SP_ATTR_DOUBLE);

	if (!a)
		return -ENOSPC;
	a->v.d = val;
	return 0;
}

const struct sp_attr *span_find_attr(const struct sp_span *span,
				     const char *key)
{
	for (size_t i = 0; i < span->n_attrs; i++)
		if (strcmp(span->attrs[i].key, key) == 0)
			return &span->attrs[i];
	return NULL;
}
