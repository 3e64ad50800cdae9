/* SPDX-License-Identifier: MIT */
/* The resource of a live process, from what capture/procfs reads of it. */
#ifndef SPANPROBE_PROCESS_H
#define SPANPROBE_PROCESS_H

#include <sys/types.h>

#include "span/resource.h"

/*
 * Read exe, environ, cgroups and (if asked) cmdline of live process `pid`
 * and build its resource.  Returns NULL with errno ESRCH when the process
 * is gone, or ENOMEM.  Uses static buffers: call it from one thread (the
 * ring-buffer consumer, or the daemon before the consumer starts).
 */
struct sp_resource *process_read_resource(pid_t pid,
					  const struct sp_resource_defaults *defaults);

/* What a user may call process `pid` by, each "" when unknown. */
struct process_names {
	char link[256]; /* the name it was started by: argv[0]'s last part */
	char comm[64];  /* the kernel's task name */
};

/* Read the names of live process `pid`.  Returns 0 or -ESRCH. */
int process_read_names(pid_t pid, struct process_names *out);

#endif /* SPANPROBE_PROCESS_H */
