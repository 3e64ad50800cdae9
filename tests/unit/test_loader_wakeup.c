/* SPDX-License-Identifier: MIT */
/*
 * The ring-buffer wake-up rule of the loader (loader_wakeup_for()): an
 * eighth of the ring buffer shared out between the CPUs, each share at
 * most LOADER_WAKEUP_MAX, at least LOADER_WAKEUP_CPU_MIN (or the eighth)
 * while all of them stay within half the ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "capture/loader.h"

static void wakeup_scales_with_the_ring(void **state)
{
	(void)state;
	/* One CPU: the default ring (4 MiB) and larger ones, the cap. */
	assert_int_equal(loader_wakeup_for(4u << 20, 1), 128u << 10);
	assert_int_equal(loader_wakeup_for(8u << 20, 1), 128u << 10);
	assert_int_equal(loader_wakeup_for(1u << 20, 1), 128u << 10);
	assert_int_equal(loader_wakeup_for(1u << 30, 1), LOADER_WAKEUP_MAX);
	/* Small rings: an eighth, so the ring has room while the reader wakes. */
	assert_int_equal(loader_wakeup_for(512u << 10, 1), 64u << 10);
	assert_int_equal(loader_wakeup_for(256u << 10, 1), 32u << 10);
	assert_int_equal(loader_wakeup_for(64u << 10, 1), 8u << 10);
	assert_int_equal(loader_wakeup_for(4096, 1), 512);
}

static void wakeup_shared_by_the_cpus(void **state)
{
	(void)state;
	/* The default ring on 2, 4 and 8 CPUs: the eighth divided, capped. */
	assert_int_equal(loader_wakeup_for(4u << 20, 2), 128u << 10);
	assert_int_equal(loader_wakeup_for(4u << 20, 4), 128u << 10);
	assert_int_equal(loader_wakeup_for(4u << 20, 8), 64u << 10);
	assert_int_equal(loader_wakeup_for(1u << 20, 2), 64u << 10);
	/* 256 CPUs: 2 KiB each would wake the reader at nearly every record
	 * of a busy CPU; 4 KiB, 1 MiB in all, within half the ring. */
	assert_int_equal(loader_wakeup_for(4u << 20, 256), LOADER_WAKEUP_CPU_MIN);
	/* A small ring on many CPUs: half the ring shared out. */
	assert_int_equal(loader_wakeup_for(256u << 10, 1024), 128);
	/* A tiny ring: the floor never passes the eighth. */
	assert_int_equal(loader_wakeup_for(4096, 2), 512);
	assert_int_equal(loader_wakeup_for(4096, 8), 256);
	/* Never 0 (0 would mean the ring buffer's own rule), 0 CPUs as 1. */
	assert_int_equal(loader_wakeup_for(64, 1u << 20), 1);
	assert_int_equal(loader_wakeup_for(4u << 20, 0), 128u << 10);
}

/* Per-CPU ring buffers: the total divided, a power of two, at least a page. */
static void ring_bytes_per_cpu(void **state)
{
	(void)state;
	assert_int_equal(loader_ring_bytes(4u << 20, 1, 4096), 4u << 20);
	assert_int_equal(loader_ring_bytes(4u << 20, 2, 4096), 2u << 20);
	assert_int_equal(loader_ring_bytes(4u << 20, 3, 4096), 1u << 20);
	assert_int_equal(loader_ring_bytes(4u << 20, 64, 4096), 64u << 10);
	assert_int_equal(loader_ring_bytes(4u << 20, 4096, 4096), 4096);
	assert_int_equal(loader_ring_bytes(4096, 2, 4096), 4096);
	assert_int_equal(loader_ring_bytes(1u << 30, 2, 4096), 512u << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wakeup_scales_with_the_ring),
		cmocka_unit_test(ring_bytes_per_cpu),
		cmocka_unit_test(wakeup_shared_by_the_cpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
