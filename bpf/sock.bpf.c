/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Socket I/O capture for HTTP spans, without tracing every syscall.
 *
 * The socket send/receive tracepoints fire inside the kernel's socket
 * send/receive only, after the bytes moved, so unrelated syscalls of every
 * process pay nothing (attaching to sys_enter/sys_exit would tax them all;
 * sock_sys.bpf.c does that, as the last resort for kernels before 6.3;
 * sock_fexit.bpf.c and sock_kprobe.bpf.c come first where they work).
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

SEC("raw_tracepoint/sock_send_length")
int sp_sock_send(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__in_call((struct sock *)ctx->args[0], (int)ctx->args[1],
				     (int)ctx->args[2], SP_SOCK_SEND);
}

SEC("raw_tracepoint/sock_recv_length")
int sp_sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__in_call((struct sock *)ctx->args[0], (int)ctx->args[1],
				     (int)ctx->args[2], SP_SOCK_RECV);
}

SEC("raw_tracepoint/inet_sock_set_state")
int sp_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__state_changed(ctx);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
