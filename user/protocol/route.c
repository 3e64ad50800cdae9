/* SPDX-License-Identifier: MIT */
#include "protocol/route.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/simd16.h"

#define HEX_ID_MIN 16
#define TOKEN_ID_MIN 20

/*
 * What a byte of a path is to a template: one table, so that a segment is
 * measured and classified in one pass (a test per kind per byte, and a
 * strcspn() per segment, were most of a span's name).
 */
enum {
	R_DIGIT = 1,
	R_HEX = 2,
	R_ALNUM = 4,
	R_STOP = 8, /* ends a segment: '/', '?', '#', NUL */
};

static const uint8_t route_class[256] = {
	['0' ... '9'] = R_DIGIT | R_HEX | R_ALNUM,
	['a' ... 'f'] = R_HEX | R_ALNUM,
	['A' ... 'F'] = R_HEX | R_ALNUM,
	['g' ... 'z'] = R_ALNUM,
	['G' ... 'Z'] = R_ALNUM,
	['/'] = R_STOP, ['?'] = R_STOP, ['#'] = R_STOP, [0] = R_STOP,
};

static bool is_hex(char c)
{
	return route_class[(uint8_t)c] & R_HEX;
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

static bool has_digit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (route_class[(uint8_t)s[i]] & R_DIGIT)
			return true;
	return false;
}

/* A segment of `n` bytes whose classes, AND-ed, are `all`: an identifier
 * by the rules of route.h? */
static bool is_identifier(const char *s, size_t n, unsigned all)
{
	if (all & R_DIGIT)
		return true;
	if ((all & R_HEX) && n >= HEX_ID_MIN)
		return true;
	if ((all & R_ALNUM) && n >= TOKEN_ID_MIN && has_digit(s, n))
		return true;
	return is_uuid(s, n);
}

/*
 * The segment at `s`, up to its end (a R_STOP byte), into `out` at `*len`
 * (cut to the room left): as it is, or ROUTE_ID.  Returns its length in
 * `path`; *fits is false when the output was cut.
 */
static size_t put_segment(const char *s, char *out, size_t outsize, size_t *len,
			  bool *fits)
{
	size_t room = outsize - 1 - *len, n = 0, put, take;
	unsigned all = R_DIGIT | R_HEX | R_ALNUM, k;
	const char *from = s;

	while (!((k = route_class[(uint8_t)s[n]]) & R_STOP)) {
		all &= k;
		n++;
	}
	put = n;
	if (is_identifier(s, n, all)) {
		from = ROUTE_ID;
		put = sizeof(ROUTE_ID) - 1;
	}
	take = put < room ? put : room;
	memcpy(out + *len, from, take);
	*len += take;
	*fits = take == put;
	return n;
}

/*
 * The template when it cannot be cut (`out` has room for the longest
 * one): one pass that classifies each byte and copies it, a segment found
 * an identifier written over after.  Returns the template's length.
 */
static size_t template_bytes(const char *path, char *out)
{
	unsigned all = R_DIGIT | R_HEX | R_ALNUM, k;
	size_t o = 0, seg = 0, n;
	const char *s = path;

	for (;; s++) {
		uint8_t c = (uint8_t)*s;

		k = route_class[c];
		if (!(k & R_STOP)) {
			all &= k;
			out[o++] = (char)c;
			continue;
		}
		n = o - seg;
		if (n && is_identifier(s - n, n, all)) {
			memcpy(out + seg, ROUTE_ID, sizeof(ROUTE_ID) - 1);
			o = seg + sizeof(ROUTE_ID) - 1;
		}
		if (c != '/')
			return o;
		out[o++] = '/';
		seg = o;
		all = R_DIGIT | R_HEX | R_ALNUM;
	}
}

#if defined(__SSE2__)
/* Paths shorter than this are classified 16 bytes at a time. */
#define FAST_MAX 64

struct path_bits {
	uint64_t slash, end, digit; /* bit i: byte i is one */
};

/* The bits of the 16 bytes in `v`, the lowest `drop` left out, from bit
 * `at` on. */
static inline void add_bits(struct path_bits *b, __m128i v, unsigned at,
			    unsigned drop)
{
	const __m128i zero = _mm_setzero_si128();
	__m128i end = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('?')),
						_mm_cmpeq_epi8(v, _mm_set1_epi8('#'))),
				   _mm_cmpeq_epi8(v, zero));
	/* Unsigned: a byte below '0' wraps past '9' too. */
	__m128i d = _mm_subs_epu8(_mm_sub_epi8(v, _mm_set1_epi8('0')), _mm_set1_epi8(9));
	uint64_t sl = simd16_eq(v, '/');
	uint64_t en = (unsigned)_mm_movemask_epi8(end);
	uint64_t dg = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, zero));

	b->slash |= sl >> drop << at;
	b->end |= en >> drop << at;
	b->digit |= dg >> drop << at;
}

/*
 * Copy the `n` bytes at `path` to `out` (room for 16 at least) and find
 * their slashes, ends ('?', '#', NUL) and digits.  Past 16 bytes, a block
 * at a time and the last one overlapping; below, the copy is loaded, and
 * the bits of what follows it are the caller's to mask off.
 */
static void copy_classify(const char *path, size_t n, char *out,
			  struct path_bits *b)
{
	size_t k;

	b->slash = b->end = b->digit = 0;
	if (n < 16) {
		memcpy(out, path, n);
		add_bits(b, _mm_loadu_si128((const __m128i *)out), 0, 0);
		return;
	}
	for (k = 0; k + 16 <= n; k += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(path + k));

		_mm_storeu_si128((__m128i *)(out + k), v);
		add_bits(b, v, (unsigned)k, 0);
	}
	if (k < n) {
		__m128i v = _mm_loadu_si128((const __m128i *)(path + n - 16));

		_mm_storeu_si128((__m128i *)(out + n - 16), v);
		add_bits(b, v, (unsigned)k, (unsigned)(16 - (n - k)));
	}
}

/* Whether `x` has a run of 16 set bits. */
static bool has_run16(uint64_t x)
{
	x &= x >> 1;
	x &= x >> 2;
	x &= x >> 4;
	return x & (x >> 8);
}

/*
 * template_bytes() for a path of `path_len` (< FAST_MAX) bytes, `out`
 * having room for 16 at least, from bit masks: a segment under
 * HEX_ID_MIN bytes can only be an identifier by being all digits, and a
 * run of digits from a segment's start that carries over into its end
 * says so, for every segment at once.  Returns the template's length, or
 * -1 for template_bytes() to make it: a longer segment (it may be hex, a
 * token, a UUID), or no end where the caller says (it reads on).
 */
static long template_fast(const char *path, size_t path_len, char *out)
{
	struct path_bits b;
	uint64_t below, slash, digit, ids;
	size_t end, len;

	copy_classify(path, path_len + 1, out, &b);
	/* Bytes [0, path_len]: what follows was not copied. */
	b.end &= (2ULL << path_len) - 1;
	if (!b.end)
		return -1;
	end = (size_t)__builtin_ctzll(b.end);
	below = (1ULL << end) - 1;
	slash = b.slash & below;
	if (has_run16(~slash & below))
		return -1;
	digit = b.digit & below;
	/* The byte after each all-digit segment: where the carry stops. */
	ids = (digit + ((slash << 1 | 1) & digit)) & ~digit & (slash | 1ULL << end);
	/* Each {id} written where its segment's output starts, the rest of
	 * the path after it (a later {id} is written over that again). */
	len = end;
	while (ids) {
		size_t stop = (size_t)__builtin_ctzll(ids);
		uint64_t before = slash & ((1ULL << stop) - 1);
		size_t start = before ? 64 - (size_t)__builtin_clzll(before) : 0;
		char *o = out + (ptrdiff_t)start + ((ptrdiff_t)len - (ptrdiff_t)end);

		memcpy(o, ROUTE_ID, sizeof(ROUTE_ID) - 1);
		o += sizeof(ROUTE_ID) - 1;
		memcpy(o, path + stop, end - stop);
		len = (size_t)(o - out) + end - stop;
		ids &= ids - 1;
	}
	return (long)len;
}
#endif

/* The template when `out` has room for the longest one (route_template_n). */
static size_t template_whole(const char *path, size_t path_len, char *out,
			     size_t outsize)
{
#if defined(__SSE2__)
	if (path_len < FAST_MAX && outsize >= 16) {
		long len = template_fast(path, path_len, out);

		if (len >= 0)
			return (size_t)len;
	}
#endif
	return template_bytes(path, out);
}

int route_template_n(const char *path, size_t path_len, char *out,
		     size_t outsize, size_t *out_len)
{
	size_t len;

	/* Room for the longest template: a one-byte identifier between
	 * slashes grows 2 bytes to 5. */
	if (!path || !out || outsize < 8 || path_len > (outsize - 8) / 3)
		return route_template_len(path, out, outsize, out_len);
	len = template_whole(path, path_len, out, outsize);
	if (len == 0) {
		memcpy(out, "/", 2);
		*out_len = 1;
		return 0;
	}
	out[len] = '\0';
	*out_len = len;
	return 0;
}

int route_template_len(const char *path, char *out, size_t outsize, size_t *out_len)
{
	size_t len = 0, i = 0;
	bool fits = true;

	*out_len = 0;
	if (!out || outsize == 0)
		return -EINVAL;
	out[0] = '\0';
	if (!path || path[0] == '?' || path[0] == '#' || path[0] == '\0') {
		if (outsize < 2)
			return -ENOSPC;
		memcpy(out, "/", 2);
		*out_len = 1;
		return 0;
	}
	while (fits && path[i] != '?' && path[i] != '#' && path[i] != '\0') {
		if (path[i] == '/') {
			fits = len + 1 < outsize;
			if (fits)
				out[len++] = '/';
			i++;
			continue;
		}
		i += put_segment(path + i, out, outsize, &len, &fits);
	}
	out[len] = '\0';
	*out_len = len;
	return fits ? 0 : -ENOSPC;
}

int route_template(const char *path, char *out, size_t outsize)
{
	size_t len;

	return route_template_len(path, out, outsize, &len);
}

/* Is `name` (n bytes) one of the comma-separated `list`? */
static bool in_list(const char *list, const char *name, size_t n)
{
	while (list && *list) {
		const char *end = strchr(list, ',');
		size_t len = end ? (size_t)(end - list) : strlen(list);

		if (len == n && n && strncasecmp(list, name, n) == 0)
			return true;
		list = end ? end + 1 : NULL;
	}
	return false;
}

size_t route_redact_params(const char *path, const char *extra, char *out,
			   size_t outsize)
{
	size_t o = 0;

	while (*path && o + 1 < outsize) {
		size_t param, name;

		if (*path != ';') {
			out[o++] = *path++;
			continue;
		}
		param = 1 + strcspn(path + 1, ";/");
		name = strcspn(path + 1, "=;/");
		if (in_list(ROUTE_REDACT_DEFAULT, path + 1, name) ||
		    in_list(extra, path + 1, name)) {
			path += param;
			continue;
		}
		while (param-- && o + 1 < outsize)
			out[o++] = *path++;
	}
	out[o] = '\0';
	return o;
}
