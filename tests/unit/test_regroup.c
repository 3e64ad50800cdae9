/* SPDX-License-Identifier: MIT */
/*
 * A batch regrouped by resource against the rule written out the slow
 * way: runs in the order of each resource's first span, spans of a run in
 * their order; with one resource, many, every span its own, NULL among
 * them, and enough batches to wrap the stamp once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export/regroup.h"
#include "span/span.h"

#define MAX 512

static char fake[MAX]; /* resources are only compared: any address will do */

static struct sp_resource *res_at(int k)
{
	return k < 0 ? NULL : (struct sp_resource *)(void *)&fake[k];
}

/* The rule: for each resource in order of first appearance, its spans. */
static void reference(struct sp_span **in, struct sp_span **out, uint32_t n)
{
	uint32_t m = 0;
	char *placed = calloc(n, 1);

	assert_non_null(placed);
	for (uint32_t i = 0; i < n; i++) {
		if (placed[i])
			continue;
		for (uint32_t j = i; j < n; j++) {
			if (!placed[j] && in[j]->resource == in[i]->resource) {
				placed[j] = 1;
				out[m++] = in[j];
			}
		}
	}
	free(placed);
}

static void check_batches(uint32_t batches, int kinds, uint32_t seed)
{
	struct sp_span *spans = calloc(MAX, sizeof(*spans));
	struct sp_span *batch[MAX], *want[MAX];
	struct regroup g;

	assert_non_null(spans);
	assert_int_equal(regroup_init(&g, MAX), 0);
	for (uint32_t b = 0; b < batches; b++) {
		uint32_t n = (uint32_t)rand_r(&seed) % (MAX + 1);

		for (uint32_t i = 0; i < n; i++) {
			/* kinds 0: every span its own resource */
			int k = kinds ? rand_r(&seed) % kinds - 1 : (int)i;

			spans[i].resource = res_at(k);
			batch[i] = &spans[i];
		}
		reference(batch, want, n);
		regroup_by_resource(&g, batch, n);
		assert_memory_equal(batch, want, n * sizeof(*batch));
	}
	regroup_destroy(&g);
	free(spans);
}

static void test_one_resource(void **state)
{
	(void)state;
	check_batches(50, 1, 1);
}

static void test_few_resources(void **state)
{
	(void)state;
	check_batches(300, 4, 2);
}

static void test_many_resources(void **state)
{
	(void)state;
	check_batches(300, 400, 3);
}

static void test_each_its_own(void **state)
{
	(void)state;
	check_batches(20, 0, 4);
}

/* The stamp wraps: slots of an old batch must not be taken for this one's. */
static void test_stamp_wraps(void **state)
{
	struct sp_span spans[3];
	struct sp_span *batch[3] = { &spans[0], &spans[1], &spans[2] };
	struct regroup g;

	(void)state;
	assert_int_equal(regroup_init(&g, 4), 0);
	spans[0].resource = res_at(1);
	spans[1].resource = res_at(2);
	spans[2].resource = res_at(1);
	/* Stamps of batches long gone, which the next round of stamps reaches. */
	for (uint32_t s = 0; s <= g.mask; s += 2)
		g.stamp[s] = 3;
	g.batch = UINT32_MAX - 1;
	for (int i = 0; i < 4; i++) {
		batch[0] = &spans[0];
		batch[1] = &spans[1];
		batch[2] = &spans[2];
		regroup_by_resource(&g, batch, 3);
		assert_ptr_equal(batch[0], &spans[0]);
		assert_ptr_equal(batch[1], &spans[2]);
		assert_ptr_equal(batch[2], &spans[1]);
	}
	assert_int_equal(g.batch, 3); /* UINT32_MAX, then 1, 2, 3 */
	for (uint32_t s = 0, mine = 0; s <= g.mask; s++)
		if (g.stamp[s] == 3 && ++mine > 2)
			fail_msg("more slots of this batch than resources in it");
	regroup_destroy(&g);
}

static void test_init_limits(void **state)
{
	struct regroup g;

	(void)state;
	assert_int_equal(regroup_init(&g, 0), -EINVAL);
	regroup_destroy(&g);
	assert_int_equal(regroup_init(&g, (1u << 24) + 1), -EINVAL);
	regroup_destroy(&g);
	/* 512 spans of a pointer and two indexes, 1024 slots of 16 bytes. */
	assert_true(regroup_bytes(512) == 512 * 16 + 1024 * 16);
	assert_true(regroup_bytes(3) == 3 * 16 + 8 * 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_resource),
		cmocka_unit_test(test_few_resources),
		cmocka_unit_test(test_many_resources),
		cmocka_unit_test(test_each_its_own),
		cmocka_unit_test(test_stamp_wraps),
		cmocka_unit_test(test_init_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
