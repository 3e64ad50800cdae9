/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Socket I/O capture on fexit: for kernels that have BPF trampolines but
 * not the socket send/receive tracepoints (before Linux 6.3).
 *
 * A trampoline is put on the TCP send and receive functions only, so
 * nothing but TCP I/O pays for it: no tax on other syscalls, pipes, files
 * or local sockets.  The functions are the ones every way of moving TCP
 * bytes from user space goes through, whatever the syscall:
 *   tcp_sendmsg            write, writev, send, sendto, sendmsg; and since
 *                          Linux 6.5 sendfile and splice (MSG_SPLICE_PAGES);
 *   tcp_sendpage           sendfile and splice before Linux 6.5 (absent
 *                          after: the loader leaves that program out);
 *   inet_recvmsg,
 *   inet6_recvmsg          read, readv, recv, recvfrom, recvmsg (the socket
 *                          layer calls them directly, so they are never
 *                          inlined; tcp_recvmsg changed its arguments in 5.19).
 * fexit sees the arguments and the return value together: the call is
 * handled after the bytes moved, like the tracepoints do, by the same code
 * (sock_capture__in_call() in sock_capture.bpf.h).
 */
#include "sock_capture.bpf.h"

/*
 * The socket, first argument of the send functions, as a plain address:
 * fexit hands it over as a typed pointer, on which the verifier refuses
 * the arithmetic of the capture's tables (a hash of the address).  The
 * receive functions' socket comes from a probe read already.
 */
static __always_inline struct sock *fexit__sock_arg(unsigned long long *ctx)
{
	__u64 sk = 0;

	bpf_probe_read_kernel(&sk, sizeof(sk), ctx);
	return (struct sock *)sk;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(sp_fexit_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size,
	     int ret)
{
	return sock_capture__in_call(fexit__sock_arg(ctx), ret, 0, SP_SOCK_SEND);
}

SEC("fexit/tcp_sendpage")
int BPF_PROG(sp_fexit_tcp_sendpage, struct sock *sk, struct page *page, int offset,
	     size_t size, int flags, int ret)
{
	return sock_capture__in_call(fexit__sock_arg(ctx), ret, 0, SP_SOCK_SEND);
}

SEC("fexit/inet_recvmsg")
int BPF_PROG(sp_fexit_inet_recvmsg, struct socket *sock, struct msghdr *msg,
	     size_t size, int flags, int ret)
{
	return sock_capture__in_call(BPF_CORE_READ(sock, sk), ret, flags, SP_SOCK_RECV);
}

SEC("fexit/inet6_recvmsg")
int BPF_PROG(sp_fexit_inet6_recvmsg, struct socket *sock, struct msghdr *msg,
	     size_t size, int flags, int ret)
{
	return sock_capture__in_call(BPF_CORE_READ(sock, sk), ret, flags, SP_SOCK_RECV);
}

SEC("raw_tracepoint/inet_sock_set_state")
int sp_fexit_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__state_changed(ctx);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
