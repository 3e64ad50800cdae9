/* SPDX-License-Identifier: MIT */
/*
 * capture/: the kernel hooks -- choosing, loading and attaching them, the
 * ring-buffer reader, kernel feature detection (features.c), reading /proc.
 * It knows no protocol and may include only util/ and the kernel records
 * of include/spanprobe/.
 *
 * BPF life cycle: open -> configure (map sizes) -> load -> attach -> poll
 * -> close.  The loader owns the maps every BPF object shares (the ring
 * buffers: one per CPU in `sp_rings`, or `sp_events` for all; drop
 * counters `sp_drops`, tracked processes `sp_tracked`): they are created
 * with the first object and reused by the others.
 */
#ifndef SPANPROBE_LOADER_H
#define SPANPROBE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/records.h"
#include "capture/rings.h"
#include "spanprobe/events.h"

struct bpf_object;
struct bpf_program;
struct bpf_link;
struct func_bpf;
struct task_bpf;

/*
 * Called for every record read from the ring buffer that passed
 * records_check() (capture/records.h): `size` is the record's size, which
 * its header states too, and fits its type.  Refused records never reach
 * it.  Returns 0, or a negative errno to stop polling.
 */
typedef int (*sp_event_fn)(void *ctx, const struct sp_event_header *hdr,
			   size_t size);

struct sp_loader {
	struct func_bpf *func;
	struct task_bpf *task;
	struct rings rings;   /* the reader, once mapped */
	bool mapped;
	int events_fd, drops_fd, tracked_fd, wake_fd, rings_fd;
	int *ring_fds;        /* the per-CPU ring buffers in sp_rings, or none */
	unsigned int n_rings; /* 0: sp_events alone */
	uint32_t ring_bytes;  /* size of each ring buffer read */
	struct bpf_link **links;
	pid_t *link_owners;   /* links[i]'s process (function probes), or 0 */
	size_t n_links, cap_links;
	int *multi_fds;       /* uprobe-multi links (capture/umulti.h) */
	pid_t *multi_owners;  /* the same for multi_fds[i] */
	size_t n_multi, cap_multi;
	bool multi;           /* function programs attach by uprobe-multi links */
	sp_event_fn on_event;
	void *on_event_ctx;
	uint64_t bad_records; /* refused by records_check() or by no handler */
	struct records_stats records; /* refused records, per reason */
	uint32_t wakeup_bytes; /* every object's rodata sp_wakeup_bytes */
	uint64_t *lost_vals;   /* loader_ring_lost()'s per-CPU values */
	bool follow_children;
	bool all_processes;
};

struct sp_loader_opts {
	uint32_t ringbuf_bytes; /* power of two, >= page size: all ring buffers */
	bool shared_ring;       /* one ring buffer for all CPUs even if per CPU works */
	uint32_t max_processes; /* entries of sp_tracked */
	bool follow_children;   /* track the new processes of tracked ones */
	bool all_processes;     /* node-wide: exec/exit of every process */
	sp_event_fn on_event;
	void *on_event_ctx;
};

/*
 * libbpf's messages go to stderr at -vv only; the last warning is kept to
 * explain a failure (loader_libbpf_last(), "" when none since the last
 * loader_libbpf_forget()).  loader_open() installs this; code that loads
 * programs without a loader calls loader_quiet_libbpf() first.
 */
void loader_quiet_libbpf(void);
const char *loader_libbpf_last(void);
void loader_libbpf_forget(void);

/*
 * The wake-up setting of every BPF object (their rodata sp_wakeup_bytes):
 * each CPU wakes the reader once it has written its share since its last
 * wake-up (bpf/common.bpf.h), and below that the reader's timed poll
 * finds the records.  A share is an eighth of the ring buffer divided
 * between the CPUs, at most LOADER_WAKEUP_MAX bytes.  Batching spares the
 * traced threads a wake-up per record: a wake-up costs the thread that
 * sends it microseconds in a virtual machine, and at the former 32 KiB a
 * CPU it still cost an HTTP call some 90 ns (bench/bpf_stages.py); the
 * cap keeps each burst small enough for the export queue (a few hundred
 * spans a CPU), the eighth leaves the ring room to fill while the reader
 * wakes.  On a machine of many CPUs a share is at least
 * LOADER_WAKEUP_CPU_MIN bytes (a smaller one would wake the reader at
 * nearly every record of a busy CPU), while all the CPUs' shares
 * together stay within half the ring.  An exec record still wakes the
 * reader at once.
 */
#define LOADER_WAKEUP_MAX (128u << 10)
#define LOADER_WAKEUP_CPU_MIN (4u << 10)

/* One CPU's share (rule above) of a ring buffer of `ringbuf_bytes`
 * on `ncpus` CPUs. */
uint32_t loader_wakeup_for(uint32_t ringbuf_bytes, unsigned int ncpus);

/*
 * Per-CPU ring buffers, at most: past that many CPUs share them (CPU i
 * writes to ring i % the count), so the default --ringbuf-size still
 * gives each 256 KiB on a large machine.
 */
#define LOADER_RINGS_MAX 16u

/*
 * Each of `n` per-CPU ring buffers out of `total` bytes: the largest
 * power of two within total / n, at least a page (so on many CPUs a small
 * --ringbuf-size grows to a page each).
 */
uint32_t loader_ring_bytes(uint32_t total, unsigned int n, uint32_t page);

/*
 * The ring buffers loader_open() chose: how many per CPU in sp_rings (0:
 * sp_events alone, for all CPUs), each object's rodata sp_ring_count,
 * set like sp_wakeup_bytes before load; and the size of each.
 */
unsigned int loader_ring_count(const struct sp_loader *l);
uint32_t loader_ring_size(const struct sp_loader *l);

/*
 * The wake-up setting loader_open() computed and gave its own objects;
 * the loader of any other object sets it as that object's rodata
 * sp_wakeup_bytes before load.
 */
uint32_t loader_wakeup_bytes(const struct sp_loader *l);

/* Records refused before any handler, per reason (see capture/records.h). */
const struct records_stats *loader_record_stats(const struct sp_loader *l);

/* Records refused by the table or by every handler, in all. */
uint64_t loader_bad_records(const struct sp_loader *l);

/* A valid record that no handler takes (its stage is off): counted bad. */
void loader_count_unhandled(struct sp_loader *l);

/*
 * Open, size and load the base objects (function probes, task life cycle)
 * and attach the task tracepoints.  Returns 0, or a negative errno with
 * one clear message logged (no root, no BTF, BPF refused...).
 */
int loader_open(struct sp_loader *l, const struct sp_loader_opts *opts);

/*
 * Map the ring buffers for reading (loader_poll() does it if not done).
 * Call once every object is loaded: the mapping counts twice the ring's
 * size in RSS at once, and loading parses the kernel's BTF (some 10 MB
 * for a while) for each object: apart, the two make a lower peak.
 * Records written before wait in the ring.  Returns 0 or a negative errno
 * (said).
 */
int loader_map_ring(struct sp_loader *l);

/*
 * Make `obj` (opened, not yet loaded) use the shared maps.  Call before
 * loading any other spanprobe BPF object.  Returns 0 or a negative errno.
 */
int loader_share_maps(struct sp_loader *l, struct bpf_object *obj);

/* Keep `link` and destroy it in loader_close().  Returns 0 or -ENOMEM. */
int loader_keep_link(struct sp_loader *l, struct bpf_link *link);

/* The same for a uprobe-multi link's file descriptor (capture/umulti.h),
 * which it closes on failure: 0 or -ENOMEM. */
int loader_keep_multi_fd(struct sp_loader *l, int fd);

/* Add / remove a process in sp_tracked.  Return 0 or a negative errno. */
int loader_track_pid(struct sp_loader *l, pid_t pid);
int loader_untrack_pid(struct sp_loader *l, pid_t pid);

/*
 * Attach the function entry and return programs to the `n` functions at
 * file offsets `offsets` of `path`, for process `pid` (-1: every
 * process), with `probe_ids` as their attach cookies.  Where the kernel
 * has uprobe-multi links that is two links for all of them, else two
 * perf-event links per function.  The links are kept as `pid`'s (for
 * loader_release_functions()) when it is > 0.  Returns 0 or a negative
 * errno; on failure the links made for this call may stay until released.
 */
int loader_attach_functions(struct sp_loader *l, const char *path,
			    const uint64_t *offsets, const uint64_t *probe_ids,
			    size_t n, pid_t pid);

/*
 * Destroy the function links made for process `pid` (> 0), at once: a
 * followed child that ended, or whose attach failed half way.  Returns
 * how many links went.
 */
size_t loader_release_functions(struct sp_loader *l, pid_t pid);

/*
 * Wait up to `timeout_ms` for records and hand all available ones to the
 * callback.  Returns the number of records handled, -EINTR when a signal
 * came, or another negative errno.
 */
int loader_poll(struct sp_loader *l, int timeout_ms);

/* Sum the per-CPU drop counters into out[SP_DROP_REASON_MAX]. */
int loader_read_drops(struct sp_loader *l, uint64_t *out);

/* Records lost so far because the ring buffer was full (one lookup):
 * read after every poll, to tell the decoders.  0 when unknown. */
uint64_t loader_ring_lost(struct sp_loader *l);

/* Detach every program; records already written can still be polled. */
void loader_detach(struct sp_loader *l);

/* Detach everything and free.  Accepts a zeroed, never-opened loader. */
void loader_close(struct sp_loader *l);

#endif /* SPANPROBE_LOADER_H */
