/* SPDX-License-Identifier: MIT */
/*
 * A short scheduling slice for the calling thread (Linux 6.12 and later,
 * EEVDF's sched_attr::sched_runtime for SCHED_OTHER): where spanprobe
 * shares a CPU with the servers it traces, it runs in short turns, so a
 * burst of its work delays a request by at most one turn.  It gets the
 * same share of the CPU.
 */
#ifndef SPANPROBE_UTIL_SLICE_H
#define SPANPROBE_UTIL_SLICE_H

#include <stdint.h>

/* The kernel's own bounds: 0.1 ms to 100 ms. */
#define SLICE_SHORT_NS 100000u

/*
 * Ask for slices of `ns` for the calling thread, keeping its nice value.
 * 0, or -errno (older kernels take the call and ignore the length).
 */
int slice_request(uint64_t ns);

#endif /* SPANPROBE_UTIL_SLICE_H */
