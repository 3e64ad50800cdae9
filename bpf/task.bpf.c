/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Life cycle of tracked processes: thread exit (so the daemon frees the
 * thread's open spans), exec (so it refreshes the process's resource) and,
 * for `trace`, fork (children of a tracked process are tracked too).
 * Raw tracepoints: they need no tracefs and fire only on exit/exec, which
 * are rare next to the events we trace.
 */
#include "common.bpf.h"

/* Set by the loader: track the new processes of tracked processes. */
const volatile bool sp_follow_children = false;

static __always_inline int task__emit(__u16 type, __u32 exit_code)
{
	struct sp_task_event *ev;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!common__is_tracked(tgid))
		return 0;
	ev = common__reserve(type, sizeof(*ev));
	if (!ev)
		return 0;
	ev->exit_code = exit_code;
	ev->reserved = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int sp_thread_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	task__emit(SP_EV_THREAD_EXIT, BPF_CORE_READ(task, exit_code));
	/* The process is gone: a new process reusing its PID is not ours. */
	if ((__u32)pid_tgid == tgid)
		bpf_map_delete_elem(&sp_tracked, &tgid);
	return 0;
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int sp_proc_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid, ctgid, cpid, one = 1;

	if (!sp_follow_children)
		return 0;
	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	cpid = BPF_CORE_READ(child, pid);
	/* A new thread shares the tracked tgid already. */
	if (ctgid == ptgid || cpid != ctgid || !common__is_tracked(ptgid))
		return 0;
	if (bpf_map_update_elem(&sp_tracked, &ctgid, &one, BPF_ANY))
		common__count_drop(SP_DROP_MAP_FULL);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int sp_proc_exec(struct bpf_raw_tracepoint_args *ctx)
{
	return task__emit(SP_EV_PROC_EXEC, 0);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
