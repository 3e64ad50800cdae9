/* SPDX-License-Identifier: MIT */
/*
 * The ring-buffer reader (capture/rings.c) on rings laid out in memory as
 * the kernel maps them: a consumer position, a producer position, the data
 * (its wrap written twice, as the kernel's second mapping shows it), and
 * records of an 8-byte header (length, busy and discard bits) rounded up
 * to 8.  One ring: every record in its order.  Several: merged by the
 * records' clocks, and only what the rules let through.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capture/rings.h"
#include "spanprobe/events.h"
#include "util/clock.h"

#define RING_SIZE 4096u
#define BUSY (1u << 31)
#define DISCARD (1u << 30)

struct fake {
	uint64_t consumer, producer;
	uint8_t data[2 * RING_SIZE];
};

struct seen {
	uint64_t ts[32];
	uint32_t pid[32];
	int n;
	int fail_at; /* the callback's n at which it returns -5; -1: never */
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	const struct sp_event_header *h = data;

	assert_int_equal(size, sizeof(*h));
	if (s->n == s->fail_at)
		return -5;
	s->ts[s->n] = h->ts_ns;
	s->pid[s->n] = h->pid;
	s->n++;
	return 0;
}

/* A record with `ts`, written at the producer position; returns where. */
static uint64_t put(struct fake *f, uint64_t ts, uint32_t pid, uint32_t bits)
{
	struct {
		uint32_t len, pg_off;
		struct sp_event_header h;
	} rec = { .len = sizeof(struct sp_event_header) | bits,
		  .h = { .type = 1, .size = sizeof(rec.h), .pid = pid, .ts_ns = ts } };
	uint64_t at = f->producer, off = at & (RING_SIZE - 1);

	/* Both views of the data, as the kernel's double mapping gives. */
	for (size_t i = 0; i < sizeof(rec); i++) {
		f->data[(off + i) % RING_SIZE] = ((uint8_t *)&rec)[i];
		f->data[(off + i) % RING_SIZE + RING_SIZE] = ((uint8_t *)&rec)[i];
	}
	f->producer += sizeof(rec);
	return at;
}

/* Set or clear the header bits of the record at `at`. */
static void mark(struct fake *f, uint64_t at, uint32_t bits)
{
	uint32_t len = sizeof(struct sp_event_header) | bits;
	uint64_t off = at & (RING_SIZE - 1);

	memcpy(&f->data[off], &len, 4);
	memcpy(&f->data[off + RING_SIZE], &len, 4);
}

/* The rings of one test, and what the callback saw. */
struct rig {
	struct fake f[2];
	struct rings_one ones[2];
	struct rings r;
	struct seen s;
};

static struct rig *rig_new(unsigned int n)
{
	static struct rig g;

	memset(&g, 0, sizeof(g));
	for (unsigned int i = 0; i < n; i++) {
		g.ones[i].consumer = &g.f[i].consumer;
		g.ones[i].producer = &g.f[i].producer;
		g.ones[i].data = g.f[i].data;
		g.ones[i].mask = RING_SIZE - 1;
	}
	g.r.ring = g.ones;
	g.r.n = n;
	g.r.epoll_fd = -1;
	g.r.fn = on_record;
	g.r.ctx = &g.s;
	g.s.fail_at = -1;
	return &g;
}

static void one_ring_in_order_discards_skipped_busy_stops(void **state)
{
	struct rig *g = rig_new(1);
	uint64_t busy;

	(void)state;
	/* Clocks out of order: one ring keeps the order of reservation. */
	put(&g->f[0], 30, 1, 0);
	put(&g->f[0], 10, 2, 0);
	put(&g->f[0], 99, 3, DISCARD);
	put(&g->f[0], 20, 4, 0);
	busy = put(&g->f[0], 40, 5, BUSY);
	put(&g->f[0], 50, 6, 0);
	assert_int_equal(rings_drain(&g->r), 3);
	assert_int_equal(g->s.n, 3);
	assert_int_equal(g->s.pid[0], 1);
	assert_int_equal(g->s.pid[1], 2);
	assert_int_equal(g->s.pid[2], 4);
	/* The kernel may reuse what was read, up to the busy record. */
	assert_int_equal(g->f[0].consumer, busy);
	mark(&g->f[0], busy, 0);
	assert_int_equal(rings_drain(&g->r), 2);
	assert_int_equal(g->s.pid[3], 5);
	assert_int_equal(g->s.pid[4], 6);
	assert_int_equal(g->f[0].consumer, g->f[0].producer);
	assert_int_equal(rings_drain(&g->r), 0);
}

static void one_ring_wraps(void **state)
{
	struct rig *g = rig_new(1);
	int total = 0;

	(void)state;
	/* 32-byte records: 4096 / 32 = 128 a lap; start 8 bytes short of the
	 * end so one straddles it. */
	g->f[0].consumer = g->f[0].producer = RING_SIZE - 8;
	g->ones[0].cons = g->f[0].consumer;
	for (int lap = 0; lap < 3; lap++) {
		for (int i = 0; i < 20; i++)
			put(&g->f[0], (uint64_t)(lap * 100 + i + 1), (uint32_t)(lap * 100 + i), 0);
		g->s.n = 0;
		total += rings_drain(&g->r);
		assert_int_equal(g->s.n, 20);
		for (int i = 0; i < 20; i++)
			assert_int_equal(g->s.pid[i], lap * 100 + i);
	}
	assert_int_equal(total, 60);
}

static void two_rings_merged_by_clock(void **state)
{
	struct rig *g = rig_new(2);

	(void)state;
	put(&g->f[0], 10, 1, 0);
	put(&g->f[0], 30, 3, 0);
	put(&g->f[0], 50, 5, 0);
	put(&g->f[1], 20, 2, 0);
	put(&g->f[1], 40, 4, 0);
	put(&g->f[1], 45, 9, DISCARD);
	assert_int_equal(rings_drain(&g->r), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(g->s.pid[i], i + 1);
	assert_int_equal(g->f[0].consumer, g->f[0].producer);
	assert_int_equal(g->f[1].consumer, g->f[1].producer);
}

static void records_newer_than_the_drain_wait(void **state)
{
	struct rig *g = rig_new(2);
	uint64_t later;

	(void)state;
	put(&g->f[0], 10, 1, 0);
	/* Written after the drain began (its clock half a second ahead). */
	later = put(&g->f[0], clock_mono_ns() + 500000000ULL, 3, 0);
	put(&g->f[1], 20, 2, 0);
	assert_int_equal(rings_drain(&g->r), 2);
	assert_int_equal(g->s.pid[0], 1);
	assert_int_equal(g->s.pid[1], 2);
	/* Left in its ring, for a later drain. */
	assert_int_equal(g->f[0].consumer, later);
	assert_int_equal(rings_drain(&g->r), 0);
}

static void a_clock_no_kernel_wrote_does_not_hold_its_ring(void **state)
{
	struct rig *g = rig_new(2);

	(void)state;
	put(&g->f[0], UINT64_MAX - 1, 1, 0);
	put(&g->f[0], 30, 3, 0);
	put(&g->f[1], 20, 2, 0);
	assert_int_equal(rings_drain(&g->r), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(g->s.pid[i], i + 1);
}

static void a_busy_ring_holds_back_what_is_newer(void **state)
{
	struct rig *g = rig_new(2);
	uint64_t busy;

	(void)state;
	put(&g->f[0], 25, 1, 0);
	busy = put(&g->f[0], 60, 4, BUSY);
	put(&g->f[0], 70, 5, 0);
	put(&g->f[1], 20, 0, 0);
	put(&g->f[1], 25, 2, 0);
	put(&g->f[1], 30, 3, 0);
	/* Ring 0 stops at its busy record after the one of clock 25: what
	 * ring 1 has after 25 could depend on what is behind it. */
	assert_int_equal(rings_drain(&g->r), 3);
	assert_int_equal(g->s.pid[0], 0);
	assert_int_equal(g->s.pid[1] + g->s.pid[2], 3); /* both of clock 25 */
	assert_int_equal(g->f[0].consumer, busy);
	mark(&g->f[0], busy, 0);
	assert_int_equal(rings_drain(&g->r), 3);
	assert_int_equal(g->s.pid[3], 3);
	assert_int_equal(g->s.pid[4], 4);
	assert_int_equal(g->s.pid[5], 5);
}

static void a_failing_callback_stops_the_drain(void **state)
{
	struct rig *g = rig_new(2);

	(void)state;
	put(&g->f[0], 10, 1, 0);
	put(&g->f[1], 20, 2, 0);
	g->s.fail_at = 1;
	assert_int_equal(rings_drain(&g->r), -5);
	assert_int_equal(g->s.n, 1);
	/* The refused record was taken: the next drain goes on after it. */
	g->s.fail_at = -1;
	assert_int_equal(rings_drain(&g->r), 0);
}

/* A reader never opened (a zeroed struct) closes without closing fd 0. */
static void closing_a_zeroed_reader(void **state)
{
	struct rings r;

	(void)state;
	memset(&r, 0, sizeof(r));
	rings_close(&r);
	assert_int_not_equal(fcntl(0, F_GETFD), -1);
	assert_int_equal(r.epoll_fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_ring_in_order_discards_skipped_busy_stops),
		cmocka_unit_test(one_ring_wraps),
		cmocka_unit_test(two_rings_merged_by_clock),
		cmocka_unit_test(records_newer_than_the_drain_wait),
		cmocka_unit_test(a_clock_no_kernel_wrote_does_not_hold_its_ring),
		cmocka_unit_test(a_busy_ring_holds_back_what_is_newer),
		cmocka_unit_test(a_failing_callback_stops_the_drain),
		cmocka_unit_test(closing_a_zeroed_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
