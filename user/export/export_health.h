/* SPDX-License-Identifier: MIT */
/*
 * How the exporter's requests end, for the self-metrics and the readiness
 * probe: a count per outcome (success, each HTTP status and gRPC code
 * that is not, timeouts, failed connections, unreadable answers) and the
 * run of failures since the last success, with the last reason.  The
 * export thread notes every attempt; any thread may copy it.
 */
#ifndef SPANPROBE_EXPORT_HEALTH_H
#define SPANPROBE_EXPORT_HEALTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/retry.h"

#define EXPORT_HTTP_FIRST 100
#define EXPORT_HTTP_STATUSES 500 /* 100..599 */
#define EXPORT_GRPC_CODES 17

enum export_fail_kind {
	EXPORT_FAIL_TIMEOUT = 0, /* no answer in time */
	EXPORT_FAIL_CONNECTION,  /* refused, reset, closed: unreachable */
	EXPORT_FAIL_PROTOCOL,    /* an answer that could not be read */
	EXPORT_FAIL_KINDS,
};

/* A copy, taken at one moment. */
struct export_health_snap {
	uint64_t ok;
	uint64_t http[EXPORT_HTTP_STATUSES]; /* by status - EXPORT_HTTP_FIRST */
	uint64_t grpc[EXPORT_GRPC_CODES];
	uint64_t kinds[EXPORT_FAIL_KINDS];
	uint64_t failures_in_row;   /* since the last success */
	bool unreachable;           /* the last attempt found no collector */
	char last_error[200];       /* why the last failure failed */
};

struct export_health {
	pthread_mutex_t lock;
	struct export_health_snap s;
};

void export_health_init(struct export_health *h);
void export_health_destroy(struct export_health *h);

/* One request ended as `a` says; `why` is its reason when it failed. */
void export_health_note(struct export_health *h, const struct sp_attempt *a,
			const char *why);

void export_health_get(struct export_health *h, struct export_health_snap *out);

/* Requests that did not succeed, all outcomes together. */
uint64_t export_health_failures(const struct export_health_snap *s);

/*
 * The outcome labels with a count, in a fixed order: "ok" first, then
 * HTTP statuses ("503"), gRPC codes ("UNAVAILABLE"), "timeout",
 * "connection_failed", "protocol_error".  Calls `fn` for each non-zero
 * count (and for "ok" always).
 */
void export_health_each(const struct export_health_snap *s,
			void (*fn)(void *ctx, const char *status, uint64_t count),
			void *ctx);

/* "OK", "UNAVAILABLE"... or "?" for a code outside 0..16. */
const char *export_grpc_code_name(int code);

#endif /* SPANPROBE_EXPORT_HEALTH_H */
