// SPDX-License-Identifier: MIT
#include "daemon/targets.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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
	bool deleted = false;
	int err;

	if (pid <= 0) {
		err = libpath_resolve(exe, lib, out, size);
		if (err)
			sp_err("trace: library '%s' not found where the dynamic loader "
			       "looks (RUNPATH, LD_LIBRARY_PATH, ld.so.cache, /lib, /usr/lib)",
			       lib);
		return err;
	}
	/* Through the process's root, so a container's files are found; a
	 * library replaced on disk since, through the mapping itself. */
	err = libpath_from_maps(pid, lib, out, size, &deleted);
	if (err == -ENOENT)
		sp_err("attach: process %d has no library '%s' mapped (see /proc/%d/maps)",
		       (int)pid, lib, (int)pid);
	else if (err)
		sp_err("attach: no process with PID %d", (int)pid);
	else if (deleted)
		sp_info("attach: '%s' of process %d was replaced or removed on disk "
			"since it was mapped: probing the mapped file, %s", lib, (int)pid, out);
	return err;
}

static void report_symbol_error(const char *who, const char *name,
				const char *path, int err)
{
	if (err == -ENOENT)
		sp_err("%s: function '%s' not found in %s (a typo, a stripped binary, "
		       "or an inlined function?)", who, name, path);
	else if (err == -ENOTSUP)
		sp_err("%s: '%s' in %s is an IFUNC: the loader picks its implementation at "
		       "start; trace that implementation by its own name instead", who, name,
		       path);
	else if (err == -ENOEXEC)
		sp_err("%s: %s is not an ELF file; name a compiled program or library",
		       who, path);
	else if ((err == -EPERM || err == -EACCES) && strstr(path, "/map_files/"))
		sp_err("%s: cannot read %s: %s (a library replaced on disk is read "
		       "through the process's mapping of it, which needs CAP_SYS_ADMIN or "
		       "CAP_CHECKPOINT_RESTORE)", who, path, strerror(-err));
	else if (err)
		sp_err("%s: cannot read %s: %s", who, path, strerror(-err));
}

/* The file of symbol `i`; a library named before is not looked up again. */
static int locate_one(const char *const *symbols, size_t i, pid_t pid,
		      const char *exe, struct sp_target *out)
{
	char lib[PATH_MAX], prev[PATH_MAX];
	const char *name;

	split_symbol(symbols[i], lib, sizeof(lib), &name);
	snprintf(out[i].symbol, sizeof(out[i].symbol), "%s", name);
	snprintf(out[i].function, sizeof(out[i].function), "%.*s",
		 (int)strcspn(name, "@"), name);
	if (!lib[0]) {
		snprintf(out[i].path, sizeof(out[i].path), "%s", exe);
		return 0;
	}
	for (size_t j = 0; j < i; j++) {
		const char *prev_name;

		split_symbol(symbols[j], prev, sizeof(prev), &prev_name);
		if (!strcmp(prev, lib)) {
			memcpy(out[i].path, out[j].path, sizeof(out[i].path)); /* j < i */
			return 0;
		}
	}
	return find_library(lib, pid, exe, out[i].path, sizeof(out[i].path));
}

/*
 * Offsets of every target whose file is that of target `first` (and not
 * done yet), in one pass over that file.  Returns 0 or the first error.
 */
static int resolve_file(struct sp_target *t, size_t n, size_t first, bool *done,
			const char *who)
{
	const char **names = calloc(n, sizeof(*names));
	uint64_t *offsets = calloc(n, sizeof(*offsets));
	size_t *which = calloc(n, sizeof(*which));
	int *errs = calloc(n, sizeof(*errs));
	size_t m = 0;
	int err = -ENOMEM;

	if (!names || !offsets || !which || !errs)
		goto out;
	for (size_t i = first; i < n; i++)
		if (!done[i] && !strcmp(t[i].path, t[first].path)) {
			names[m] = t[i].symbol;
			which[m++] = i;
			done[i] = true;
		}
	err = elfsym_find_all(t[first].path, names, m, offsets, errs);
	report_symbol_error(who, t[first].symbol, t[first].path, err);
	for (size_t k = 0; k < m && !err; k++) {
		t[which[k]].offset = offsets[k];
		err = errs[k];
		report_symbol_error(who, names[k], t[first].path, err);
	}
out:
	free(names);
	free(offsets);
	free(which);
	free(errs);
	return err;
}

int targets_resolve(const char *const *symbols, size_t n, pid_t pid,
		    const char *exe, struct sp_target *out)
{
	const char *who = pid > 0 ? "attach" : "trace";
	char proc_exe[96];
	bool *done;
	int err = 0;

	if (pid > 0) {
		if (procfs_exe_link(pid, proc_exe, sizeof(proc_exe))) {
			sp_err("attach: no process with PID %d", (int)pid);
			return -ESRCH;
		}
		exe = proc_exe;
	}
	for (size_t i = 0; i < n && !err; i++)
		err = locate_one(symbols, i, pid, exe, out);
	done = calloc(n ? n : 1, sizeof(*done));
	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		if (!done[i])
			err = resolve_file(out, n, i, done, who);
	free(done);
	return err;
}

/* A live process whose program we may read (need_program), or a live
 * process, or the reason why not. */
static int check_exe(const char *who, pid_t pid, const struct sp_procfs_stat *st,
		     bool need_program)
{
	int err;

	if (procfs_live_task(pid) > 0)
		return 0;
	if (st->state == 'Z' || st->state == 'X') {
		sp_err("%s: process %d (%s) is a zombie: it has exited and waits "
		       "for its parent to collect it", who, (int)pid, st->comm);
		return -EINVAL;
	}
	if (!need_program)
		return 0;
	err = procfs_exe_error(pid);
	if (err == -EACCES || err == -EPERM)
		sp_err("%s: not allowed to read process %d (%s): /proc/%d/exe: %s "
		       "(another user namespace, or a process protected from us)",
		       who, (int)pid, st->comm, (int)pid, strerror(-err));
	else if (err == -ESRCH)
		sp_err("%s: no process with PID %d (it has just exited)", who, (int)pid);
	else
		sp_err("%s: cannot read the program of process %d (%s): %s",
		       who, (int)pid, st->comm, strerror(err ? -err : ENOENT));
	return err ? err : -ENOENT;
}

/*
 * /proc answers to a thread's ID too, but probes and filters go by
 * process: a thread's ID would trace nothing.  Refused, naming the
 * process, rather than quietly widened to all its threads.
 */
static int check_thread(const char *who, pid_t pid)
{
	pid_t tgid = procfs_read_tgid(pid);
	struct sp_procfs_stat st;

	if (tgid < 0 || tgid == pid)
		return 0; /* unreadable: the checks after say why */
	if (procfs_read_stat(tgid, &st))
		snprintf(st.comm, sizeof(st.comm), "?");
	sp_err("%s: PID %d is a thread of process %d (%s): give -p %d", who, (int)pid,
	       (int)tgid, st.comm, (int)tgid);
	return -EINVAL;
}

int targets_check_pid(const char *who, pid_t pid, bool need_program)
{
	struct sp_procfs_stat st;
	int err;

	if (pid == getpid()) {
		sp_err("%s: PID %d is spanprobe itself", who, (int)pid);
		return -EINVAL;
	}
	err = procfs_read_stat(pid, &st);
	if (err == -ESRCH) {
		sp_err("%s: no process with PID %d", who, (int)pid);
		return err;
	}
	if (err) {
		sp_err("%s: cannot read /proc/%d/stat: %s", who, (int)pid, strerror(-err));
		return err;
	}
	if (st.kernel_thread) {
		sp_err("%s: PID %d (%s) is a kernel thread: it runs no program to probe",
		       who, (int)pid, st.comm);
		return -EINVAL;
	}
	err = check_thread(who, pid);
	return err ? err : check_exe(who, pid, &st, need_program);
}
