/* SPDX-License-Identifier: MIT */
/*
 * Lines of an HTTP/1 message: the bounded line buffer, the start-line
 * sniffer, request and status lines, header lines (RFC 9112 sections 3,
 * 4 and 5).  Everything here works on what one line buffer holds.
 */
#include "protocol/http1_internal.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "util/simd16.h"
#include "util/swar.h"

static const char *const method_names[] = {
	[HTTP1_M_OTHER] = "_OTHER",   [HTTP1_M_GET] = "GET",
	[HTTP1_M_HEAD] = "HEAD",      [HTTP1_M_POST] = "POST",
	[HTTP1_M_PUT] = "PUT",	      [HTTP1_M_DELETE] = "DELETE",
	[HTTP1_M_CONNECT] = "CONNECT", [HTTP1_M_OPTIONS] = "OPTIONS",
	[HTTP1_M_TRACE] = "TRACE",    [HTTP1_M_PATCH] = "PATCH",
};

/* Returns the semantic-convention name of `m` ("_OTHER" when unknown). */
const char *http1_method_name(enum http1_method m)
{
	if ((unsigned)m >= sizeof(method_names) / sizeof(method_names[0]))
		return "_OTHER";
	return method_names[m];
}

/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.  By length
 * first, then compares of a known size, which the compiler inlines (a
 * memcmp() of a variable size is a library call). */
enum http1_method http1_method_lookup(const char *m, size_t len)
{
#define IS(name) (memcmp(m, name, sizeof(name) - 1) == 0)
	switch (len) {
	case 3:
		return IS("GET") ? HTTP1_M_GET : IS("PUT") ? HTTP1_M_PUT : HTTP1_M_OTHER;
	case 4:
		return IS("POST") ? HTTP1_M_POST : IS("HEAD") ? HTTP1_M_HEAD : HTTP1_M_OTHER;
	case 5:
		return IS("PATCH") ? HTTP1_M_PATCH : IS("TRACE") ? HTTP1_M_TRACE : HTTP1_M_OTHER;
	case 6:
		return IS("DELETE") ? HTTP1_M_DELETE : HTTP1_M_OTHER;
	case 7:
		return IS("OPTIONS") ? HTTP1_M_OPTIONS
		       : IS("CONNECT") ? HTTP1_M_CONNECT : HTTP1_M_OTHER;
	}
	return HTTP1_M_OTHER;
#undef IS
}

/* Real methods are upper-case tokens; accepting every tchar would let too
 * much binary data look like a request. */
static bool method_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static bool target_char(unsigned char c)
{
	return c > ' ' && c != 0x7f;
}

/*
 * Bit 7 of each byte of `x` that is not a target_char(): a byte below
 * 0x21 (x - 0x21 borrows into bit 7 where x's own bit 7 is clear) or
 * equal to 0x7f (x ^ 0x7f is zero).  A borrow may also mark a byte above
 * a bad one, never a word without one: the lowest bit set is the first
 * such byte.
 */
static uint64_t bad_target_bytes(uint64_t x)
{
	uint64_t low = (x - SWAR_BYTES(0x21)) & ~x;

	return (low | swar_zero_bytes(x ^ SWAR_BYTES(0x7f))) & SWAR_BYTES(0x80);
}

/* Every byte of `t` is a target_char(), eight at a time. */
static bool target_chars(const char *t, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		if (bad_target_bytes(swar_load(t + i)))
			return false;
	for (; i < n; i++)
		if (!target_char((unsigned char)t[i]))
			return false;
	return true;
}

/* The four target forms of RFC 9112 3.2 start with '/' (origin), a letter
 * (absolute "http://..." or CONNECT's authority) or are "*". */
static bool target_start(unsigned char c)
{
	return c == '/' || c == '*' || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static enum http1_class classify_response(const char *p, size_t n)
{
	static const char v[] = "HTTP/1.";
	size_t i;

	/* Nearly always whole: one compare of seven bytes. */
	if (n >= 7) {
		if (memcmp(p, v, 7) != 0)
			return CLASS_NO;
	} else {
		for (i = 0; i < n; i++)
			if (p[i] != v[i])
				return CLASS_NO;
	}
	if (n <= 7)
		return CLASS_MAYBE;
	if (p[7] != '0' && p[7] != '1')
		return CLASS_NO;
	if (n == 8)
		return CLASS_MAYBE;
	return p[8] == ' ' ? CLASS_RESPONSE : CLASS_NO;
}

/*
 * Decides from the first bytes of a message whether it can be a request
 * ("TOKEN SP target", after up to HTTP1_CLASSIFY_EMPTY_MAX CR or LF bytes:
 * RFC 9112 2.2) or a response ("HTTP/1.x SP").  The kernel side applies
 * the same rule to an undecided connection (bpf/sock_capture.bpf.h): keep
 * the two alike.  CLASS_MAYBE when `n` is too short to tell.
 */
enum http1_class http1_classify(const char *p, size_t n)
{
	size_t i, k = 0;

	while (k < n && k < HTTP1_CLASSIFY_EMPTY_MAX &&
	       (p[k] == '\r' || p[k] == '\n'))
		k++;
	p += k;
	n -= k;
	if (n == 0)
		return CLASS_MAYBE;
	/* No method starts with "HT"; no empty line comes before a status
	 * line. */
	if (p[0] == 'H' && (n == 1 || p[1] == 'T'))
		return k ? CLASS_NO : classify_response(p, n);
	for (i = 0; i < n && i < HTTP1_CLASSIFY_METHOD_MAX; i++) {
		if (p[i] == ' ')
			break;
		if (!method_char(p[i]))
			return CLASS_NO;
	}
	if (i == n) /* the next byte may still be the space */
		return CLASS_MAYBE;
	if (i == 0 || p[i] != ' ')
		return CLASS_NO;
	if (i + 1 == n)
		return CLASS_MAYBE;
	return target_start((unsigned char)p[i + 1]) ? CLASS_REQUEST : CLASS_NO;
}

/* Keeps the last bytes of a line that overflowed the buffer, so that the
 * version at the end of a long request line can still be checked. */
static void tail_append(struct http1_half *h, const char *p, size_t n)
{
	size_t keep = sizeof(h->tail);

	if (n >= keep) {
		memcpy(h->tail, p + n - keep, keep);
		h->tail_len = keep;
		return;
	}
	if (h->tail_len + n > keep) {
		size_t drop = h->tail_len + n - keep;

		memmove(h->tail, h->tail + drop, h->tail_len - drop);
		h->tail_len -= drop;
	}
	memcpy(h->tail + h->tail_len, p, n);
	h->tail_len += n;
}

/* Appends to the current line; the first HTTP1_LINE_MAX bytes are kept,
 * of the rest only the last sizeof(tail). */
void http1_line_append(struct http1_half *h, const char *p, size_t n)
{
	size_t room = HTTP1_LINE_MAX - h->line_len;
	size_t take = n < room ? n : room;

	memcpy(h->line + h->line_len, p, take);
	h->line_len += take;
	h->line_total = h->line_total + n < h->line_total ? UINT32_MAX
							  : h->line_total + n;
	if (take < n)
		tail_append(h, p + take, n - take);
}

/* Wipes the line: it may have held an Authorization or Cookie value. */
void http1_line_wipe(struct http1_half *h)
{
	if (h->line_len)
		memset(h->line, 0, h->line_len);
	if (h->tail_len) /* only tail_append() writes there */
		memset(h->tail, 0, sizeof(h->tail));
	h->line_len = 0;
	h->line_total = 0;
	h->tail_len = 0;
}

void http1_line_of_half(const struct http1_half *h, struct http1_line *l)
{
	l->p = h->line;
	l->len = h->line_len;
	l->total = h->line_total;
	l->tail = h->tail;
	l->tail_len = h->tail_len;
}

bool http1_line_is_empty(const struct http1_line *l)
{
	return l->total == 0 || (l->total == 1 && l->p[0] == '\r');
}

static bool line_overflowed(const struct http1_line *l)
{
	return l->total > l->len;
}

/* The whole line ends with a CR (of an overflowed line, its tail does). */
static bool line_ends_cr(const struct http1_line *l)
{
	if (line_overflowed(l) && l->tail_len)
		return l->tail[l->tail_len - 1] == '\r';
	return l->len && l->p[l->len - 1] == '\r';
}

/* The last bytes of the whole line (at most 16), CR removed. */
static size_t line_suffix(const struct http1_line *l, char out[16])
{
	size_t n;

	if (!line_overflowed(l)) {
		n = l->len < 16 ? l->len : 16;
		memcpy(out, l->p + l->len - n, n);
	} else {
		size_t from_line = 16 - l->tail_len;

		if (from_line > l->len)
			from_line = l->len;
		memcpy(out, l->p + l->len - from_line, from_line);
		memcpy(out + from_line, l->tail, l->tail_len);
		n = from_line + l->tail_len;
	}
	if (n && out[n - 1] == '\r')
		n--;
	return n;
}

static int check_version(const char *suf, size_t n, uint8_t *version)
{
	if (n < 9 || memcmp(suf + n - 9, " HTTP/1.", 8) != 0)
		return -1;
	if (suf[n - 1] != '0' && suf[n - 1] != '1')
		return -1;
	*version = suf[n - 1] == '1' ? 11 : 10;
	return 0;
}

/*
 * Splits the line "METHOD SP target SP HTTP/1.x".  With `cut` (a gap took
 * the rest of the line) the version is unknown and the target is what was
 * kept.  Returns 0, or -1 when the line is not a request line.
 */
int http1_parse_request_line(const struct http1_line *line, bool cut,
			     struct http1_reqline *out)
{
	const char *l = line->p, *sp, *end, *q;
	size_t len = line->len;
	char suf[16];

	if (!cut && !line_overflowed(line) && len && l[len - 1] == '\r')
		len--;
	sp = memchr(l, ' ', len < HTTP1_METHOD_MAX ? len : HTTP1_METHOD_MAX);
	if (!sp || sp == l)
		return -1;
	for (const char *m = l; m < sp; m++)
		if (!method_char(*m))
			return -1;
	out->method = l;
	out->method_len = sp - l;
	out->target = sp + 1;
	out->version = 0;
	out->target_cut = cut;
	if (cut) {
		end = memchr(out->target, ' ', l + len - out->target);
		if (!end)
			end = l + len;
	} else {
		size_t target_end;

		if (check_version(suf, line_suffix(line, suf), &out->version))
			return -1;
		/* " HTTP/1.x" (and a CR) end the whole line: of a line longer
		 * than what was kept, they may begin inside the kept part. */
		target_end = line->total - 9 - (line_ends_cr(line) ? 1 : 0);
		out->target_cut = target_end > len;
		end = l + (out->target_cut ? len : target_end);
	}
	if (end <= out->target || !target_start((unsigned char)*out->target))
		return -1;
	out->target_len = end - out->target;
	if (out->target[0] == '*' && out->target_len > 1)
		return -1;
	if (!target_chars(out->target, out->target_len))
		return -1;
	out->method_id = http1_method_lookup(out->method, out->method_len);
	q = memchr(out->target, '?', out->target_len);
	out->query_at = q ? (size_t)(q - out->target) : out->target_len;
	return 0;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]"; the reason is ignored.  With `cut` the
 * line may end after the code.  Returns 0 or -1. */
int http1_parse_status_line(const struct http1_line *line, bool cut,
			    uint8_t *version, uint16_t *status)
{
	const char *l = line->p;
	size_t len = line->len;
	unsigned code = 0;

	if (!line_overflowed(line) && len && l[len - 1] == '\r')
		len--;
	if (len < 12 || classify_response(l, len) != CLASS_RESPONSE)
		return -1;
	for (int i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return -1;
		code = code * 10 + (l[i] - '0');
	}
	if (len > 12 && l[12] != ' ' && !(cut && len == 12))
		return -1;
	/* RFC 9110 section 15 has 100..599; a status line of another three
	 * digits (LinkedIn's 999) frames a response all the same, and
	 * refusing it would set every later response of the connection
	 * against the wrong request. */
	if (code < 100)
		return -1;
	*version = l[7] == '1' ? 11 : 10;
	*status = code;
	return 0;
}

static uint32_t load32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The byte of `p` that bit 7 of `bits` (not 0) marks first. */
static const char *first_marked(const char *p, uint64_t bits)
{
	return p + (__builtin_ctzll(bits) >> 3);
}

/* Where " HTTP/1.x" CRLF (or LF) begins the line's end at `e`: the version,
 * 0 when it does not; `*lf` is then its LF (before `end`). */
static uint8_t version_at(const char *e, const char *end, const char **lf)
{
	static const char v[8] = " HTTP/1.";

	if (end - e < 10 || swar_load(e) != swar_load(v) ||
	    (e[8] != '0' && e[8] != '1'))
		return 0;
	*lf = e + 9 + (e[9] == '\r');
	if (*lf >= end || **lf != '\n')
		return 0;
	return e[8] == '1' ? 11 : 10;
}

#if defined(__SSE2__)
/* Bit i for each byte i of the 16 at `p` that is not a target_char(), in
 * the result, and for each '?' in `*qm`. */
static inline unsigned bad_target_bits(const char *p, unsigned *qm)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(' ')), x);
	__m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));

	*qm = simd16_eq(x, '?');
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(low, del));
}
#endif

/*
 * The first byte from `t` on that is not a target_char(), looked for in
 * whole words before `end` (NULL when none holds one), and in `*query`
 * the first '?' before it when there is one (left as it is otherwise).
 * Sixteen bytes a test where SSE2 is, then the word of eight that may be
 * left, so that the words looked at are the same either way.
 */
static inline const char *target_end(const char *t, const char *end,
				     const char **query)
{
	const char *q = t;

#if defined(__SSE2__)
	for (; q + 16 <= end; q += 16) {
		unsigned qm, bad = bad_target_bits(q, &qm);

		if (bad)
			qm &= (bad & -bad) - 1;
		if (qm && !*query)
			*query = q + __builtin_ctz(qm);
		if (bad)
			return q + __builtin_ctz(bad);
	}
#endif
	for (; q + 8 <= end; q += 8) {
		uint64_t x = swar_load(q), bad = bad_target_bytes(x);
		uint64_t qm = swar_zero_bytes(x ^ SWAR_BYTES('?'));

		/* A '?' after the bad byte in its word would be in
		 * " HTTP/1.", which version_at() then refuses. */
		if (qm && !*query)
			*query = first_marked(q, qm);
		if (bad)
			return first_marked(q, bad);
	}
	return NULL;
}

/*
 * The request line at `p` (n bytes there) when it has the form nearly
 * every one has: a method of RFC 9110, a target in origin or absolute
 * form, " HTTP/1.x" and CRLF or LF, whole within HTTP1_LINE_MAX bytes and
 * its LF.  Such a line is what http1_classify() and
 * http1_parse_request_line() accept, and `out` what the latter sets; the
 * target is read once, eight bytes at a time, for both its end (its first
 * byte that is not a target_char()) and its '?'.  Returns the bytes to
 * the LF included, 0 for any other line (left to those two).
 */
size_t http1_quick_request_line(const char *p, size_t n,
				struct http1_reqline *out)
{
	const char *end = p + (n < HTTP1_LINE_MAX + 1 ? n : HTTP1_LINE_MAX + 1);
	const char *t, *q, *query = NULL, *lf;
	uint64_t sp;

	/* The shortest such line, "GET / HTTP/1.1" CRLF, has 16 bytes. */
	if (n < 16 || !(sp = swar_zero_bytes(swar_load(p) ^ SWAR_BYTES(' '))))
		return 0;
	t = first_marked(p, sp) + 1;
	/* Most requests are GETs: known by one compare, without a call. */
	if (load32(p) == load32("GET "))
		out->method_id = HTTP1_M_GET;
	else
		out->method_id = http1_method_lookup(p, (size_t)(t - 1 - p));
	if (out->method_id == HTTP1_M_OTHER || *t == '*' ||
	    !target_start((unsigned char)*t))
		return 0;
	/* The version and LF take ten bytes at least after the target: its
	 * end is in a word before `end`. */
	q = target_end(t, end, &query);
	if (!q)
		return 0;
	out->version = version_at(q, end, &lf);
	if (!out->version)
		return 0;
	out->method = p;
	out->method_len = (size_t)(t - 1 - p);
	out->target = t;
	out->target_len = (size_t)(q - t);
	out->target_cut = false;
	/* A '?' is never past the target's end: " HTTP/1." follows it. */
	out->query_at = query ? (size_t)(query - t) : out->target_len;
	return (size_t)(lf + 1 - p);
}

/*
 * The status line at `p` (n bytes there) when it is "HTTP/1.x SP 3DIGIT"
 * then a reason or nothing, and CRLF or LF, whole within HTTP1_LINE_MAX
 * bytes and its LF: what http1_classify() and http1_parse_status_line()
 * accept, with what the latter sets.  Returns the bytes to the LF
 * included, 0 for any other line (left to those two).
 */
size_t http1_quick_status_line(const char *p, size_t n, uint8_t *version,
			       uint16_t *status)
{
	static const char v[8] = "HTTP/1.1";
	const char *end = p + (n < HTTP1_LINE_MAX + 1 ? n : HTTP1_LINE_MAX + 1);
	const char *q = p + 13;
	unsigned d0, d1, d2;

	/* '0' and '1' differ in bit 0 alone. */
	if (n < 16 || (swar_load(p) | 1ull << 56) != swar_load(v) || p[8] != ' ')
		return 0;
	d0 = (unsigned char)p[9] - '0';
	d1 = (unsigned char)p[10] - '0';
	d2 = (unsigned char)p[11] - '0';
	if (d0 > 9 || d1 > 9 || d2 > 9 || d0 == 0)
		return 0;
	if (p[12] == '\n' || (p[12] == '\r' && p[13] == '\n')) {
		q = p + 12 + (p[12] == '\r');
	} else if (p[12] == ' ') {
		/* The reason is not read: only its end is looked for. */
		for (; q + 8 <= end; q += 8) {
			uint64_t lf = swar_zero_bytes(swar_load(q) ^ SWAR_BYTES('\n'));

			if (lf) {
				q = first_marked(q, lf);
				break;
			}
		}
		while (q < end && *q != '\n')
			q++;
		if (q >= end)
			return 0;
	} else {
		return 0;
	}
	*version = p[7] == '1' ? 11 : 10;
	*status = (uint16_t)(d0 * 100 + d1 * 10 + d2);
	return (size_t)(q + 1 - p);
}

/*
 * memcpy() of a short string (a field's few dozen bytes): by 16-byte
 * blocks, by two words, or by two half-words, the last overlapping the
 * one before.  A memcpy() of a size with a known bound, as a field's is,
 * is expanded by gcc as `rep movsq`, whose start costs more than the copy.
 */
static void copy_short(char *dst, const char *src, size_t n)
{
	size_t i;

	if (n >= 16) {
		for (i = 0; i + 16 < n; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		for (i = 0; i < n; i++)
			dst[i] = src[i];
	}
}

/* Copies at most size-1 bytes, NUL-terminated; returns the bytes copied
 * (the field's strlen() when `src` holds no NUL, as a target never does). */
static size_t copy_kept(char *dst, size_t size, const char *src, size_t n)
{
	size_t take = n < size - 1 ? n : size - 1;

	copy_short(dst, src, take);
	dst[take] = '\0';
	return take;
}

/* Copies at most size-1 bytes, NUL-terminated; true when `src` was cut. */
bool http1_copy_field(char *dst, size_t size, const char *src, size_t n)
{
	return copy_kept(dst, size, src, n) < n;
}

static bool has_prefix_ci(const char *t, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && strncasecmp(t, lit, l) == 0;
}

/* Origin form "/p?q" is split at '?'.  Absolute form "http://h/p?q" loses
 * its scheme and authority; others ("*", CONNECT's "host:port") are kept
 * whole as the path. */
static void fill_target(struct http1_exchange *x,
			const struct http1_reqline *rl)
{
	const char *t = rl->target;
	size_t len = rl->target_len, q = rl->query_at, skip = 0;
	bool trunc = rl->target_cut;

	/* Nearly every target is in origin form: one byte tells. */
	if (len && (t[0] | 0x20) == 'h') {
		if (has_prefix_ci(t, len, "http://"))
			skip = 7;
		else if (has_prefix_ci(t, len, "https://"))
			skip = 8;
	}
	if (skip) {
		/* The authority ends at the first '/' or '?': no '?' comes
		 * before `skip` then. */
		while (skip < len && t[skip] != '/' && t[skip] != '?')
			skip++;
		t += skip;
		len -= skip;
		q -= skip;
		if (len == 0 || t[0] == '?') {
			strcpy(x->path, "/");
			x->path_len = 1;
			if (len == 0)
				goto out;
		}
	}
	if (t[0] != '?') {
		x->path_len = (uint16_t)copy_kept(x->path, sizeof(x->path), t, q);
		trunc |= x->path_len < q;
	}
	if (q < len) {
		size_t n = len - q - 1;

		x->query_len = (uint16_t)copy_kept(x->query, sizeof(x->query),
						   t + q + 1, n);
		trunc |= x->query_len < n;
	}
out:
	if (trunc)
		x->flags |= HTTP1_X_FIELD_TRUNCATED;
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * `l` is the header name `name` (lower-case letters and '-', 4 to 24
 * bytes), in any case: a field name is ASCII (RFC 9110 section 5.1).
 * Eight bytes at a time: OR-ing 0x20 into the bytes where `name` has a
 * letter (bit 6 set; '-' has it clear) turns exactly that letter's upper
 * case into it, and leaves every other byte as it is, so nothing else
 * matches.  The last word overlaps the one before when `n` is not a
 * multiple of its size; that compares some bytes twice, by the same rule.
 */
static inline __attribute__((always_inline)) bool
name_is(const char *l, const char *name, size_t n)
{
	size_t i;

	if (n < 8) {
		size_t last = n - 4;
		uint32_t a = load32(name), b = load32(name + last);

		return ((load32(l) | (a & 0x40404040u) >> 1) == a) &
		       ((load32(l + last) | (b & 0x40404040u) >> 1) == b);
	}
	for (i = 0; i + 8 < n; i += 8) {
		uint64_t w = swar_load(name + i);

		if ((swar_load(l + i) | (w & 0x4040404040404040ull) >> 1) != w)
			return false;
	}
	i = n - 8;
	return (swar_load(l + i) | (swar_load(name + i) & 0x4040404040404040ull) >> 1) ==
	       swar_load(name + i);
}

/* `l` (len bytes) opens with the field name `name` (n bytes) and its
 * colon. */
static inline __attribute__((always_inline)) bool
named(const char *l, size_t len, const char *name, size_t n)
{
	return len > n && l[n] == ':' && name_is(l, name, n);
}

/*
 * The id of the line's field name, which then ends at its colon, byte
 * `*n`: each kept name, and the colon right after it, are compared with
 * the line's first bytes (by the first letter), so that no line is
 * searched for its colon; most names are not kept.  Whitespace before
 * the colon is not allowed (RFC 9112 section 5.1): a kept name followed
 * by any byte but ':' is HDR_OTHER, as a malformed line is.
 */
static int header_id(const char *l, size_t len, size_t *n)
{
#define KEPT(name, id)                                                         \
	{                                                                      \
		_Static_assert(sizeof(name) - 1 >= 4,                          \
			       "name_is() compares 4 bytes at least");          \
		if (named(l, len, name, sizeof(name) - 1)) {                   \
			*n = sizeof(name) - 1;                                 \
			return id;                                             \
		}                                                              \
	}
	switch (l[0] | 0x20) {
	case 'c':
		KEPT("content-length", HDR_CONTENT_LENGTH)
		KEPT("content-type", HDR_CONTENT_TYPE)
		break;
	case 'h':
		KEPT("host", HDR_HOST)
		break;
	case 't':
		KEPT("traceparent", HDR_TRACEPARENT)
		KEPT("tracestate", HDR_TRACESTATE)
		KEPT("transfer-encoding", HDR_TRANSFER_ENCODING)
		break;
	case 'u':
		KEPT("user-agent", HDR_USER_AGENT)
		KEPT("upgrade", HDR_UPGRADE)
		break;
	case 'e':
		KEPT("expect", HDR_EXPECT)
		break;
	}
	return HDR_OTHER;
#undef KEPT
}

/*
 * The line "name: value" (RFC 9112 section 5).  The value of a kept name
 * is set, trimmed of whitespace; when the line overflowed it is the kept
 * part.  Returns the name's enum http1_hdr: HDR_OTHER for every other
 * line, malformed ones included (nobody reads those).
 */
int http1_split_header(const char *l, size_t len, bool overflowed,
		       const char **value, size_t *value_len)
{
	const char *v, *e;
	size_t n = 0;
	int id;

	if (!overflowed && len && l[len - 1] == '\r')
		len--;
	if (len == 0)
		return HDR_OTHER;
	id = header_id(l, len, &n);
	if (id == HDR_OTHER)
		return HDR_OTHER;
	v = l + n + 1;
	e = l + len;
	/* Nearly every value has one space before it and nothing after:
	 * a byte above ' ' is not whitespace, one compare. */
	if (v < e && *v == ' ')
		v++;
	if (v < e && (unsigned char)*v <= ' ')
		while (v < e && ows(*v))
			v++;
	if (e > v && (unsigned char)e[-1] <= ' ')
		while (e > v && ows(e[-1]))
			e--;
	*value = v;
	*value_len = e - v;
	return id;
}

/*
 * A value of 1 to 18 digits and nothing else, as nearly every
 * Content-Length is, into `out` (below 10^18, so under the 2^60 bound).
 * Returns false for any other value.
 */
static bool plain_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t val = 0;

	if (n == 0 || n > 18)
		return false;
	for (size_t k = 0; k < n; k++) {
		unsigned d = (unsigned char)v[k] - '0';

		if (d > 9)
			return false;
		val = val * 10 + d;
	}
	*out = val;
	return true;
}

/* Content-Length is digits; a list of equal values ("5, 5") is allowed
 * (RFC 9110 8.6).  Returns 0, or -1 when invalid or over 2^60. */
int http1_parse_content_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t first = 0;
	bool have = false;

	if (plain_length(v, n, out))
		return 0;
	for (size_t i = 0; i <= n; i++) {
		size_t s = i, e;
		uint64_t val = 0;

		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (s < e && ows(v[s]))
			s++;
		while (e > s && ows(v[e - 1]))
			e--;
		if (s == e)
			return -1;
		for (size_t k = s; k < e; k++) {
			if (v[k] < '0' || v[k] > '9' || val > (1ULL << 60) / 10)
				return -1;
			val = val * 10 + (v[k] - '0');
		}
		if (have && val != first)
			return -1;
		first = val;
		have = true;
	}
	*out = first;
	return 0;
}

/* TE_CHUNKED when "chunked" is the last coding (RFC 9112 6.3), TE_OTHER
 * otherwise. */
int http1_parse_transfer_encoding(const char *v, size_t n)
{
	const char *last = v;

	for (size_t i = 0; i < n; i++)
		if (v[i] == ',')
			last = v + i + 1;
	n -= last - v;
	while (n && ows(*last)) {
		last++;
		n--;
	}
	return http1_value_is(last, n, "chunked") ? TE_CHUNKED : TE_OTHER;
}

/* Case-insensitive equality of a value with a lower-case literal. */
bool http1_value_is(const char *v, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(v, lit, n) == 0;
}

/* Fills the request side of a new exchange from its request line. */
void http1_fill_request(struct http1_exchange *x, const struct http1_half *h,
			const struct http1_reqline *rl)
{

	x->method = rl->method_id;
	if (x->method == HTTP1_M_OTHER)
		http1_copy_field(x->method_original,
				 sizeof(x->method_original), rl->method,
				 rl->method_len);
	x->req_version = rl->version;
	x->req_start_ns = h->first_ns;
	x->req_end_ns = h->last_ns;
	x->req_body_size = -1;
	x->resp_body_size = -1;
	if (x->method == HTTP1_M_CONNECT) {
		/* Authority form (RFC 9112 3.2.3): no path, no userinfo. */
		const char *t = rl->target;
		size_t n = rl->target_len;

		t = http1_skip_userinfo(t, &n);
		x->host_len = (uint16_t)copy_kept(x->host, sizeof(x->host), t, n);
		if (x->host_len < n || rl->target_cut)
			x->flags |= HTTP1_X_FIELD_TRUNCATED;
		return;
	}
	fill_target(x, rl);
}

/* An authority without its "user:password@", which is never kept.  Hosts
 * nearly never have one: where SSE2 is, one of 16 bytes or more is
 * looked for by 16-byte compares first, without a call. */
const char *http1_skip_userinfo(const char *v, size_t *n)
{
	const char *at;

#if defined(__SSE2__)
	if (*n >= 16) {
		size_t i = 0;
		unsigned any = 0;

		for (; i + 16 < *n && !any; i += 16)
			any = simd16_eq_at(v + i, '@');
		if (!any)
			any = simd16_eq_at(v + *n - 16, '@');
		if (!any)
			return v;
	}
#endif
	at = *n ? memrchr(v, '@', *n) : NULL;

	if (!at)
		return v;
	*n -= (size_t)(at + 1 - v);
	return at + 1;
}

/* Where a kept header's value goes, by enum http1_hdr: in a request, in a
 * response (size 0: not kept there). */
struct kept_field {
	uint16_t off, size;
};

#define FIELD(f)                                                               \
	{ offsetof(struct http1_exchange, f),                                  \
	  sizeof(((struct http1_exchange *)0)->f) }
static const struct kept_field kept_fields[2][HDR_COUNT] = {
	[0] = {
		[HDR_HOST] = FIELD(host),
		[HDR_USER_AGENT] = FIELD(user_agent),
		[HDR_TRACEPARENT] = FIELD(traceparent),
		[HDR_TRACESTATE] = FIELD(tracestate),
		[HDR_CONTENT_TYPE] = FIELD(req_content_type),
	},
	[1] = {
		[HDR_CONTENT_TYPE] = FIELD(resp_content_type),
	},
};
#undef FIELD

/* The two kept headers whose lengths are kept come first. */
_Static_assert(HDR_HOST == 1 && HDR_USER_AGENT == 2,
	       "http1: host and user agent are the first header ids");

/*
 * strnlen(dst, take) of a field that copy_kept() ended with a NUL at
 * `take`: a value may hold a NUL of its own before it.  Sixteen bytes a
 * test from the field's start, without a call: the field's size is a
 * multiple of 16, so no block passes its end.
 */
static size_t kept_len(const char *dst, size_t take)
{
#if defined(__SSE2__)
	for (size_t i = 0;; i += 16) {
		unsigned nul = simd16_eq_at(dst + i, 0);

		if (nul)
			return i + (size_t)__builtin_ctz(nul);
	}
#else
	return strnlen(dst, take);
#endif
}

_Static_assert(HTTP1_HOST_MAX % 16 == 0 && HTTP1_UA_MAX % 16 == 0,
	       "http1: kept_len() reads the host and user agent by 16 bytes");

/* Keeps a header that matters; the first occurrence wins.  The field is
 * found by a table rather than by comparing the name's id with each. */
void http1_store_header(struct http1_exchange *x, const struct http1_half *h,
			bool overflowed, int id, const char *v, size_t n)
{
	bool req = h->kind == KIND_REQUEST, cut = false;
	const struct kept_field *k = &kept_fields[!req][id];
	char *dst = (char *)x + k->off;

	if (k->size && !dst[0]) {
		if (id == HDR_HOST)
			v = http1_skip_userinfo(v, &n);
		size_t take = copy_kept(dst, k->size, v, n);

		cut = take < n;
		/* A value may hold a NUL, which ends the field. */
		if (id <= HDR_USER_AGENT)
			*(id == HDR_HOST ? &x->host_len : &x->user_agent_len) =
				(uint16_t)kept_len(dst, take);
	} else if (id == HDR_EXPECT && req &&
		   http1_value_is(v, n, "100-continue")) {
		x->flags |= HTTP1_X_EXPECT_CONTINUE;
	}
	if (cut || (id != HDR_OTHER && overflowed))
		x->flags |= HTTP1_X_FIELD_TRUNCATED;
}
