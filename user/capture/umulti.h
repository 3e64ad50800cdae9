/* SPDX-License-Identifier: MIT */
/*
 * Uprobe-multi links (Linux 6.6): many uprobes of one file in one BPF
 * link.  libbpf 1.1 does not know them, so they are made here with the
 * bpf() system call.  What they buy is detaching: removing a uprobe waits
 * for a grace period, once per perf-event link (serialised in the kernel)
 * but once per multi link.
 */
#ifndef SPANPROBE_UMULTI_H
#define SPANPROBE_UMULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* BPF_TRACE_UPROBE_MULTI of enum bpf_attach_type (not in older headers). */
#define UMULTI_ATTACH_TYPE 48

/* True when this kernel makes uprobe-multi links (probed once, cached). */
bool umulti_supported(void);

/*
 * One link for `n` uprobes (uretprobes when `ret`) of program `prog_fd`,
 * loaded with expected attach type UMULTI_ATTACH_TYPE, at `offsets` in
 * file `path`, each with its cookie; only in process `pid` (0: all).
 * Returns the link's file descriptor or a negative errno.
 */
int umulti_attach(int prog_fd, const char *path, const uint64_t *offsets,
		  const uint64_t *cookies, size_t n, pid_t pid, bool ret);

#endif /* SPANPROBE_UMULTI_H */
