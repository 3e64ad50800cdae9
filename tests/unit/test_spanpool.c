/* SPDX-License-Identifier: MIT */
/*
 * The span pool: it hands out every span of its slab once before reusing
 * any (a span never used is memory never touched), reuses the most
 * recently freed first, is empty at its size, and keeps its peak; a
 * thread's cache of free spans takes and gives back in batches, and its
 * free spans never count as in use.
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

static uint32_t usage(struct sp_spanpool *pool, uint32_t *peak)
{
	uint32_t in_use, p;

	spanpool_usage(pool, &in_use, &p);
	if (peak)
		*peak = p;
	return in_use;
}

static void test_cache_batches(void **state)
{
	struct sp_spanpool pool;
	struct sp_spancache c;
	struct sp_span *s[70];
	uint32_t peak;

	(void)state;
	assert_int_equal(spanpool_init(&pool, 200), 0);
	spancache_init(&c, &pool);
	s[0] = spancache_get(&c);
	assert_ptr_equal(s[0], &pool.slab[0]); /* the slab in order */
	/* One batch left the pool; one span is in use. */
	assert_int_equal(pool.fresh, SPANCACHE_BATCH);
	assert_int_equal(c.n, SPANCACHE_BATCH - 1);
	assert_int_equal(usage(&pool, &peak), 1);
	assert_int_equal(peak, 1);
	spancache_put(&c, s[0]);
	assert_int_equal(usage(&pool, NULL), 0);
	assert_ptr_equal(spancache_get(&c), s[0]); /* the last given back */
	for (int i = 1; i < 70; i++) {
		s[i] = spancache_get(&c);
		assert_non_null(s[i]);
		assert_ptr_equal(s[i], &pool.slab[i]);
	}
	assert_int_equal(usage(&pool, &peak), 70);
	assert_int_equal(peak, 70);
	/* 26 free in the cache; giving 70 back fills it twice over its room:
	 * the oldest 32 go back to the pool. */
	for (int i = 0; i < 70; i++)
		spancache_put(&c, s[i]);
	assert_int_equal(c.n, SPANCACHE_MAX);
	assert_int_equal(pool.n_free, SPANCACHE_BATCH);
	assert_int_equal(usage(&pool, &peak), 0);
	assert_int_equal(peak, 70);
	assert_ptr_equal(spancache_get(&c), s[69]);
	spancache_put(&c, s[69]);
	spancache_destroy(&c);
	assert_int_equal(pool.in_use, 0);
	assert_int_equal(pool.n_free, 96);
	assert_null(pool.caches);
	spanpool_destroy(&pool);
}

static void test_cache_empty_pool(void **state)
{
	struct sp_spanpool pool;
	struct sp_spancache c;
	struct sp_span *s[3];

	(void)state;
	assert_int_equal(spanpool_init(&pool, 3), 0);
	spancache_init(&c, &pool);
	for (int i = 0; i < 3; i++)
		assert_non_null(s[i] = spancache_get(&c));
	assert_null(spancache_get(&c));
	assert_null(spanpool_get(&pool));
	/* The export thread gives them back to the pool; the cache refills
	 * with the most recently given back on top. */
	spanpool_put_many(&pool, s, 3);
	assert_int_equal(usage(&pool, NULL), 0);
	assert_ptr_equal(spancache_get(&c), s[2]);
	assert_int_equal(usage(&pool, NULL), 1);
	spancache_destroy(&c);
	assert_int_equal(usage(&pool, NULL), 1);
	spanpool_put(&pool, s[2]);
	assert_int_equal(usage(&pool, NULL), 0);
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
		cmocka_unit_test(test_cache_batches),
		cmocka_unit_test(test_cache_empty_pool),
		cmocka_unit_test(test_bad_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
