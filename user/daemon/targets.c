// SPDX-License-Identifier: MIT
#include "daemon/targets.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture/elfsym.h"
#include "capture/libpath.h"
#include "capture/procfs.h"
#include "util/log.h"

/* "lib:name" -> lib, name.  A "::" (C++ scope) is not a separator. */
static void split_symbol(const char *sym, char *lib, size_t lib_size,
			 const char **name)
{
	const char *colon = strchr(sym, ':');

	while (colon && colon[1] == ':')
		colon = strchr(colon + 2, ':');
	if (!colon) {
		lib[0] = 0;
		*name = sym;
		return;
	}
	snprintf(lib, lib_size, "%.*s", (int)(colon - sym), sym);
	*name = colon + 1;
}

static int find_library(const char *lib, pid_t pid, const char *exe,
			char *out, size_t size)
{
	char mapped[PATH_MAX - 64];
	int err;

	if (pid <= 0) {
		err = libpath_resolve(exe, lib, out, size);
		if (err)
			sp_err("trace: library '%s' not found where the dynamic loader "
			       "looks (RUNPATH, LD_LIBRARY_PATH, ld.so.cache, /lib, /usr/lib)",
			       lib);
		return err;
	}
	err = libpath_from_maps(pid, lib, mapped, sizeof(mapped));
	if (err == -ENOENT)
		sp_err("attach: process %d has no library '%s' mapped (see /proc/%d/maps)",
		       (int)pid, lib, (int)pid);
	else if (err)
		sp_err("attach: no process with PID %d", (int)pid);
	/* Through the process's root, so a container's files are found. */
	if (!err)
		snprintf(out, size, "/proc/%d/root%s", (int)pid, mapped);
	return err;
}

static int resolve_one(const char *sym, pid_t pid, const char *exe,
		       struct sp_target *t)
{
	const char *who = pid > 0 ? "attach" : "trace";
	char lib[PATH_MAX];
	const char *name;
	int err;

	split_symbol(sym, lib, sizeof(lib), &name);
	snprintf(t->function, sizeof(t->function), "%s", name);
	if (lib[0]) {
		err = find_library(lib, pid, exe, t->path, sizeof(t->path));
		if (err)
			return err;
	} else {
		snprintf(t->path, sizeof(t->path), "%s", exe);
	}
	err = elfsym_find(t->path, name, &t->offset);
	if (err == -ENOENT)
		sp_err("%s: function '%s' not found in %s (a typo, a stripped binary, "
		       "or an inlined function?)", who, name, t->path);
	else if (err == -ENOTSUP)
		sp_err("%s: '%s' in %s is an IFUNC: the loader picks its implementation at "
		       "start; trace that implementation by its own name instead", who, name,
		       t->path);
	else if (err == -ENOEXEC)
		sp_err("%s: %s is not an ELF file; name a compiled program or library",
		       who, t->path);
	else if (err)
		sp_err("%s: cannot read %s: %s", who, t->path, strerror(-err));
	return err;
}

int targets_resolve(const char *const *symbols, size_t n, pid_t pid,
		    const char *exe, struct sp_target *out)
{
	char proc_exe[96];

	if (pid > 0) {
		if (procfs_exe_link(pid, proc_exe, sizeof(proc_exe))) {
			sp_err("attach: no process with PID %d", (int)pid);
			return -ESRCH;
		}
		exe = proc_exe;
	}
	for (size_t i = 0; i < n; i++) {
		int err = resolve_one(symbols[i], pid, exe, &out[i]);

		if (err)
			return err;
	}
	return 0;
}

/* A live process whose program we may read, or the reason why not. */
static int check_exe(pid_t pid, const struct sp_procfs_stat *st)
{
	int err;

	if (procfs_live_task(pid) > 0)
		return 0;
	if (st->state == 'Z' || st->state == 'X') {
		sp_err("attach: process %d (%s) is a zombie: it has exited and waits "
		       "for its parent to collect it", (int)pid, st->comm);
		return -EINVAL;
	}
	err = procfs_exe_error(pid);
	if (err == -EACCES || err == -EPERM)
		sp_err("attach: not allowed to read process %d (%s): /proc/%d/exe: %s "
		       "(another user namespace, or a process protected from us)",
		       (int)pid, st->comm, (int)pid, strerror(-err));
	else if (err == -ESRCH)
		sp_err("attach: no process with PID %d (it has just exited)", (int)pid);
	else
		sp_err("attach: cannot read the program of process %d (%s): %s",
		       (int)pid, st->comm, strerror(err ? -err : ENOENT));
	return err ? err : -ENOENT;
}

int targets_check_pid(pid_t pid)
{
	struct sp_procfs_stat st;
	int err;

	if (pid == getpid()) {
		sp_err("attach: PID %d is spanprobe itself", (int)pid);
		return -EINVAL;
	}
	err = procfs_read_stat(pid, &st);
	if (err == -ESRCH) {
		sp_err("attach: no process with PID %d", (int)pid);
		return err;
	}
	if (err) {
		sp_err("attach: cannot read /proc/%d/stat: %s", (int)pid, strerror(-err));
		return err;
	}
	if (st.kernel_thread) {
		sp_err("attach: PID %d (%s) is a kernel thread: it runs no program to probe",
		       (int)pid, st.comm);
		return -EINVAL;
	}
	return check_exe(pid, &st);
}
