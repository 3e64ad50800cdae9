/* SPDX-License-Identifier: MIT */
/*
 * Stream capture from socket I/O: loads and attaches the socket programs
 * (the hook set capture/sockhooks.h chooses) on the loader's shared maps
 * and turns their records into stream data (capture/stream.h) for the
 * sink it is given; the protocol stage's verdicts reach the kernel side
 * through sockcap_verdict().
 */
#ifndef SPANPROBE_SOCKCAP_H
#define SPANPROBE_SOCKCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/sockhooks.h"
#include "capture/stream.h"
#include "spanprobe/events.h"

struct sp_loader;
struct sockcap;

/* Entries of the kernel's per-socket verdict map when none is asked. */
#define SOCKCAP_DEFAULT_BPF_CONNS 16384

struct sockcap_opts {
	uint32_t capture_bytes;   /* payload per read/write, 64..SP_SOCK_CAPTURE_MAX; 0: 1024 */
	uint32_t bpf_conns;       /* BPF map of HTTP connections; full: judged per call, counted. 0: 16384 */
	bool all_processes;       /* node-wide: every process but the daemon, not only tracked ones */
	enum sockcap_hooks hooks; /* AUTO: the first hook set that works (capture/sockhooks.h) */
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
 * sys_exit hooks).  Returns NULL with errno set and one message logged:
 * ENOTSUP when the kernel lacks the hooks asked for (or any, for AUTO),
 * EINVAL for bad options, ENOMEM, or what loading/attaching returned.
 */
struct sockcap *sockcap_open(struct sp_loader *l, const struct sockcap_opts *opts);

/*
 * A sockcap with no kernel side: the caller hands it records itself
 * (bench/throughput replays records through the daemon's code).  Verdicts
 * reach no kernel (sockcap_verdict() returns -EBADF).  Returns NULL with
 * errno set (EINVAL for bad options, ENOMEM).
 */
struct sockcap *sockcap_open_detached(const struct sockcap_opts *opts);

/* The hook set in use (for objects that share its maps). */
const struct sockhooks *sockcap_hooks(const struct sockcap *sc);

/* Bytes captured per read/write, the default resolved (TLS uses the same). */
uint32_t sockcap_capture_bytes(const struct sockcap *sc);

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
	uint64_t frame_records;   /* of them, HTTP/2 frames walked by BPF */
	uint64_t close_records;
	uint64_t payload_bytes;   /* captured bytes received from BPF */
	uint64_t bpf_update_errors;
};

void sockcap_stats(const struct sockcap *sc, struct sockcap_stats *out);

/* Counters: records, payload bytes, map updates that failed. */
void sockcap_report(const struct sockcap *sc, FILE *out);

/*
 * Stop reading: the programs stay attached until loader_close() (the
 * loader owns the links).  Accepts NULL.
 */
void sockcap_close(struct sockcap *sc);

#endif /* SPANPROBE_SOCKCAP_H */
