/* SPDX-License-Identifier: MIT */
/*
 * The batch span processor with a recording exporter: size and time
 * triggers, a full queue, flush and shutdown.  Waits are bounded and
 * generous; no check depends on how fast the machine is.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "span/spanpool.h"
#include "export/batch.h"
#include "util/clock.h"
#include "unit/unit_helpers.h"

#define LONG_DELAY_MS 600000 /* never reached by a test */
#define WAIT_MS 5000

struct fx {
	struct sp_spanpool pool;
	struct recorder rec;
	struct sp_batch bsp;
	uint64_t next_id;
};

static struct fx *fx_open(uint32_t max_queue, uint32_t max_batch,
			  uint32_t delay_ms, uint32_t timeout_ms)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sp_bsp_opts o = { .max_queue = max_queue, .max_batch = max_batch,
				 .delay_ms = delay_ms,
				 .export_timeout_ms = timeout_ms };

	assert_non_null(f);
	assert_int_equal(spanpool_init(&f->pool, 256), 0);
	rec_init(&f->rec);
	assert_int_equal(batch_start(&f->bsp, &o, &f->rec.exp, &f->pool), 0);
	return f;
}

/* After batch_shutdown (called by the test or here). */
static void fx_close(struct fx *f)
{
	batch_shutdown(&f->bsp);
	assert_int_equal(f->pool.in_use, 0);
	rec_destroy(&f->rec.exp);
	spanpool_destroy(&f->pool);
	free(f);
}

/*
 * After a shutdown that left the export thread behind (its gate now
 * open): wait for it to end, then free what batch_shutdown() could not
 * (the thread may have been using it).
 */
static void fx_close_left_behind(struct fx *f)
{
	for (int i = 0; i < 500 && !__atomic_load_n(&f->bsp.thread_done, __ATOMIC_ACQUIRE); i++)
		usleep(10 * 1000);
	/* Set under the lock: once we hold it, the thread is done with it. */
	pthread_mutex_lock(&f->bsp.lock);
	assert_true(f->bsp.thread_done);
	pthread_mutex_unlock(&f->bsp.lock);
	free(f->bsp.ring);
	rec_destroy(&f->rec.exp);
	spanpool_destroy(&f->pool);
	free(f);
}

/* Push a span numbered by push order (its span ID); returns batch_push's result. */
static int push(struct fx *f, struct sp_resource *res)
{
	struct sp_span *s = spanpool_get(&f->pool);

	assert_non_null(s);
	f->next_id++;
	memcpy(s->span_id, &f->next_id, 8);
	span_set_name(s, "s", 1);
	s->resource = resource_get(res);
	return batch_push(&f->bsp, s);
}

/*
 * A batch of max_batch held in the (gated) exporter and `queued` spans
 * behind it: the state every shutdown test starts from.
 */
static struct fx *fx_open_stuck(uint32_t max_queue, uint32_t max_batch,
				uint32_t timeout_ms, int queued)
{
	struct fx *f = fx_open(max_queue, max_batch, LONG_DELAY_MS, timeout_ms);

	rec_set_gate(&f->rec, true);
	for (uint32_t i = 0; i < max_batch; i++)
		assert_int_equal(push(f, NULL), 0);
	assert_int_equal(rec_wait_entered(&f->rec, 1, WAIT_MS), 1);
	for (int i = 0; i < queued; i++)
		assert_int_equal(push(f, NULL), 0);
	return f;
}

static uint64_t id_of(const struct sp_span *s)
{
	uint64_t id;

	memcpy(&id, s->span_id, 8);
	return id;
}

static size_t n_batches(struct fx *f)
{
	size_t n;

	pthread_mutex_lock(&f->rec.lock);
	n = f->rec.n_batches;
	pthread_mutex_unlock(&f->rec.lock);
	return n;
}

static void test_start_invalid(void **state)
{
	struct sp_batch bsp;
	struct recorder rec;
	struct sp_spanpool pool;

	(void)state;
	rec_init(&rec);
	assert_int_equal(spanpool_init(&pool, 1), 0);
	assert_int_equal(batch_start(&bsp, &(struct sp_bsp_opts){ .max_queue = 0,
		.max_batch = 1, .delay_ms = 1 }, &rec.exp, &pool), -EINVAL);
	assert_int_equal(batch_start(&bsp, &(struct sp_bsp_opts){ .max_queue = 1,
		.max_batch = 0, .delay_ms = 1 }, &rec.exp, &pool), -EINVAL);
	/* Nothing started: shutdown is harmless. */
	batch_shutdown(&bsp);
	spanpool_destroy(&pool);
	rec_destroy(&rec.exp);
}

static void test_size_trigger(void **state)
{
	struct fx *f = fx_open(100, 3, LONG_DELAY_MS, 5000);

	(void)state;
	for (int i = 0; i < 7; i++)
		assert_int_equal(push(f, NULL), 0);
	/* Two full batches go out long before the delay; the seventh waits. */
	assert_int_equal(rec_wait_spans(&f->rec, 6, WAIT_MS), 6);
	assert_int_equal(n_batches(f), 2);
	assert_int_equal(f->rec.batch_sizes[0], 3);
	assert_int_equal(f->rec.batch_sizes[1], 3);
	usleep(100 * 1000);
	assert_int_equal(rec_wait_spans(&f->rec, 7, 0), 6);
	batch_flush(&f->bsp);
	assert_int_equal(f->rec.n_spans, 7);
	assert_int_equal(f->rec.batch_sizes[2], 1);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(id_of(&f->rec.spans[i]), i + 1);
	assert_int_equal(f->bsp.received, 7);
	assert_int_equal(f->bsp.batches, 3);
	assert_int_equal(f->bsp.dropped_queue_full, 0);
	fx_close(f);
}

static void test_time_trigger(void **state)
{
	struct fx *f = fx_open(100, 50, 50, 5000);

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(push(f, NULL), 0);
	/* Far fewer than a batch: they leave when the delay has passed. */
	assert_int_equal(rec_wait_spans(&f->rec, 3, WAIT_MS), 3);
	assert_true(n_batches(f) >= 1 && n_batches(f) <= 3);
	assert_int_equal(f->rec.n_flushes, 0);
	/* And again for spans that come later. */
	assert_int_equal(push(f, NULL), 0);
	assert_int_equal(rec_wait_spans(&f->rec, 4, WAIT_MS), 4);
	assert_int_equal(id_of(&f->rec.spans[3]), 4);
	fx_close(f);
}

static void test_queue_full(void **state)
{
	struct fx *f = fx_open(4, 2, LONG_DELAY_MS, 5000);

	(void)state;
	rec_set_gate(&f->rec, true);
	assert_int_equal(push(f, NULL), 0);
	assert_int_equal(push(f, NULL), 0);
	/* The export thread holds spans 1-2 inside the exporter... */
	assert_int_equal(rec_wait_entered(&f->rec, 1, WAIT_MS), 1);
	/* ...while 3-6 fill the queue and 7-8 find it full. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(push(f, NULL), 0);
	assert_int_equal(push(f, NULL), -ENOSPC);
	assert_int_equal(push(f, NULL), -ENOSPC);
	assert_int_equal(f->bsp.dropped_queue_full, 2);
	assert_int_equal(f->bsp.received, 8);
	/* A dropped span goes straight back to the pool. */
	assert_int_equal(f->pool.in_use, 6);
	rec_set_gate(&f->rec, false);
	batch_flush(&f->bsp);
	assert_int_equal(f->pool.in_use, 0);
	assert_int_equal(f->rec.n_spans, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(id_of(&f->rec.spans[i]), i + 1);
	/* There is room again. */
	assert_int_equal(push(f, NULL), 0);
	fx_close(f);
}

static void test_flush(void **state)
{
	struct fx *f = fx_open(100, 50, LONG_DELAY_MS, 5000);

	(void)state;
	batch_flush(&f->bsp); /* nothing queued: returns at once */
	assert_int_equal(f->rec.n_spans, 0);
	assert_int_equal(f->rec.n_flushes, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(push(f, NULL), 0);
	batch_flush(&f->bsp);
	/* Done when flush returns: exported, back in the pool, exporter flushed. */
	assert_int_equal(f->rec.n_spans, 3);
	assert_int_equal(f->pool.in_use, 0);
	assert_int_equal(f->rec.n_flushes, 2);
	assert_int_equal(f->bsp.batches, 1);
	fx_close(f);
}

static void test_flush_many_batches(void **state)
{
	struct fx *f = fx_open(100, 7, LONG_DELAY_MS, 5000);

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_int_equal(push(f, NULL), 0);
	batch_flush(&f->bsp);
	assert_int_equal(f->rec.n_spans, 100);
	assert_int_equal(f->bsp.batches, 15); /* 14 of 7, one of 2 */
	for (size_t i = 0; i < f->rec.n_batches; i++)
		assert_true(f->rec.batch_sizes[i] <= 7);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(id_of(&f->rec.spans[i]), i + 1);
	fx_close(f);
}

static void test_ring_wraps(void **state)
{
	struct fx *f = fx_open(5, 3, LONG_DELAY_MS, 5000);

	(void)state;
	/* 2 spans per round in a queue of 5: the ring's head goes around. */
	for (int round = 0; round < 50; round++) {
		assert_int_equal(push(f, NULL), 0);
		assert_int_equal(push(f, NULL), 0);
		batch_flush(&f->bsp);
	}
	assert_int_equal(f->rec.n_spans, 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(id_of(&f->rec.spans[i]), i + 1);
	fx_close(f);
}

static void test_batch_clamped_to_queue(void **state)
{
	struct fx *f = fx_open(4, 10, LONG_DELAY_MS, 5000);

	(void)state;
	assert_int_equal(f->bsp.opts.max_batch, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(push(f, NULL), 0);
	/* A full queue is a full batch: out without waiting for the delay. */
	assert_int_equal(rec_wait_spans(&f->rec, 4, WAIT_MS), 4);
	fx_close(f);
}

static void test_shutdown_exports_queued(void **state)
{
	struct fx *f = fx_open(100, 50, LONG_DELAY_MS, 5000);

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(push(f, NULL), 0);
	batch_shutdown(&f->bsp);
	assert_int_equal(f->rec.n_spans, 5);
	assert_int_equal(f->bsp.batches, 1);
	assert_int_equal(f->bsp.dropped_at_shutdown, 0);
	assert_int_equal(f->rec.n_flushes, 1);
	assert_int_equal(f->pool.in_use, 0);
	fx_close(f); /* a second shutdown is a no-op */
}

/* Opens the gate once shutdown has begun and its timeout has passed. */
static void *open_gate_late(void *arg)
{
	struct fx *f = arg;
	bool stopping = false;

	while (!stopping) {
		usleep(1000);
		pthread_mutex_lock(&f->bsp.lock);
		stopping = f->bsp.stopping;
		pthread_mutex_unlock(&f->bsp.lock);
	}
	usleep(300 * 1000); /* export timeout is 50 ms */
	rec_set_gate(&f->rec, false);
	return NULL;
}

static void test_shutdown_timeout_drops(void **state)
{
	struct fx *f = fx_open_stuck(10, 2, 50, 3);
	pthread_t helper;

	(void)state;
	assert_int_equal(pthread_create(&helper, NULL, open_gate_late, f), 0);
	/* The batch in the exporter finishes; the 3 queued are out of time. */
	batch_shutdown(&f->bsp);
	pthread_join(helper, NULL);
	assert_int_equal(f->rec.n_spans, 2);
	assert_int_equal(f->bsp.dropped_at_shutdown, 3);
	assert_int_equal(f->pool.in_use, 0);
	fx_close(f);
}

static void *push_waiting(void *arg)
{
	struct fx *f = arg;
	struct sp_span *s = spanpool_get(&f->pool);

	assert_non_null(s);
	return (void *)(intptr_t)batch_push_wait(&f->bsp, s);
}

/* A drain waiting for room in a full queue: batch_abort() ends the wait. */
static void test_abort_ends_a_waiting_push(void **state)
{
	struct fx *f = fx_open_stuck(2, 2, 600000, 2); /* the queue is full */
	pthread_t pusher;
	void *ret;
	uint64_t t0;

	(void)state;
	batch_begin_shutdown(&f->bsp);  /* ten minutes to go */
	assert_int_equal(pthread_create(&pusher, NULL, push_waiting, f), 0);
	usleep(100 * 1000);
	t0 = clock_mono_ns();
	batch_abort(&f->bsp);
	pthread_join(pusher, &ret);
	assert_true(clock_mono_ns() - t0 < 1000000000ULL);
	assert_int_equal((intptr_t)ret, -ENOSPC);
	rec_set_gate(&f->rec, false);
	assert_int_equal(batch_shutdown(&f->bsp), 0);
	/* The batch in the exporter went out; the rest was out of time. */
	assert_int_equal(f->rec.n_spans, 2);
	assert_int_equal(f->bsp.dropped_at_shutdown, 3);
	assert_int_equal(f->bsp.dropped_queue_full, 0);
	fx_close(f);
}

static void *open_gate_after(void *arg)
{
	usleep(1500 * 1000);
	rec_set_gate(arg, false);
	return NULL;
}

/* An export that ignores the deadline: shutdown still ends in time. */
static void test_shutdown_bounded_by_a_stuck_export(void **state)
{
	struct fx *f = fx_open_stuck(10, 2, 50, 3);
	pthread_t helper;
	uint64_t t0;

	(void)state;
	t0 = clock_mono_ns();
	assert_int_equal(batch_shutdown(&f->bsp), -ETIMEDOUT);
	assert_true(clock_mono_ns() - t0 <
		    (50 + BATCH_SHUTDOWN_MARGIN_MS + 300) * 1000000ULL);
	assert_int_equal(f->bsp.dropped_at_shutdown, 5);
	assert_int_equal(batch_shutdown(&f->bsp), -ETIMEDOUT); /* no-op */
	/* Let the left-behind thread end before the fixture goes. */
	assert_int_equal(pthread_create(&helper, NULL, open_gate_after, &f->rec), 0);
	pthread_join(helper, NULL);
	fx_close_left_behind(f);
}

static void rec_set_idle_gate(struct recorder *r, bool closed)
{
	pthread_mutex_lock(&r->lock);
	r->idle_gate_closed = closed;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

/* Wait until the export thread has entered idle() more than `seen` times. */
static bool rec_wait_idle(struct recorder *r, size_t seen, unsigned ms)
{
	struct timespec until;
	bool in;

	deadline_in_ms(&until, ms);
	pthread_mutex_lock(&r->lock);
	while (r->n_idle_entered <= seen &&
	       pthread_cond_timedwait(&r->changed, &r->lock, &until) != ETIMEDOUT)
		;
	in = r->n_idle_entered > seen;
	pthread_mutex_unlock(&r->lock);
	return in;
}

/*
 * The export thread held in the exporter's idle work (sending its disk
 * queue) at shutdown, its last batch exported: nothing is left to count
 * as dropped (that batch was counted by the exporter).
 */
static void test_shutdown_stuck_in_idle(void **state)
{
	struct fx *f = fx_open(10, 2, 50, 50);
	size_t seen;

	(void)state;
	assert_int_equal(push(f, NULL), 0);
	assert_int_equal(push(f, NULL), 0);
	assert_int_equal(rec_wait_spans(&f->rec, 2, WAIT_MS), 2);
	/* Closed now, and entered after: the thread is held there (an idle()
	 * begun before the gate closed has passed through it). */
	pthread_mutex_lock(&f->rec.lock);
	f->rec.idle_gate_closed = true;
	seen = f->rec.n_idle_entered;
	pthread_mutex_unlock(&f->rec.lock);
	assert_true(rec_wait_idle(&f->rec, seen, WAIT_MS));
	assert_int_equal(batch_shutdown(&f->bsp), -ETIMEDOUT);
	assert_int_equal(f->bsp.dropped_at_shutdown, 0);
	rec_set_idle_gate(&f->rec, false);
	fx_close_left_behind(f);
}

static void test_grouped_by_resource(void **state)
{
	struct fx *f = fx_open(100, 50, LONG_DELAY_MS, 5000);
	struct sp_resource *r1 = bare_resource(1), *r2 = bare_resource(2);
	struct sp_resource *order[] = { r1, r2, r1, NULL, r2, r1 };
	/* Runs per resource, in order of first appearance, spans in push order. */
	static const uint64_t want_ids[] = { 1, 3, 6, 2, 5, 4 };

	(void)state;
	for (int i = 0; i < 6; i++)
		assert_int_equal(push(f, order[i]), 0);
	batch_flush(&f->bsp);
	assert_int_equal(f->rec.n_spans, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(id_of(&f->rec.spans[i]), want_ids[i]);
	assert_ptr_equal(f->rec.spans[0].resource, r1);
	assert_ptr_equal(f->rec.spans[3].resource, r2);
	assert_null(f->rec.spans[5].resource);
	/* The pool dropped the spans' references; the recorder holds its own. */
	assert_int_equal(r1->refs, 1 + 3);
	fx_close(f);
	resource_put(r1);
	resource_put(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_invalid),
		cmocka_unit_test(test_size_trigger),
		cmocka_unit_test(test_time_trigger),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_flush_many_batches),
		cmocka_unit_test(test_ring_wraps),
		cmocka_unit_test(test_batch_clamped_to_queue),
		cmocka_unit_test(test_shutdown_exports_queued),
		cmocka_unit_test(test_shutdown_timeout_drops),
		cmocka_unit_test(test_abort_ends_a_waiting_push),
		cmocka_unit_test(test_shutdown_bounded_by_a_stuck_export),
		cmocka_unit_test(test_shutdown_stuck_in_idle),
		cmocka_unit_test(test_grouped_by_resource),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
