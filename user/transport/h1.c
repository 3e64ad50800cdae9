// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 client side of one pooled connection: one request at a time,
 * keep-alive unless the server says otherwise, answers delimited by
 * Content-Length, chunked coding or (HTTP/1.0 style) the end of stream.
 */
#include "transport/h1.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport/exchange.h"

static void h1_close(struct http_conn *hc)
{
	free(hc->h1.head);
	free(hc->h1.in);
	memset(&hc->h1, 0, sizeof(hc->h1));
}

static int h1_start(struct http_conn *hc, struct http_exchange *x)
{
	const struct http_target *t = hc->target;
	const struct http_request *rq = x->req;
	size_t cap = 512 + strlen(t->url.path);
	char *head;
	int len;

	for (size_t i = 0; i < rq->n_headers; i++)
		cap += strlen(rq->headers[i].name) + strlen(rq->headers[i].value) + 4;
	head = malloc(cap);
	if (!head)
		return -ENOMEM;
	len = snprintf(head, cap,
		       "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
		       "Content-Type: %s\r\nContent-Length: %zu\r\n",
		       t->url.path, t->url.authority, t->user_agent,
		       rq->content_type, rq->body_len);
	for (size_t i = 0; i < rq->n_headers; i++)
		len += snprintf(head + len, cap - (size_t)len, "%s: %s\r\n",
				rq->headers[i].name, rq->headers[i].value);
	len += snprintf(head + len, cap - (size_t)len, "\r\n");
	free(hc->h1.head);
	hc->h1.head = head;
	hc->h1.head_len = (size_t)len;
	hc->h1.head_off = 0;
	hc->h1.phase = H1_HEAD;
	hc->h1.cur = x;
	x->body_off = 0;
	x->ended = false;
	return 0;
}

static bool h1_wants_write(const struct http_conn *hc)
{
	const struct http_exchange *x = hc->h1.cur;

	return x && (hc->h1.head_off < hc->h1.head_len ||
		     x->body_off < x->req->body_len);
}

static int h1_on_writable(struct http_conn *hc)
{
	struct http_exchange *x = hc->h1.cur;
	ssize_t n;

	while (h1_wants_write(hc)) {
		if (hc->h1.head_off < hc->h1.head_len)
			n = conn_write(&hc->io, hc->h1.head + hc->h1.head_off,
				       hc->h1.head_len - hc->h1.head_off);
		else
			n = conn_write(&hc->io, x->req->body + x->body_off,
				       x->req->body_len - x->body_off);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (hc->h1.head_off < hc->h1.head_len)
			hc->h1.head_off += (size_t)n;
		else
			x->body_off += (size_t)n;
		x->on_wire = hc->h1.head_off == hc->h1.head_len &&
			     x->body_off == x->req->body_len;
	}
	return 0;
}

static bool header_is(const char *line, size_t name_len, const char *name)
{
	return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/*
 * Content-Length (RFC 9110 8.6): digits only, read within the field value
 * (strtoull would skip the line end and read on into the body).  A value
 * that is not a number is a framing error (RFC 9112 6.3).
 */
static int parse_length(const char *v, const char *ve, uint64_t *out)
{
	uint64_t n = 0;

	if (v == ve || ve - v > 19)
		return -EPROTO;
	for (; v < ve; v++) {
		if (*v < '0' || *v > '9')
			return -EPROTO;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

/* Parse the head at in[0, len) (ends with the blank line). */
static int parse_head(struct http_conn *hc, struct http_exchange *x,
		      const char *in, size_t len)
{
	struct h1_state *h = &hc->h1;
	const char *p = in, *end = in + len, *eol;
	bool http10, chunked = false, have_length = false;
	uint64_t length = 0;
	int status;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[9]) ||
	    !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
		return -EPROTO;
	http10 = p[7] == '0';
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	h->close_after = http10;
	p = (const char *)memchr(p, '\n', len) + 1;
	for (; p < end && (eol = memchr(p, '\n', (size_t)(end - p))); p = eol + 1) {
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		const char *v, *ve = eol;

		if (!colon)
			continue;
		v = colon + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (header_is(p, (size_t)(colon - p), "content-length")) {
			if (parse_length(v, ve, &length))
				return -EPROTO;
			have_length = true;
		} else if (header_is(p, (size_t)(colon - p), "transfer-encoding")) {
			chunked = ve - v >= 7 && strncasecmp(ve - 7, "chunked", 7) == 0;
		} else if (header_is(p, (size_t)(colon - p), "connection")) {
			if (ve - v == 5 && strncasecmp(v, "close", 5) == 0)
				h->close_after = true;
			else if (ve - v == 10 && strncasecmp(v, "keep-alive", 10) == 0)
				h->close_after = false;
		} else {
			http_response_add_field(x->resp, p, (size_t)(colon - p),
						v, (size_t)(ve - v));
		}
	}
	if (status < 200)
		return 1; /* interim: the final answer follows */
	x->resp->status = status;
	x->resp->version = 1;
	if (status == 204 || status == 304) {
		h->phase = H1_BODY_LENGTH;
		h->need = 0;
	} else if (chunked) {
		h->phase = H1_CHUNK_SIZE;
	} else if (have_length) {
		h->phase = H1_BODY_LENGTH;
		h->need = length;
	} else {
		h->phase = H1_BODY_EOF;
		h->close_after = true;
	}
	return 0;
}

/* Find a full line in the input; its length with the LF, or 0. */
static size_t line_len(const struct h1_state *h)
{
	const uint8_t *lf = memchr(h->in, '\n', h->in_len);

	return lf ? (size_t)(lf - h->in) + 1 : 0;
}

static void consume(struct h1_state *h, size_t n)
{
	memmove(h->in, h->in + n, h->in_len - n);
	h->in_len -= n;
}

/* Take body bytes from the input. */
static void take_body(struct h1_state *h, struct http_exchange *x)
{
	size_t n = h->in_len;

	if (h->phase != H1_BODY_EOF && n > h->need)
		n = (size_t)h->need;
	http_response_append(x->resp, h->in, n);
	consume(h, n);
	if (h->phase != H1_BODY_EOF)
		h->need -= n;
}

/* Parse what has arrived.  1: answer complete, 0: more needed, <0 error. */
static int h1_parse(struct http_conn *hc, struct http_exchange *x)
{
	struct h1_state *h = &hc->h1;
	size_t l;
	int ret;

	for (;;) {
		switch (h->phase) {
		case H1_HEAD: {
			uint8_t *blank = memmem(h->in, h->in_len, "\r\n\r\n", 4);

			if (!blank) {
				/* Garbage is refused early, not after 64 KiB. */
				if (h->in_len > H1_HEAD_MAX ||
				    (h->in_len >= 5 && memcmp(h->in, "HTTP/", 5)))
					return -EPROTO;
				return 0;
			}
			l = (size_t)(blank - h->in) + 4;
			ret = parse_head(hc, x, (const char *)h->in, l);
			consume(h, l);
			if (ret < 0)
				return ret;
			break;
		}
		case H1_BODY_LENGTH:
			take_body(h, x);
			if (h->need == 0)
				return 1;
			return 0;
		case H1_CHUNK_SIZE:
			l = line_len(h);
			if (!l)
				return h->in_len > 1024 ? -EPROTO : 0;
			if (!isxdigit(h->in[0]))
				return -EPROTO;
			h->need = strtoull((const char *)h->in, NULL, 16);
			consume(h, l);
			h->phase = h->need ? H1_CHUNK_DATA : H1_TRAILERS;
			break;
		case H1_CHUNK_DATA:
			take_body(h, x);
			if (h->need)
				return 0;
			h->phase = H1_CHUNK_CRLF;
			break;
		case H1_CHUNK_CRLF:
			l = line_len(h);
			if (!l)
				return 0;
			consume(h, l);
			h->phase = H1_CHUNK_SIZE;
			break;
		case H1_TRAILERS:
			l = line_len(h);
			if (!l)
				return 0;
			consume(h, l);
			if (l <= 2)
				return 1;
			break;
		case H1_BODY_EOF:
			take_body(h, x);
			return 0;
		}
	}
}

static int in_reserve(struct h1_state *h, size_t more)
{
	size_t cap = h->in_cap ? h->in_cap : 16384;
	uint8_t *p;

	while (cap < h->in_len + more)
		cap *= 2;
	if (cap == h->in_cap)
		return 0;
	if (cap > H1_HEAD_MAX * 4)
		return -EPROTO;
	p = realloc(h->in, cap);
	if (!p)
		return -ENOMEM;
	h->in = p;
	h->in_cap = cap;
	return 0;
}

/*
 * Read and parse.  Returns 0; 1 when the answer is complete and the
 * connection must be closed (Connection: close, HTTP/1.0, end of stream);
 * or a negative errno when the connection failed: -ECONNRESET when it
 * ended mid-answer, -EPROTO for an unreadable answer.
 */
static int h1_on_readable(struct http_conn *hc)
{
	struct h1_state *h = &hc->h1;
	struct http_exchange *x;
	ssize_t n;
	int ret;

	for (;;) {
		ret = in_reserve(h, 4096);
		if (ret)
			return ret;
		n = conn_read(&hc->io, h->in + h->in_len, h->in_cap - h->in_len);
		if (n == -EAGAIN)
			return 0;
		x = h->cur;
		if (n == 0 && x && h->phase == H1_BODY_EOF) {
			x->ended = true;
			http_exchange_finish(x, 0);
			h->cur = NULL;
			return 1; /* closed, as announced */
		}
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		hc->fresh = false;
		h->in_len += (size_t)n;
		if (!x)
			return -EPROTO; /* bytes nobody asked for */
		ret = h1_parse(hc, x);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			x->ended = true;
			h->cur = NULL;
			http_exchange_finish(x, 0);
			return h->close_after || h->in_len ? 1 : 0;
		}
	}
}

static bool h1_usable(const struct http_conn *hc)
{
	return true; /* a close is seen when reading */
}

static bool h1_has_room(const struct http_conn *hc)
{
	return !hc->h1.cur; /* one at a time; the next goes after this one */
}

static bool h1_abandon(struct http_conn *hc, struct http_exchange *x)
{
	return false; /* HTTP/1.1 cannot abandon an answer */
}

const struct http_proto_ops h1_ops = {
	.version = 1,
	.start = h1_start,
	.on_readable = h1_on_readable,
	.on_writable = h1_on_writable,
	.wants_write = h1_wants_write,
	.usable = h1_usable,
	.has_room = h1_has_room,
	.abandon = h1_abandon,
	.close = h1_close,
};
