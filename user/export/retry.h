/* SPDX-License-Identifier: MIT */
/*
 * Retry policy of the OTLP exporter (OTLP specification, "Failures" and
 * "Retryable response codes"): which outcomes are retried, how long to
 * wait (server-given delay first, else exponential backoff with jitter)
 * and when to give up (the wait would pass the export deadline).
 */
#ifndef SPANPROBE_RETRY_H
#define SPANPROBE_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* gRPC status codes the policy names. */
enum sp_grpc_code {
	SP_GRPC_OK = 0,
	SP_GRPC_CANCELLED = 1,
	SP_GRPC_UNKNOWN = 2,
	SP_GRPC_INVALID_ARGUMENT = 3,
	SP_GRPC_DEADLINE_EXCEEDED = 4,
	SP_GRPC_PERMISSION_DENIED = 7,
	SP_GRPC_RESOURCE_EXHAUSTED = 8,
	SP_GRPC_ABORTED = 10,
	SP_GRPC_OUT_OF_RANGE = 11,
	SP_GRPC_UNIMPLEMENTED = 12,
	SP_GRPC_INTERNAL = 13,
	SP_GRPC_UNAVAILABLE = 14,
	SP_GRPC_DATA_LOSS = 15,
	SP_GRPC_UNAUTHENTICATED = 16,
};

enum sp_attempt_kind {
	SP_ATTEMPT_OK = 0,
	SP_ATTEMPT_HTTP,     /* an HTTP status other than 2xx */
	SP_ATTEMPT_GRPC,     /* a grpc-status other than OK */
	SP_ATTEMPT_LOST,     /* refused, reset, closed: no answer */
	SP_ATTEMPT_TIMEOUT,  /* our deadline passed */
	SP_ATTEMPT_PROTOCOL, /* an answer we cannot read */
};

/* What one attempt came back with. */
struct sp_attempt {
	enum sp_attempt_kind kind;
	int http_status;
	int grpc_status;
	bool has_retry_info;   /* gRPC RetryInfo present */
	int64_t server_delay_ms; /* Retry-After / RetryInfo; -1: none */
};

struct sp_retry_policy {
	uint32_t initial_ms;   /* backoff before the first retry */
	uint32_t max_ms;       /* backoff never above this */
	uint32_t multiplier_x10; /* growth per attempt, times 10 (15: 1.5) */
};

/* Is this outcome worth another attempt? */
bool retry_is_retryable(const struct sp_attempt *a);

/*
 * Backoff before retry number `retry` (0 for the first): base =
 * initial * multiplier^retry capped at max_ms, then a uniformly jittered
 * value in [base / 2, base] picked by `rnd`.  Never above max_ms, never
 * below initial_ms / 2.
 */
uint32_t retry_backoff_ms(const struct sp_retry_policy *p, unsigned retry,
			  uint32_t rnd);

/*
 * Wait before the next attempt: the server's delay when it gave one,
 * else retry_backoff_ms().
 */
int64_t retry_delay_ms(const struct sp_retry_policy *p, unsigned retry,
		       const struct sp_attempt *a, uint32_t rnd);

/*
 * Parse a Retry-After value (RFC 9110 10.2.3): delay-seconds or an
 * HTTP-date (IMF-fixdate, RFC 850 or asctime form), relative to `now`.
 * A date in the past gives 0.  Returns 0 and *ms, or -EINVAL.
 */
int retry_parse_after(const char *value, time_t now, int64_t *ms);

/* Least time a retry must leave beyond the last try's before the deadline. */
#define RETRY_ROOM_MIN_MS 100

/*
 * Would a wait of `delay_ms` from `now_ms` leave time before `deadline_ms`
 * for a try that takes as long as the last one did (`took_ms`), and half
 * as long again (RETRY_ROOM_MIN_MS at least) for a slower answer?  A try
 * sent just before the deadline gets no answer: its spans would count as
 * outcome unknown, and stay out of the disk queue, for nothing.
 */
bool retry_fits(int64_t now_ms, int64_t delay_ms, int64_t took_ms,
		int64_t deadline_ms);

/*
 * Map an HTTP status seen on a gRPC call (no grpc-status) to a gRPC code,
 * as gRPC's "HTTP to gRPC Status Code Mapping" says.
 */
int retry_grpc_from_http(int http_status);

#endif /* SPANPROBE_RETRY_H */
