/* SPDX-License-Identifier: MIT */
/*
 * The span pool: it hands out every span of its slab once before reusing
 * any (a span never used is memory never touched), reuses the most
 * recently freed first, is empty at its size, and keeps its peak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "span/spanpool.h"

static void test_fresh_in_order_then_empty(void **state)
{
	struct sp_spanpool pool;
	struct sp_span *s[3];

	(void)state;
	assert_int_equal(spanpool_init(&pool, 3), 0);
	for (int i = 0; i < 3; i++) {
		s[i] = spanpool_get(&pool);
		assert_ptr_equal(s[i], &pool.slab[i]);
	}
	assert_null(spanpool_get(&pool));
	assert_int_equal(pool.in_use, 3);
	assert_int_equal(pool.peak, 3);
	for (int i = 0; i < 3; i++)
		spanpool_put(&pool, s[i]);
	assert_int_equal(pool.in_use, 0);
	assert_int_equal(pool.peak, 3);
	spanpool_destroy(&pool);
}

static void test_reuse_before_fresh(void **state)
{
	struct sp_spanpool pool;
	struct sp_span *a, *b;

	(void)state;
	assert_int_equal(spanpool_init(&pool, 100), 0);
	for (int round = 0; round < 1000; round++) {
		a = spanpool_get(&pool);
		b = spanpool_get(&pool);
		assert_non_null(a);
		assert_non_null(b);
		spanpool_put(&pool, a);
		spanpool_put(&pool, b);
	}
	/* Two at a time: two slab entries ever touched. */
	assert_int_equal(pool.fresh, 2);
	assert_int_equal(pool.peak, 2);
	assert_ptr_equal(spanpool_get(&pool), b); /* the last one freed */
	spanpool_destroy(&pool);
}

static void test_bad_size(void **state)
{
	struct sp_spanpool pool;

	(void)state;
	assert_int_equal(spanpool_init(&pool, 0), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_in_order_then_empty),
		cmocka_unit_test(test_reuse_before_fresh),
		cmocka_unit_test(test_bad_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
