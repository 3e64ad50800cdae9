/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The link between a TLS library call and the socket it uses.  The TLS
 * library's entry probe (tls.bpf.c) notes the call per thread; a socket
 * hook that fires on that thread while the call runs (the library reads or
 * writes the ciphertext inside it) fills in the kernel socket; the return
 * probe then knows which connection the plaintext belongs to.  A write's
 * plaintext is sent by the socket hook itself, from inside the send that
 * carries it (sock_capture__tls_send() in sock_capture.bpf.h).  Every
 * socket object includes this header so that all of them can fill it in;
 * the map is created once and shared (the loader reuses its descriptor).
 */
#ifndef SPANPROBE_TLS_LINK_BPF_H
#define SPANPROBE_TLS_LINK_BPF_H

#include "common.bpf.h"

/* A TLS library call in flight on one thread. */
struct tls_call {
	__u64 ssl;      /* the library's session */
	__u64 buf;      /* the plaintext buffer */
	__u64 len_out;  /* SSL_read_ex/SSL_write_ex: where the count goes; 0 */
	__u64 sk;       /* the socket a socket call inside it used; 0: none */
	__u32 num;      /* a write: the bytes it was asked to write */
	__u32 skip;     /* a write: its first bytes, sent already by the call
			 * it retries (tls.bpf.c, sp_tls_ahead) */
	__u8 dir;       /* enum sp_sock_dir */
	__u8 sent;      /* a write: its bytes from `skip` on were sent from
			 * inside its socket send */
	__u8 pad[6];
};

/*
 * Key: the thread (pid_tgid).  LRU: an entry whose return probe never
 * ran (the thread died) goes when room is needed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct tls_call);
} sp_tls_calls SEC(".maps");

/*
 * Libraries that keep the ciphertext in memory (Node.js: OpenSSL on
 * memory BIOs) move it on the socket outside the TLS call: the socket is
 * read just before SSL_read, written just after SSL_write, on the same
 * thread.  For the processes that made a TLS call (sp_tls_procs), each
 * thread's last TCP socket is kept: a session whose calls never touch a
 * socket takes that one (tls.bpf.c), once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} sp_tls_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} sp_tls_last SEC(".maps");

/*
 * sp_tls_procs as every socket call asks it, without a hash lookup: a
 * direct-mapped array indexed by the process's low bits, each slot the one
 * process there that made a TLS call, TLS_PROCS_SHARED when two did (those
 * ask sp_tls_procs), 0 when none did.  The entry probe writes it on every
 * call (tls_link__note_tls_call()), so two processes' first calls racing
 * for one slot are set right by the next.
 */
#define TLS_PROCS_BITS 12
#define TLS_PROCS_SHARED 0xffffffffU
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << TLS_PROCS_BITS);
	__type(key, __u32);
	__type(value, __u32);
} sp_tls_pslots SEC(".maps");

static __always_inline __u32 *tls_link__pslot(__u32 tgid)
{
	__u32 i = tgid & ((1 << TLS_PROCS_BITS) - 1);

	return bpf_map_lookup_elem(&sp_tls_pslots, &i);
}

/* Process `tgid` is making a TLS call (from the library's entry probe). */
static __always_inline void tls_link__note_tls_call(__u32 tgid)
{
	__u32 *slot = tls_link__pslot(tgid);
	__u8 one = 1;

	if (!bpf_map_lookup_elem(&sp_tls_procs, &tgid))
		bpf_map_update_elem(&sp_tls_procs, &tgid, &one, BPF_ANY);
	if (slot && *slot != tgid && *slot != TLS_PROCS_SHARED)
		*slot = *slot ? TLS_PROCS_SHARED : tgid;
}

/* Has process `tgid` ever made a TLS call? */
static __always_inline bool tls_link__tls_process(__u32 tgid)
{
	__u32 *slot = tls_link__pslot(tgid);

	if (!slot || *slot == 0)
		return false;
	if (*slot == tgid)
		return true;
	return *slot == TLS_PROCS_SHARED && bpf_map_lookup_elem(&sp_tls_procs, &tgid);
}

/*
 * A socket hook saw `sk` used by the current thread: inside a TLS call?
 * Returns the call in flight on the thread, or NULL.
 */
static __always_inline struct tls_call *tls_link__note_socket(void *sk)
{
	__u64 tid = bpf_get_current_pid_tgid();
	__u32 tgid = tid >> 32;
	struct tls_call *call;
	__u64 last = (__u64)sk;

	/* A process that never made a TLS call (the entry probe notes it
	 * first) has none in flight: an array lookup, not two hash
	 * lookups, for most. */
	if (!tls_link__tls_process(tgid))
		return NULL;
	call = bpf_map_lookup_elem(&sp_tls_calls, &tid);
	if (call && !call->sk)
		call->sk = (__u64)sk;
	bpf_map_update_elem(&sp_tls_last, &tid, &last, BPF_ANY);
	return call;
}

#endif /* SPANPROBE_TLS_LINK_BPF_H */
