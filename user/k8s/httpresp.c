// SPDX-License-Identifier: MIT
#include "k8s/httpresp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void k8s_http_init(struct k8s_http *h)
{
	memset(h, 0, sizeof(*h));
	h->length = -1;
}

static int parse_status(struct k8s_http *h, const char *line)
{
	/* "HTTP/1.x NNN reason" (RFC 9112 section 4). */
	if (strncmp(line, "HTTP/1.", 7) != 0 || !line[7] || line[8] != ' ' ||
	    strspn(line + 9, "0123456789") != 3 || (line[12] && line[12] != ' '))
		return -EBADMSG;
	h->status = atoi(line + 9);
	h->state = K8S_HTTP_HEADERS;
	return 0;
}

static int parse_header(struct k8s_http *h, const char *line)
{
	const char *colon = strchr(line, ':');
	const char *v;
	char *end;

	if (!colon)
		return -EBADMSG;
	v = colon + 1 + strspn(colon + 1, " \t");
	if ((size_t)(colon - line) == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)
		h->chunked = strcasestr(v, "chunked") != NULL;
	if ((size_t)(colon - line) == 14 && strncasecmp(line, "content-length", 14) == 0) {
		errno = 0;
		h->length = strtoll(v, &end, 10);
		if (errno || end == v || h->length < 0)
			return -EBADMSG;
	}
	return 0;
}

/* The empty line after the headers: how the body is framed. */
static void body_starts(struct k8s_http *h)
{
	/* 1xx, 204 and 304 have no body (RFC 9112 section 6.3). */
	if (h->status < 200 || h->status == 204 || h->status == 304)
		h->state = K8S_HTTP_DONE;
	else if (h->chunked)
		h->state = K8S_HTTP_CHUNK_SIZE;
	else if (h->length >= 0) {
		h->left = (uint64_t)h->length;
		h->state = h->left ? K8S_HTTP_LENGTH : K8S_HTTP_DONE;
	} else
		h->state = K8S_HTTP_UNTIL_CLOSE;
}

static int chunk_size(struct k8s_http *h, const char *line)
{
	char *end;

	if (!strchr("0123456789abcdefABCDEF", line[0]) || !line[0])
		return -EBADMSG;
	errno = 0;
	h->left = strtoull(line, &end, 16);
	if (errno || (*end && *end != ';' && *end != ' ' && *end != '\t'))
		return -EBADMSG;
	h->state = h->left ? K8S_HTTP_CHUNK_DATA : K8S_HTTP_TRAILERS;
	return 0;
}

/* One whole line (CRLF or LF removed). */
static int on_line(struct k8s_http *h, const char *line)
{
	switch (h->state) {
	case K8S_HTTP_STATUS:
		return parse_status(h, line);
	case K8S_HTTP_HEADERS:
		if (!*line) {
			body_starts(h);
			return 0;
		}
		return parse_header(h, line);
	case K8S_HTTP_CHUNK_SIZE:
		return chunk_size(h, line);
	case K8S_HTTP_CHUNK_END:
		if (*line)
			return -EBADMSG;
		h->state = K8S_HTTP_CHUNK_SIZE;
		return 0;
	case K8S_HTTP_TRAILERS:
		if (!*line)
			h->state = K8S_HTTP_DONE;
		return 0;
	default:
		return -EBADMSG;
	}
}

static bool in_lines(const struct k8s_http *h)
{
	return h->state == K8S_HTTP_STATUS || h->state == K8S_HTTP_HEADERS ||
	       h->state == K8S_HTTP_CHUNK_SIZE || h->state == K8S_HTTP_CHUNK_END ||
	       h->state == K8S_HTTP_TRAILERS;
}

/* Take bytes up to a LF into the line; consumed count. */
static size_t take_line(struct k8s_http *h, const char *buf, size_t len, int *err)
{
	const char *lf = memchr(buf, '\n', len);
	size_t n = lf ? (size_t)(lf - buf) + 1 : len;

	*err = 0;
	if (h->line_len + n >= sizeof(h->line)) {
		*err = -EMSGSIZE;
		return n;
	}
	memcpy(h->line + h->line_len, buf, n);
	h->line_len += n;
	if (!lf)
		return n;
	h->line_len--; /* the LF */
	if (h->line_len && h->line[h->line_len - 1] == '\r')
		h->line_len--;
	h->line[h->line_len] = '\0';
	h->line_len = 0;
	*err = on_line(h, h->line);
	return n;
}

int k8s_http_feed(struct k8s_http *h, const char *buf, size_t len,
		  k8s_body_fn body, void *ctx)
{
	int err = 0;

	while (len && !err && h->state != K8S_HTTP_DONE) {
		size_t n;

		if (in_lines(h)) {
			n = take_line(h, buf, len, &err);
		} else if (h->state == K8S_HTTP_UNTIL_CLOSE) {
			n = len;
			err = body(ctx, buf, n);
		} else {
			n = len < h->left ? len : (size_t)h->left;
			h->left -= n;
			err = body(ctx, buf, n);
			if (!h->left)
				h->state = h->state == K8S_HTTP_LENGTH ? K8S_HTTP_DONE
								       : K8S_HTTP_CHUNK_END;
		}
		buf += n;
		len -= n;
	}
	return err < 0 ? err : 0;
}

int k8s_http_eof(struct k8s_http *h)
{
	if (h->state == K8S_HTTP_UNTIL_CLOSE)
		h->state = K8S_HTTP_DONE;
	return h->state == K8S_HTTP_DONE ? 0 : -EPIPE;
}
