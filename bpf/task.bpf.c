/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Life cycle of traced processes: thread exit (so the daemon frees the
 * thread's open spans and, at process exit, the process's state), exec (so
 * it knows the new program, even when the process is gone before the
 * daemon looks at /proc) and, for `trace`, fork (children of a tracked
 * process are tracked too, and reported: the daemon attaches the function
 * probes to them).  Raw tracepoints: no tracefs needed, and they
 * fire only on exit/exec/fork, which are rare next to the events we trace.
 */
#include "common.bpf.h"

/*
 * Tracked processes that ended (tgid -> 1), from the thread that found
 * none of its threads alive, until the main thread's task is freed: a
 * thread that counted itself out before and reaches its exit tracepoint
 * after is still reported (before 6.16 the tracepoint comes after
 * exit_mm(), which wakes a thread waiting in pthread_join(): that thread
 * can end the process first).  sp_tracked loses the process at once.
 * An LRU map: never full; past SP_EXITED_MAX ends awaiting their free (a
 * parent that reaps no child keeps its zombies' entries) the oldest go.
 */
#define SP_EXITED_MAX 1024

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SP_EXITED_MAX);
	__type(key, __u32);
	__type(value, __u8);
} sp_exited SEC(".maps");

/* Set by the loader: track the new processes of tracked processes. */
const volatile bool sp_follow_children = false;
/* Set by the loader for the node-wide mode: report exec and process exit
 * of every process, not only tracked ones. */
const volatile bool sp_task_all = false;

SEC("raw_tracepoint/sched_process_exit")
int sp_thread_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	/* do_exit() counts the thread out of signal->live before this
	 * tracepoint: zero means no thread is left alive, whichever left
	 * first (the main thread may, with pthread_exit).  Threads that exit
	 * together can all read zero, each after it counted itself out. */
	bool process_exit = BPF_CORE_READ(task, signal, live.counter) == 0;
	bool tracked = common__is_tracked(tgid);
	struct sp_task_event *ev;
	__u8 one = 1;

	if (!tracked && !bpf_map_lookup_elem(&sp_exited, &tgid) &&
	    !(sp_task_all && process_exit))
		return 0;
	ev = common__reserve(SP_EV_THREAD_EXIT, sizeof(*ev));
	if (ev) {
		ev->hdr.flags = process_exit ? SP_TASK_F_PROCESS_EXIT : 0;
		ev->exit_code = BPF_CORE_READ(task, exit_code);
		ev->reserved = 0;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		common__submit(ev);
	}
	/* The process is gone: a new process reusing its PID is not ours.
	 * Its late threads still report (sp_exited, first). */
	if (tracked && process_exit) {
		bpf_map_update_elem(&sp_exited, &tgid, &one, BPF_ANY);
		bpf_map_delete_elem(&sp_tracked, &tgid);
	}
	return 0;
}

/*
 * sched_process_free(struct task_struct *p), from the RCU callback that
 * frees a task.  A main thread is freed after it was reaped, which is
 * after every other thread of its process was released, each after its
 * exit record: no thread of the process can still write one.
 */
SEC("raw_tracepoint/sched_process_free")
int sp_proc_free(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(task, tgid);

	/* Every task of the host comes here: a look first, no lock. */
	if (BPF_CORE_READ(task, pid) == tgid && bpf_map_lookup_elem(&sp_exited, &tgid))
		bpf_map_delete_elem(&sp_exited, &tgid);
	return 0;
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tracepoint/sched_process_exec")
int sp_proc_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sp_exec_event *ev;
	const char *filename;

	if (!sp_task_all && !common__is_tracked(tgid))
		return 0;
	ev = common__reserve(SP_EV_PROC_EXEC, sizeof(*ev));
	if (!ev)
		return 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	filename = BPF_CORE_READ(bprm, filename);
	if (bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), filename) < 0) {
		ev->filename[0] = 0;
		common__count_drop(SP_DROP_READ_FAILED);
	}
	/* Woken at once (see common__wakeup_flags()). */
	common__submit(ev);
	return 0;
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int sp_proc_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid, ctgid, cpid, one = 1;
	struct sp_fork_event *ev;

	if (!sp_follow_children)
		return 0;
	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	cpid = BPF_CORE_READ(child, pid);
	/* A new thread shares the tracked tgid already. */
	if (ctgid == ptgid || cpid != ctgid || !common__is_tracked(ptgid))
		return 0;
	if (bpf_map_update_elem(&sp_tracked, &ctgid, &one, BPF_ANY)) {
		common__count_drop(SP_DROP_MAP_FULL);
		return 0;
	}
	/* The function probes are per process: the daemon attaches them to
	 * the child when it reads this (woken at once). */
	ev = common__reserve(SP_EV_PROC_FORK, sizeof(*ev));
	if (!ev)
		return 0;
	ev->child_pid = ctgid;
	ev->reserved = 0;
	common__submit(ev);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
