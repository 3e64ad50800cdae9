/* SPDX-License-Identifier: MIT */
/* Route templates: identifier-like path segments become {id}. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/route.h"

static void expect_route(const char *path, const char *want)
{
	char out[256];

	assert_int_equal(route_template(path, out, sizeof(out)), 0);
	assert_string_equal(out, want);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_kept_segments),
		cmocka_unit_test(test_redact_params),
		cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
