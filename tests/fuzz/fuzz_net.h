/* SPDX-License-Identifier: MIT */
/* What the exporter's client fuzzers (fuzz_net_h1.c, fuzz_net_h2.c) share. */
#ifndef SPANPROBE_FUZZ_NET_H
#define SPANPROBE_FUZZ_NET_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/exchange.h"
#include "transport/http.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

/* Write what the socket takes; returns how much. */
static inline size_t fuzz_push(int fd, const uint8_t *p, size_t len)
{
	ssize_t n = write(fd, p, len);

	if (n < 0) {
		CHECK(errno == EAGAIN);
		return 0;
	}
	return (size_t)n;
}

/* Fields are "name\0value\0" pairs within the bound; names lower case
 * when `lower`. */
static inline void fuzz_check_fields(const struct http_response *r, bool lower)
{
	size_t strings = 0;

	CHECK(r->fields_len <= HTTP_FIELDS_MAX);
	CHECK(r->fields_len == 0 || r->fields[r->fields_len - 1] == '\0');
	for (size_t off = 0; off < r->fields_len; strings++) {
		const char *s = r->fields + off;

		if (lower && strings % 2 == 0)
			for (const char *c = s; *c; c++)
				CHECK(!(*c >= 'A' && *c <= 'Z'));
		off += strlen(s) + 1;
	}
	CHECK(strings % 2 == 0);
}

/* Once: the connection `c` talks to a collector of `t`. */
static inline void fuzz_conn_init(struct http_target *t, struct http_conn *c)
{
	if (t->user_agent)
		return;
	CHECK(url_parse("http://collector:4318/v1/traces", &t->url) == 0);
	t->user_agent = "spanprobe-fuzz";
	c->target = t;
	c->io.fd = -1;
}

/* Two answers, read in different pieces, are the same answer. */
static inline void fuzz_check_same(const struct http_response *ra,
				   const struct http_response *rb)
{
	CHECK(ra->status == rb->status);
	CHECK(ra->body_len == rb->body_len &&
	      ra->body_truncated == rb->body_truncated);
	CHECK(ra->body_len == 0 || memcmp(ra->body, rb->body, ra->body_len) == 0);
	CHECK(ra->fields_len == rb->fields_len);
	CHECK(ra->fields_len == 0 ||
	      memcmp(ra->fields, rb->fields, ra->fields_len) == 0);
}

#endif /* SPANPROBE_FUZZ_NET_H */
