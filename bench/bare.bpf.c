/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The floor for function tracing, for the benchmark only: a uprobe and a
 * uretprobe that each write one 24-byte record to a ring buffer, nothing
 * else.  spanprobe's cost per call is compared with this in the same run.
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
