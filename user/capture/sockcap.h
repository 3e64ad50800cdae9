/* SPDX-License-Identifier: MIT */
/*
 * Stream capture from socket I/O (bpf/sock.bpf.c): loads and attaches the
 * socket programs on the loader's shared maps and turns their records into
 * stream data (capture/stream.h) for the sink it is given; the protocol
 * stage's verdicts reach the kernel side through sockcap_verdict().
 *
 * Hooks: the raw tracepoints sock_send_length / sock_recv_length (they
 * fire inside socket send/receive only, so unrelated syscalls pay nothing;
 * Linux 6.3 and later) and inet_sock_set_state (socket release).  Older
 * kernels get the fallback, bpf/sock_sys.bpf.c on the raw sys_exit
 * tracepoint: the same records, but every syscall of every process on the
 * host pays for it, so it is said at start.
 */
#ifndef SPANPROBE_SOCKCAP_H
#define SPANPROBE_SOCKCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/stream.h"
#include "spanprobe/events.h"

struct sp_loader;
struct sockcap;

/* Which kernel hooks feed HTTP capture (--http-hooks). */
enum sockcap_hooks {
	SOCKCAP_HOOKS_AUTO = 0,  /* the socket tracepoints if present, else syscalls */
	SOCKCAP_HOOKS_SOCK,      /* sock_send_length / sock_recv_length */
	SOCKCAP_HOOKS_SYSCALLS,  /* sys_exit: the fallback, taxes every syscall */
};

/* "auto", "sock" or "syscalls" into `out`.  Returns 0 or -EINVAL. */
int sockcap_hooks_parse(const char *name, enum sockcap_hooks *out);

struct sockcap_opts {
	uint32_t capture_bytes;   /* payload per read/write, 64..SP_SOCK_CAPTURE_MAX; 0: 1024 */
	uint32_t bpf_conns;       /* BPF map of HTTP connections; full: judged per call, counted. 0: 16384 */
	bool all_processes;       /* node-wide: every process but the daemon, not only tracked ones */
	enum sockcap_hooks hooks; /* AUTO: chosen from what the kernel offers */
	FILE *debug_dump;         /* non-NULL: print every decoded record there */
};

/* Records sockcap_handle() takes. */
static inline bool sockcap_owns(uint16_t type)
{
	return type == SP_EV_SOCK_DATA || type == SP_EV_SOCK_CLOSE;
}

/*
 * Open, configure, load and attach the socket programs (using the shared
 * maps of `l`, which must be open).
 * Says which hooks it uses (-v; a warning when AUTO falls back to the
 * syscall hooks).  Returns NULL with errno set and one message logged:
 * ENOTSUP when the kernel lacks the hooks asked for (or any, for AUTO),
 * EINVAL for bad options, ENOMEM, or what loading/attaching returned.
 */
struct sockcap *sockcap_open(struct sp_loader *l, const struct sockcap_opts *opts);

/* Where stream data goes from now on (before: counted only). */
void sockcap_set_sink(struct sockcap *sc, struct stream_sink sink);

/* A stream_verdict_fn: `ctx` is the struct sockcap. */
int sockcap_verdict(void *ctx, uint64_t conn_id, uint16_t local_port,
		    uint16_t peer_port, enum stream_verdict verdict);

/*
 * Handle one SP_EV_SOCK_DATA / SP_EV_SOCK_CLOSE record of `size` bytes,
 * already validated by the loader (capture/records.h).  Returns 0, or
 * -ENOENT for another record type.  Never stops the poll loop.
 */
int sockcap_handle(struct sockcap *sc, const struct sp_event_header *hdr,
		   size_t size);

struct sockcap_stats {
	uint64_t data_records;
	uint64_t close_records;
	uint64_t payload_bytes;   /* captured bytes received from BPF */
	uint64_t bpf_update_errors;
};

void sockcap_stats(const struct sockcap *sc, struct sockcap_stats *out);

/* Counters: records, payload bytes, map updates that failed. */
void sockcap_report(const struct sockcap *sc, FILE *out);

/*
 * For `spanprobe probes` and -v: the hooks HTTP capture uses here with
 * `hooks` asked for, and why; the fallback when the better hooks are used.
 */
void sockcap_probe_report(FILE *out, enum sockcap_hooks hooks);

/*
 * Stop reading: the programs stay attached until loader_close() (the
 * loader owns the links).  Accepts NULL.
 */
void sockcap_close(struct sockcap *sc);

#endif /* SPANPROBE_SOCKCAP_H */
