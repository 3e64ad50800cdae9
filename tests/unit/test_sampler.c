// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/sampler.h"

/* A trace ID whose random part (bytes 9..15) is `r`. */
static void trace_id(uint8_t id[16], uint64_t r, uint8_t high)
{
	memset(id, high, 16);
	for (int i = 15; i >= 9; i--, r >>= 8)
		id[i] = (uint8_t)r;
}

static void test_names(void **state)
{
	struct sp_sampler s;
	uint8_t id[16] = { 0 };
	char *env[] = { "OTEL_TRACES_SAMPLER=always_off", NULL };

	assert_int_equal(sampler_parse(&s, NULL, NULL), 0);
	assert_true(s.parent_based);
	assert_true(sampler_keep(&s, id, false, false));
	assert_false(sampler_keep(&s, id, false, true)); /* parent said no */
	assert_int_equal(sampler_from_env(&s, env), 0);
	assert_false(sampler_keep(&s, id, true, true)); /* not parent-based */
	assert_int_equal(sampler_parse(&s, "parentbased_always_off", NULL), 0);
	assert_false(sampler_keep(&s, id, false, false));
	assert_true(sampler_keep(&s, id, true, true));
	assert_int_equal(sampler_parse(&s, "always_on", NULL), 0);
	assert_true(sampler_keep(&s, id, false, true));
	/* Unknown: the default, with -EINVAL to say it was replaced. */
	assert_int_equal(sampler_parse(&s, "jaeger_remote", NULL), -EINVAL);
	assert_true(s.parent_based);
	assert_int_equal(s.root, SP_SAMPLE_ALWAYS_ON);
	assert_int_equal(sampler_parse(&s, "traceidratio", "1.5"), -EINVAL);
	assert_true(s.ratio == 1.0);
	assert_int_equal(sampler_parse(&s, "traceidratio", "abc"), -EINVAL);
	assert_int_equal(sampler_parse(&s, "traceidratio", NULL), 0);
	assert_true(s.ratio == 1.0);
}

/* Blanks around the name or the ratio (a quoted value in a manifest)
 * are not part of it. */
static void test_blanks_around(void **state)
{
	struct sp_sampler s;
	char *env[] = { "OTEL_TRACES_SAMPLER= traceidratio\t",
			"OTEL_TRACES_SAMPLER_ARG=0.1 ", NULL };

	assert_int_equal(sampler_from_env(&s, env), 0);
	assert_int_equal(s.root, SP_SAMPLE_RATIO);
	assert_false(s.parent_based);
	assert_true(s.ratio == 0.1);
	assert_int_equal(sampler_parse(&s, "\tparentbased_always_off ", NULL), 0);
	assert_true(s.parent_based);
	assert_int_equal(s.root, SP_SAMPLE_ALWAYS_OFF);
	assert_int_equal(sampler_parse(&s, "parentbased_traceidratio", " \t0.25\t "), 0);
	assert_int_equal(s.threshold, 3ULL << 54);
	/* Only blanks: as if unset. */
	assert_int_equal(sampler_parse(&s, "traceidratio", "  "), 0);
	assert_true(s.ratio == 1.0);
	assert_int_equal(sampler_parse(&s, " \t", NULL), 0);
	assert_int_equal(s.root, SP_SAMPLE_ALWAYS_ON);
	assert_true(s.parent_based);
	/* Inside, a blank is still wrong. */
	assert_int_equal(sampler_parse(&s, "traceidratio", "0. 1"), -EINVAL);
	assert_true(s.ratio == 1.0);
	assert_int_equal(sampler_parse(&s, "always _on", NULL), -EINVAL);
}

static void test_ratio_threshold(void **state)
{
	struct sp_sampler s;
	uint8_t id[16];

	assert_int_equal(sampler_parse(&s, "traceidratio", "0.25"), 0);
	/* T = 0.75 * 2^56: kept iff the 56 random bits are >= T. */
	assert_int_equal(s.threshold, 3ULL << 54);
	trace_id(id, (3ULL << 54) - 1, 0);
	assert_false(sampler_keep(&s, id, false, false));
	trace_id(id, 3ULL << 54, 0);
	assert_true(sampler_keep(&s, id, false, false));
	/* Bytes 0..8 do not matter: every agent decides alike. */
	trace_id(id, 3ULL << 54, 0xff);
	assert_true(sampler_keep(&s, id, false, false));
	trace_id(id, (3ULL << 54) - 1, 0xff);
	assert_false(sampler_keep(&s, id, false, false));
	/* Parent decision ignored without parentbased_. */
	assert_false(sampler_keep(&s, id, true, true));
	assert_int_equal(sampler_parse(&s, "traceidratio", "0"), 0);
	trace_id(id, (1ULL << 56) - 1, 0);
	assert_false(sampler_keep(&s, id, false, false));
	assert_int_equal(sampler_parse(&s, "traceidratio", "1"), 0);
	trace_id(id, 0, 0);
	assert_true(sampler_keep(&s, id, false, false));
}

static void test_ratio_fraction(void **state)
{
	struct sp_sampler s, lower;
	uint8_t id[16];
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	unsigned kept = 0, n = 100000;

	sampler_parse(&s, "parentbased_traceidratio", "0.1");
	sampler_parse(&lower, "traceidratio", "0.05");
	for (unsigned i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		trace_id(id, x, (uint8_t)i);
		kept += sampler_keep(&s, id, false, false);
		/* A lower ratio keeps a subset. */
		if (sampler_keep(&lower, id, false, false))
			assert_true(sampler_keep(&s, id, false, false));
	}
	/* Deterministic input: the count is fixed, near 10%. */
	assert_true(kept > n / 10 - 1000 && kept < n / 10 + 1000);
	assert_true(sampler_keep(&s, id, true, true));
	assert_false(sampler_keep(&s, id, false, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_blanks_around),
		cmocka_unit_test(test_ratio_threshold),
		cmocka_unit_test(test_ratio_fraction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
