/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * TLS plaintext at the library: uprobes on OpenSSL's SSL_read, SSL_write,
 * SSL_read_ex and SSL_write_ex (in libssl, or in an executable that
 * carries its own OpenSSL and exports them, as Node.js does), entry and
 * return.  The entry notes the call for the thread (tls_link.bpf.h); the
 * socket hooks fill in the socket the library reads or writes inside it;
 * the plaintext goes out as the socket's TLS stream (sock_id | 1,
 * SP_SOCK_F_TLS), through the same first-bytes check, verdict map and
 * record as clear text (sock_capture.bpf.h), so the same decoders read it:
 * a read's at the return, a write's from inside the socket send that
 * carries it (else at the return: a library on memory buffers sends
 * outside the call).  A call served from the library's buffer uses no
 * socket: the session's socket is remembered from its earlier calls.
 * SSL_free forgets it.
 * (BPF_KPROBE/BPF_KRETPROBE are libbpf's argument macros; they serve
 * uprobes alike.)
 */
#include "sock_capture.bpf.h"

/* A session of a process: the library's pointer is per address space. */
struct tls_session {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

/* Session -> socket.  LRU: a session freed unseen goes when room is needed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tls_session);
	__type(value, __u64);
} sp_tls_socks SEC(".maps");

/*
 * Session -> bytes of plaintext sent from inside a socket send (see
 * sock_capture__tls_send()) that the write has not returned as written:
 * it stopped short (a non-blocking socket full: OpenSSL wants the same
 * write again; or a partial write), and the call that retries it must
 * not send them twice.  Rare, and gone once a write catches up; LRU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct tls_session);
	__type(value, __u32);
} sp_tls_ahead SEC(".maps");

/* A write's size as the call record keeps it (the record holds 31 bits). */
static __always_inline __u32 tls__size(__u64 num)
{
	return num > 0x7fffffff ? 0x7fffffff : (__u32)num;
}

static __always_inline int tls__enter(void *ssl, const void *buf, __u64 num, void *len_out,
				      __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call call = {
		.ssl = (__u64)ssl, .buf = (__u64)buf, .len_out = (__u64)len_out, .dir = dir,
	};
	struct tls_session key = { .tgid = id >> 32, .ssl = (__u64)ssl };
	__u32 tgid = id >> 32, *ahead;

	if (!sock_capture__wanted_task(tgid))
		return 0;
	tls_link__note_tls_call(tgid);
	if (dir == SP_SOCK_SEND) {
		call.num = tls__size(num);
		ahead = bpf_map_lookup_elem(&sp_tls_ahead, &key);
		if (ahead)
			call.skip = *ahead < call.num ? *ahead : call.num;
	}
	bpf_map_update_elem(&sp_tls_calls, &id, &call, BPF_ANY);
	return 0;
}

/*
 * The bytes the call moved: its return value, or *len_out for the _ex
 * calls.  The functions return an int: the upper half of RAX is not part
 * of it (-1 is 0x00000000ffffffff there).
 */
static __always_inline long tls__moved(const struct tls_call *c, long rax)
{
	int ret = (int)rax;
	__u64 n = 0;

	if (!c->len_out)
		return ret;
	if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (const void *)c->len_out))
		return 0;
	return n > 0x7fffffff ? 0 : (long)n;
}

/*
 * The call's socket: the one used inside it; else the session's; else (a
 * library on memory buffers) the thread's last TCP socket, which becomes
 * the session's.
 */
static __always_inline struct sock *tls__socket(const struct tls_call *c, __u64 id)
{
	struct tls_session key = { .tgid = id >> 32, .ssl = c->ssl };
	__u64 *sk;

	if (c->sk) {
		bpf_map_update_elem(&sp_tls_socks, &key, &c->sk, BPF_ANY);
		return (struct sock *)c->sk;
	}
	sk = bpf_map_lookup_elem(&sp_tls_socks, &key);
	if (sk)
		return (struct sock *)*sk;
	sk = bpf_map_lookup_elem(&sp_tls_last, &id);
	if (!sk)
		return NULL;
	bpf_map_update_elem(&sp_tls_socks, &key, sk, BPF_NOEXIST);
	return (struct sock *)*sk;
}

/*
 * A write returned having written `n` bytes: of its first `sent` bytes
 * (sent before its return: from inside its socket send, or by the call
 * it retries) what it did not write is ahead for the next write of the
 * session; returns the bytes left to send now, at its return.
 */
static __always_inline long tls__written(const struct tls_call *c, __u64 id, long n)
{
	struct tls_session key = { .tgid = id >> 32, .ssl = c->ssl };
	__u32 sent = c->sent ? c->num : c->skip;
	__u32 ahead = n < sent ? sent - (__u32)n : 0;

	if (ahead)
		bpf_map_update_elem(&sp_tls_ahead, &key, &ahead, BPF_ANY);
	else if (c->skip)
		bpf_map_delete_elem(&sp_tls_ahead, &key);
	return n > sent ? n - sent : 0;
}

static __always_inline int tls__leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = bpf_map_lookup_elem(&sp_tls_calls, &id);
	struct tls_call c;
	struct sock *sk;
	bool counted;
	__u64 buf;
	int family;
	long n;

	if (!p)
		return 0;
	c = *p;
	bpf_map_delete_elem(&sp_tls_calls, &id);
	n = tls__moved(&c, ret);
	counted = c.dir == SP_SOCK_SEND && (c.sent || c.skip);
	if (n <= 0) {
		if (counted)
			tls__written(&c, id, 0);
		return 0;
	}
	sk = tls__socket(&c, id);
	buf = c.buf;
	if (counted) {
		long left = tls__written(&c, id, n);

		buf += n - left;
		n = left;
		if (n == 0)
			return 0;
	}
	if (!sk) {
		common__count_drop(SP_DROP_TLS_NO_SOCKET);
		return 0;
	}
	family = sock_capture__tcp_family(sk);
	if (family)
		sock_capture_plaintext((__u64)sk, family, buf, n, c.dir);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(sp_tls_write, void *ssl, const void *buf, int num)
{
	return tls__enter(ssl, buf, num > 0 ? num : 0, NULL, SP_SOCK_SEND);
}

SEC("uprobe")
int BPF_KPROBE(sp_tls_read, void *ssl, void *buf)
{
	return tls__enter(ssl, buf, 0, NULL, SP_SOCK_RECV);
}

SEC("uprobe")
int BPF_KPROBE(sp_tls_write_ex, void *ssl, const void *buf, __u64 num, void *written)
{
	return tls__enter(ssl, buf, num, written, SP_SOCK_SEND);
}

SEC("uprobe")
int BPF_KPROBE(sp_tls_read_ex, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return tls__enter(ssl, buf, 0, readbytes, SP_SOCK_RECV);
}

/* One return probe for the four: the entry said which kind it was. */
SEC("uretprobe")
int BPF_KRETPROBE(sp_tls_return, long ret)
{
	return tls__leave(ret);
}

SEC("uprobe")
int BPF_KPROBE(sp_tls_free, void *ssl)
{
	struct tls_session key = {
		.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = (__u64)ssl,
	};

	bpf_map_delete_elem(&sp_tls_socks, &key);
	bpf_map_delete_elem(&sp_tls_ahead, &key);
	return 0;
}

/*
 * Go's crypto/tls: (*Conn).Read and (*Conn).Write, Go's register ABI
 * (Go 1.17+, x86-64: receiver in RAX, the slice's pointer in RBX and
 * length in RCX; at return the count in RAX).  No uretprobe on Go code (it moves goroutine
 * stacks, and a uretprobe's rewritten return address breaks that): the
 * loader puts sp_gotls_return on every return instruction of the two
 * functions.  A goroutine may change threads while it waits in Read, so
 * calls are keyed by goroutine (the g in R14), and the socket comes from
 * the connection itself: tls.Conn -> net.Conn -> netFD -> poll.FD.Sysfd,
 * at offsets the loader sets (user/capture/gotls.h).
 */
const volatile __u32 sp_go_conn_data = 8;  /* tls.Conn.conn + the iface's data word */
const volatile __u32 sp_go_netfd = 0;      /* TCPConn.conn.fd */
const volatile __u32 sp_go_sysfd = 16;     /* netFD.pfd + poll.FD.Sysfd */

struct go_call_key {
	__u32 tgid;
	__u32 pad;
	__u64 g;
};

struct go_call {
	__u64 conn;
	__u64 buf;
	__u8 dir;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct go_call_key);
	__type(value, struct go_call);
} sp_go_calls SEC(".maps");

#if defined(__TARGET_ARCH_x86)
static __always_inline int gotls__enter(struct pt_regs *ctx, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_call_key key = { .tgid = id >> 32, .g = ctx->r14 };
	struct go_call call = { .conn = ctx->ax, .buf = ctx->bx, .dir = dir };

	if (!sock_capture__wanted_task(id >> 32))
		return 0;
	bpf_map_update_elem(&sp_go_calls, &key, &call, BPF_ANY);
	return 0;
}

/* The descriptor of a Go TLS connection over TCP, or -1. */
static __always_inline long gotls__fd(__u64 conn)
{
	__u64 data = 0, netfd = 0;
	long fd = -1;

	if (bpf_probe_read_user(&data, sizeof(data), (void *)(conn + sp_go_conn_data)) ||
	    bpf_probe_read_user(&netfd, sizeof(netfd), (void *)(data + sp_go_netfd)) ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + sp_go_sysfd)))
		return -1;
	return fd;
}

/* Go's plaintext of the connection `conn`: `n` bytes at `buf`. */
static __always_inline int gotls__emit(__u64 conn, __u64 buf, long n, __u8 dir)
{
	struct sock *sk;
	int family;

	if (n <= 0 || n > 0x7fffffff)
		return 0;
	sk = sock_capture__fd_sock(bpf_get_current_task_btf(), gotls__fd(conn));
	if (!sk) {
		common__count_drop(SP_DROP_TLS_NO_SOCKET);
		return 0;
	}
	family = sock_capture__tcp_family(sk);
	if (family)
		sock_capture_plaintext((__u64)sk, family, buf, n, dir);
	return 0;
}

/*
 * Write is sent at its entry, with the slice's length: it writes all of
 * it or fails the connection, and the record then comes before the peer
 * can have read the bytes (a same-host server finds its client span).
 */
SEC("uprobe")
int sp_gotls_write(struct pt_regs *ctx)
{
	if (!sock_capture__wanted_task(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return gotls__emit(ctx->ax, ctx->bx, (long)ctx->cx, SP_SOCK_SEND);
}

SEC("uprobe")
int sp_gotls_read(struct pt_regs *ctx)
{
	return gotls__enter(ctx, SP_SOCK_RECV);
}

SEC("uprobe")
int sp_gotls_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_call_key key = { .tgid = id >> 32, .g = ctx->r14 };
	struct go_call *p = bpf_map_lookup_elem(&sp_go_calls, &key);
	struct go_call c;

	if (!p)
		return 0;
	c = *p;
	bpf_map_delete_elem(&sp_go_calls, &key);
	return gotls__emit(c.conn, c.buf, (long)ctx->ax, c.dir);
}
#endif

/* dlopen returned a handle: the process may have mapped a TLS library. */
SEC("uretprobe")
int BPF_KRETPROBE(sp_tls_dlopen, void *handle)
{
	struct sp_lib_event *ev;

	if (!handle || !sock_capture__wanted_task(bpf_get_current_pid_tgid() >> 32))
		return 0;
	ev = common__reserve(SP_EV_LIB_LOADED, sizeof(*ev));
	if (ev)
		common__submit(ev);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
