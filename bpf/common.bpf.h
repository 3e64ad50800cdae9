/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Maps and helpers shared by every spanprobe BPF object.  Each object
 * declares these maps; the loader creates them once and hands the same file
 * descriptors to the other objects (bpf_map__reuse_fd), so there is one ring
 * buffer, one drop table and one set of tracked processes per daemon.
 */
#ifndef SPANPROBE_COMMON_BPF_H
#define SPANPROBE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "spanprobe/events.h"

/* Size is a setting: the loader overrides max_entries before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} sp_events SEC(".maps");

/*
 * Or one ring buffer per CPU (up to LOADER_RINGS_MAX; past that CPUs
 * share them): producers on different CPUs then never take the same lock
 * nor pass the ring's positions between their caches at every record.
 * The daemon merges the rings in time order (user/capture/rings.h).  The
 * loader makes the rings (the first is the template of the values) and
 * sets sp_ring_count in every object before load; 0: sp_events alone.
 */
struct sp_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct sp_ring);
} sp_rings SEC(".maps");

const volatile __u32 sp_ring_count = 0;

/* Per-CPU counters indexed by enum sp_drop_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SP_DROP_REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sp_drops SEC(".maps");

/* Processes the daemon follows (tgid -> flags).  Size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} sp_tracked SEC(".maps");

/* Bytes this CPU wrote since it last woke the reader (one shared map, as
 * the others: the loader hands every object the same). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sp_wake_acct SEC(".maps");

/*
 * Wake the reader each time this CPU has written another this many bytes
 * to the ring buffer; below that the reader finds them at its next timed
 * poll, which bounds the delay.  A wake-up per record costs the traced
 * thread more than the record itself: the ring buffer's wake-up is an
 * interrupt the CPU sends itself, a trap to the hypervisor in a virtual
 * machine (microseconds).  The count is the CPU's own (sp_wake_acct), not
 * the ring buffer's backlog: asking the ring buffer for its backlog reads
 * the reader's position, a cache line the reader's CPU writes, and that
 * miss cost every HTTP call some 60 ns (bench/bpf_stages.py).  The
 * loader gives each CPU its share of an eighth of the ring buffer
 * (loader_wakeup_for()), so the bytes all CPUs leave waiting between two
 * wake-ups stay within it.  0: the ring buffer's own choice (wake when
 * the reader has caught up).  The loader computes it from the ring-buffer
 * size and the CPUs and sets it in every object before load.
 */
const volatile __u32 sp_wakeup_bytes = 0;

/*
 * bench/bpf_stages.py's build only (SP_BPF_STAGES, `make bench-stages`):
 * a socket call stops after stage sp_stage, which the bench sets in the
 * loaded objects' .data between rounds, to measure where an HTTP call's
 * time goes (sampling profilers cannot see inside the programs on
 * hypervisors that deliver their interrupts only where the kernel
 * re-enables them).  Compiled out of every other build.
 */
#ifdef SP_BPF_STAGES
volatile __u32 sp_stage = 99;
#define SP_STAGE(n) (sp_stage == (n))
#else
#define SP_STAGE(n) false
#endif

static __always_inline void common__count_drop(__u32 reason)
{
	__u64 *count = bpf_map_lookup_elem(&sp_drops, &reason);

	if (count)
		*count += 1;
}

static __always_inline int common__is_tracked(__u32 tgid)
{
	return bpf_map_lookup_elem(&sp_tracked, &tgid) != NULL;
}

/*
 * Fill the common header of a record about the current task, its clock
 * `ts_ns` read before the record's space was reserved: the daemon's merge
 * of the per-CPU ring buffers relies on no record being later than its
 * reservation (user/capture/rings.h).
 */
static __always_inline void common__fill_header_at(struct sp_event_header *hdr,
						   __u16 type, __u16 size, __u64 ts_ns)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	hdr->type = type;
	hdr->size = size;
	hdr->version = SP_EVENT_VERSION;
	hdr->flags = 0;
	hdr->cpu = (__u16)bpf_get_smp_processor_id();
	hdr->pid = pid_tgid >> 32;
	hdr->tid = (__u32)pid_tgid;
	hdr->ts_ns = ts_ns;
}

/* The same, for a record built before it is written (bpf_ringbuf_output). */
static __always_inline void common__fill_header(struct sp_event_header *hdr,
						__u16 type, __u16 size)
{
	common__fill_header_at(hdr, type, size, bpf_ktime_get_ns());
}

/* This CPU's ring buffer (CPU i writes to ring i % sp_ring_count); NULL
 * only if the loader left its slot empty. */
static __always_inline void *common__cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id() % sp_ring_count;

	return bpf_map_lookup_elem(&sp_rings, &cpu);
}

/* bpf_ringbuf_reserve() in the ring buffer this record goes to.  The
 * verifier knows sp_ring_count (read-only data): one branch is loaded. */
static __always_inline void *common__ring_reserve(__u32 size)
{
	void *ring;

	if (!sp_ring_count)
		return bpf_ringbuf_reserve(&sp_events, size, 0);
	ring = common__cpu_ring();
	return ring ? bpf_ringbuf_reserve(ring, size, 0) : NULL;
}

/* bpf_ringbuf_output() likewise; non-zero: not written. */
static __always_inline long common__ring_output(void *data, __u32 size, __u64 flags)
{
	void *ring;

	if (!sp_ring_count)
		return bpf_ringbuf_output(&sp_events, data, size, flags);
	ring = common__cpu_ring();
	return ring ? bpf_ringbuf_output(ring, data, size, flags) : -1;
}

/*
 * Reserve a record of `size` bytes and fill its header.  Returns NULL (and
 * counts the drop) when the ring buffer is full.
 */
static __always_inline void *common__reserve(__u16 type, __u16 size)
{
	__u64 ts_ns = bpf_ktime_get_ns();
	struct sp_event_header *hdr = common__ring_reserve(size);

	if (!hdr) {
		common__count_drop(SP_DROP_RINGBUF_FULL);
		return NULL;
	}
	common__fill_header_at(hdr, type, size, ts_ns);
	return hdr;
}

/* A record takes its size and the ring buffer's 8-byte header, rounded. */
#define COMMON_RB_SPACE(size) ((((__u64)(size)) + 8 + 7) & ~7ULL)

/*
 * The submit flags for a record of `type` and `size` bytes: the one
 * wake-up policy of every object, for bpf_ringbuf_submit() and
 * bpf_ringbuf_output() alike.  A program interrupted on its CPU by
 * another between the read and the write of the count may lose a
 * record's bytes from it: a later wake-up, or the timed poll.
 */
static __always_inline __u64 common__wakeup_flags(__u16 type, __u32 size)
{
	__u32 zero = 0;
	__u64 *acct;

	/* The exceptions: an exec wakes the reader at once, which reads
	 * /proc/PID (command line, cgroup) for the new program's resource
	 * while the process still runs; a short-lived one would be gone by
	 * the next timed poll.  A followed fork does too: the new process's
	 * calls before the daemon attaches its function probes are missed.
	 * Both are rare next to the other records. */
	if (type == SP_EV_PROC_EXEC || type == SP_EV_PROC_FORK)
		return BPF_RB_FORCE_WAKEUP;
	if (!sp_wakeup_bytes)
		return 0;
	acct = bpf_map_lookup_elem(&sp_wake_acct, &zero);
	if (!acct)
		return 0;
	*acct += COMMON_RB_SPACE(size);
	if (*acct < (SP_STAGE(98) ? 4 * (__u64)sp_wakeup_bytes : sp_wakeup_bytes))
		return BPF_RB_NO_WAKEUP;
	*acct = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/* Submit a record reserved with common__reserve(). */
static __always_inline void common__submit(void *record)
{
	const struct sp_event_header *hdr = record;

	bpf_ringbuf_submit(record, common__wakeup_flags(hdr->type, hdr->size));
}

#endif /* SPANPROBE_COMMON_BPF_H */
