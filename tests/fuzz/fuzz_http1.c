/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP/1 parser.  The input is a script of
 * chunks, each: one op byte (bit 0 direction, bit 1 close the connection
 * first, bits 2-3 log2 of the gap unit), one length byte (captured bytes
 * that follow), one gap byte (gap = value << 4*unit), then the data.
 * Exchanges are checked for the invariants the daemon relies on.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iuser \
 *     tests/fuzz/fuzz_http1.c user/protocol/http1.c user/protocol/http1_parse.c \
 *     user/protocol/route.c user/assemble/traceparent.c user/util/hex.c \
 *     user/util/ring.c -o fuzz_http1
 *   ./fuzz_http1 -dict=tests/fuzz/http1.dict tests/fuzz/corpus_http1
 */
#include "protocol/http1.h"
#include "protocol/route.h"
#include "assemble/traceparent.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

static void check_string(const char *s, size_t size)
{
	CHECK(memchr(s, '\0', size) != NULL);
}

static void check_exchange(const struct http1_exchange *x, void *user)
{
	uint64_t now = *(uint64_t *)user;
	char route[HTTP1_PATH_MAX + 64];
	struct traceparent tp;

	check_string(x->method_original, sizeof(x->method_original));
	check_string(x->path, sizeof(x->path));
	check_string(x->query, sizeof(x->query));
	check_string(x->host, sizeof(x->host));
	check_string(x->user_agent, sizeof(x->user_agent));
	check_string(x->traceparent, sizeof(x->traceparent));
	check_string(x->tracestate, sizeof(x->tracestate));
	check_string(x->req_content_type, sizeof(x->req_content_type));
	check_string(x->resp_content_type, sizeof(x->resp_content_type));
	CHECK(x->method <= HTTP1_M_PATCH);
	CHECK(x->method != HTTP1_M_OTHER || x->method_original[0]);
	CHECK(x->role == HTTP1_ROLE_SERVER || x->role == HTTP1_ROLE_CLIENT);
	CHECK(x->status == 0 || (x->status >= 100 && x->status <= 999));
	CHECK(x->req_version == 0 || x->req_version == 10 ||
	      x->req_version == 11);
	CHECK(x->req_body_size >= -1 && x->resp_body_size >= -1);
	/* Chunk timestamps grow by one per chunk and start at 1. */
	CHECK(x->req_start_ns >= 1 && x->req_start_ns <= x->req_end_ns);
	CHECK(x->req_end_ns <= now);
	if (x->status) {
		CHECK(x->resp_start_ns >= 1 && x->resp_start_ns <= x->resp_end_ns);
		CHECK(x->resp_end_ns <= now);
	} else {
		CHECK(x->flags & HTTP1_X_INCOMPLETE);
	}
	/* Nothing invented: the path came from a request target (a
	 * CONNECT's is its authority, kept as the host: none is left of
	 * one that is all userinfo, "x@"). */
	CHECK(x->path[0] || x->query[0] || (x->flags & HTTP1_X_FIELD_TRUNCATED) ||
	      x->method == HTTP1_M_CONNECT);
	CHECK(x->method != HTTP1_M_CONNECT || !x->path[0]);
	/* Userinfo is never kept. */
	CHECK(!strchr(x->host, '@'));
	CHECK(route_template(x->path, route, sizeof(route)) == 0);
	route_redact_params(x->path, "a,,b", route, sizeof(route));
	CHECK(strlen(route) <= strlen(x->path));
	traceparent_parse(x->traceparent, strlen(x->traceparent), &tp);
}

struct run {
	struct http1_conn c;
	uint64_t ts;
	int n;
	struct http1_exchange x[32];
	int had_gap;
	uint32_t desyncs; /* summed before each close resets the stats */
};

static void record(const struct http1_exchange *x, void *user)
{
	struct run *r = user;

	check_exchange(x, &r->ts);
	if (r->n < 32)
		r->x[r->n] = *x;
	r->n++;
}

/* Plays the script; with `bytewise` every captured chunk is fed one byte
 * per read. */
static void play(struct run *r, const uint8_t *data, size_t size,
		 int bytewise)
{
	size_t i = 0;

	http1_init(&r->c);
	r->ts = 0;
	r->n = 0;
	r->had_gap = 0;
	r->desyncs = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		size_t gap = (size_t)data[i + 2] << (4 * ((op >> 2) & 3));

		i += 3;
		if (len > size - i)
			len = size - i;
		r->had_gap |= gap != 0;
		r->ts++;
		if (op & 2) {
			r->desyncs += r->c.stats.desyncs;
			http1_close(&r->c, r->ts, record, r);
		}
		if (!bytewise || len == 0 || gap) {
			CHECK(http1_feed(&r->c, op & 1, data + i, len,
					 len + gap, r->ts, record, r) == 0);
		} else {
			for (size_t k = 0; k < len; k++)
				CHECK(http1_feed(&r->c, op & 1, data + i + k, 1,
						 1, r->ts, record, r) == 0);
		}
		CHECK(r->c.count <= HTTP1_PIPELINE_MAX);
		i += len;
	}
	r->ts++;
	r->desyncs += r->c.stats.desyncs;
	http1_close(&r->c, r->ts, record, r);
	CHECK(r->c.count == 0);
}

/* Same exchanges apart from timestamps (a string's bytes past its NUL
 * are whatever its slot held before: not compared). */
static void check_same(const struct http1_exchange *a,
		       const struct http1_exchange *b)
{
	size_t from = offsetof(struct http1_exchange, req_body_size);
	size_t to = offsetof(struct http1_exchange, method_original);

	CHECK(memcmp((const char *)a + from, (const char *)b + from, to - from) == 0);
	CHECK(strcmp(a->method_original, b->method_original) == 0);
	CHECK(strcmp(a->path, b->path) == 0);
	CHECK(strcmp(a->query, b->query) == 0);
	CHECK(strcmp(a->host, b->host) == 0);
	CHECK(strcmp(a->user_agent, b->user_agent) == 0);
	CHECK(strcmp(a->traceparent, b->traceparent) == 0);
	CHECK(strcmp(a->tracestate, b->tracestate) == 0);
	CHECK(strcmp(a->req_content_type, b->req_content_type) == 0);
	CHECK(strcmp(a->resp_content_type, b->resp_content_type) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, bytes;

	play(&whole, data, size, 0);
	play(&bytes, data, size, 1);
	/* Without gaps and framing loss, read boundaries must not matter
	 * (with them, where a read starts is a resync hint). */
	if (whole.had_gap || whole.desyncs || bytes.desyncs)
		return 0;
	CHECK(whole.n == bytes.n);
	for (int k = 0; k < whole.n && k < 32; k++)
		check_same(&whole.x[k], &bytes.x[k]);
	return 0;
}
