// SPDX-License-Identifier: MIT
/*
 * The RESP walk (resp.h).  The protocol's specification ("Redis
 * serialization protocol specification", RESP2 and RESP3) is what it
 * follows: every element starts with a line whose first byte is its
 * type; blobs say their length and carry that many bytes and a CR/LF.
 */
#include "protocol/resp.h"

#include <errno.h>
#include <string.h>

/* A line longer than this is no RESP (Redis refuses inline commands past
 * 64 KiB, proto-inline-max-size): the place is lost rather than waiting
 * for a line feed that never comes. */
#define RESP_LINE_LIMIT (64 * 1024)

void resp_reset(struct resp_parser *p)
{
	p->payload_left = 0;
	p->line_total = 0;
	p->line_len = 0;
	p->state = RESP_LINE;
	p->depth = 0;
	p->attr_depth = 0;
	p->payload_depth = 0;
	p->in_chunk = 0;
}

int resp_parse_int(const char *s, size_t len, int64_t *out)
{
	bool neg = len && s[0] == '-';
	uint64_t v = 0;
	size_t i = neg;

	if (i == len || len - i > 19)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return -EINVAL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static enum resp_state lose(struct resp_parser *p)
{
	p->state = RESP_LOST;
	return RESP_LOST;
}

static bool quiet(const struct resp_parser *p)
{
	return p->attr_depth > 0;
}

static void report_elem(struct resp_parser *p, const struct resp_hooks *h,
			char type, int64_t n)
{
	if (h->elem && !quiet(p))
		h->elem(h->ctx, p->depth, type, n);
}

static void report_text(struct resp_parser *p, const struct resp_hooks *h,
			unsigned depth, const char *s, size_t len)
{
	if (h->text && len && !quiet(p))
		h->text(h->ctx, depth, s, len);
}

/*
 * An element at the current depth is complete: it counts in its parent,
 * which may be complete in turn; at the top, the message is.  An
 * attribute is no element of its parent (the element it describes
 * follows it).
 */
static void complete(struct resp_parser *p, const struct resp_hooks *h)
{
	while (p->depth) {
		unsigned l = p->depth - 1u;

		if (p->left[l] < 0)
			return; /* until its "." */
		if (--p->left[l] > 0)
			return;
		p->depth--;
		if (p->is_attr[l]) {
			p->attr_depth--;
			return;
		}
	}
	if (h->done)
		h->done(h->ctx);
}

static enum resp_state push_level(struct resp_parser *p, int64_t left,
				  bool attr)
{
	if (p->depth == RESP_DEPTH_MAX)
		return lose(p);
	p->left[p->depth] = left;
	p->is_attr[p->depth] = attr;
	p->depth++;
	if (attr)
		p->attr_depth++;
	return RESP_LINE;
}

/* A blob's header: `n` bytes of payload follow (its CR/LF after them). */
static enum resp_state start_payload(struct resp_parser *p, int64_t n,
				     unsigned depth, bool chunk)
{
	p->payload_left = (uint64_t)n + 2;
	p->payload_depth = (uint8_t)depth;
	p->in_chunk = chunk;
	p->state = RESP_PAYLOAD;
	return RESP_PAYLOAD;
}

/* $, ! and =: a blob, null (-1) or, for $, streamed ("?"). */
static enum resp_state blob_header(struct resp_parser *p, const struct resp_hooks *h,
				   char type, const char *arg, size_t len)
{
	int64_t n;

	if (type == '$' && len == 1 && arg[0] == '?') {
		report_elem(p, h, type, -2);
		return push_level(p, -2, false);
	}
	if (resp_parse_int(arg, len, &n) || n < -1)
		return lose(p);
	report_elem(p, h, type, n);
	if (n == -1) {
		complete(p, h);
		return RESP_LINE;
	}
	return start_payload(p, n, p->depth, false);
}

/* ;N inside a streamed string: a part of it, or (;0) its end. */
static enum resp_state chunk_header(struct resp_parser *p, const struct resp_hooks *h,
				    const char *arg, size_t len)
{
	int64_t n;

	if (!p->depth || p->left[p->depth - 1] != -2 ||
	    resp_parse_int(arg, len, &n) || n < 0)
		return lose(p);
	if (n > 0)
		return start_payload(p, n, p->depth - 1u, true);
	p->depth--;
	complete(p, h);
	return RESP_LINE;
}

/* *, %, ~, > and |: `n` elements (pairs for % and |), null or streamed. */
static enum resp_state aggregate_header(struct resp_parser *p,
					const struct resp_hooks *h, char type,
					const char *arg, size_t len)
{
	bool attr = type == '|', pairs = type == '%' || type == '|';
	int64_t n;

	if (len == 1 && arg[0] == '?') {
		if (!attr)
			report_elem(p, h, type, -2);
		return push_level(p, -1, attr);
	}
	if (resp_parse_int(arg, len, &n) || n < -1 || n > INT64_MAX / 2)
		return lose(p);
	if (pairs)
		n *= 2;
	if (attr) {
		return n > 0 ? push_level(p, n, true) : RESP_LINE;
	}
	report_elem(p, h, type, n);
	if (n <= 0) {
		complete(p, h);
		return RESP_LINE;
	}
	return push_level(p, n, false);
}

/* ".": the end of the streamed aggregate open at this depth. */
static enum resp_state end_marker(struct resp_parser *p, const struct resp_hooks *h)
{
	unsigned l;

	if (!p->depth || p->left[p->depth - 1] != -1)
		return lose(p);
	l = p->depth - 1u;
	p->depth--;
	if (p->is_attr[l]) {
		p->attr_depth--;
		return RESP_LINE;
	}
	complete(p, h);
	return RESP_LINE;
}

/* One whole line (CR/LF stripped; `truncated` when longer than kept). */
static enum resp_state on_line(struct resp_parser *p, const struct resp_hooks *h,
			       const char *s, size_t len, bool truncated)
{
	char type;

	if (len == 0 && !truncated)
		return p->depth ? lose(p) : RESP_LINE; /* empty lines between commands */
	type = s[0];
	if (p->depth && p->left[p->depth - 1] == -2 && type != ';')
		return lose(p);
	switch (type) {
	case '+': case '-': case ':': case ',': case '#': case '(': case '_':
		report_elem(p, h, type, 0);
		report_text(p, h, p->depth, s + 1, len - 1);
		complete(p, h);
		return RESP_LINE;
	case '$': case '!': case '=':
		return truncated ? lose(p) : blob_header(p, h, type, s + 1, len - 1);
	case ';':
		return truncated ? lose(p) : chunk_header(p, h, s + 1, len - 1);
	case '*': case '%': case '~': case '>': case '|':
		return truncated ? lose(p) : aggregate_header(p, h, type, s + 1, len - 1);
	case '.':
		return len == 1 ? end_marker(p, h) : lose(p);
	default:
		if (p->depth || !h->inline_line)
			return lose(p);
		h->inline_line(h->ctx, s, len);
		return RESP_LINE;
	}
}

/* Bytes of a line up to its line feed (or the data's end). */
static size_t read_line(struct resp_parser *p, const struct resp_hooks *h,
			const char *d, size_t n)
{
	const char *lf = memchr(d, '\n', n);
	size_t part = lf ? (size_t)(lf - d) : n;
	size_t room = RESP_LINE_MAX - p->line_len;
	size_t len;
	bool truncated;

	if (part > room) {
		memcpy(p->line + p->line_len, d, room);
		p->line_len = RESP_LINE_MAX;
	} else {
		memcpy(p->line + p->line_len, d, part);
		p->line_len += (uint16_t)part;
	}
	p->line_total += (uint32_t)(part < RESP_LINE_LIMIT ? part : RESP_LINE_LIMIT);
	if (p->line_total >= RESP_LINE_LIMIT) {
		lose(p);
		return n;
	}
	if (!lf)
		return n;
	truncated = p->line_total > p->line_len;
	len = p->line_len;
	if (!truncated && len && p->line[len - 1] == '\r')
		len--;
	p->line_len = 0;
	p->line_total = 0;
	on_line(p, h, p->line, len, truncated);
	return part + 1;
}

/* Bytes of a blob's payload and its CR/LF. */
static size_t read_payload(struct resp_parser *p, const struct resp_hooks *h,
			   const char *d, size_t n)
{
	uint64_t data_left = p->payload_left > 2 ? p->payload_left - 2 : 0;
	size_t take = n < p->payload_left ? n : (size_t)p->payload_left;
	size_t text = take < data_left ? take : (size_t)data_left;

	report_text(p, h, p->payload_depth, d, text);
	p->payload_left -= take;
	if (!p->payload_left) {
		p->state = RESP_LINE;
		if (!p->in_chunk)
			complete(p, h);
	}
	return take;
}

/* Bytes counted but not captured: a blob's payload is skipped; a line
 * inside them is lost. */
static enum resp_state skip_gap(struct resp_parser *p, const struct resp_hooks *h,
				uint64_t gap)
{
	if (p->state == RESP_PAYLOAD) {
		uint64_t take = gap < p->payload_left ? gap : p->payload_left;

		p->payload_left -= take;
		gap -= take;
		if (!p->payload_left) {
			p->state = RESP_LINE;
			if (!p->in_chunk)
				complete(p, h);
		}
	}
	if (gap && p->state != RESP_LOST)
		return lose(p);
	return (enum resp_state)p->state;
}

enum resp_state resp_feed(struct resp_parser *p, const void *data,
			  size_t captured, size_t total,
			  const struct resp_hooks *h)
{
	const char *d = data;
	size_t i = 0;

	if (captured > total)
		captured = total;
	while (i < captured && p->state != RESP_LOST) {
		if (p->state == RESP_PAYLOAD)
			i += read_payload(p, h, d + i, captured - i);
		else
			i += read_line(p, h, d + i, captured - i);
	}
	if (p->state == RESP_LOST)
		return RESP_LOST;
	return skip_gap(p, h, total - captured);
}
