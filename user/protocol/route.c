/* SPDX-License-Identifier: MIT */
#include "protocol/route.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

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
