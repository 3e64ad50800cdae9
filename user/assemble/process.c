// SPDX-License-Identifier: MIT
#include "assemble/process.h"

#include <errno.h>

#include "capture/procfs.h"

struct sp_resource *process_read_resource(pid_t pid,
					  const struct sp_resource_defaults *defaults)
{
	/* Static: some 80 KiB, too much for the stack of every caller. */
	static struct sp_procfs_process proc;
	struct sp_process_info info = { .pid = pid };

	if (procfs_read_process(pid, defaults->with_command_line, &proc)) {
		errno = ESRCH;
		return NULL;
	}
	info.exe_path = proc.exe;
	info.service_name = proc.service_name;
	info.own_resource_attrs = proc.resource_attrs;
	info.cgroup = proc.cgroup;
	info.command_line = proc.command_line;
	return resource_build(&info, defaults);
}
