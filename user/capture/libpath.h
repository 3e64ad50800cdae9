/* SPDX-License-Identifier: MIT */
/* Finding the files that symbols live in, as the process sees them. */
#ifndef SPANPROBE_LIBPATH_H
#define SPANPROBE_LIBPATH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The file mapped by process `pid` whose name is `lib`: an absolute path,
 * an exact file name ("libc.so.6"), or a stem followed by '.' or '-'
 * ("libc" finds "libc.so.6").  Returns 0, -ESRCH when the process does not
 * exist, -ENOENT when no such library is mapped.
 */
int libpath_from_maps(pid_t pid, const char *lib, char *out, size_t size);

/*
 * The library `lib` that the dynamic loader would load for executable
 * `exe`: a name with '/' is taken as is; otherwise DT_RPATH (when there is
 * no DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH ($ORIGIN expanded), the
 * loader cache /etc/ld.so.cache, then the default directories.  Returns 0
 * or -ENOENT.
 */
int libpath_resolve(const char *exe, const char *lib, char *out, size_t size);

/*
 * A /proc link to the executable of process `pid` that resolves:
 * /proc/PID/exe, or, when the main thread has exited (pthread_exit) and
 * its link is gone, /proc/PID/task/TID/exe of a thread still running.
 * Returns 0 or -ESRCH.
 */
int libpath_proc_exe(pid_t pid, char *out, size_t size);

/*
 * A task of process `pid` that still runs its program: `pid` itself, or a
 * thread when the main thread has exited.  Uprobes are attached through it
 * (they then fire in every thread of the process).  Returns -1 when none.
 */
pid_t libpath_live_task(pid_t pid);

/*
 * `cmd` searched in PATH as execvp() does (a name with '/' is taken as is).
 * Returns 0, -ENOENT, or -EACCES when found but not executable.
 */
int libpath_which(const char *cmd, char *out, size_t size);

#endif /* SPANPROBE_LIBPATH_H */
