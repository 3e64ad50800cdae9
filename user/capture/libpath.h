/* SPDX-License-Identifier: MIT */
/* Finding the files that symbols live in, as the process sees them. */
#ifndef SPANPROBE_LIBPATH_H
#define SPANPROBE_LIBPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The file mapped by process `pid` whose name is `lib`: an absolute path,
 * an exact file name ("libc.so.6"), or a stem followed by '.' or '-'
 * ("libc" finds "libc.so.6").  `out` gets a path that opens it from here:
 * /proc/PID/root/PATH (the process's view: a container's files), or, when
 * the file was removed or replaced on disk since it was mapped (a package
 * upgrade; the maps say "PATH (deleted)"), /proc/PID/map_files/START-END,
 * the mapped file itself (following that link needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE).  *deleted (may be NULL) says which.  Returns
 * 0, -ESRCH when the process does not exist, -ENOENT when no such library
 * is mapped.
 */
int libpath_from_maps(pid_t pid, const char *lib, char *out, size_t size, bool *deleted);

/*
 * The library `lib` that the dynamic loader would load for executable
 * `exe`: a name with '/' is taken as is; otherwise DT_RPATH (when there is
 * no DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH ($ORIGIN expanded), the
 * loader cache /etc/ld.so.cache, then the default directories.  Returns 0
 * or -ENOENT.
 */
int libpath_resolve(const char *exe, const char *lib, char *out, size_t size);

/*
 * `cmd` searched in PATH as execvp() does (a name with '/' is taken as is).
 * Returns 0, -ENOENT, or -EACCES when found but not executable.
 */
int libpath_which(const char *cmd, char *out, size_t size);

#endif /* SPANPROBE_LIBPATH_H */
