/* SPDX-License-Identifier: MIT */
#include "protocol/route.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define HEX_ID_MIN 16
#define TOKEN_ID_MIN 20

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
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

static bool is_identifier(const char *s, size_t n)
{
	size_t digits = 0, hex = 0, alnum = 0;

	if (n == 0)
		return false;
	if (is_uuid(s, n))
		return true;
	for (size_t i = 0; i < n; i++) {
		digits += is_digit(s[i]);
		hex += is_hex(s[i]);
		alnum += is_alnum(s[i]);
	}
	if (digits == n)
		return true;
	if (hex == n && n >= HEX_ID_MIN)
		return true;
	return alnum == n && n >= TOKEN_ID_MIN && digits > 0;
}

/* Appends n bytes, cut to the room left; false when cut. */
static bool put(char *out, size_t outsize, size_t *len, const char *s,
		size_t n)
{
	size_t room = outsize - 1 - *len;
	size_t take = n < room ? n : room;

	memcpy(out + *len, s, take);
	*len += take;
	out[*len] = '\0';
	return take == n;
}

int route_template(const char *path, char *out, size_t outsize)
{
	size_t len = 0, end;
	bool fits = true;

	if (!out || outsize == 0)
		return -EINVAL;
	out[0] = '\0';
	end = path ? strcspn(path, "?#") : 0;
	if (end == 0)
		return put(out, outsize, &len, "/", 1) ? 0 : -ENOSPC;
	for (size_t i = 0; i < end && fits;) {
		size_t seg;

		if (path[i] == '/') {
			fits = put(out, outsize, &len, "/", 1);
			i++;
			continue;
		}
		seg = strcspn(path + i, "/?#");
		if (is_identifier(path + i, seg))
			fits = put(out, outsize, &len, ROUTE_ID,
				   sizeof(ROUTE_ID) - 1);
		else
			fits = put(out, outsize, &len, path + i, seg);
		i += seg;
	}
	return fits ? 0 : -ENOSPC;
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

void route_redact_params(const char *path, const char *extra, char *out,
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
}
