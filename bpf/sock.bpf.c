/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Socket I/O capture for HTTP spans, without tracing every syscall.
 *
 * The socket send/receive tracepoints fire inside the kernel's socket
 * send/receive only, after the bytes moved, so unrelated syscalls of every
 * process pay nothing (attaching to sys_enter/sys_exit would tax them all;
 * sock_sys.bpf.c does that, as the fallback for kernels before 6.3).
 * From there the saved user registers give the syscall and its user
 * buffer, which already holds the data for a receive.  Only TCP sockets
 * (IPv4, IPv6) are reported; unix sockets, files, pipes and ttys never
 * reach here or are dropped by the first checks.
 *
 * Per connection (key: the kernel socket) a small map remembers whether
 * the bytes are HTTP; an unknown connection is reported only for a call
 * whose first bytes look like the start of an HTTP message.  The entry is
 * deleted when TCP releases the socket.
 */
#include "sock_capture.bpf.h"

static __always_inline int sock__handle(struct sock *sk, int ret, int flags,
					__u8 dir)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pt_regs *regs;
	struct sock_io io;
	bool has_buf;
	__s32 fd;
	int family;
	long nr;

	if (ret < 0 || (flags & SOCK_MSG_PEEK))
		return 0;
	/* The family first: one read, and it turns away the local (AF_UNIX)
	 * traffic every desktop and container runtime is full of. */
	family = sock_capture__tcp_family(sk);
	if (!family || !sock_capture__wanted_task(tgid))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = SOCK_REGS_NR(regs);
	has_buf = sock_capture__locate(regs, nr, &io);
	if (!sock_capture__wanted_bytes(sk, &io, ret, has_buf))
		return 0;
	/* Every call here takes the socket first, but splice (its output). */
	fd = has_buf || nr == SOCK_NR_SENDFILE ? (__s32)SOCK_REGS_ARG1(regs) : -1;
	sock_capture__emit(sk, family, &io, has_buf, fd, nr, ret, dir);
	return 0;
}

SEC("raw_tracepoint/sock_send_length")
int sp_sock_send(struct bpf_raw_tracepoint_args *ctx)
{
	return sock__handle((struct sock *)ctx->args[0], (int)ctx->args[1],
			    (int)ctx->args[2], SP_SOCK_SEND);
}

SEC("raw_tracepoint/sock_recv_length")
int sp_sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
	return sock__handle((struct sock *)ctx->args[0], (int)ctx->args[1],
			    (int)ctx->args[2], SP_SOCK_RECV);
}

SEC("raw_tracepoint/inet_sock_set_state")
int sp_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__state_changed(ctx);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
