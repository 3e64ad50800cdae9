/* SPDX-License-Identifier: MIT */
/* BPF timestamps are CLOCK_MONOTONIC; spans need Unix time. */
#ifndef SPANPROBE_CLOCK_H
#define SPANPROBE_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ns(void);
uint64_t clock_real_ns(void);

/* CLOCK_MONOTONIC in milliseconds: the clock of every deadline in ms. */
int64_t clock_mono_ms(void);

/* CLOCK_MONOTONIC as a timespec (condition variables set to that clock). */
void clock_mono_timespec(struct timespec *ts);

/*
 * Offset to add to a CLOCK_MONOTONIC time to get Unix time, measured as the
 * tightest of a few back-to-back readings.
 */
int64_t clock_mono_to_real_offset(void);

#endif /* SPANPROBE_CLOCK_H */
