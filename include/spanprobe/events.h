/* SPDX-License-Identifier: MIT */
/*
 * Records that cross the kernel boundary: written by the BPF programs into
 * the ring buffer, read by the daemon.  This is the only header both sides
 * include.
 *
 * Rules (a mismatch must fail the build, not the run):
 *  - fixed-width types only, little-endian (x86-64 and arm64 BPF both are),
 *    no pointers, no `long`, explicit padding;
 *  - every record starts with struct sp_event_header;
 *  - type numbers never change meaning: new records are appended and
 *    SP_EVENT_VERSION is raised when an existing layout changes.
 */
#ifndef SPANPROBE_EVENTS_H
#define SPANPROBE_EVENTS_H

#ifdef __BPF__
/* vmlinux.h already defines __u8 .. __u64. */
#else
#include <linux/types.h>
#endif

#define SP_EVENT_VERSION 1

enum sp_event_type {
	SP_EV_FUNC_ENTRY = 1,  /* struct sp_func_event: a traced function was entered */
	SP_EV_FUNC_RETURN = 2, /* struct sp_func_event: a traced function returned */
	SP_EV_THREAD_EXIT = 3, /* struct sp_task_event: a thread of a tracked process exited */
	SP_EV_PROC_EXEC = 4,   /* struct sp_task_event: a tracked process called exec */
	SP_EV_TYPE_MAX,
};

/* Common first member of every record (24 bytes). */
struct sp_event_header {
	__u16 type;    /* enum sp_event_type */
	__u16 size;    /* size of the whole record in bytes */
	__u8 version;  /* SP_EVENT_VERSION of the writer */
	__u8 flags;
	__u16 cpu;     /* CPU that wrote the record */
	__u32 pid;     /* process (thread-group) id */
	__u32 tid;     /* thread id */
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/*
 * Entry and return of a function traced by a uprobe/uretprobe pair.
 * stack_ptr pairs a return with its entry: at entry the stack pointer
 * addresses the return address; after `ret` has popped it, the return probe
 * sees stack_ptr + 8 (x86-64).  Pairing by stack pointer, not by depth,
 * survives lost records, longjmp and recursion.
 */
struct sp_func_event {
	struct sp_event_header hdr;
	__u32 probe_id;  /* index of the symbol in the daemon's probe table */
	__u32 reserved;
	__u64 stack_ptr;
};

#define SP_COMM_LEN 16

/* Thread exit and exec of a tracked process. */
struct sp_task_event {
	struct sp_event_header hdr;
	__u32 exit_code; /* SP_EV_THREAD_EXIT: task->exit_code */
	__u32 reserved;
	char comm[SP_COMM_LEN];
};

/*
 * Indexes of the per-CPU drop counters every BPF object exports as map
 * `sp_drops`: where a record could not be written, it is counted here.
 */
enum sp_drop_reason {
	SP_DROP_RINGBUF_FULL = 0,   /* bpf_ringbuf_reserve failed */
	SP_DROP_READ_FAILED = 1,    /* bpf_probe_read_* failed */
	SP_DROP_MAP_FULL = 2,       /* a state map had no room */
	SP_DROP_REASON_MAX = 8,
};

#define SP_ASSERT_LAYOUT(type, size_)                                          \
	_Static_assert(sizeof(type) == (size_), #type " layout changed")

SP_ASSERT_LAYOUT(struct sp_event_header, 24);
SP_ASSERT_LAYOUT(struct sp_func_event, 40);
SP_ASSERT_LAYOUT(struct sp_task_event, 48);
_Static_assert(__builtin_offsetof(struct sp_func_event, stack_ptr) == 32,
	       "sp_func_event.stack_ptr moved");

#endif /* SPANPROBE_EVENTS_H */
