/* SPDX-License-Identifier: MIT */
/* OTLP/JSON rendering: exact output for small batches. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export/otlp_encode.h"
#include "unit/unit_helpers.h"

#define TRACE_HEX "0102030405060708090a0b0c0d0e0f10"
#define SCOPE "\"scope\":{\"name\":\"spanprobe\",\"version\":\"" SP_VERSION "\"}"
#define T0 1700000000000000000ULL

/* A span of trace 01..10 with span ID `id`*8 bytes, times T0+start/end. */
static void mk_span(struct sp_span *s, uint8_t id, const char *name,
		    struct sp_resource *res, uint64_t start, uint64_t end)
{
	span_reset(s);
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(i + 1);
	memset(s->span_id, id, 8);
	span_set_name(s, name, strlen(name));
	s->kind = SP_KIND_INTERNAL;
	s->start_unix_ns = T0 + start;
	s->end_unix_ns = T0 + end;
	s->resource = res;
}

/* Encode and compare with `want` exactly (the output has no NUL). */
static void expect_json(struct sp_span *const *spans, size_t n, const char *want)
{
	uint8_t *out = NULL;
	size_t len = 0;

	assert_int_equal(otlp_encode_json(spans, n, &out, &len), 0);
	assert_non_null(out);
	if (len != strlen(want) || memcmp(out, want, len) != 0) {
		print_error("got:  %.*s\nwant: %s\n", (int)len, (char *)out, want);
		fail();
	}
	free(out);
}

static void test_empty_batch(void **state)
{
	(void)state;
	expect_json(NULL, 0, "{\"resourceSpans\":[]}");
}

static void test_one_span_exact(void **state)
{
	struct sp_resource *res = bare_resource(7);
	struct sp_span s;
	struct sp_span *batch[] = { &s };

	(void)state;
	assert_int_equal(resource_set_str(res, "service.name", "svc"), 0);
	assert_int_equal(resource_set_int(res, "process.pid", 7), 0);
	mk_span(&s, 0xa1, "outer", res, 1, 2);
	span_add_cstr(&s, "code.function.name", "outer");
	span_add_int(&s, "thread.id", 8);
	expect_json(batch, 1,
		"{\"resourceSpans\":[{\"resource\":{\"attributes\":["
		"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
		"{\"key\":\"process.pid\",\"value\":{\"intValue\":\"7\"}}"
		"]},\"scopeSpans\":[{" SCOPE ",\"spans\":["
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"a1a1a1a1a1a1a1a1\","
		"\"name\":\"outer\",\"kind\":1,"
		"\"startTimeUnixNano\":\"1700000000000000001\","
		"\"endTimeUnixNano\":\"1700000000000000002\","
		"\"attributes\":["
		"{\"key\":\"code.function.name\",\"value\":{\"stringValue\":\"outer\"}},"
		"{\"key\":\"thread.id\",\"value\":{\"intValue\":\"8\"}}"
		"],\"status\":{}}"
		"]}]}]}");
	resource_put(res);
}

/* The resource's attributes are written once and kept with it: a second
 * batch gives the same bytes from the copy, and an attribute set before
 * the resource is shared again drops the copy. */
static void test_resource_kept(void **state)
{
	struct sp_resource *res = bare_resource(7);
	struct sp_span s;
	struct sp_span *batch[] = { &s };
	const char *head = "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
			   "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"%s\"}}"
			   "]},\"scopeSpans\":[{" SCOPE ",\"spans\":["
			   "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"a1a1a1a1a1a1a1a1\","
			   "\"name\":\"s\",\"kind\":1,"
			   "\"startTimeUnixNano\":\"1700000000000000001\","
			   "\"endTimeUnixNano\":\"1700000000000000002\","
			   "\"attributes\":[],\"status\":{}}]}]}]}";
	char want[1024];

	(void)state;
	assert_int_equal(resource_set_str(res, "service.name", "before"), 0);
	mk_span(&s, 0xa1, "s", res, 1, 2);
	snprintf(want, sizeof(want), head, "before");
	assert_null(res->encoded_json);
	expect_json(batch, 1, want);
	assert_non_null(res->encoded_json);
	expect_json(batch, 1, want);
	assert_int_equal(resource_set_str(res, "service.name", "after"), 0);
	assert_null(res->encoded_json);
	snprintf(want, sizeof(want), head, "after");
	expect_json(batch, 1, want);
	resource_put(res);
}

/* Two processes: a ResourceSpans per run of spans sharing a resource. */
static void test_two_resources(void **state)
{
	struct sp_resource *r1 = bare_resource(1), *r2 = bare_resource(2);
	struct sp_span a, b, c;
	struct sp_span *batch[] = { &a, &b, &c };

	(void)state;
	resource_set_str(r1, "service.name", "one");
	resource_set_str(r2, "service.name", "two");
	mk_span(&a, 0x11, "a", r1, 0, 5);
	mk_span(&b, 0x22, "b", r1, 1, 4);
	memset(b.parent_span_id, 0x11, 8);
	mk_span(&c, 0x33, "c", r2, 2, 3);
	c.kind = SP_KIND_SERVER;
	expect_json(batch, 3,
		"{\"resourceSpans\":["
		"{\"resource\":{\"attributes\":["
		"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"one\"}}"
		"]},\"scopeSpans\":[{" SCOPE ",\"spans\":["
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"1111111111111111\","
		"\"name\":\"a\",\"kind\":1,"
		"\"startTimeUnixNano\":\"1700000000000000000\","
		"\"endTimeUnixNano\":\"1700000000000000005\","
		"\"attributes\":[],\"status\":{}},"
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"2222222222222222\","
		"\"parentSpanId\":\"1111111111111111\","
		"\"name\":\"b\",\"kind\":1,"
		"\"startTimeUnixNano\":\"1700000000000000001\","
		"\"endTimeUnixNano\":\"1700000000000000004\","
		"\"attributes\":[],\"status\":{}}"
		"]}]},"
		"{\"resource\":{\"attributes\":["
		"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"two\"}}"
		"]},\"scopeSpans\":[{" SCOPE ",\"spans\":["
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"3333333333333333\","
		"\"name\":\"c\",\"kind\":2,"
		"\"startTimeUnixNano\":\"1700000000000000002\","
		"\"endTimeUnixNano\":\"1700000000000000003\","
		"\"attributes\":[],\"status\":{}}"
		"]}]}"
		"]}");
	resource_put(r1);
	resource_put(r2);
}

static void test_attribute_types(void **state)
{
	struct sp_span s;
	struct sp_span *batch[] = { &s };

	(void)state;
	mk_span(&s, 0x01, "t", NULL, 0, 0);
	span_add_cstr(&s, "s", "text");
	span_add_cstr(&s, "empty", "");
	span_add_int(&s, "zero", 0);
	span_add_int(&s, "neg", -42);
	span_add_int(&s, "max", INT64_MAX);
	span_add_int(&s, "min", INT64_MIN);
	span_add_bool(&s, "yes", true);
	span_add_bool(&s, "no", false);
	span_add_double(&s, "half", 0.5);
	span_add_double(&s, "neg_double", -2.25);
	span_add_double(&s, "whole", 3.0);
	span_add_double(&s, "tenth", 0.1);
	expect_json(batch, 1,
		"{\"resourceSpans\":[{\"resource\":{\"attributes\":[]},"
		"\"scopeSpans\":[{" SCOPE ",\"spans\":["
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"0101010101010101\","
		"\"name\":\"t\",\"kind\":1,"
		"\"startTimeUnixNano\":\"1700000000000000000\","
		"\"endTimeUnixNano\":\"1700000000000000000\","
		"\"attributes\":["
		"{\"key\":\"s\",\"value\":{\"stringValue\":\"text\"}},"
		"{\"key\":\"empty\",\"value\":{\"stringValue\":\"\"}},"
		"{\"key\":\"zero\",\"value\":{\"intValue\":\"0\"}},"
		"{\"key\":\"neg\",\"value\":{\"intValue\":\"-42\"}},"
		"{\"key\":\"max\",\"value\":{\"intValue\":\"9223372036854775807\"}},"
		"{\"key\":\"min\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
		"{\"key\":\"yes\",\"value\":{\"boolValue\":true}},"
		"{\"key\":\"no\",\"value\":{\"boolValue\":false}},"
		"{\"key\":\"half\",\"value\":{\"doubleValue\":0.5}},"
		"{\"key\":\"neg_double\",\"value\":{\"doubleValue\":-2.25}},"
		"{\"key\":\"whole\",\"value\":{\"doubleValue\":3}},"
		"{\"key\":\"tenth\",\"value\":{\"doubleValue\":0.10000000000000001}}"
		"],\"status\":{}}]}]}]}");
}

static void test_status(void **state)
{
	struct sp_span a, b, c;
	struct sp_span *batch[] = { &a, &b, &c };
	const char *tail = "\"attributes\":[],\"status\":";
	uint8_t *out;
	size_t len;
	char *text, *p;

	(void)state;
	mk_span(&a, 1, "a", NULL, 0, 0);
	mk_span(&b, 2, "b", NULL, 0, 0);
	mk_span(&c, 3, "c", NULL, 0, 0);
	span_set_status(&a, SP_STATUS_ERROR, "HTTP 503 \"unavailable\"\n");
	span_set_status(&b, SP_STATUS_OK, NULL);
	span_set_status(&c, SP_STATUS_UNSET, "ignored without a code");
	assert_int_equal(otlp_encode_json(batch, 3, &out, &len), 0);
	text = strndup((char *)out, len);
	free(out);
	p = strstr(text, tail);
	assert_non_null(p);
	assert_string_equal(p + strlen(tail),
		"{\"code\":2,\"message\":\"HTTP 503 \\\"unavailable\\\"\\u000a\"}},"
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"0202020202020202\","
		"\"name\":\"b\",\"kind\":1,"
		"\"startTimeUnixNano\":\"1700000000000000000\","
		"\"endTimeUnixNano\":\"1700000000000000000\","
		"\"attributes\":[],\"status\":{\"code\":1}},"
		"{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"0303030303030303\","
		"\"name\":\"c\",\"kind\":1,"
		"\"startTimeUnixNano\":\"1700000000000000000\","
		"\"endTimeUnixNano\":\"1700000000000000000\","
		"\"attributes\":[],\"status\":{}}]}]}]}");
	free(text);
}

/* Render one span and return the text between `from` and `to`. */
static char *render_between(struct sp_span *s, const char *from, const char *to)
{
	struct sp_span *batch[] = { s };
	uint8_t *out;
	size_t len;
	char *text, *a, *b, *res;

	assert_int_equal(otlp_encode_json(batch, 1, &out, &len), 0);
	text = strndup((char *)out, len);
	free(out);
	a = strstr(text, from);
	assert_non_null(a);
	a += strlen(from);
	b = strstr(a, to);
	assert_non_null(b);
	res = strndup(a, (size_t)(b - a));
	free(text);
	return res;
}

static void test_escaping(void **state)
{
	struct sp_resource *res = bare_resource(3);
	struct sp_span s;
	char *got;
	static const char name[] = "a\"b\\c\x01\xff\xc3\xa9";

	(void)state;
	span_reset(&s);
	s.resource = res;
	span_set_name(&s, name, sizeof(name) - 1);
	/* The span's copy mends bad UTF-8 (util/utf8.h): the bytes are put
	 * back over it, since the encoder's own escaping is tested here. */
	memcpy(s.arena + s.name_off, name, sizeof(name) - 1);
	/* (the scope's "name" comes first; start after the span ID) */
	got = render_between(&s, "0000000000000000\",\"name\":\"", "\",\"kind\"");
	assert_string_equal(got, "a\\\"b\\\\c\\u0001\xef\xbf\xbd\xc3\xa9");
	free(got);

	span_reset(&s);
	s.resource = res;
	span_add_str(&s, "k\"ey", "v\tal\x80", 5);
	memcpy(s.arena + s.attrs[0].v.str.off, "v\tal\x80", 5);
	got = render_between(&s, "\"attributes\":[{", "}],\"status\"");
	assert_string_equal(got, "\"key\":\"k\\\"ey\",\"value\":{\"stringValue\":"
				 "\"v\\u0009al\xef\xbf\xbd\"}");
	free(got);

	resource_set_str(res, "deploy\"ment", "line1\nline2 ..");
	/* As above: the bytes its copy would have cut off, put back. */
	memcpy(strchr(resource_find(res, "deploy\"ment")->str, '.'), "\xe2\x82", 2);
	got = render_between(&s, "\"resource\":{\"attributes\":[", "]},\"scopeSpans\"");
	assert_string_equal(got, "{\"key\":\"deploy\\\"ment\",\"value\":{\"stringValue\":"
				 "\"line1\\u000aline2 \xef\xbf\xbd\xef\xbf\xbd\"}}");
	free(got);
	resource_put(res);
}

static void test_parent_only_when_set(void **state)
{
	struct sp_span s;
	char *got;

	(void)state;
	mk_span(&s, 0x5c, "x", NULL, 0, 0);
	got = render_between(&s, "\"spanId\":", ",\"name\"");
	assert_string_equal(got, "\"5c5c5c5c5c5c5c5c\"");
	free(got);
	/* A parent ID with a single non-zero byte is a parent. */
	s.parent_span_id[7] = 0x01;
	got = render_between(&s, "\"spanId\":", ",\"name\"");
	assert_string_equal(got, "\"5c5c5c5c5c5c5c5c\",\"parentSpanId\":\"0000000000000001\"");
	free(got);
}

/* IDs of random bytes come out as lower-case hex of exactly those bytes. */
static void test_ids_hex(void **state)
{
	struct sp_span s;
	char *got;
	static const uint8_t tid[16] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x80, 0xff,
					 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x7f };

	(void)state;
	mk_span(&s, 0, "x", NULL, 0, 0);
	memcpy(s.trace_id, tid, 16);
	memcpy(s.span_id, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
	got = render_between(&s, "{\"traceId\":", ",\"name\"");
	assert_string_equal(got, "\"deadbeef000180ff102030405060707f\","
				 "\"spanId\":\"fedcba9876543210\"");
	free(got);
}

/* proto3 JSON mapping: non-finite doubles are the strings "NaN", "Infinity", "-Infinity". */
static void test_double_not_finite(void **state)
{
	struct sp_span s;
	char *got;

	(void)state;
	mk_span(&s, 1, "x", NULL, 0, 0);
	span_add_double(&s, "a", NAN);
	span_add_double(&s, "b", INFINITY);
	span_add_double(&s, "c", -INFINITY);
	/* The span's attributes, not the resource's: they follow endTimeUnixNano. */
	got = render_between(&s, "\"endTimeUnixNano\":\"1700000000000000000\",\"attributes\":[",
			     "],\"status\"");
	assert_string_equal(got,
		"{\"key\":\"a\",\"value\":{\"doubleValue\":\"NaN\"}},"
		"{\"key\":\"b\",\"value\":{\"doubleValue\":\"Infinity\"}},"
		"{\"key\":\"c\",\"value\":{\"doubleValue\":\"-Infinity\"}}");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_batch),
		cmocka_unit_test(test_one_span_exact),
		cmocka_unit_test(test_resource_kept),
		cmocka_unit_test(test_two_resources),
		cmocka_unit_test(test_attribute_types),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_parent_only_when_set),
		cmocka_unit_test(test_ids_hex),
		cmocka_unit_test(test_double_not_finite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
