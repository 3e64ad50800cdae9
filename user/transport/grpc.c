// SPDX-License-Identifier: MIT
#include "transport/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

#include "transport/pbwire.h"

#define RETRY_INFO_TYPE "google.rpc.RetryInfo"
/* Longer server delays are cut to this: no export waits that long, and
 * the milliseconds then fit in any sum with a clock value. */
#define RETRY_DELAY_MAX_S (86400 * 365)

int grpc_prefix(uint8_t out[GRPC_PREFIX], size_t len, bool compressed)
{
	if (len > UINT32_MAX)
		return -EFBIG;
	out[0] = compressed ? 1 : 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	return 0;
}

int grpc_unframe(const uint8_t *body, size_t body_len, const uint8_t **msg,
		 size_t *len, bool *compressed)
{
	size_t n;

	*msg = body;
	*len = 0;
	*compressed = false;
	if (body_len == 0)
		return 0;
	if (body_len < GRPC_PREFIX || body[0] > 1)
		return -EBADMSG;
	n = (size_t)body[1] << 24 | (size_t)body[2] << 16 |
	    (size_t)body[3] << 8 | body[4];
	if (n > body_len - GRPC_PREFIX)
		return -EBADMSG;
	*msg = body + GRPC_PREFIX;
	*len = n;
	*compressed = body[0] == 1;
	return 0;
}

void grpc_status_read(const struct http_response *r, struct grpc_status *st)
{
	const char *code = http_response_field(r, "grpc-status");
	const char *message = http_response_field(r, "grpc-message");
	const char *details = http_response_field(r, "grpc-status-details-bin");

	st->code = -1;
	if (code) {
		/* Codes are 0-16: three digits are plenty. */
		st->code = 0;
		for (size_t i = 0; i < 3 && code[i]; i++)
			st->code = st->code * 10 + (code[i] - '0');
	}
	snprintf(st->message, sizeof(st->message), "%s", message ? message : "");
	grpc_message_decode(st->message);
	snprintf(st->details, sizeof(st->details), "%s", details ? details : "");
}

void grpc_message_decode(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '%' && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
			*out++ = (char)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
			s += 2;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Base64 with or without padding (gRPC omits it).  Returns bytes or -1. */
static long b64_decode(const char *in, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in && *in != '='; in++) {
		int v = b64val(*in);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

static int duration_ms(const uint8_t *p, size_t len, int64_t *ms)
{
	struct pb_reader r;
	struct pb_field f;
	int64_t secs = 0, nanos = 0;
	int ret;

	pb_reader_init(&r, p, len);
	while ((ret = pb_next(&r, &f)) == 1) {
		if (f.number == 1 && f.wire_type == 0)
			secs = (int64_t)f.varint;
		else if (f.number == 2 && f.wire_type == 0)
			nanos = (int32_t)f.varint;
	}
	if (ret < 0 || secs < 0 || nanos < 0)
		return -EBADMSG;
	if (secs >= RETRY_DELAY_MAX_S) {
		secs = RETRY_DELAY_MAX_S;
		nanos = 0;
	}
	*ms = secs * 1000 + nanos / 1000000;
	return 0;
}

/* An Any holding RetryInfo { Duration retry_delay = 1; }. */
static int any_retry_info(const uint8_t *p, size_t len, int64_t *ms)
{
	struct pb_reader r, ri;
	struct pb_field f, g;
	const uint8_t *value = NULL;
	size_t value_len = 0, tl = strlen(RETRY_INFO_TYPE);
	bool is_retry = false;
	int ret;

	pb_reader_init(&r, p, len);
	while ((ret = pb_next(&r, &f)) == 1) {
		if (f.number == 1 && f.wire_type == 2)
			is_retry = f.len >= tl &&
				   memcmp(f.bytes + f.len - tl, RETRY_INFO_TYPE, tl) == 0;
		else if (f.number == 2 && f.wire_type == 2)
			value = f.bytes, value_len = f.len;
	}
	if (ret < 0)
		return -EBADMSG;
	if (!is_retry)
		return -ENOENT;
	*ms = 0;
	pb_reader_init(&ri, value, value_len);
	while ((ret = pb_next(&ri, &g)) == 1)
		if (g.number == 1 && g.wire_type == 2)
			return duration_ms(g.bytes, g.len, ms);
	return ret < 0 ? -EBADMSG : 0;
}

int grpc_retry_info(const char *details_b64, int64_t *ms, char *message,
		    size_t message_size)
{
	size_t cap = strlen(details_b64) * 3 / 4 + 3;
	uint8_t *raw = malloc(cap);
	struct pb_reader r;
	struct pb_field f;
	long n;
	int ret, found = -ENOENT;

	if (!raw)
		return -ENOMEM;
	n = b64_decode(details_b64, raw, cap);
	if (n < 0) {
		free(raw);
		return -EBADMSG;
	}
	pb_reader_init(&r, raw, (size_t)n);
	while ((ret = pb_next(&r, &f)) == 1) {
		if (f.number == 2 && f.wire_type == 2 && message && message_size) {
			size_t l = f.len < message_size - 1 ? f.len : message_size - 1;

			memcpy(message, f.bytes, l);
			message[l] = '\0';
		} else if (f.number == 3 && f.wire_type == 2 && found == -ENOENT) {
			found = any_retry_info(f.bytes, f.len, ms);
		}
	}
	free(raw);
	return ret < 0 ? -EBADMSG : found;
}
