/* SPDX-License-Identifier: MIT */
/*
 * The ring-buffer wake-up rule of the loader (loader_wakeup_for()): an
 * eighth of the ring buffer, at most LOADER_WAKEUP_MAX.
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
	/* The default ring (4 MiB) and the former one (8 MiB): the socket
	 * objects' value of old. */
	assert_int_equal(loader_wakeup_for(4u << 20), 64u << 10);
	assert_int_equal(loader_wakeup_for(8u << 20), 64u << 10);
	assert_int_equal(loader_wakeup_for(1u << 20), 64u << 10);
	assert_int_equal(loader_wakeup_for(64u << 20), 64u << 10);
	assert_int_equal(loader_wakeup_for(1u << 30), LOADER_WAKEUP_MAX);
	/* Small rings: an eighth, so the ring has room while the reader wakes. */
	assert_int_equal(loader_wakeup_for(512u << 10), 64u << 10);
	assert_int_equal(loader_wakeup_for(256u << 10), 32u << 10);
	assert_int_equal(loader_wakeup_for(64u << 10), 8u << 10);
	assert_int_equal(loader_wakeup_for(4096), 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wakeup_scales_with_the_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
