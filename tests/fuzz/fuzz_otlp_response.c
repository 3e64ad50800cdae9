/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what an OTLP receiver answers: the body of an
 * ExportTraceServiceResponse (protobuf or JSON, bare or in a gRPC frame),
 * an error body (google.rpc.Status, JSON or text) and the grpc-message /
 * grpc-status-details-bin trailers.  The first input byte picks the
 * options (bit 0 JSON, bits 1-2 content type, bits 3-7 message buffer
 * size); the rest is the body.  The same bytes are also base64-encoded
 * and read as grpc-status-details-bin, so the fuzzer reaches RetryInfo
 * through real protobuf structure, and read as the base64 text itself.
 * The text and its base64 are also an answer's grpc-* fields, read back
 * by grpc_status_read().
 *
 *   make fuzz && build/fuzz/fuzz_otlp_response tests/fuzz/corpus_otlp_response
 */
#include "export/otlp_response.h"
#include "transport/exchange.h"
#include "transport/grpc.h"
#include "transport/pbwire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

/* A message the exporter logs: terminated inside its buffer, one line. */
static void check_message(const char *msg, size_t size)
{
	const char *nul = memchr(msg, '\0', size);

	CHECK(nul != NULL);
	for (const char *p = msg; p < nul; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	CHECK(nul == msg || nul[-1] != ' ');
}

/* Every field the reader hands out lies inside the buffer. */
static void walk_fields(const uint8_t *p, size_t len, int depth)
{
	struct pb_reader r;
	struct pb_field f;
	int ret;

	pb_reader_init(&r, p, len);
	while ((ret = pb_next(&r, &f)) == 1) {
		CHECK(f.number >= 1);
		CHECK(r.p >= p && r.p <= p + len);
		if (f.wire_type != 2)
			continue;
		CHECK(f.bytes >= p && f.len <= (size_t)(p + len - f.bytes));
		if (depth < 3)
			walk_fields(f.bytes, f.len, depth + 1);
	}
	CHECK(ret == 0 || ret == -EBADMSG);
}

static void fuzz_partial(const uint8_t *body, size_t len, bool json,
			 size_t msg_size)
{
	char msg[64];
	int64_t rejected = -7;
	int ret;

	memset(msg, 'x', sizeof(msg));
	ret = otlp_response_partial(body, len, json, &rejected, msg, msg_size);
	CHECK(ret == 0 || ret == -EBADMSG);
	CHECK(!json || ret == 0);
	if (msg_size) {
		check_message(msg, msg_size);
		CHECK(memchr(msg + msg_size, '\0', sizeof(msg) - msg_size) == NULL);
	}
}

static void fuzz_error_message(const uint8_t *body, size_t len,
			       const char *content_type, size_t msg_size)
{
	char msg[64];

	memset(msg, 'x', sizeof(msg));
	otlp_response_error_message(body, len, content_type, msg, msg_size);
	if (msg_size)
		check_message(msg, msg_size);
}

static char *base64(const uint8_t *p, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(len * 4 / 3 + 4), *o = out;
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < len; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*o++ = abc[(acc >> bits) & 63];
		}
	}
	if (bits)
		*o++ = abc[(acc << (6 - bits)) & 63];
	*o = '\0'; /* no padding, as gRPC sends it */
	return out;
}

static void fuzz_details(const char *b64, size_t msg_size)
{
	char msg[64];
	int64_t ms = -1;
	int ret;

	memset(msg, 'x', sizeof(msg));
	ret = grpc_retry_info(b64, &ms, msg_size ? msg : NULL, msg_size);
	CHECK(ret == 0 || ret == -ENOENT || ret == -EBADMSG);
	if (ret == 0) /* a server's delay is cut to a year */
		CHECK(ms >= 0 && ms <= 86400LL * 365 * 1000);
	/* Status.message is copied as is (it may hold any byte). */
	if (msg_size)
		CHECK(msg[0] == 'x' || memchr(msg, '\0', msg_size));
}

static void fuzz_grpc_message(const char *s, size_t len)
{
	char *copy = strndup(s, len);
	size_t before;

	if (!copy)
		abort();
	before = strlen(copy);
	grpc_message_decode(copy);
	CHECK(strlen(copy) <= before);
	free(copy);
}

/* The status fields of an answer, as the HTTP/2 part stores them. */
static void fuzz_grpc_status(const char *text, const char *b64)
{
	struct http_response r = { 0 };
	struct grpc_status st;

	http_response_add_field(&r, "grpc-status", 11, text, strlen(text));
	http_response_add_field(&r, "Grpc-Message", 12, text, strlen(text));
	http_response_add_field(&r, "grpc-status-details-bin", 23, b64,
				strlen(b64));
	grpc_status_read(&r, &st);
	/* Any code may come (digits are not checked, as before): just read. */
	CHECK(st.code >= -1 || text[0]);
	CHECK(memchr(st.message, '\0', sizeof(st.message)));
	CHECK(memchr(st.details, '\0', sizeof(st.details)));
	CHECK(strncmp(st.details, b64, sizeof(st.details) - 1) == 0);
	http_response_reset(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *types[] = { NULL, "application/x-protobuf",
				       "application/json; charset=utf-8",
				       "text/plain" };
	const uint8_t *body, *msg;
	size_t len, msg_len, msg_size;
	bool json, z;
	char *text, *b64;
	int ret;

	if (size < 1)
		return 0;
	json = data[0] & 1;
	msg_size = (size_t)(data[0] >> 3) * 2; /* 0..62: cuts and empty buffers */
	len = size - 1;
	/* An answer without a body has body NULL, body_len 0. */
	body = len ? data + 1 : NULL;

	walk_fields(body, len, 0);
	fuzz_partial(body, len, json, msg_size);
	fuzz_error_message(body, len, types[(data[0] >> 1) & 3], msg_size);

	/* gRPC answers: the message inside the 5-byte frame. */
	ret = grpc_unframe(body, len, &msg, &msg_len, &z);
	CHECK(ret == 0 || ret == -EBADMSG);
	if (ret == 0) {
		CHECK(msg_len == 0 || (msg >= body && msg_len <= len - (size_t)(msg - body)));
		fuzz_partial(msg, msg_len, false, msg_size);
	}

	/* Trailers are strings: the bytes up to the first NUL. */
	text = strndup(len ? (const char *)body : "", len);
	if (!text)
		abort();
	fuzz_grpc_message(text, strlen(text));
	fuzz_details(text, msg_size);
	b64 = base64(body, len);
	fuzz_details(b64, msg_size);
	fuzz_grpc_status(text, b64);
	free(text);
	free(b64);
	return 0;
}
