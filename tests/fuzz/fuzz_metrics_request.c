/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what a client of the metrics server sends: the
 * request head parser (httpserve_parse), fed as the server feeds it, a
 * growing prefix at a time, and the listening address parser on the
 * input's first line.  Invariants: a head is found at most once and at
 * the same place whatever the chunking, it ends with LF inside the input,
 * the path is a NUL-terminated origin-form path, and every refusal is one
 * of the statuses the server answers with.
 *
 *   make fuzz && build/fuzz/fuzz_metrics_request \
 *     -dict=tests/fuzz/metrics_request.dict tests/fuzz/corpus_metrics_request
 */
#include "daemon/httpserve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

static void check_request(const char *buf, size_t len, int ret,
			  const struct httpserve_request *req)
{
	CHECK(ret == 0 || ret == -400 || ret == -414 || ret == -505 || ret > 0);
	if (ret <= 0)
		return;
	CHECK((size_t)ret <= len && buf[ret - 1] == '\n');
	CHECK(memchr(req->path, '\0', sizeof(req->path)) != NULL);
	CHECK(req->path[0] == '/' && !strchr(req->path, '?') && !strchr(req->path, ' '));
	CHECK(req->method[0] && memchr(req->method, '\0', sizeof(req->method)));
	CHECK(req->minor >= 0 && req->minor <= 9);
}

/* The server's way: the whole buffer so far, after each chunk. */
static int parse_in_chunks(const char *buf, size_t len, size_t step)
{
	struct httpserve_request req;
	size_t have = 0;
	int ret = 0;

	while (have < len && ret == 0) {
		have = have + step < len ? have + step : len;
		ret = httpserve_parse(buf, have, &req);
		check_request(buf, have, ret, &req);
	}
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpserve_request req;
	size_t len = size < HTTPSERVE_HEAD_MAX ? size : HTTPSERVE_HEAD_MAX;
	char *buf = malloc(len ? len : 1);
	struct sockaddr_storage ss;
	socklen_t sl;
	const uint8_t *nl;
	char addr[80];
	size_t n;
	int whole;

	if (!buf)
		return 0;
	memcpy(buf, data, len);
	whole = httpserve_parse(buf, len, &req);
	check_request(buf, len, whole, &req);
	/* A head found in pieces is the one found whole; a refusal may come
	 * earlier (a bad line), never a different head. */
	for (size_t step = 1; step <= 7; step += 3) {
		int ret = parse_in_chunks(buf, len, step);

		CHECK(ret <= 0 || ret == whole);
		CHECK(whole <= 0 || ret == whole);
	}
	free(buf);
	nl = memchr(data, '\n', size); /* the input is not a C string */
	n = nl ? (size_t)(nl - data) : size;
	n = n < sizeof(addr) - 1 ? n : sizeof(addr) - 1;
	memcpy(addr, data, n);
	addr[n] = '\0';
	if (httpserve_parse_address(addr, &ss, &sl) == 0)
		CHECK(sl <= sizeof(ss) && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6));
	return 0;
}
