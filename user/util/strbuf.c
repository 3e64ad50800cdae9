// SPDX-License-Identifier: MIT
#include "util/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

char *strbuf_reserve_slow(struct sp_strbuf *b, size_t len)
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

/* "00" to "99": two digits per division (a time is 19 digits). */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"6869707172737475767778798081828384858687888990919293949596979899";

char *strbuf_u64_digits(char *end, uint64_t v)
{
	char *p = end;

	while (v >= 100) {
		memcpy(p -= 2, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(p -= 2, digit_pairs + 2 * v, 2);
	else
		*--p = (char)('0' + v);
	return p;
}

int strbuf_add_u64(struct sp_strbuf *b, uint64_t v)
{
	char tmp[STRBUF_U64_DIGITS];
	char *p = strbuf_u64_digits(tmp + sizeof(tmp), v);

	return strbuf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
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

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

#if defined(__SSE2__)
/* Bit i set when byte i of v needs no escape. */
static unsigned plain_mask(__m128i v)
{
	/* Signed compares: bytes 0x80 and up are negative, so fail. */
	__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)),
				   _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));
	__m128i esc = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
				   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));

	return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(esc, ok));
}

/*
 * The run that ends the text: the last `w` bytes (16 or 8) looked at
 * again, those before `from` known plain; returns the run's end.
 */
static size_t plain_tail(const unsigned char *p, size_t n, size_t from,
			 unsigned w)
{
	__m128i v = w == 16 ? _mm_loadu_si128((const __m128i *)(p + n - 16))
			    : _mm_loadl_epi64((const __m128i *)(p + n - 8));
	unsigned m = plain_mask(v) | (0xffffu << w & 0xffffu);

	m |= (1u << (from - (n - w))) - 1;
	return m == 0xffff ? n : n - w + (size_t)__builtin_ctz(~m);
}
#endif

/*
 * How many bytes from p on are plain ASCII that needs no escape (up to n):
 * sixteen or eight bytes a test where SSE2 is (every x86-64), the last
 * ones by a load that overlaps what was looked at (never past the text),
 * since the text of a span (paths, names, keys) is almost all such bytes
 * and mostly short.
 */
static size_t plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0;

#if defined(__SSE2__)
	if (n >= 16) {
		for (; i + 16 <= n; i += 16) {
			unsigned m = plain_mask(_mm_loadu_si128((const __m128i *)(p + i)));

			if (m != 0xffff)
				return i + (size_t)__builtin_ctz(~m);
		}
		return i == n ? n : plain_tail(p, n, i, 16);
	}
	if (n >= 8) {
		unsigned m = plain_mask(_mm_loadl_epi64((const __m128i *)p)) | 0xff00;

		if (m != 0xffff)
			return (size_t)__builtin_ctz(~m);
		return n == 8 ? n : plain_tail(p, n, 8, 8);
	}
#endif
	while (i < n && plain_byte(p[i]))
		i++;
	return i;
}

static int add_escaped(struct sp_strbuf *b, const char *s, size_t len,
		       bool for_terminal)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		/* Copy runs of plain ASCII in one go. */
		size_t run = plain_run(p + i, len - i);

		if (run && strbuf_add(b, s + i, run))
			return b->err;
		i += run;
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
