/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Socket I/O capture on kprobes + kretprobes: for kernels without BPF
 * trampolines (or where fexit programs are refused) and without the
 * socket send/receive tracepoints.  Same functions as sock_fexit.bpf.c,
 * for the same reasons; only TCP I/O pays.
 *
 * A kretprobe sees only the return value, so the entry probe remembers the
 * socket (and a receive's flags) per thread, for wanted TCP calls only;
 * the return probe takes it back and hands the call to the same code as
 * every other hook set (sock_capture__in_call()).  The kernel keeps a
 * bounded number of return instances per kretprobe: a call that finds
 * none (many threads blocked in receive at once) is missed by the kernel,
 * not by this code.
 */
#include "sock_capture.bpf.h"

/* A socket call in flight, from its entry probe to its return probe. */
struct sock_call {
	struct sock *sk;
	int flags;
};

/*
 * Key: the thread (a thread is in one socket call at a time).  LRU: an
 * entry whose return was missed goes when room is needed, and a live one
 * is only pushed out when more threads than entries sit in socket calls.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct sock_call);
} sp_sock_calls SEC(".maps");

static __always_inline int kp__enter(struct sock *sk, int flags)
{
	struct sock_call call = { .sk = sk, .flags = flags };
	__u64 id = bpf_get_current_pid_tgid();

	if (!sock_capture__wanted_task(id >> 32) || !sock_capture__tcp_family(sk))
		return 0;
	bpf_map_update_elem(&sp_sock_calls, &id, &call, BPF_ANY);
	return 0;
}

static __always_inline int kp__leave(int ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sock_call *call = bpf_map_lookup_elem(&sp_sock_calls, &id);
	struct sock_call c;

	if (!call)
		return 0;
	c = *call;
	bpf_map_delete_elem(&sp_sock_calls, &id);
	return sock_capture__in_call(c.sk, ret, c.flags, dir);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(sp_kp_tcp_sendmsg, struct sock *sk)
{
	return kp__enter(sk, 0);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(sp_krp_tcp_sendmsg, int ret)
{
	return kp__leave(ret, SP_SOCK_SEND);
}

SEC("kprobe/tcp_sendpage")
int BPF_KPROBE(sp_kp_tcp_sendpage, struct sock *sk)
{
	return kp__enter(sk, 0);
}

SEC("kretprobe/tcp_sendpage")
int BPF_KRETPROBE(sp_krp_tcp_sendpage, int ret)
{
	return kp__leave(ret, SP_SOCK_SEND);
}

SEC("kprobe/inet_recvmsg")
int BPF_KPROBE(sp_kp_inet_recvmsg, struct socket *sock, struct msghdr *msg,
	       size_t size, int flags)
{
	return kp__enter(BPF_CORE_READ(sock, sk), flags);
}

SEC("kretprobe/inet_recvmsg")
int BPF_KRETPROBE(sp_krp_inet_recvmsg, int ret)
{
	return kp__leave(ret, SP_SOCK_RECV);
}

SEC("kprobe/inet6_recvmsg")
int BPF_KPROBE(sp_kp_inet6_recvmsg, struct socket *sock, struct msghdr *msg,
	       size_t size, int flags)
{
	return kp__enter(BPF_CORE_READ(sock, sk), flags);
}

SEC("kretprobe/inet6_recvmsg")
int BPF_KRETPROBE(sp_krp_inet6_recvmsg, int ret)
{
	return kp__leave(ret, SP_SOCK_RECV);
}

SEC("raw_tracepoint/inet_sock_set_state")
int sp_kp_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	return sock_capture__state_changed(ctx);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
