/* SPDX-License-Identifier: MIT */
/*
 * Realistic span batches for the benchmarks: HTTP server and client spans
 * with 12 semantic-convention attributes each, random trace/span IDs (so
 * compression sees what it would in production), two resources.  Header
 * only: each benchmark is one .c file built into its own program.
 */
#ifndef SPANPROBE_BENCH_BATCH_H
#define SPANPROBE_BENCH_BATCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"
#include "span/span.h"
#include "util/clock.h"

static uint64_t batch_rng = 0x2545f4914f6cdd1dULL;

/* xorshift64*: fixed seed, so every run builds the same batches. */
static uint64_t batch_random(void)
{
	batch_rng ^= batch_rng >> 12;
	batch_rng ^= batch_rng << 25;
	batch_rng ^= batch_rng >> 27;
	return batch_rng * 2685821657736338717ULL;
}

#define BATCH_PICK(list) (list[batch_random() % (sizeof(list) / sizeof(list[0]))])

static const char *const batch_routes[] = {
	"/api/v1/orders/{id}", "/api/v1/users/{id}/cart", "/health",
	"/api/v1/products", "/api/v1/search", "/static/{file}",
};
static const char *const batch_methods[] = { "GET", "GET", "GET", "POST",
					     "PUT", "DELETE" };
static const char *const batch_agents[] = {
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36",
	"curl/7.88.1",
	"Go-http-client/1.1",
	"python-requests/2.31.0",
};
static const char *const batch_hosts[] = { "shop.example.com", "api.internal",
					   "10.0.3.17" };

/* A resource as the daemon builds one for a traced process. */
static struct sp_resource *batch_resource(const char *service, int64_t pid)
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

static void batch_span_ids(struct sp_span *s)
{
	uint64_t v;

	for (int i = 0; i < 16; i += 8) {
		v = batch_random();
		memcpy(s->trace_id + i, &v, 8);
	}
	v = batch_random();
	memcpy(s->span_id, &v, 8);
	if (batch_random() % 3) { /* a third are roots */
		v = batch_random();
		memcpy(s->parent_span_id, &v, 8);
	}
}

static void batch_span(struct sp_span *s, struct sp_resource *res, uint64_t now)
{
	const char *route = BATCH_PICK(batch_routes);
	const char *method = BATCH_PICK(batch_methods);
	int64_t status = batch_random() % 20 == 0 ? 503 : 200;
	char buf[256], path[128];
	int n;

	span_reset(s);
	batch_span_ids(s);
	s->kind = batch_random() % 2 ? SP_KIND_SERVER : SP_KIND_CLIENT;
	s->start_unix_ns = now + batch_random() % 1000000000;
	s->end_unix_ns = s->start_unix_ns + batch_random() % 50000000;
	s->sampled = 1;
	s->resource = res;
	n = snprintf(buf, sizeof(buf), "%s %s", method, route);
	span_set_name(s, buf, (size_t)n);
	snprintf(path, sizeof(path), "%.*s%llu", (int)strcspn(route, "{"),
		 route, (unsigned long long)(batch_random() % 1000000));
	span_add_cstr(s, "http.request.method", method);
	span_add_cstr(s, "url.path", path);
	span_add_cstr(s, "url.scheme", "http");
	span_add_cstr(s, "http.route", route);
	span_add_int(s, "http.response.status_code", status);
	span_add_cstr(s, "server.address", BATCH_PICK(batch_hosts));
	span_add_int(s, "server.port", 8080);
	n = snprintf(buf, sizeof(buf), "10.%u.%u.%u",
		     (unsigned)(batch_random() % 256),
		     (unsigned)(batch_random() % 256),
		     (unsigned)(batch_random() % 256));
	span_add_str(s, "client.address", buf, (size_t)n);
	span_add_cstr(s, "user_agent.original", BATCH_PICK(batch_agents));
	span_add_cstr(s, "network.protocol.version", "1.1");
	span_add_int(s, "http.response.body.size",
		     (int64_t)(batch_random() % 100000));
	span_add_int(s, "thread.id", (int64_t)(1000 + batch_random() % 64));
	if (status >= 500)
		span_set_status(s, SP_STATUS_ERROR, "Service Unavailable");
}

/*
 * Build `batches` batches of `count` spans as one array of pointers (batch
 * b starts at index b * count).  In each batch the first half of the spans
 * is on res[0], the rest on res[1]: spans of one resource are adjacent, as
 * exporters expect.  Returns NULL on ENOMEM; free with batch_free().
 */
static struct sp_span **batch_build(size_t batches, size_t count,
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
		batch_span(&pool[i], res[i % count < count / 2 ? 0 : 1], now);
		spans[i] = &pool[i];
	}
	return spans;
}

static void batch_free(struct sp_span **spans)
{
	if (spans)
		free(spans[0]);
	free(spans);
}

#endif /* SPANPROBE_BENCH_BATCH_H */
