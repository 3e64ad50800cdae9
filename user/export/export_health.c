// SPDX-License-Identifier: MIT
#include "export/export_health.h"

#include <stdio.h>
#include <string.h>

void export_health_init(struct export_health *h)
{
	memset(&h->s, 0, sizeof(h->s));
	pthread_mutex_init(&h->lock, NULL);
}

void export_health_destroy(struct export_health *h)
{
	pthread_mutex_destroy(&h->lock);
}

const char *export_grpc_code_name(int code)
{
	static const char *const names[EXPORT_GRPC_CODES] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	return code >= 0 && code < EXPORT_GRPC_CODES ? names[code] : "?";
}

/* The counter of a failed attempt; NULL for one outside every table. */
static uint64_t *failure_counter(struct export_health_snap *s, const struct sp_attempt *a)
{
	switch (a->kind) {
	case SP_ATTEMPT_HTTP:
		if (a->http_status < EXPORT_HTTP_FIRST ||
		    a->http_status >= EXPORT_HTTP_FIRST + EXPORT_HTTP_STATUSES)
			return &s->kinds[EXPORT_FAIL_PROTOCOL];
		return &s->http[a->http_status - EXPORT_HTTP_FIRST];
	case SP_ATTEMPT_GRPC:
		if (a->grpc_status < 0 || a->grpc_status >= EXPORT_GRPC_CODES)
			return &s->grpc[2]; /* UNKNOWN */
		return &s->grpc[a->grpc_status];
	case SP_ATTEMPT_TIMEOUT:
		return &s->kinds[EXPORT_FAIL_TIMEOUT];
	case SP_ATTEMPT_LOST:
		return &s->kinds[EXPORT_FAIL_CONNECTION];
	default:
		return &s->kinds[EXPORT_FAIL_PROTOCOL];
	}
}

void export_health_note(struct export_health *h, const struct sp_attempt *a,
			const char *why)
{
	struct export_health_snap *s = &h->s;

	pthread_mutex_lock(&h->lock);
	if (a->kind == SP_ATTEMPT_OK) {
		s->ok++;
		s->failures_in_row = 0;
		s->unreachable = false;
	} else {
		(*failure_counter(s, a))++;
		s->failures_in_row++;
		s->unreachable = a->kind == SP_ATTEMPT_LOST;
		snprintf(s->last_error, sizeof(s->last_error), "%s",
			 why && *why ? why : "failed");
	}
	pthread_mutex_unlock(&h->lock);
}

void export_health_get(struct export_health *h, struct export_health_snap *out)
{
	pthread_mutex_lock(&h->lock);
	*out = h->s;
	pthread_mutex_unlock(&h->lock);
}

uint64_t export_health_failures(const struct export_health_snap *s)
{
	uint64_t n = 0;

	for (int i = 0; i < EXPORT_HTTP_STATUSES; i++)
		n += s->http[i];
	for (int i = 0; i < EXPORT_GRPC_CODES; i++)
		n += s->grpc[i];
	for (int i = 0; i < EXPORT_FAIL_KINDS; i++)
		n += s->kinds[i];
	return n;
}

void export_health_each(const struct export_health_snap *s,
			void (*fn)(void *ctx, const char *status, uint64_t count),
			void *ctx)
{
	static const char *const kinds[EXPORT_FAIL_KINDS] = {
		"timeout", "connection_failed", "protocol_error",
	};
	char code[8];

	fn(ctx, "ok", s->ok);
	for (int i = 0; i < EXPORT_HTTP_STATUSES; i++) {
		if (!s->http[i])
			continue;
		snprintf(code, sizeof(code), "%d", i + EXPORT_HTTP_FIRST);
		fn(ctx, code, s->http[i]);
	}
	for (int i = 0; i < EXPORT_GRPC_CODES; i++)
		if (s->grpc[i])
			fn(ctx, export_grpc_code_name(i), s->grpc[i]);
	for (int i = 0; i < EXPORT_FAIL_KINDS; i++)
		if (s->kinds[i])
			fn(ctx, kinds[i], s->kinds[i]);
}
