// SPDX-License-Identifier: MIT
#include "util/clock.h"

static uint64_t read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void clock_mono_timespec(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

int64_t clock_mono_ms(void)
{
	return (int64_t)(clock_mono_ns() / 1000000);
}

uint64_t clock_mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

uint64_t clock_real_ns(void)
{
	return read_ns(CLOCK_REALTIME);
}

int64_t clock_mono_to_real_offset(void)
{
	uint64_t best_gap = UINT64_MAX;
	int64_t offset = 0;

	/* Bracket a realtime read between two monotonic reads; keep the
	 * narrowest bracket, which is the least disturbed by preemption. */
	for (int i = 0; i < 5; i++) {
		uint64_t m1 = clock_mono_ns();
		uint64_t r = clock_real_ns();
		uint64_t m2 = clock_mono_ns();

		if (m2 - m1 < best_gap) {
			best_gap = m2 - m1;
			offset = (int64_t)(r - (m1 + (m2 - m1) / 2));
		}
	}
	return offset;
}
