/* SPDX-License-Identifier: MIT */
/* Turning -u SYMBOL arguments into (file, offset) pairs to probe. */
#ifndef SPANPROBE_TARGETS_H
#define SPANPROBE_TARGETS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sp_target {
	char path[PATH_MAX + 64]; /* file to attach to (may be under /proc/PID/root) */
	uint64_t offset;     /* file offset of the function */
	char symbol[256];    /* the symbol asked for, "name", "name@VER" or "name@@VER" */
	char function[256];  /* span name: the function's name, without a version */
};

/*
 * Resolve `n` symbols ("NAME" or "LIBRARY:NAME").  For a running process
 * (`pid` > 0) the executable is /proc/PID/exe and libraries are those in
 * /proc/PID/maps; for a command about to start, `exe` is its executable
 * and libraries are found as the dynamic loader finds them.  Returns 0, or
 * a negative errno with one line logged naming the problem (no such
 * process, library not mapped or not found, not ELF, no such function).
 */
int targets_resolve(const char *const *symbols, size_t n, pid_t pid,
		    const char *exe, struct sp_target *out);

/*
 * Whether process `pid` can be traced (`attach -p`, `run -p`; `who` starts
 * the message).  Returns 0, or a negative errno with one line logged
 * saying what is wrong: no such process (-ESRCH), spanprobe itself, a
 * thread's ID, a kernel thread or a zombie (no program to probe: -EINVAL),
 * or, when its uprobes need its program (need_program), not allowed to
 * read it (-EACCES).
 */
int targets_check_pid(const char *who, pid_t pid, bool need_program);

#endif /* SPANPROBE_TARGETS_H */
