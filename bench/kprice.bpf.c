/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the kernel charges a BPF program for the helpers spanprobe's
 * socket programs call, for the benchmarks only.  One program, on a
 * uprobe of bench/kprice.c's own function (so that it runs for nothing
 * else), does the step `kp_step` names; bench/kprice.c reads bpf_stats
 * around a run of calls per step.  The copies are the ones a socket
 * program makes: bpf_probe_read_user() from the process's buffer,
 * bpf_probe_read_kernel() from kernel memory.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

enum kp_step {
	KP_EMPTY,	/* nothing */
	KP_USER_8,	/* one bpf_probe_read_user(), 8 bytes */
	KP_USER_256,	/* one bpf_probe_read_user(), 256 bytes */
	KP_USER_2X8,	/* two bpf_probe_read_user(), 8 bytes each */
	KP_KERNEL_8,	/* one bpf_probe_read_kernel(), 8 bytes */
	KP_CLOCK,	/* bpf_ktime_get_ns() */
	KP_PID_TGID,	/* bpf_get_current_pid_tgid() */
	KP_RING_88,	/* an 88-byte ring-buffer record reserved and submitted */
};

volatile const __u64 kp_user_addr;
volatile __u32 kp_step;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} kp_ring SEC(".maps");

struct kp_record {
	__u64 word[11];
};

SEC("uprobe")
int kp_probe(struct pt_regs *ctx)
{
	const void *user = (const void *)kp_user_addr;
	struct kp_record *r;
	__u8 buf[256];

	buf[0] = 0;
	switch (kp_step) {
	case KP_USER_8:
		bpf_probe_read_user(buf, 8, user);
		break;
	case KP_USER_256:
		bpf_probe_read_user(buf, sizeof(buf), user);
		break;
	case KP_USER_2X8:
		bpf_probe_read_user(buf, 8, user);
		bpf_probe_read_user(buf + 8, 8, user + 8);
		break;
	case KP_KERNEL_8:
		/* The saved registers: kernel memory, as a socket is. */
		bpf_probe_read_kernel(buf, 8, ctx);
		break;
	case KP_CLOCK:
		buf[0] = bpf_ktime_get_ns() & 1;
		break;
	case KP_PID_TGID:
		buf[0] = bpf_get_current_pid_tgid() & 1;
		break;
	case KP_RING_88:
		r = bpf_ringbuf_reserve(&kp_ring, sizeof(*r), 0);
		if (r) {
			r->word[0] = 1;
			bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
		}
		break;
	}
	/* The copies are used, so none is left out. */
	return buf[0] == 0xff;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
