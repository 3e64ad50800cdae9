/* SPDX-License-Identifier: MIT */
/*
 * What the kernel's BPF statistics say of spanprobe's own programs: run
 * time and runs, per program name.  The kernel counts only while
 * kernel.bpf_stats_enabled is 1 or some process holds a BPF_ENABLE_STATS
 * descriptor (it costs a little on every run, so it is off by default and
 * spanprobe leaves it as the admin set it); the counts stay when it stops.
 */
#ifndef SPANPROBE_PROGSTATS_H
#define SPANPROBE_PROGSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROGSTATS_MAX 64 /* program names reported; more are summed as "other" */

struct progstat {
	char name[16];        /* the program's name as the kernel keeps it */
	uint64_t run_time_ns; /* summed over the programs of that name */
	uint64_t run_cnt;
};

/* Is /proc/sys/kernel/bpf_stats_enabled 1 (the sysctl; not the descriptors)? */
bool progstats_enabled(void);

/*
 * The programs this process holds a descriptor of, summed by name, in
 * the order first found.  Returns how many entries were filled (at most
 * `max`), or a negative errno (/proc/self/fd unreadable).  Any thread.
 */
int progstats_read(struct progstat *out, size_t max);

#endif /* SPANPROBE_PROGSTATS_H */
