/* SPDX-License-Identifier: MIT */
/* Route templates: identifier-like path segments become {id}. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/route.h"

static void expect_route(const char *path, const char *want)
{
	char out[256];
	size_t len;

	assert_int_equal(route_template(path, out, sizeof(out)), 0);
	assert_string_equal(out, want);
	/* The one-pass form, given the length, says the same. */
	memset(out, 'x', sizeof(out));
	assert_int_equal(route_template_n(path, path ? strlen(path) : 0, out,
					  sizeof(out), &len), 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
}

static void test_examples(void **state)
{
	(void)state;
	expect_route("/users/123/orders/9f86d081884c7d65",
		     "/users/{id}/orders/{id}");
	expect_route("/", "/");
	expect_route("", "/");
	expect_route(NULL, "/");
	expect_route("/api/v1/items", "/api/v1/items");
	expect_route("/items/550e8400-e29b-41d4-a716-446655440000/tags",
		     "/items/{id}/tags");
	expect_route("/items/550E8400-E29B-41D4-A716-446655440000",
		     "/items/{id}");
	expect_route("/commit/da39a3ee5e6b4b0d3255bfef95601890afd80709",
		     "/commit/{id}");
	expect_route("/t/a1B2c3D4e5F6g7H8i9J0", "/t/{id}");
}

static void test_kept_segments(void **state)
{
	(void)state;
	/* 15 hex digits, a short word, a slug with digits, a file name. */
	expect_route("/c/deadbeefcafe123", "/c/deadbeefcafe123");
	expect_route("/c/deadbeefcafe1234", "/c/{id}");
	expect_route("/cafe", "/cafe");
	expect_route("/blog/2024-best-of-the-year-list-x",
		     "/blog/2024-best-of-the-year-list-x");
	expect_route("/static/app.v2.js", "/static/app.v2.js");
	expect_route("/abcdefghijklmnopqrstuvwxyz", "/abcdefghijklmnopqrstuvwxyz");
	/* Empty segments and trailing slash survive; the query does not. */
	expect_route("//a//7/", "//a//{id}/");
	expect_route("/users/42?page=2", "/users/{id}");
	expect_route("*", "*");
}

static void test_redact_params(void **state)
{
	char out[64];

	route_redact_params("/a;jsessionid=S/b;v=1;Sid=2;token=t", NULL, out,
			    sizeof(out));
	assert_string_equal(out, "/a/b;v=1;token=t");
	route_redact_params("/a;jsessionid=S/b;v=1;Sid=2;token=t", "v,token",
			    out, sizeof(out));
	assert_string_equal(out, "/a/b");
	route_redact_params("/x;jsessionid", "", out, 3);
	assert_string_equal(out, "/x");
}

static void test_small_buffer(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(route_template("/users/123", out, sizeof(out)),
			 -ENOSPC);
	assert_string_equal(out, "/users/");
	assert_int_equal(route_template("/1", out, 6), 0);
	assert_string_equal(out, "/{id}");
	assert_int_equal(route_template("/1", out, 5), -ENOSPC);
	assert_string_equal(out, "/{id");
	assert_int_equal(route_template("/", out, 1), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(route_template("/", NULL, 8), -EINVAL);
	assert_int_equal(route_template("/", out, 0), -EINVAL);
}

/* Identifiers of every size about the limits, behind any prefix: the
 * one-pass form against the segment-by-segment one. */
static void test_lengths(void **state)
{
	static const char *const alph[] = { "0123456789", "0123456789abcdef",
					    "a1B2c3D4zZ", "abcdefghij", "x-1" };
	char path[128], a[256], b[256];
	size_t la, lb, r;

	(void)state;
	for (size_t k = 0; k < sizeof(alph) / sizeof(alph[0]); k++) {
		for (size_t n = 0; n < 40; n++) {
			size_t o = (size_t)snprintf(path, sizeof(path), "/v%zu/", n % 3);

			for (size_t i = 0; i < n; i++)
				path[o++] = alph[k][i % strlen(alph[k])];
			strcpy(path + o, n % 2 ? "/" : "?q#");
			assert_int_equal(route_template_len(path, a, sizeof(a), &la), 0);
			assert_int_equal(route_template_n(path, strlen(path), b,
							  sizeof(b), &lb), 0);
			assert_string_equal(a, b);
			assert_int_equal(la, lb);
		}
	}
	r = route_redact_params("/a;sid=1/b", NULL, a, sizeof(a));
	assert_string_equal(a, "/a/b");
	assert_int_equal(r, 4);
}

/* Paths of every length about the 16-byte blocks the one-pass form reads
 * (and past the longest it reads so), with digit segments that grow,
 * keep or shrink to {id}: the one-pass form against the other. */
static void test_blocks(void **state)
{
	static const char *const seg[] = { "1", "12", "1234", "123456", "v1", "ab",
					   "", "9f86d081884c7d65", "x.2", "0?", "7#" };
	char path[160], a[256], b[256];
	size_t la, lb;
	uint32_t rng = 1;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t o = 0, want = (size_t)(i % 90);

		while (o < want) {
			const char *s;

			rng = rng * 1103515245u + 12345u;
			s = seg[(rng >> 16) % (sizeof(seg) / sizeof(seg[0]))];
			if (rng & 0x100 || !o)
				path[o++] = '/';
			while (*s && o < want)
				path[o++] = *s++;
		}
		path[o] = '\0';
		assert_int_equal(route_template_len(path, a, sizeof(a), &la), 0);
		assert_int_equal(route_template_n(path, o, b, sizeof(b), &lb), 0);
		assert_string_equal(a, b);
		assert_int_equal(la, lb);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_kept_segments),
		cmocka_unit_test(test_redact_params),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
