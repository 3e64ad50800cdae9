/* SPDX-License-Identifier: MIT */
/*
 * Everything spanprobe reads of a process from /proc, in one place: whole
 * files, the executable link through a thread still running, the mapped
 * files, and what a process's resource is built from; and, through a
 * pidfd, whether its threads are all gone.  Plain data only: what it
 * means is for the callers.
 */
#ifndef SPANPROBE_PROCFS_H
#define SPANPROBE_PROCFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Read /proc/PID/NAME whole (at most size - 1 bytes) into `buf`, NUL
 * terminated.  Returns the length or a negative errno (-ENOENT: no such
 * process).
 */
ssize_t procfs_read(pid_t pid, const char *name, char *buf, size_t size);

/*
 * A task of process `pid` that still runs its program: `pid` itself, or a
 * thread when the main thread has exited (pthread_exit) and its exe link
 * is gone.  Uprobes are attached through it (they then fire in every
 * thread of the process).  Returns -1 when none.
 */
pid_t procfs_live_task(pid_t pid);

/*
 * A /proc link to the executable of process `pid` that resolves:
 * /proc/PID/exe, or /proc/PID/task/TID/exe of procfs_live_task().
 * Returns 0 or -ESRCH.
 */
int procfs_exe_link(pid_t pid, char *out, size_t size);

/* What /proc/PID/stat says a process is. */
struct sp_procfs_stat {
	char state;          /* R, S, D, Z (zombie), X (dead)... */
	bool kernel_thread;  /* PF_KTHREAD: no program, no user memory */
	char comm[64];       /* the task's name (the file name it ran) */
};

/* Read /proc/PID/stat.  Returns 0, -ESRCH, -EACCES or -EPROTO (unparsable). */
int procfs_read_stat(pid_t pid, struct sp_procfs_stat *out);

/*
 * The process a task belongs to (Tgid in /proc/PID/status): `pid` itself
 * for a process, another for a thread's ID, which /proc also answers to.
 * Returns it, -ESRCH or -EPROTO.
 */
pid_t procfs_read_tgid(pid_t pid);

/*
 * Wait, at most `timeout_ms`, until process `pid` has no thread left
 * running: its main thread has exited and every other thread is gone (a
 * pidfd polls readable then, Linux 5.3).  Returns 0 when so or when the
 * process is gone already, -ETIMEDOUT, or the negative errno of
 * pidfd_open() (-ENOSYS before 5.3).
 */
int procfs_wait_threads_gone(pid_t pid, int timeout_ms);

/*
 * Why the executable of process `pid` cannot be resolved: 0 (it can),
 * or the negative errno of reading its exe link (-EACCES: not allowed,
 * -ENOENT: no program, -ESRCH: no such process).
 */
int procfs_exe_error(pid_t pid);

/*
 * Whether `path` (as /proc/PID/cgroup shows it, e.g. /system.slice/x.service)
 * is a cgroup of a hierarchy mounted here (cgroup or cgroup2 in
 * /proc/self/mountinfo).  Returns 0, -ENOENT, or -ENODEV when no cgroup
 * file system is mounted to look in.
 */
int procfs_cgroup_exists(const char *path);

/*
 * Call fn with the path of every file mapped by process `pid`
 * (/proc/PID/maps), in order, until fn returns non-zero.  Returns what fn
 * returned last (0 when it never stopped the walk), or -ESRCH when the
 * process does not exist.
 */
int procfs_maps_each(pid_t pid, int (*fn)(const char *path, void *arg), void *arg);

/* One file mapping of /proc/PID/maps. */
struct sp_procfs_mapping {
	unsigned long start, end; /* its addresses: /proc/PID/map_files/START-END */
	const char *path;         /* the file's name, without " (deleted)" */
	bool deleted;             /* the file was removed or replaced since */
};

/*
 * procfs_maps_each() with each mapping's addresses, and the " (deleted)"
 * the kernel writes after the name of a file removed (or replaced, as a
 * package upgrade replaces a library) since it was mapped taken off.
 */
int procfs_maps_each_mapping(pid_t pid,
			     int (*fn)(const struct sp_procfs_mapping *m, void *arg),
			     void *arg);

/* What the resource of a live process is built from; strings or NULL. */
struct sp_procfs_process {
	char exe[PATH_MAX];         /* the executable, as the kernel resolves it */
	const char *service_name;   /* OTEL_SERVICE_NAME in its environment */
	const char *resource_attrs; /* OTEL_RESOURCE_ATTRIBUTES in its environment */
	const char *cgroup;         /* its cgroup paths, one per line */
	const char *command_line;   /* arguments joined by spaces, if asked */
	/* Storage the strings above point into. */
	char environ[65536];
	char cmdline[8192];
	char cgroups[4096];
};

/*
 * Read executable, environment, cgroups and (with `with_cmdline`) the
 * command line of live process `pid` into `out`.  Returns 0, or -ESRCH
 * when the process is gone.
 */
int procfs_read_process(pid_t pid, bool with_cmdline, struct sp_procfs_process *out);

#endif /* SPANPROBE_PROCFS_H */
