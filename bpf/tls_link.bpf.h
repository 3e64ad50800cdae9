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
	 * first) has none in flight: one lookup, not two, for most. */
	if (!bpf_map_lookup_elem(&sp_tls_procs, &tgid))
		return NULL;
	call = bpf_map_lookup_elem(&sp_tls_calls, &tid);
	if (call && !call->sk)
		call->sk = (__u64)sk;
	bpf_map_update_elem(&sp_tls_last, &tid, &last, BPF_ANY);
	return call;
}

#endif /* SPANPROBE_TLS_LINK_BPF_H */
