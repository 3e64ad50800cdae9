// SPDX-License-Identifier: MIT
#include "transport/url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy [s, s+len) into dst of `size` bytes; -EINVAL when it does not fit. */
static int copy_part(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int parse_port(const char *s, size_t len, char *out, size_t size)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	snprintf(out, size, "%lu", v);
	return 0;
}

/* Split "host[:port]" / "[v6][:port]" at [s, s+len). */
static int parse_hostport(struct net_url *u, const char *s, size_t len)
{
	const char *host = s, *colon = NULL;
	size_t host_len;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return -EINVAL;
		host = s + 1;
		host_len = (size_t)(close - host);
		if (close + 1 < s + len) {
			if (close[1] != ':')
				return -EINVAL;
			colon = close + 1;
		}
	} else {
		colon = memchr(s, ':', len);
		host_len = colon ? (size_t)(colon - s) : len;
	}
	if (host_len == 0 || copy_part(u->host, sizeof(u->host), host, host_len))
		return -EINVAL;
	if (colon) {
		if (parse_port(colon + 1, (size_t)(s + len - colon - 1), u->port,
			       sizeof(u->port)))
			return -EINVAL;
	} else {
		strcpy(u->port, u->tls ? "443" : "80");
	}
	return copy_part(u->authority, sizeof(u->authority), s, len);
}

int url_parse(const char *s, struct net_url *u)
{
	const char *rest, *slash, *query;
	size_t hp_len;

	memset(u, 0, sizeof(*u));
	if (!s)
		return -EINVAL;
	if (strncasecmp(s, "http://", 7) == 0) {
		rest = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		u->tls = true;
		rest = s + 8;
	} else {
		return -EINVAL;
	}
	slash = strchr(rest, '/');
	query = strchr(rest, '?');
	if (query && (!slash || query < slash))
		slash = query;
	hp_len = slash ? (size_t)(slash - rest) : strlen(rest);
	if (memchr(rest, '@', hp_len) || strchr(s, '#'))
		return -EINVAL;
	if (parse_hostport(u, rest, hp_len))
		return -EINVAL;
	if (!slash) {
		strcpy(u->path, "/");
		return 0;
	}
	if (*slash == '?') {
		if (snprintf(u->path, sizeof(u->path), "/%s", slash) >=
		    (int)sizeof(u->path))
			return -EINVAL;
	} else if (copy_part(u->path, sizeof(u->path), slash, strlen(slash))) {
		return -EINVAL;
	}
	u->has_path = strcmp(u->path, "/") != 0;
	for (const char *p = u->path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	return 0;
}

const char *url_format(const struct net_url *u, char *buf, size_t size)
{
	snprintf(buf, size, "%s://%s%s", u->tls ? "https" : "http",
		 u->authority, u->has_path ? u->path : "");
	return buf;
}
