/* SPDX-License-Identifier: MIT */
/*
 * The kernel hooks HTTP capture runs on, and how they are chosen.  Four
 * hook sets write the same records (bpf/sock_capture.bpf.h); in order of
 * preference:
 *   sock      raw tracepoints sock_send_length / sock_recv_length (6.3+);
 *   fentry    fexit on the TCP send/receive functions (BPF trampolines);
 *   kprobes   kprobes + kretprobes on the same functions;
 *   syscalls  raw tracepoint sys_exit: every syscall on the host pays.
 * The first three tax only TCP I/O.  AUTO takes the first set that loads
 * and attaches here, never a guess from the kernel version; a set asked
 * for by name is that set or nothing.  Each set also has
 * inet_sock_set_state for the release of a connection.
 */
#ifndef SPANPROBE_SOCKHOOKS_H
#define SPANPROBE_SOCKHOOKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sp_loader;
struct sockhooks;

/* Which kernel hooks feed HTTP capture (--http-hooks, $SPANPROBE_HTTP_HOOKS). */
enum sockcap_hooks {
	SOCKCAP_HOOKS_AUTO = 0,  /* the first of the sets below that works */
	SOCKCAP_HOOKS_SOCK,      /* sock_send_length / sock_recv_length */
	SOCKCAP_HOOKS_FENTRY,    /* fexit on tcp_sendmsg, inet_recvmsg... */
	SOCKCAP_HOOKS_KPROBES,   /* kprobes + kretprobes on the same */
	SOCKCAP_HOOKS_SYSCALLS,  /* sys_exit: the last resort, taxes every syscall */
	SOCKCAP_HOOKS_COUNT,
};

/* "auto", "sock", "fentry", "kprobes" or "syscalls" into `out`.
 * Returns 0 or -EINVAL. */
int sockhooks_parse(const char *name, enum sockcap_hooks *out);

/* The names sockhooks_parse() takes, comma-separated (for messages). */
const char *sockhooks_names(void);

const char *sockhooks_name(enum sockcap_hooks hooks);

/* What the BPF objects are configured with before load. */
struct sockhooks_settings {
	uint32_t capture_bytes;  /* payload bytes per call */
	uint32_t bpf_conns;      /* entries of the per-connection verdict map */
	uint32_t wakeup_bytes;   /* ring buffer wake-up rule */
	uint32_t ring_count;     /* per-CPU ring buffers, 0: one (loader_ring_count()) */
	bool all_processes;      /* node-wide, not only the tracked processes */
};

/*
 * Load and attach the hooks `want` names, or for AUTO the first set that
 * loads and attaches, on the shared maps of `l`; the loader keeps the
 * links.  Says which it chose and why (info; a warning when AUTO ends on
 * sys_exit; an error when none works).  NULL: errno is set (ENOTSUP when
 * the kernel has none of the hooks asked for).
 */
struct sockhooks *sockhooks_open(struct sp_loader *l, enum sockcap_hooks want,
				 const struct sockhooks_settings *s);

enum sockcap_hooks sockhooks_kind(const struct sockhooks *h);

/* The per-connection verdict map (sp_sock_conns). */
int sockhooks_conns_fd(const struct sockhooks *h);

/* A map of the loaded object by name (for objects that share it), or -1. */
int sockhooks_map_fd(const struct sockhooks *h, const char *name);

/*
 * The daemon's verdict `state` (enum sp_sock_conn_state, `whole` as
 * struct sp_sock_conn's) for stream `sock_id`, just written to
 * sp_sock_conns, copied into its slot of sp_sock_known when the slot
 * holds that connection (else the kernel reads the map).  0 or -errno.
 */
int sockhooks_known_set(const struct sockhooks *h, uint64_t sock_id, uint16_t local_port,
			uint16_t peer_port, uint8_t state, uint8_t whole);

/* Accepts NULL.  The links stay with the loader. */
void sockhooks_destroy(struct sockhooks *h);

/*
 * For `spanprobe probes` and -v: tries every set in order (load, attach,
 * detach), says for each whether it works here and why not, then which
 * one `want` chooses.
 */
void sockhooks_probe_report(FILE *out, enum sockcap_hooks want);

#endif /* SPANPROBE_SOCKHOOKS_H */
