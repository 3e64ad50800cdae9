// SPDX-License-Identifier: MIT
#include "export/retry.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool retry_is_retryable(const struct sp_attempt *a)
{
	switch (a->kind) {
	case SP_ATTEMPT_LOST:
		return true;
	case SP_ATTEMPT_HTTP:
		/* OTLP/HTTP: 429, 502, 503 and 504 only. */
		return a->http_status == 429 || a->http_status == 502 ||
		       a->http_status == 503 || a->http_status == 504;
	case SP_ATTEMPT_GRPC:
		switch (a->grpc_status) {
		case SP_GRPC_CANCELLED:
		case SP_GRPC_DEADLINE_EXCEEDED:
		case SP_GRPC_ABORTED:
		case SP_GRPC_OUT_OF_RANGE:
		case SP_GRPC_UNAVAILABLE:
		case SP_GRPC_DATA_LOSS:
			return true;
		case SP_GRPC_RESOURCE_EXHAUSTED:
			/* Only when the server says recovery is possible. */
			return a->has_retry_info;
		default:
			return false;
		}
	case SP_ATTEMPT_OK:
	case SP_ATTEMPT_TIMEOUT:
	case SP_ATTEMPT_PROTOCOL:
		break;
	}
	return false;
}

uint32_t retry_backoff_ms(const struct sp_retry_policy *p, unsigned retry,
			  uint32_t rnd)
{
	uint64_t base = p->initial_ms;
	uint32_t mult = p->multiplier_x10 < 10 ? 10 : p->multiplier_x10;
	uint64_t half;

	for (unsigned i = 0; i < retry && base < p->max_ms; i++)
		base = base * mult / 10;
	if (base > p->max_ms)
		base = p->max_ms;
	half = base / 2;
	return (uint32_t)(half + (base - half == 0 ? 0 : rnd % (base - half + 1)));
}

int64_t retry_delay_ms(const struct sp_retry_policy *p, unsigned retry,
		       const struct sp_attempt *a, uint32_t rnd)
{
	if (a->server_delay_ms >= 0)
		return a->server_delay_ms;
	return retry_backoff_ms(p, retry, rnd);
}

/* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850, asctime. */
static int parse_http_date(const char *v, time_t *out)
{
	struct tm tm = { 0 };
	const char *end = NULL;
	/* strptime's %a/%b are locale names; the daemon runs in the C locale. */
	const char *forms[] = { "%a, %d %b %Y %H:%M:%S GMT",
				"%A, %d-%b-%y %H:%M:%S GMT",
				"%a %b %e %H:%M:%S %Y" };

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]) && !end; i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(v, forms[i], &tm);
		if (end && *end)
			end = NULL;
	}
	if (!end)
		return -EINVAL;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -EINVAL : 0;
}

int retry_parse_after(const char *value, time_t now, int64_t *ms)
{
	const char *p = value;
	time_t when;
	int64_t secs = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			secs = secs * 10 + (*p - '0');
			if (secs > 86400 * 365)
				return -EINVAL;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return -EINVAL;
		*ms = secs * 1000;
		return 0;
	}
	if (parse_http_date(p, &when))
		return -EINVAL;
	*ms = when > now ? (int64_t)(when - now) * 1000 : 0;
	return 0;
}

bool retry_fits(int64_t now_ms, int64_t delay_ms, int64_t took_ms,
		int64_t deadline_ms)
{
	int64_t spare = took_ms / 2;

	if (spare < RETRY_ROOM_MIN_MS)
		spare = RETRY_ROOM_MIN_MS;
	return now_ms + delay_ms + took_ms + spare < deadline_ms;
}

int retry_grpc_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return SP_GRPC_INTERNAL;
	case 401:
		return SP_GRPC_UNAUTHENTICATED;
	case 403:
		return SP_GRPC_PERMISSION_DENIED;
	case 404:
		return SP_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return SP_GRPC_UNAVAILABLE;
	default:
		return SP_GRPC_UNKNOWN;
	}
}
