/* SPDX-License-Identifier: MIT */
/*
 * The counters the export thread writes (batch and exporter) read by
 * another thread while it writes them, as the daemon's reports do.  Built
 * with ThreadSanitizer (see the Makefile): a counter written by a plain
 * `++` races with the reader's load and TSan fails the test; the counts
 * must also come out exact.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "span/spanpool.h"
#include "export/batch.h"
#include "export/export_health.h"
#include "export/exporter.h"
#include "unit/unit_helpers.h"

#define N_SPANS 2000

static void test_read_while_exporting(void **state)
{
	struct sp_exporter *exp = exporter_create(&(struct sp_exporter_options){
		.output = SP_OUTPUT_TEXT, .output_file = "/dev/null" });
	struct sp_bsp_opts o = { .max_queue = 4096, .max_batch = 8, .delay_ms = 1,
				 .export_timeout_ms = 30000 };
	struct sp_resource *res = bare_resource(42);
	struct sp_batch_stats bs;
	struct sp_export_stats es;
	struct sp_spanpool pool;
	struct sp_batch bsp;
	uint32_t queued, exporting;

	assert_non_null(exp);
	assert_int_equal(spanpool_init(&pool, 4096), 0);
	assert_int_equal(batch_start(&bsp, &o, exp, &pool), 0);
	for (int i = 0; i < N_SPANS; i++) {
		struct sp_span *s = spanpool_get(&pool);

		assert_non_null(s);
		span_set_name(s, "s", 1);
		s->resource = resource_get(res);
		assert_int_equal(batch_push(&bsp, s), 0);
		/* What the daemon's report does, from another thread. */
		batch_get_stats(&bsp, &bs);
		exporter_get_stats(exp, &es);
		assert_true(es.spans_exported <= bs.received);
		/* What /metrics reads of the queue, under its lock. */
		batch_get_fill(&bsp, &queued, &exporting);
		assert_true(queued + exporting <= o.max_queue + o.max_batch);
	}
	batch_shutdown(&bsp);
	batch_get_stats(&bsp, &bs);
	exporter_get_stats(exp, &es);
	assert_int_equal(bs.received, N_SPANS);
	assert_int_equal(bs.dropped_queue_full + bs.dropped_at_shutdown, 0);
	assert_int_equal(es.spans_exported, N_SPANS);
	assert_int_equal(es.spans_failed, 0);
	assert_true(es.bytes_sent > 0 && es.bytes_sent == es.bytes_raw);
	exporter_destroy(exp);
	resource_put(res);
	spanpool_destroy(&pool);
}

/* The export thread notes outcomes; /metrics and /readyz copy them. */
static void *note_outcomes(void *arg)
{
	struct sp_attempt ok = { .kind = SP_ATTEMPT_OK };
	struct sp_attempt lost = { .kind = SP_ATTEMPT_LOST };

	for (int i = 0; i < N_SPANS; i++)
		export_health_note(arg, i % 2 ? &lost : &ok, "connection failed");
	return NULL;
}

static void test_outcomes_while_noted(void **state)
{
	struct export_health h;
	struct export_health_snap s;
	pthread_t t;

	export_health_init(&h);
	assert_int_equal(pthread_create(&t, NULL, note_outcomes, &h), 0);
	for (int i = 0; i < N_SPANS; i++) {
		export_health_get(&h, &s);
		assert_true(s.ok + export_health_failures(&s) <= N_SPANS);
		assert_true(s.failures_in_row <= 1);
	}
	pthread_join(t, NULL);
	export_health_get(&h, &s);
	assert_int_equal(s.ok, N_SPANS / 2);
	assert_int_equal(s.kinds[EXPORT_FAIL_CONNECTION], N_SPANS / 2);
	export_health_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_while_exporting),
		cmocka_unit_test(test_outcomes_while_noted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
