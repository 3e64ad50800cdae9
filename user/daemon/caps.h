/* SPDX-License-Identifier: MIT */
/*
 * The capabilities the chosen work needs, checked before anything is
 * loaded: a missing one is named with what fails without it, instead of
 * a bpf() or /proc error later that does not say what to grant.  Root
 * with every capability passes without a word.
 *
 * What each one buys (measured on Linux 6.18, everything else dropped):
 *   CAP_BPF              BPF maps and programs
 *   CAP_PERFMON          tracing programs (raw tracepoints, uprobes)
 *   CAP_SYS_PTRACE       /proc/PID/{exe,maps,root,environ} of other
 *                        users' processes: their identity, their TLS
 *                        libraries
 *   CAP_DAC_READ_SEARCH  /proc/PID/environ of other users' processes
 *                        (mode 0400): their OTEL_SERVICE_NAME and
 *                        OTEL_RESOURCE_ATTRIBUTES
 *   CAP_SYS_RESOURCE     only where BPF memory is charged to
 *                        RLIMIT_MEMLOCK (before Linux 5.11) and that
 *                        limit is not unlimited
 *   CAP_SYS_ADMIN        only for uprobes through perf events (kernels
 *                        without uprobe-multi links, before 6.6) on
 *                        kernels that require it for them again (Linux
 *                        6.16, commit ba677dbe77af, and stable kernels);
 *                        and instead of CAP_BPF/CAP_PERFMON before 5.8
 */
#ifndef SPANPROBE_CAPS_H
#define SPANPROBE_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/config.h"

/* Capability numbers (linux/capability.h; older headers lack the last two). */
enum {
	CAPS_DAC_READ_SEARCH = 2,
	CAPS_SYS_PTRACE = 19,
	CAPS_SYS_ADMIN = 21,
	CAPS_SYS_RESOURCE = 24,
	CAPS_PERFMON = 38,
	CAPS_BPF = 39,
};

enum caps_need { CAPS_NOT_NEEDED = 0, CAPS_OPTIONAL, CAPS_REQUIRED };

/* What the work and the kernel are, as far as the capabilities go. */
struct caps_work {
	int command;          /* SP_CMD_RUN, _ATTACH, _TRACE */
	bool other_user;      /* attach: the process is another user's */
	bool functions;       /* -u SYMBOL given */
	bool no_http;         /* --no-http */
	bool kernel_has_bpf_caps; /* CAP_BPF and CAP_PERFMON exist (5.8) */
	bool memlock_charged; /* BPF memory counts against RLIMIT_MEMLOCK */
	bool memlock_limited; /* ... whose hard limit is not unlimited */
	bool uprobe_multi;    /* uprobes attach by multi links */
};

/* One capability the work needs: how much, and what fails without it. */
struct caps_verdict {
	int cap;
	const char *name;
	enum caps_need need;
	const char *without;
};

#define CAPS_MAX 6

/*
 * What `w` needs, given the effective set `effective` (bit N:
 * capability N): fills `out` (room for CAPS_MAX) with the capabilities
 * needed and missing, most important first.  Returns how many.  No
 * system call: the unit tests call it with made-up sets.
 */
size_t caps_missing(const struct caps_work *w, uint64_t effective,
		    struct caps_verdict *out);

/* The effective set of this thread (capget(2)).  0 or -errno. */
int caps_effective(uint64_t *effective);

/*
 * Check the capabilities of `cfg`'s work before anything is loaded:
 * one line per missing capability on stderr, naming it and what fails
 * without it.  Returns 0 (also after warnings about optional ones), or
 * -EPERM when a required one is missing.
 */
int caps_check(const struct sp_config *cfg);

/* `spanprobe probes`: the capabilities node-wide tracing uses, present or missing. */
void caps_report(FILE *out);

#endif /* SPANPROBE_CAPS_H */
