/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a hard limit.  Appends past the limit fail
 * once and latch `err`, so a renderer can append freely and check once.
 */
#ifndef SPANPROBE_STRBUF_H
#define SPANPROBE_STRBUF_H

#include <stddef.h>
#include <stdint.h>

struct sp_strbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
	int err; /* 0, -ENOMEM or -E2BIG (limit reached) */
};

void strbuf_init(struct sp_strbuf *b, size_t limit);
void strbuf_free(struct sp_strbuf *b);
void strbuf_reset(struct sp_strbuf *b);

/* The growth behind strbuf_reserve(); the caller's fast path failed. */
char *strbuf_reserve_slow(struct sp_strbuf *b, size_t len);

/*
 * Reserve room for `len` more bytes; returns where to write or NULL.
 * Inline: the renderers append a few bytes at a time, and room is there
 * almost always (cap never exceeds limit, so the limit holds here too).
 */
static inline char *strbuf_reserve(struct sp_strbuf *b, size_t len)
{
	if (__builtin_expect(!b->err && len <= b->cap - b->len, 1))
		return b->data + b->len;
	return strbuf_reserve_slow(b, len);
}

/* Append; on failure set b->err and return it. */
static inline int strbuf_add(struct sp_strbuf *b, const void *data, size_t len)
{
	char *p = strbuf_reserve(b, len);

	if (!p)
		return b->err;
	__builtin_memcpy(p, data, len);
	b->len += len;
	return 0;
}

static inline int strbuf_addc(struct sp_strbuf *b, char c)
{
	char *p = strbuf_reserve(b, 1);

	if (!p)
		return b->err;
	*p = c;
	b->len++;
	return 0;
}

/* Inline so that the length of a string literal is known at compile time. */
static inline int strbuf_adds(struct sp_strbuf *b, const char *s)
{
	return strbuf_add(b, s, __builtin_strlen(s));
}
int strbuf_addf(struct sp_strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strbuf_add_u64(struct sp_strbuf *b, uint64_t v);
int strbuf_add_i64(struct sp_strbuf *b, int64_t v);

/*
 * The decimal digits of `v` written so that they end just before `end`
 * (at most STRBUF_U64_DIGITS of them, no NUL); returns where they start.
 * For a number formatted among other text (strbuf_add_u64() appends one).
 */
#define STRBUF_U64_DIGITS 20
char *strbuf_u64_digits(char *end, uint64_t v);

/*
 * Append `len` bytes as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, invalid UTF-8 replaced by U+FFFD.
 */
int strbuf_add_json_str(struct sp_strbuf *b, const char *s, size_t len);

/*
 * The same for a terminal: also escapes (as \uXXXX) DEL, the C1 controls
 * U+0080..U+009F and the bidirectional controls U+202A..U+202E and
 * U+2066..U+2069, which a terminal would act on or reorder text by.
 */
int strbuf_add_text_str(struct sp_strbuf *b, const char *s, size_t len);

#endif /* SPANPROBE_STRBUF_H */
