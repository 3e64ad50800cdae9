/* SPDX-License-Identifier: MIT */
/*
 * Launch-and-trace: the command is forked and held before exec until its
 * probes are attached, so it is traced from its first instruction.
 */
#ifndef SPANPROBE_LAUNCHER_H
#define SPANPROBE_LAUNCHER_H

#include <sys/types.h>

struct sp_child {
	pid_t pid;
	int go_fd;   /* write end: one byte releases the child */
	int err_fd;  /* read end: the child's errno if exec failed */
};

/*
 * Note which signals spanprobe was started with ignored, before it sets
 * its own handlers: the command is given the same.
 */
void launcher_note_signals(void);

/*
 * Fork a child that waits, then execs `path` with `argv`.  Returns 0 or a
 * negative errno.
 */
int launcher_spawn(const char *path, char *const argv[], struct sp_child *c);

/*
 * Let the child exec.  Returns 0 once exec succeeded, or the negative
 * errno with which it failed (the child then exits with status 127).
 */
int launcher_release(struct sp_child *c);

/* Kill and reap a child that was never released.  Accepts pid 0. */
void launcher_abort(struct sp_child *c);

#endif /* SPANPROBE_LAUNCHER_H */
