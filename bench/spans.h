/* SPDX-License-Identifier: MIT */
/*
 * Realistic span batches for the benchmarks: HTTP server and client spans
 * with 12 semantic-convention attributes each, random trace/span IDs (so
 * compression sees what it would in production), two resources.  Header
 * only: each benchmark is one .c file built into its own program.
 */
#ifndef SPANPROBE_BENCH_SPANS_H
#define SPANPROBE_BENCH_SPANS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"
#include "span/span.h"
#include "util/clock.h"
#include "util/ids.h"

static struct sp_idgen spans_rng;

/* The daemon's generator with a fixed seed: every run builds the same batches. */
static uint64_t spans_random(void)
{
	static int seeded;

	if (!seeded) {
		idgen_seed(&spans_rng, 0x2545f4914f6cdd1dULL);
		seeded = 1;
	}
	return idgen_next(&spans_rng);
}

#define SPANS_PICK(list) (list[spans_random() % (sizeof(list) / sizeof(list[0]))])

static const char *const spans_routes[] = {
	"/api/v1/orders/{id}", "/api/v1/users/{id}/cart", "/health",
	"/api/v1/products", "/api/v1/search", "/static/{file}",
};
static const char *const spans_methods[] = { "GET", "GET", "GET", "POST",
					     "PUT", "DELETE" };
static const char *const spans_agents[] = {
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36",
	"curl/7.88.1",
	"Go-http-client/1.1",
	"python-requests/2.31.0",
};
static const char *const spans_hosts[] = { "shop.example.com", "api.internal",
					   "10.0.3.17" };

/* A resource as the daemon builds one for a traced process. */
static struct sp_resource *spans_resource(const char *service, int64_t pid)
{
	struct sp_resource *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->refs = 1;
	if (resource_set_str(r, "service.name", service) ||
	    resource_set_str(r, "host.name", "web-7f9c6d-2xkqp") ||
	    resource_set_int(r, "process.pid", pid) ||
	    resource_set_str(r, "process.executable.name", service) ||
	    resource_set_str(r, "process.executable.path", "/usr/local/bin/app") ||
	    resource_set_str(r, "telemetry.sdk.name", "spanprobe") ||
	    resource_set_str(r, "telemetry.sdk.language", "native") ||
	    resource_set_str(r, "telemetry.sdk.version", SP_VERSION)) {
		resource_put(r);
		return NULL;
	}
	return r;
}

static void spans_span_ids(struct sp_span *s)
{
	uint64_t v;

	for (int i = 0; i < 16; i += 8) {
		v = spans_random();
		memcpy(s->trace_id + i, &v, 8);
	}
	v = spans_random();
	memcpy(s->span_id, &v, 8);
	if (spans_random() % 3) { /* a third are roots */
		v = spans_random();
		memcpy(s->parent_span_id, &v, 8);
	}
}

static void spans_span(struct sp_span *s, struct sp_resource *res, uint64_t now)
{
	const char *route = SPANS_PICK(spans_routes);
	const char *method = SPANS_PICK(spans_methods);
	int64_t status = spans_random() % 20 == 0 ? 503 : 200;
	char buf[256], path[128];
	int n;

	span_reset(s);
	spans_span_ids(s);
	s->kind = spans_random() % 2 ? SP_KIND_SERVER : SP_KIND_CLIENT;
	s->start_unix_ns = now + spans_random() % 1000000000;
	s->end_unix_ns = s->start_unix_ns + spans_random() % 50000000;
	s->sampled = 1;
	s->resource = res;
	n = snprintf(buf, sizeof(buf), "%s %s", method, route);
	span_set_name(s, buf, (size_t)n);
	snprintf(path, sizeof(path), "%.*s%llu", (int)strcspn(route, "{"),
		 route, (unsigned long long)(spans_random() % 1000000));
	span_add_cstr(s, "http.request.method", method);
	span_add_cstr(s, "url.path", path);
	span_add_cstr(s, "url.scheme", "http");
	span_add_cstr(s, "http.route", route);
	span_add_int(s, "http.response.status_code", status);
	span_add_cstr(s, "server.address", SPANS_PICK(spans_hosts));
	span_add_int(s, "server.port", 8080);
	n = snprintf(buf, sizeof(buf), "10.%u.%u.%u",
		     (unsigned)(spans_random() % 256),
		     (unsigned)(spans_random() % 256),
		     (unsigned)(spans_random() % 256));
	span_add_str(s, "client.address", buf, (size_t)n);
	span_add_cstr(s, "user_agent.original", SPANS_PICK(spans_agents));
	span_add_cstr(s, "network.protocol.version", "1.1");
	span_add_int(s, "http.response.body.size",
		     (int64_t)(spans_random() % 100000));
	span_add_int(s, "thread.id", (int64_t)(1000 + spans_random() % 64));
	if (status >= 500)
		span_set_status(s, SP_STATUS_ERROR, "Service Unavailable");
}

/*
 * Build `batches` batches of `count` spans as one array of pointers (batch
 * b starts at index b * count).  In each batch the first half of the spans
 * is on res[0], the rest on res[1]: spans of one resource are adjacent, as
 * exporters expect.  Returns NULL on ENOMEM; free with spans_free().
 */
static struct sp_span **spans_build(size_t batches, size_t count,
				    struct sp_resource *const *res)
{
	size_t total = batches * count;
	struct sp_span *pool = calloc(total, sizeof(*pool));
	struct sp_span **spans = calloc(total, sizeof(*spans));
	uint64_t now = clock_real_ns();

	if (!pool || !spans) {
		free(pool);
		free(spans);
		return NULL;
	}
	for (size_t i = 0; i < total; i++) {
		spans_span(&pool[i], res[i % count < count / 2 ? 0 : 1], now);
		spans[i] = &pool[i];
	}
	return spans;
}

static void spans_free(struct sp_span **spans)
{
	if (spans)
		free(spans[0]);
	free(spans);
}

#endif /* SPANPROBE_BENCH_SPANS_H */
