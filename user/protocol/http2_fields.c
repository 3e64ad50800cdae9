// SPDX-License-Identifier: MIT
/*
 * The header fields an HTTP/2 span needs, from what nghttp2's inflater
 * emits: bounded copies of the request's pseudo-headers and of a few
 * headers, the response's status and gRPC's.  Authorization and Cookie
 * values are never copied.
 */
#include "protocol/http2_internal.h"

#include <string.h>

/* Copies at most size-1 bytes, NUL-terminated; true when cut. */
static bool copy_field(char *dst, size_t size, const uint8_t *src, size_t n)
{
	size_t take = n < size - 1 ? n : size - 1;

	memcpy(dst, src, take);
	dst[take] = '\0';
	return take < n;
}

static bool name_is(const nghttp2_nv *nv, const char *lit)
{
	size_t n = strlen(lit);

	return nv->namelen == n && memcmp(nv->name, lit, n) == 0;
}

/* "application/grpc", alone or followed by '+' (a codec) or ';'. */
static bool is_grpc_type(const uint8_t *v, size_t n)
{
	static const char grpc[] = "application/grpc";
	size_t l = sizeof(grpc) - 1;

	return n >= l && memcmp(v, grpc, l) == 0 &&
	       (n == l || v[l] == '+' || v[l] == ';');
}

/* A decimal of at most `digits` digits, or -1. */
static int64_t parse_decimal(const uint8_t *v, size_t n, size_t digits)
{
	int64_t x = 0;

	if (n == 0 || n > digits)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* grpc-timeout: at most 8 digits and a unit (gRPC's PROTOCOL-HTTP2). */
static uint64_t parse_grpc_timeout(const uint8_t *v, size_t n)
{
	int64_t x;
	uint64_t unit;

	if (n < 2)
		return 0;
	x = parse_decimal(v, n - 1, 8);
	if (x < 0)
		return 0;
	switch (v[n - 1]) {
	case 'H':
		unit = 3600ull * 1000000000ull;
		break;
	case 'M':
		unit = 60ull * 1000000000ull;
		break;
	case 'S':
		unit = 1000000000ull;
		break;
	case 'm':
		unit = 1000000ull;
		break;
	case 'u':
		unit = 1000ull;
		break;
	case 'n':
		unit = 1;
		break;
	default:
		return 0;
	}
	return (uint64_t)x * unit;
}

/* :path "/p?q" -> path and query. */
static void take_path(struct http2_fields *x, const uint8_t *v, size_t n)
{
	const uint8_t *q = memchr(v, '?', n);
	size_t plen = q ? (size_t)(q - v) : n;

	x->truncated |= copy_field(x->path, sizeof(x->path), v, plen);
	if (q)
		x->truncated |= copy_field(x->query, sizeof(x->query), q + 1,
					   n - plen - 1);
}

/* An authority without its "user:password@", which is never kept. */
static void take_authority(struct http2_fields *x, const uint8_t *v, size_t n)
{
	for (size_t i = n; i > 0; i--) {
		if (v[i - 1] == '@') {
			v += i;
			n -= i;
			break;
		}
	}
	x->truncated |= copy_field(x->authority, sizeof(x->authority), v, n);
}

void http2_fields_reset(struct http2_fields *x)
{
	memset(x, 0, sizeof(*x));
	x->grpc_status = -1;
}

/* One field of a header block; the first occurrence of each wins. */
void http2_fields_add(struct http2_fields *x, const nghttp2_nv *nv)
{
	const uint8_t *v = nv->value;
	size_t n = nv->valuelen;
	int64_t d;

	if (name_is(nv, ":method") && !x->method[0]) {
		x->truncated |= copy_field(x->method, sizeof(x->method), v, n);
	} else if (name_is(nv, ":path") && !x->path[0] && !x->query[0]) {
		take_path(x, v, n);
	} else if ((name_is(nv, ":authority") || name_is(nv, "host")) &&
		   !x->authority[0]) {
		take_authority(x, v, n);
	} else if (name_is(nv, ":status") && !x->status) {
		d = parse_decimal(v, n, 3);
		if (d >= 100 && d <= 599)
			x->status = (uint16_t)d;
	} else if (name_is(nv, "content-type")) {
		x->grpc |= is_grpc_type(v, n);
	} else if (name_is(nv, "user-agent") && !x->user_agent[0]) {
		x->truncated |= copy_field(x->user_agent, sizeof(x->user_agent), v, n);
	} else if (name_is(nv, "traceparent") && !x->traceparent[0]) {
		x->truncated |= copy_field(x->traceparent, sizeof(x->traceparent), v, n);
	} else if (name_is(nv, "grpc-status") && x->grpc_status < 0) {
		d = parse_decimal(v, n, 4);
		x->grpc_status = (int32_t)d;
	} else if (name_is(nv, "grpc-message") && !x->grpc_message[0]) {
		x->truncated |= copy_field(x->grpc_message, sizeof(x->grpc_message), v, n);
	} else if (name_is(nv, "grpc-timeout") && !x->grpc_timeout_ns) {
		x->grpc_timeout_ns = parse_grpc_timeout(v, n);
	}
}
