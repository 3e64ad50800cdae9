/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Socket I/O capture from the syscall exit: the fallback for kernels
 * without the socket send/receive tracepoints (before Linux 6.3).
 *
 * A program on the raw sys_exit tracepoint runs for every syscall of every
 * process on the host, so it leaves at once unless the call is one that
 * moves socket bytes (read, write, readv, writev, sendto, recvfrom,
 * sendmsg, recvmsg, sendfile, splice), succeeded, and comes from a wanted
 * task.  Only the exit is hooked: at exit the saved user registers still
 * hold the call's arguments and the buffer holds the bytes of a receive,
 * so nothing needs remembering from the entry, and a second program per
 * syscall would double the tax.  The descriptor is then resolved through
 * the task's file table; anything but a TCP socket is dropped there.  From
 * that point on the capture is the one sock.bpf.c uses too
 * (sock_capture.bpf.h): same records, same HTTP check, same connection
 * map, same drop counters.
 *
 * Connection release keeps inet_sock_set_state (Linux 4.16, older than
 * every other hook spanprobe needs).
 */
/* Inlined here: see sock_capture_plaintext(). */
#define SOCK_PLAINTEXT_INLINE
#include "sock_capture.bpf.h"

/* The socket end of a splice: its output, else its input. */
static __always_inline struct sock *sys__splice_sock(struct task_struct *task,
						     struct pt_regs *regs,
						     __s32 *fd, __u8 *dir)
{
	struct sock *sk;

	*fd = (__s32)SOCK_REGS_ARG3(regs);
	*dir = SP_SOCK_SEND;
	sk = sock_capture__fd_sock(task, *fd);
	if (sk)
		return sk;
	*fd = (__s32)SOCK_REGS_ARG1(regs);
	*dir = SP_SOCK_RECV;
	return sock_capture__fd_sock(task, *fd);
}

/* A receive that only peeks leaves the bytes for the next call. */
static __always_inline bool sys__peeks(struct pt_regs *regs, long nr)
{
	if (nr == SOCK_NR_RECVFROM)
		return SOCK_REGS_ARG4(regs) & SOCK_MSG_PEEK;
	if (nr == SOCK_NR_RECVMSG)
		return SOCK_REGS_ARG3(regs) & SOCK_MSG_PEEK;
	return false;
}

static __always_inline __u8 sys__direction(long nr)
{
	switch (nr) {
	case SOCK_NR_READ:
	case SOCK_NR_READV:
	case SOCK_NR_RECVFROM:
	case SOCK_NR_RECVMSG:
		return SP_SOCK_RECV;
	}
	return SP_SOCK_SEND;
}

/* A wanted task's socket call returned `ret` >= 0 bytes: report it. */
static __always_inline int sys__handle(long nr, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct sp_sock_conn *conn;
	struct pt_regs *regs;
	struct sock_io io;
	struct sock *sk;
	bool has_buf;
	__u32 ports;
	__s32 fd;
	__u8 dir;
	int family;

	if (SOCK_TASK_COMPAT(task))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (nr == SOCK_NR_SPLICE) {
		sk = sys__splice_sock(task, regs, &fd, &dir);
	} else {
		fd = (__s32)SOCK_REGS_ARG1(regs);
		dir = sys__direction(nr);
		sk = sock_capture__fd_sock(task, fd);
	}
	if (!sk || sys__peeks(regs, nr))
		return 0;
	family = sock_capture__unjudged(sk, &ports);
	if (!family)
		return 0;
	has_buf = sock_capture__locate(regs, nr, &io);
	sock_capture__tls_send(sk, family, &io, has_buf, ret, dir);
	if (!sock_capture__wanted_bytes(sk, ports, false, &io, ret, has_buf, dir, &conn))
		return 0;
	sock_capture__emit(sk, family, ports, &io, has_buf, fd, nr, ret, dir, false, conn);
	return 0;
}

/*
 * sys_exit(regs, ret) runs for every syscall on the host: the checks are
 * ordered cheapest first, and the syscall number is read with one probe
 * from the registers the tracepoint hands over.
 */
SEC("raw_tracepoint/sys_exit")
int sp_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *uregs = (struct pt_regs *)ctx->args[0];
	__typeof__(SOCK_REGS_NR(uregs)) nr;
	long ret = (long)ctx->args[1];

	/* Sizes above INT_MAX do not happen on sockets; the record holds 32 bits. */
	if (ret < 0 || ret > 0x7fffffff)
		return 0;
	if (bpf_core_read(&nr, sizeof(nr), &SOCK_REGS_NR(uregs)) ||
	    !sys__socket_call(nr))
		return 0;
	if (!sock_capture__wanted_task(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return sys__handle(nr, ret);
}

SEC("raw_tracepoint/inet_sock_set_state")
int sp_sys_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__state_changed(ctx);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
