/* SPDX-License-Identifier: MIT */
#include "protocol/route.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

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

int route_template_n(const char *path, size_t path_len, char *out,
		     size_t outsize, size_t *out_len)
{
	size_t len;

	/* Room for the longest template: a one-byte identifier between
	 * slashes grows 2 bytes to 5. */
	if (!path || !out || outsize < 8 || path_len > (outsize - 8) / 3)
		return route_template_len(path, out, outsize, out_len);
	len = template_bytes(path, out);
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
