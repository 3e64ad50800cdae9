/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Architecture differences of socket capture: the numbers of the calls that
 * move socket bytes, where the syscall's arguments sit in the saved user
 * registers, and how a 32-bit (compat) task is told.  Everything else in
 * sock_capture.bpf.h, sock.bpf.c and sock_sys.bpf.c is
 * architecture-neutral.
 */
#ifndef SPANPROBE_SOCK_ARCH_BPF_H
#define SPANPROBE_SOCK_ARCH_BPF_H

#if defined(__TARGET_ARCH_x86)
#define SOCK_NR_READ 0
#define SOCK_NR_WRITE 1
#define SOCK_NR_READV 19
#define SOCK_NR_WRITEV 20
#define SOCK_NR_SENDFILE 40
#define SOCK_NR_SENDTO 44
#define SOCK_NR_RECVFROM 45
#define SOCK_NR_SENDMSG 46
#define SOCK_NR_RECVMSG 47
#define SOCK_NR_SPLICE 275
/*
 * Saved user registers: the syscall number and its first three arguments.
 * bpf_task_pt_regs() returns a BTF pointer: plain loads (CO-RE relocated)
 * cost less than a probe read each.
 */
#define SOCK_REGS_NR(regs) ((regs)->orig_ax)
#define SOCK_REGS_ARG1(regs) ((regs)->di)
#define SOCK_REGS_ARG2(regs) ((regs)->si)
#define SOCK_REGS_ARG3(regs) ((regs)->dx)
#define SOCK_REGS_ARG4(regs) ((regs)->r10)
/* A 32-bit call (int 0x80, compat task) numbers its calls differently. */
#define SOCK_TASK_COMPAT(task) ((task)->thread_info.status & 0x0002) /* TS_COMPAT */
#elif defined(__TARGET_ARCH_arm64)
#define SOCK_NR_READ 63
#define SOCK_NR_WRITE 64
#define SOCK_NR_READV 65
#define SOCK_NR_WRITEV 66
#define SOCK_NR_SENDFILE 71
#define SOCK_NR_SENDTO 206
#define SOCK_NR_RECVFROM 207
#define SOCK_NR_SENDMSG 211
#define SOCK_NR_RECVMSG 212
#define SOCK_NR_SPLICE 76
/* x0 is overwritten by the return value only at exit: orig_x0 is safe. */
#define SOCK_REGS_NR(regs) ((regs)->syscallno)
#define SOCK_REGS_ARG1(regs) ((regs)->orig_x0)
#define SOCK_REGS_ARG2(regs) ((regs)->regs[1])
#define SOCK_REGS_ARG3(regs) ((regs)->regs[2])
#define SOCK_REGS_ARG4(regs) ((regs)->regs[3])
#define SOCK_TASK_COMPAT(task) ((task)->thread_info.flags & (1UL << 22)) /* TIF_32BIT */
#else
#error "socket capture: unsupported architecture"
#endif

#endif /* SPANPROBE_SOCK_ARCH_BPF_H */
