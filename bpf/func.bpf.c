/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Function spans: one uprobe at the entry and one uretprobe at the return of
 * every traced symbol.  The symbol is identified by the attach cookie the
 * loader sets to its probe id, so one program serves every symbol.
 * Pairing and nesting happen in the daemon; here we only record, and only
 * for the processes the daemon tracks: links are per process, except a
 * uprobe-multi link for a process whose main thread has exited, which
 * must be made for every process of the file (the kernel filters a
 * multi link by the main thread's memory, gone with it).
 */
#include "common.bpf.h"

static __always_inline int func__emit(struct pt_regs *ctx, __u16 type)
{
	struct sp_func_event *ev;

	if (!common__is_tracked((__u32)(bpf_get_current_pid_tgid() >> 32)))
		return 0;
	ev = common__reserve(type, sizeof(*ev));
	if (!ev)
		return 0;
	ev->probe_id = (__u32)bpf_get_attach_cookie(ctx);
	ev->reserved = 0;
	ev->stack_ptr = PT_REGS_SP(ctx);
	common__submit(ev);
	return 0;
}

SEC("uprobe")
int sp_func_entry(struct pt_regs *ctx)
{
	return func__emit(ctx, SP_EV_FUNC_ENTRY);
}

SEC("uretprobe")
int sp_func_return(struct pt_regs *ctx)
{
	return func__emit(ctx, SP_EV_FUNC_RETURN);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
