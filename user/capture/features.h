/* SPDX-License-Identifier: MIT */
/*
 * What this kernel offers: detected once at start, cached, reported by
 * `spanprobe probes` and at start with -v, so users see which hooks
 * spanprobe chose and why.
 */
#ifndef SPANPROBE_FEATURES_H
#define SPANPROBE_FEATURES_H

#include <stdbool.h>
#include <stdio.h>

struct sp_kernel_features {
	bool privileged;      /* root, or CAP_BPF + CAP_PERFMON */
	bool btf;             /* kernel BTF: needed for CO-RE */
	bool ringbuf;
	bool ringbuf_per_cpu; /* ring buffers inside an array of maps (Linux 5.8) */
	bool uprobes;
	bool kprobes;
	bool raw_tracepoints;
	bool tracepoints;     /* tracefs mounted */
	bool fentry;          /* a fentry program loads */
	bool attach_cookie;   /* bpf_get_attach_cookie() (Linux 5.15) */
	bool task_pt_regs;    /* bpf_task_pt_regs() (Linux 5.15) */
	bool bpf_loop;        /* bpf_loop() (Linux 5.17): HTTP/2 frames walked */
	bool uprobe_multi;    /* uprobe-multi links (Linux 6.6) */
	bool sock_length_tp;  /* raw tracepoints sock_send_length/sock_recv_length */
	bool inet_sock_set_state;
	bool sys_exit_tp;     /* raw tracepoint sys_exit (CONFIG_FTRACE_SYSCALLS) */
	char release[160];
};

/*
 * Where the kernel's BTF is read from: /sys/kernel/btf/vmlinux unless the
 * user gave a file (--btf) for a kernel that does not expose it.  Call
 * before features_get().  features_btf_custom_path() is NULL for the default.
 */
void features_set_btf_path(const char *path);
const char *features_btf_custom_path(void);
const char *features_btf_path(void);

/* Probe once (later calls return the cached result). */
const struct sp_kernel_features *features_get(void);

/*
 * Check what every mode needs (privileges, BTF, ring buffer).  Returns 0, or -EPERM / -ENOTSUP with one line logged
 * that says what is missing and what to do.
 */
int features_check_required(void);

/*
 * Function spans need uprobes with attach cookies (one program serves
 * every symbol).  Returns 0, or -ENOTSUP with one line logged; the rest
 * (HTTP capture) runs without them.
 */
int features_check_functions(void);

/* Print the feature table and the hooks spanprobe uses on this kernel. */
void features_report(FILE *out);

#endif /* SPANPROBE_FEATURES_H */
