/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The floors, for the benchmarks only.  Function tracing: a uprobe and a
 * uretprobe that each write one 24-byte record to a ring buffer, nothing
 * else.  Socket capture: on the socket send/receive tracepoints, a call
 * on an IPv4/IPv6 socket writes one record of the size spanprobe's data
 * record has before its payload (88 bytes), with the time and the task,
 * nothing else: what reporting a call costs at the least; and beside
 * them, programs that read the socket once and stop.  spanprobe's
 * cost per call is compared with these in the same run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} bare_events SEC(".maps");

struct bare_record {
	__u64 ts;
	__u64 pid_tgid;
	__u64 kind;
};

static __always_inline int emit(__u64 kind)
{
	struct bare_record *r = bpf_ringbuf_reserve(&bare_events, sizeof(*r), 0);

	if (!r)
		return 0;
	r->ts = bpf_ktime_get_ns();
	r->pid_tgid = bpf_get_current_pid_tgid();
	r->kind = kind;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/* The first 88 bytes of a socket data record, in size only. */
struct bare_sock_record {
	__u64 ts;
	__u64 pid_tgid;
	__u64 sk;
	__u64 len;
	__u8 rest[56];
};

static __always_inline int emit_sock(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];
	struct bare_sock_record *r;
	__u16 family = 0;

	bpf_probe_read_kernel(&family, sizeof(family), &sk->__sk_common.skc_family);
	if (family != 2 && family != 10) /* AF_INET, AF_INET6 */
		return 0;
	r = bpf_ringbuf_reserve(&bare_events, sizeof(*r), 0);
	if (!r)
		return 0;
	r->ts = bpf_ktime_get_ns();
	r->pid_tgid = bpf_get_current_pid_tgid();
	r->sk = (__u64)sk;
	r->len = ctx->args[1];
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tracepoint/sock_send_length")
int bare_sock_send(struct bpf_raw_tracepoint_args *ctx)
{
	return emit_sock(ctx);
}

SEC("raw_tracepoint/sock_recv_length")
int bare_sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
	return emit_sock(ctx);
}

/*
 * The other floor: one read of the socket (its ports and family, as
 * spanprobe's first check reads them) and nothing else, what turning a
 * call away costs at the least: the tracepoint's dispatch, the kernel's
 * timing of the run, the read.
 */
static __always_inline int read_sock(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];
	__u64 w = 0;

	bpf_probe_read_kernel(&w, sizeof(w), &sk->__sk_common.skc_portpair);
	return w == 0;
}

SEC("raw_tracepoint/sock_send_length")
int bare_read_send(struct bpf_raw_tracepoint_args *ctx)
{
	return read_sock(ctx);
}

SEC("raw_tracepoint/sock_recv_length")
int bare_read_recv(struct bpf_raw_tracepoint_args *ctx)
{
	return read_sock(ctx);
}

SEC("uprobe")
int bare_entry(void *ctx)
{
	return emit(1);
}

SEC("uretprobe")
int bare_return(void *ctx)
{
	return emit(2);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
