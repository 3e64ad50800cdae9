/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Life cycle of tracked processes: thread exit (so the daemon frees the
 * thread's open spans) and exec (so it refreshes the process's resource).
 * Raw tracepoints: they need no tracefs and fire only on exit/exec, which
 * are rare next to the events we trace.
 */
#include "common.bpf.h"

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

	return task__emit(SP_EV_THREAD_EXIT, BPF_CORE_READ(task, exit_code));
}

SEC("raw_tracepoint/sched_process_exec")
int sp_proc_exec(struct bpf_raw_tracepoint_args *ctx)
{
	return task__emit(SP_EV_PROC_EXEC, 0);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
