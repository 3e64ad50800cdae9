// SPDX-License-Identifier: MIT
#include "util/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct sp_strbuf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void strbuf_free(struct sp_strbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void strbuf_reset(struct sp_strbuf *b)
{
	b->len = 0;
	b->err = 0;
}

char *strbuf_reserve(struct sp_strbuf *b, size_t len)
{
	if (b->err)
		return NULL;
	if (len > b->limit || b->len > b->limit - len) {
		b->err = -E2BIG;
		return NULL;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *n;

		while (cap < b->len + len)
			cap *= 2;
		if (cap > b->limit)
			cap = b->limit;
		n = realloc(b->data, cap);
		if (!n) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->data = n;
		b->cap = cap;
	}
	return b->data + b->len;
}

int strbuf_add(struct sp_strbuf *b, const void *data, size_t len)
{
	char *p = strbuf_reserve(b, len);

	if (!p)
		return b->err;
	memcpy(p, data, len);
	b->len += len;
	return 0;
}

int strbuf_addc(struct sp_strbuf *b, char c)
{
	return strbuf_add(b, &c, 1);
}

int strbuf_addf(struct sp_strbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return b->err = -EINVAL;
	if ((size_t)n < sizeof(tmp))
		return strbuf_add(b, tmp, (size_t)n);
	/* Longer than the stack buffer: format again, in place. */
	char *p = strbuf_reserve(b, (size_t)n + 1);

	if (!p)
		return b->err;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int strbuf_add_u64(struct sp_strbuf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return strbuf_add(b, tmp + i, sizeof(tmp) - (size_t)i);
}

int strbuf_add_i64(struct sp_strbuf *b, int64_t v)
{
	if (v >= 0)
		return strbuf_add_u64(b, (uint64_t)v);
	strbuf_addc(b, '-');
	/* -(v + 1) + 1 has no overflow for INT64_MIN. */
	return strbuf_add_u64(b, (uint64_t)(-(v + 1)) + 1);
}

/*
 * Length of the valid UTF-8 sequence at s (RFC 3629), or 0 if invalid;
 * its code point in *cp.
 */
static size_t utf8_len(const unsigned char *s, size_t avail, uint32_t *cp)
{
	size_t n;

	*cp = s[0];
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, *cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, *cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, *cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 2 && *cp < 0x80) || (n == 3 && *cp < 0x800) ||
	    (n == 4 && *cp < 0x10000) || *cp > 0x10ffff ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * Code points a terminal acts on besides C0: DEL, the C1 controls (U+009B
 * is an 8-bit CSI) and the bidirectional embeddings, overrides and
 * isolates, which reorder what is displayed after them.
 */
static bool terminal_control(uint32_t cp)
{
	return cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* One non-ASCII-run character at p: escaped, copied, or U+FFFD. */
static size_t add_escaped_char(struct sp_strbuf *b, const unsigned char *p,
			       size_t avail, bool for_terminal)
{
	uint32_t cp;
	size_t n;

	if (p[0] == '"' || p[0] == '\\') {
		char esc[2] = { '\\', (char)p[0] };

		strbuf_add(b, esc, 2);
		return 1;
	}
	n = utf8_len(p, avail, &cp);
	if (!n) {
		strbuf_add(b, "\xef\xbf\xbd", 3);
		return 1;
	}
	if (cp < 0x20 || (for_terminal && terminal_control(cp)))
		strbuf_addf(b, "\\u%04x", (unsigned)cp);
	else
		strbuf_add(b, (const char *)p, n);
	return n;
}

static int add_escaped(struct sp_strbuf *b, const char *s, size_t len,
		       bool for_terminal)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t run = i;

		/* Copy runs of plain ASCII in one go. */
		while (run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		       p[run] != '"' && p[run] != '\\')
			run++;
		if (run > i && strbuf_add(b, s + i, run - i))
			return b->err;
		i = run;
		if (i < len)
			i += add_escaped_char(b, p + i, len - i, for_terminal);
	}
	return b->err;
}

int strbuf_add_json_str(struct sp_strbuf *b, const char *s, size_t len)
{
	return add_escaped(b, s, len, false);
}

int strbuf_add_text_str(struct sp_strbuf *b, const char *s, size_t len)
{
	return add_escaped(b, s, len, true);
}
