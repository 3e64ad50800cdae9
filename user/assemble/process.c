// SPDX-License-Identifier: MIT
#include "assemble/process.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

int process_read_names(pid_t pid, struct process_names *out)
{
	struct sp_procfs_stat st;
	char argv0[sizeof(out->link) * 4];
	const char *slash;
	ssize_t n;

	out->link[0] = out->comm[0] = '\0';
	n = procfs_read(pid, "cmdline", argv0, sizeof(argv0));
	if (n > 0) {
		/* NUL-separated: the string read is argv[0]. */
		slash = strrchr(argv0, '/');
		snprintf(out->link, sizeof(out->link), "%.*s", (int)sizeof(out->link) - 1,
			 slash ? slash + 1 : argv0);
	}
	if (procfs_read_stat(pid, &st) == 0)
		snprintf(out->comm, sizeof(out->comm), "%s", st.comm);
	return n < 0 && !out->comm[0] ? -ESRCH : 0;
}
