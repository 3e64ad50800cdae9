/* SPDX-License-Identifier: MIT */
/*
 * How the daemon's busy threads (the reader, the exporter) share a CPU
 * with the servers they trace: SCHED_BATCH, the kernel's policy for work
 * that is not interactive, so that a woken reader never preempts a
 * server in the middle of a request (it runs at the server's next turn
 * instead), and a short scheduling slice (Linux 6.12 and later, EEVDF's
 * sched_attr::sched_runtime), so that a burst of its work delays a
 * request by at most one turn.  It gets the same share of the CPU.
 * Called by each of those threads for itself, after any program
 * spanprobe launches was forked: a child would keep the policy.
 */
#ifndef SPANPROBE_UTIL_SLICE_H
#define SPANPROBE_UTIL_SLICE_H

#include <stdint.h>

/* The kernel's own bounds: 0.1 ms to 100 ms. */
#define SLICE_SHORT_NS 100000u

/*
 * SCHED_BATCH and slices of `ns` for the calling thread, keeping its nice
 * value.  0, or -errno (older kernels take the call and ignore the
 * length).
 */
int slice_request(uint64_t ns);

#endif /* SPANPROBE_UTIL_SLICE_H */
