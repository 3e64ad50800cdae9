// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/otlp_response.h"
#include "export/retry.h"
#include "transport/grpc.h"

static struct sp_attempt http(int status)
{
	return (struct sp_attempt){ .kind = SP_ATTEMPT_HTTP, .http_status = status,
				    .server_delay_ms = -1 };
}

static struct sp_attempt grpc(int code, bool retry_info)
{
	return (struct sp_attempt){ .kind = SP_ATTEMPT_GRPC, .grpc_status = code,
				    .has_retry_info = retry_info,
				    .server_delay_ms = -1 };
}

static void test_http_codes(void **state)
{
	for (int s = 400; s < 600; s++) {
		struct sp_attempt a = http(s);
		bool want = s == 429 || s == 502 || s == 503 || s == 504;

		assert_int_equal(retry_is_retryable(&a), want);
	}
	struct sp_attempt lost = { .kind = SP_ATTEMPT_LOST };
	struct sp_attempt timeout = { .kind = SP_ATTEMPT_TIMEOUT };
	struct sp_attempt garbage = { .kind = SP_ATTEMPT_PROTOCOL };

	assert_true(retry_is_retryable(&lost));
	assert_false(retry_is_retryable(&timeout));
	assert_false(retry_is_retryable(&garbage));
}

static void test_grpc_codes(void **state)
{
	const bool want[17] = { [1] = true, [4] = true, [10] = true, [11] = true,
				[14] = true, [15] = true };

	for (int c = 1; c <= 16; c++) {
		struct sp_attempt a = grpc(c, false);

		assert_int_equal(retry_is_retryable(&a), want[c]);
	}
	struct sp_attempt ex = grpc(SP_GRPC_RESOURCE_EXHAUSTED, true);

	assert_true(retry_is_retryable(&ex));
	assert_int_equal(retry_grpc_from_http(503), SP_GRPC_UNAVAILABLE);
	assert_int_equal(retry_grpc_from_http(429), SP_GRPC_UNAVAILABLE);
	assert_int_equal(retry_grpc_from_http(400), SP_GRPC_INTERNAL);
	assert_int_equal(retry_grpc_from_http(404), SP_GRPC_UNIMPLEMENTED);
	assert_int_equal(retry_grpc_from_http(500), SP_GRPC_UNKNOWN);
}

static void test_backoff_bounds(void **state)
{
	struct sp_retry_policy p = { .initial_ms = 1000, .max_ms = 5000,
				     .multiplier_x10 = 15 };
	/* Bases: 1000, 1500, 2250, 3375, 5000 (capped), 5000... */
	const uint32_t base[] = { 1000, 1500, 2250, 3375, 5000, 5000, 5000 };

	for (unsigned r = 0; r < 7; r++) {
		assert_int_equal(retry_backoff_ms(&p, r, 0), base[r] / 2);
		assert_int_equal(retry_backoff_ms(&p, r, base[r] - base[r] / 2), base[r]);
		for (uint32_t rnd = 0; rnd < 100000; rnd += 997) {
			uint32_t d = retry_backoff_ms(&p, r, rnd * 2654435761u);

			assert_true(d >= base[r] / 2 && d <= base[r]);
			assert_true(d <= p.max_ms);
		}
	}
	/* Huge retry counts do not overflow. */
	assert_true(retry_backoff_ms(&p, 1000000, 12345) <= 5000);

	struct sp_attempt a = http(503);

	assert_int_equal(retry_delay_ms(&p, 0, &a, 0), 500);
	a.server_delay_ms = 7000;
	assert_int_equal(retry_delay_ms(&p, 3, &a, 0), 7000);
	/* Room for the last try's time and half as long again, and
	 * RETRY_ROOM_MIN_MS at least beyond it. */
	assert_true(retry_fits(1000, 500, 0, 2000));
	assert_true(retry_fits(1000, 899, 0, 2000));
	assert_false(retry_fits(1000, 900, 0, 2000));
	assert_false(retry_fits(1000, 1000, 0, 2000));
	assert_true(retry_fits(1000, 500, 199, 2000));
	assert_true(retry_fits(1000, 500, 332, 2000));
	assert_false(retry_fits(1000, 500, 334, 2000));
	/* A collector answering in 3.5 s of a 10 s timeout: one retry. */
	assert_true(retry_fits(3500, 0, 3500, 10000));
}

static void test_retry_after(void **state)
{
	int64_t ms;
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	assert_int_equal(retry_parse_after("120", now, &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(retry_parse_after(" 0 ", now, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(retry_parse_after("Sun, 06 Nov 1994 08:49:47 GMT", now, &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(retry_parse_after("Sunday, 06-Nov-94 08:50:37 GMT", now, &ms), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(retry_parse_after("Sun Nov  6 08:49:39 1994", now, &ms), 0);
	assert_int_equal(ms, 2000);
	/* In the past: retry at once. */
	assert_int_equal(retry_parse_after("Thu, 01 Jan 1970 00:00:00 GMT", now, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(retry_parse_after("-5", now, &ms), -EINVAL);
	assert_int_equal(retry_parse_after("1.5", now, &ms), -EINVAL);
	assert_int_equal(retry_parse_after("soon", now, &ms), -EINVAL);
	assert_int_equal(retry_parse_after("99999999999", now, &ms), -EINVAL);
}

static void test_grpc_framing(void **state)
{
	uint8_t body[5 + 3] = { 0 };
	const uint8_t *msg;
	size_t len;
	bool z;

	assert_int_equal(grpc_prefix(body, 3, true), 0);
	assert_memory_equal(body, "\x01\x00\x00\x00\x03", 5);
	memcpy(body + 5, "abc", 3);
	assert_int_equal(grpc_unframe(body, sizeof(body), &msg, &len, &z), 0);
	assert_int_equal(len, 3);
	assert_true(z);
	assert_memory_equal(msg, "abc", 3);
	assert_int_equal(grpc_unframe(body, 7, &msg, &len, &z), -EBADMSG);
	body[0] = 2;
	assert_int_equal(grpc_unframe(body, sizeof(body), &msg, &len, &z), -EBADMSG);

	char m[] = "bad%20spans%3A%zz";

	grpc_message_decode(m);
	assert_string_equal(m, "bad spans:%zz");
}

static void test_grpc_retry_info(void **state)
{
	/*
	 * google.rpc.Status { code: 8, message: "quota", details: [Any {
	 * type_url: "type.googleapis.com/google.rpc.RetryInfo", value:
	 * RetryInfo { retry_delay { seconds: 3, nanos: 500000000 } } }] },
	 * base64 without padding as gRPC sends it.
	 */
	const char *b64 = "CAgSBXF1b3RhGjYKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJw"
			  "Yy5SZXRyeUluZm8SCgoICAMQgMq17gE";
	int64_t ms = -1;
	char msg[32];

	assert_int_equal(grpc_retry_info(b64, &ms, msg, sizeof(msg)), 0);
	assert_int_equal(ms, 3500);
	assert_string_equal(msg, "quota");
	/* Status without details: no RetryInfo. */
	assert_int_equal(grpc_retry_info("CAgSBXF1b3Rh", &ms, NULL, 0), -ENOENT);
	assert_int_equal(grpc_retry_info("CAgSBX", &ms, NULL, 0), -EBADMSG);
	assert_int_equal(grpc_retry_info("**", &ms, NULL, 0), -EBADMSG);
	/* A RetryInfo Any without a value: no delay given (was NULL + 0). */
	ms = -1;
	assert_int_equal(grpc_retry_info("CAgaKgoodHlwZS5nb29nbGVhcGlzLmNvbS9n"
					 "b29nbGUucnBjLlJldHJ5SW5mbw", &ms, NULL, 0), 0);
	assert_int_equal(ms, 0);
	/* retry_delay { seconds: 2^62 }: cut to a year, not overflowed. */
	assert_int_equal(grpc_retry_info("CAgaOAoodHlwZS5nb29nbGVhcGlzLmNvbS9n"
					 "b29nbGUucnBjLlJldHJ5SW5mbxIMCgoIgICAgICA"
					 "gIBA", &ms, NULL, 0), 0);
	assert_int_equal(ms, 86400LL * 365 * 1000);
}

static void test_partial_success(void **state)
{
	/* { partial_success { rejected_spans: 2, error_message: "too old" } } */
	const uint8_t pb[] = { 0x0a, 0x0b, 0x08, 0x02, 0x12, 0x07, 't', 'o', 'o',
			       ' ', 'o', 'l', 'd' };
	const char *json = "{\"partialSuccess\":{\"rejectedSpans\":\"5\","
			   "\"errorMessage\":\"bad\\\"x\"}}";
	int64_t rejected;
	char msg[64];

	assert_int_equal(otlp_response_partial(pb, sizeof(pb), false, &rejected,
					       msg, sizeof(msg)), 0);
	assert_int_equal(rejected, 2);
	assert_string_equal(msg, "too old");
	assert_int_equal(otlp_response_partial(pb, 0, false, &rejected, msg,
					       sizeof(msg)), 0);
	assert_int_equal(rejected, 0);
	assert_string_equal(msg, "");
	assert_int_equal(otlp_response_partial(pb, 5, false, &rejected, msg,
					       sizeof(msg)), -EBADMSG);
	assert_int_equal(otlp_response_partial((const uint8_t *)json, strlen(json),
					       true, &rejected, msg, sizeof(msg)), 0);
	assert_int_equal(rejected, 5);
	assert_string_equal(msg, "bad\\\"x");
	assert_int_equal(otlp_response_partial((const uint8_t *)"{}", 2, true,
					       &rejected, msg, sizeof(msg)), 0);
	assert_int_equal(rejected, 0);

	/* Error bodies: google.rpc.Status { code: 3, message: "nope" }. */
	const uint8_t st[] = { 0x08, 0x03, 0x12, 0x04, 'n', 'o', 'p', 'e' };

	otlp_response_error_message(st, sizeof(st), "application/x-protobuf", msg,
				    sizeof(msg));
	assert_string_equal(msg, "nope");
	otlp_response_error_message((const uint8_t *)"line1\nline2\n", 12,
				    "text/plain", msg, sizeof(msg));
	assert_string_equal(msg, "line1 line2");
}

/*
 * A JSON key at the very start of the text was checked by indexing
 * before the buffer (undefined; seen with -fsanitize=undefined), and an
 * empty body arrives as NULL (NULL + 0 is undefined too).
 */
static void test_response_edges(void **state)
{
	const char *bare = "message\":\"x\"";
	const char *quoted = "\"message\":\"x\"";
	int64_t rejected = 9;
	char msg[16];

	otlp_response_error_message((const uint8_t *)bare, strlen(bare),
				    "application/json", msg, sizeof(msg));
	assert_string_equal(msg, bare); /* no key: the text itself */
	otlp_response_error_message((const uint8_t *)quoted, strlen(quoted),
				    "application/json", msg, sizeof(msg));
	assert_string_equal(msg, "x");
	assert_int_equal(otlp_response_partial(NULL, 0, false, &rejected, msg,
					       sizeof(msg)), 0);
	assert_int_equal(rejected, 0);
	assert_string_equal(msg, "");
	rejected = 9;
	assert_int_equal(otlp_response_partial(NULL, 0, true, &rejected, msg,
					       sizeof(msg)), 0);
	assert_int_equal(rejected, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_codes),
		cmocka_unit_test(test_grpc_codes),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_grpc_framing),
		cmocka_unit_test(test_grpc_retry_info),
		cmocka_unit_test(test_partial_success),
		cmocka_unit_test(test_response_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
