// SPDX-License-Identifier: MIT
#include "util/slice.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct sched_attr (glibc has no wrapper before 2.41). */
struct slice_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

int slice_request(uint64_t ns)
{
	struct slice_attr a = { .size = sizeof(a), .sched_policy = SCHED_OTHER,
				.sched_runtime = ns };

	/* The thread's own nice value (getpriority of its thread ID). */
	errno = 0;
	a.sched_nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	if (errno)
		return -errno;
	return syscall(SYS_sched_setattr, 0, &a, 0) ? -errno : 0;
}
