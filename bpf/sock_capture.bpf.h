/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The capture of socket bytes, shared by every hook set: sock.bpf.c (the
 * socket send/receive tracepoints), sock_fexit.bpf.c (fexit on the TCP
 * send/receive functions), sock_kprobe.bpf.c (kprobes + kretprobes on the
 * same functions) and sock_sys.bpf.c (the syscall exit fallback), so all
 * write the very same SP_EV_SOCK_DATA / SP_EV_SOCK_CLOSE records and the
 * daemon cannot tell them apart.  Only one of the objects is loaded, so
 * the maps below exist once.
 *
 * What an object provides is only its hooks: each finds, its own way, the
 * kernel socket, the syscall's saved registers and number, the descriptor
 * and the direction of a call, then goes through this interface:
 *   sock_capture__wanted_task()   is the current process one we report on?
 *   sock_capture__tcp_family()    is the socket TCP (IPv4/IPv6)?
 *   sock_capture__unjudged()      that, and not judged not HTTP already
 *                                 (the socket hooks' first checks);
 *   sock_capture__locate()        where are the call's bytes in user memory?
 *   sock_capture__wanted_bytes()  does the connection or call look like HTTP?
 *   sock_capture__emit()          write the SP_EV_SOCK_DATA record (its
 *                                 first bytes, or HTTP/2's frames walked
 *                                 by sock_frames.bpf.h);
 *   sock_capture_plaintext()      a TLS library's plaintext: the last two
 *                                 on the socket's TLS stream;
 *   sock_capture__tls_send()      a socket hook's part in TLS: note the
 *                                 socket of a library call, send a write's
 *                                 plaintext from inside its socket send;
 *   sock_capture__in_call()       all of the above, for the hooks that run
 *                                 inside the socket call (all but sys_exit);
 *   sock_capture__state_changed() inet_sock_set_state: SP_EV_SOCK_CLOSE.
 * Everything used here comes from this header, common.bpf.h (shared maps,
 * record header, wake-up policy) and sock_arch.bpf.h (syscall numbers and
 * registers per architecture).
 */
#ifndef SPANPROBE_SOCK_CAPTURE_BPF_H
#define SPANPROBE_SOCK_CAPTURE_BPF_H

#include "common.bpf.h"
#include "sock_arch.bpf.h"
#include "tls_link.bpf.h"
#include "sock_frames.bpf.h"
#include <bpf/bpf_endian.h>

/*
 * Kernel values vmlinux.h does not carry (macros, not BTF types).  The
 * objects' own checks use SOCK_MSG_PEEK too.
 */
#define SOCK_AF_INET 2
#define SOCK_AF_INET6 10
#define SOCK_IPPROTO_TCP 6
#define SOCK_MSG_PEEK 2
#define SOCK_E2BIG 7
#define SOCK_PF_KTHREAD 0x00200000

/* Segments of a readv/writev/sendmsg/recvmsg walked for the capture. */
#define SOCK_MAX_IOV 16

/* Settings the loader writes into .rodata before load. */
const volatile __u32 sp_sock_capture = 1024; /* bytes per call, <= SP_SOCK_CAPTURE_MAX */
const volatile bool sp_sock_all;             /* every process, not only sp_tracked */
const volatile __u32 sp_sock_self_tgid;      /* the daemon: never report its own I/O */

/* Size is a setting; when full, connections are still judged per call. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sp_sock_conn);
} sp_sock_conns SEC(".maps");

/*
 * Judged connections (struct sp_sock_known in events.h): those whose
 * first bytes were not HTTP (nor a TLS handshake) both ways (an HTTP/2
 * server, or a database, may speak first: one direction's first bytes do
 * not judge the connection), and a copy of the verdict of those in
 * sp_sock_conns.  A call on such a connection costs one read of the
 * socket and one array lookup, which the verifier inlines (a hash map's
 * lookup costs about as much as the rest of the check).  Two sockets on
 * one slot: the later one wins; the earlier is judged per call again, or
 * found in sp_sock_conns.  Cleared at TCP_CLOSE.
 */

/* A direction as a bit (1 << direction), as struct sp_sock_known and
 * struct sp_sock_conn hold their sets of directions. */
#define SOCK_DIR_BIT(dir) ((__u8)(1 << ((dir) & 3)))
#define SOCK_DIRS_BOTH (SOCK_DIR_BIT(SP_SOCK_SEND) | SOCK_DIR_BIT(SP_SOCK_RECV))

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << SP_SOCK_KNOWN_BITS);
	__type(key, __u32);
	__type(value, struct sp_sock_known);
} sp_sock_known SEC(".maps");

/*
 * Where the walk of a call captured whole stands, between steps.  Kept in
 * the scratch map, not on the stack: the verifier tracks no value of map
 * memory across bpf_loop() steps, so it checks a step once; from the
 * stack, every value the counters took would be a new state to check.
 */
struct sock_whole {
	const struct iovec *iov; /* NULL: one buffer, at ptr */
	__u64 iovcnt, seg;       /* segments, and the next one's index */
	__u64 ptr;               /* the current segment's next byte */
	__u32 seg_left;          /* its bytes still to take */
	__u32 skip;              /* bytes still to pass (sent in the first record) */
	__u32 left;              /* bytes of the call not in a record yet */
	__u32 fill;              /* bytes in the record being built */
	__u32 records;           /* records sent, the first included */
};

/* The record is built here, then copied to the ring buffer at its size. */
struct sock_scratch {
	struct sp_sock_data_event ev;
	__u8 data[SP_SOCK_FRAMES_MAX * 2]; /* twice: keeps offset + length in bounds */
	struct sock_whole whole;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_scratch);
} sp_sock_scratch SEC(".maps");

/* Where the bytes of one call are in user memory. */
struct sock_io {
	const void *buf;          /* single buffer (read, write, sendto...) */
	const struct iovec *iov;  /* or a vector (readv, sendmsg...) */
	__u64 iovcnt;
};

static __always_inline bool sock_capture__wanted_task(__u32 tgid)
{
	if (sp_sock_all) {
		struct task_struct *task = bpf_get_current_task_btf();

		return tgid != sp_sock_self_tgid && !(task->flags & SOCK_PF_KTHREAD);
	}
	return common__is_tracked(tgid);
}

/* `family` (read from `sk`) when `sk` is TCP over IPv4 or IPv6, else 0. */
static __always_inline int sock_capture__tcp_of(struct sock *sk, __u16 family)
{
	__u16 protocol;

	if (family != SOCK_AF_INET && family != SOCK_AF_INET6)
		return 0;
	/* A bitfield before 5.6, a __u16 since: the probed read fits both. */
	protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	return protocol == SOCK_IPPROTO_TCP ? family : 0;
}

/* TCP over IPv4 or IPv6: the only sockets HTTP/1.x runs on. */
static __always_inline int sock_capture__tcp_family(struct sock *sk)
{
	return sock_capture__tcp_of(sk, BPF_CORE_READ(sk, __sk_common.skc_family));
}

/* The ports in skc_portpair (one read for both): skc_dport, in network
 * order, comes first in memory, then skc_num, the local port. */
#define SOCK_PEER_PORT(pair) bpf_ntohs((__u16)(pair))
#define SOCK_LOCAL_PORT(pair) ((__u16)((pair) >> 16))

/*
 * The family and the ports of `sk` (*ports: skc_portpair as it is held),
 * with one read where skc_family follows skc_portpair, as it has since
 * sock_common began; two reads elsewhere.
 */
static __always_inline __u16 sock_capture__family_ports(struct sock *sk, __u32 *ports)
{
	__u64 w = 0;

	if (bpf_core_field_offset(struct sock_common, skc_family) !=
	    bpf_core_field_offset(struct sock_common, skc_portpair) + 4) {
		*ports = BPF_CORE_READ(sk, __sk_common.skc_portpair);
		return BPF_CORE_READ(sk, __sk_common.skc_family);
	}
	bpf_core_read(&w, sizeof(w), &sk->__sk_common.skc_portpair);
	*ports = (__u32)w;
	return (__u16)(w >> 32);
}

static __always_inline struct sp_sock_known *sock_capture__known_slot(__u64 sk)
{
	__u32 i = sp_sock_known_slot(sk);

	return bpf_map_lookup_elem(&sp_sock_known, &i);
}

/* The slot of `sk` when it holds the connection with `ports`, else NULL. */
static __always_inline struct sp_sock_known *sock_capture__known(struct sock *sk, __u32 ports)
{
	struct sp_sock_known *k = sock_capture__known_slot((__u64)sk);

	return k && k->sk == (__u64)sk && k->ports == ports ? k : NULL;
}

/*
 * The first checks of a socket call, cheapest first: the family (one
 * read, which turns away the local AF_UNIX traffic every desktop and
 * container runtime is full of, and gives the ports), a connection
 * already judged not HTTP (its slot), then TCP.  Returns the family, or
 * 0 when the call is not ours; *ports: skc_portpair.  (An ignored one is
 * still ours: a TLS connection's socket calls link the library's calls
 * to their socket, sock_capture__tls_send().)  A socket its slot holds
 * is TCP (only TCP calls get that far, and TCP's close empties the
 * slot): its protocol is not read again.
 */
static __always_inline int sock_capture__unjudged(struct sock *sk, __u32 *ports)
{
	__u16 family = sock_capture__family_ports(sk, ports);
	struct sp_sock_known *k;

	if (family != SOCK_AF_INET && family != SOCK_AF_INET6)
		return 0;
	k = sock_capture__known(sk, *ports);
	if (k)
		return k->dirs == SOCK_DIRS_BOTH ? 0 : family;
	return sock_capture__tcp_of(sk, family);
}

/*
 * Did this call move the first bytes of its direction of the connection?
 * Only then do bytes that are not HTTP say the connection is not: a
 * connection open before we started is met in the middle, where the next
 * request may start at any call.  From TCP's sequence numbers: the bytes
 * the process wrote (queued: write_seq - snd_una + bytes_acked, which may
 * count the SYN) or read (copied_seq - rcv_nxt + bytes_received) so far.
 * False when the kernel lacks the counters.
 */
static __always_inline bool sock_capture__stream_start(struct sock *sk, __u32 ret, __u8 dir)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 done;

	if (!bpf_core_field_exists(tp->bytes_acked) || !bpf_core_field_exists(tp->bytes_received))
		return false;
	if (dir == SP_SOCK_SEND)
		done = (__u32)(BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una)) +
		       BPF_CORE_READ(tp, bytes_acked);
	else
		done = (__u32)(BPF_CORE_READ(tp, copied_seq) - BPF_CORE_READ(tp, rcv_nxt)) +
		       BPF_CORE_READ(tp, bytes_received);
	return done == ret || done == (__u64)ret + 1;
}

/*
 * Give slot `k` to socket `sk` (`ports`): the socket is written last, so
 * a call on another CPU never matches a slot half filled.
 */
static __always_inline void sock_capture__claim(struct sp_sock_known *k, __u64 sk, __u32 ports,
						__u8 dirs, __u8 state, __u8 whole)
{
	k->sk = 0;
	k->ports = ports;
	k->dirs = dirs;
	k->state = state;
	k->whole = whole;
	k->sk = sk;
}

/*
 * Remember direction `dir` of connection `sk` as not HTTP; both: the
 * connection is not.  Not once TCP gave its port back: a call that
 * returns after the close must not mark a socket reused.  Two CPUs
 * judging the two directions at once may lose one: the connection is
 * then judged per call, as before.
 */
static __always_inline void sock_capture__mark_quiet(struct sock *sk, __u32 ports, __u8 dir)
{
	struct sp_sock_known *q = sock_capture__known_slot((__u64)sk);

	if (!q || !SOCK_LOCAL_PORT(ports))
		return;
	if (q->sk == (__u64)sk && q->ports == ports) {
		q->dirs |= SOCK_DIR_BIT(dir);
		return;
	}
	sock_capture__claim(q, (__u64)sk, ports, SOCK_DIR_BIT(dir), 0, 0);
}

/*
 * Copy the verdict `state` (`whole`) of socket `sk`'s plain stream, just
 * written to sp_sock_conns, into its slot, keeping the directions judged
 * so far when the slot holds it already.
 */
static __always_inline void sock_capture__remember(__u64 sk, __u32 ports, __u8 state,
						   __u8 whole)
{
	struct sp_sock_known *k = sock_capture__known_slot(sk);

	if (!k || !SOCK_LOCAL_PORT(ports))
		return;
	if (k->sk == sk && k->ports == ports) {
		k->whole = whole;
		k->state = state;
		return;
	}
	sock_capture__claim(k, sk, ports, 0, state, whole);
}

/*
 * The first-bytes rule, the same as the daemon's (http1_classify() in
 * user/protocol/http1_parse.c): up to SOCK_HTTP_EMPTY_MAX CR or LF bytes
 * (RFC 9112 2.2: a server ignores an empty line before a request line),
 * then a method of SOCK_HTTP_METHOD_MAX or fewer capitals, '-' or '_'
 * ("M-SEARCH"), a space and the start of a target.
 */
#define SOCK_HTTP_EMPTY_MAX 2
#define SOCK_HTTP_METHOD_MAX 20
#define SOCK_HTTP_PEEK (SOCK_HTTP_EMPTY_MAX + SOCK_HTTP_METHOD_MAX + 2)

/* Byte i (0..23) of the 24 bytes held in w[0..2] (little-endian); `i`
 * must be a constant once loops are unrolled. */
static __always_inline __u8 sock_capture__byte(const __u64 *w, __u32 i)
{
	return (w[i / 8] >> (8 * (i % 8))) & 0xff;
}

/* Drop the first `k` (0..7) bytes of the window, in registers. */
static __always_inline void sock_capture__skip(__u64 *w, __u32 k)
{
	if (k == 0)
		return;
	w[0] = (w[0] >> (8 * k)) | (w[1] << (64 - 8 * k));
	w[1] = (w[1] >> (8 * k)) | (w[2] << (64 - 8 * k));
	w[2] >>= 8 * k;
}

static __always_inline bool sock_capture__method_char(__u8 c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* A target starts with '/', '*' or a letter (absolute or authority form). */
static __always_inline bool sock_capture__target_start(__u8 c)
{
	return c == '/' || c == '*' || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/*
 * The start of a request line or of a status line ("HTTP/1.").  `w` holds
 * `n` valid bytes.  Bytes are taken from registers by shifts: the verifier
 * rejects stack indexing that clang turns into pointer arithmetic.
 */
static __always_inline bool sock_capture__looks_http(__u64 *w, __u32 n)
{
	__u32 k = 0;
	__u8 c;

	if (n >= 7 && (w[0] & 0x00ffffffffffffffULL) == 0x2e312f50545448ULL)
		return true; /* "HTTP/1." */
	for (__u32 i = 0; i < SOCK_HTTP_EMPTY_MAX; i++) {
		c = sock_capture__byte(w, i);
		if (c != '\r' && c != '\n')
			break;
		k++;
	}
	sock_capture__skip(w, k);
	if (n < k)
		return false;
	n -= k;
	for (__u32 i = 0; i <= SOCK_HTTP_METHOD_MAX; i++) {
		c = sock_capture__byte(w, i);
		if (sock_capture__method_char(c) && i < SOCK_HTTP_METHOD_MAX)
			continue;
		if (c != ' ' || i == 0 || n < i + 2)
			return false;
		return sock_capture__target_start(sock_capture__byte(w, i + 1));
	}
	return false;
}

/* PostgreSQL's first message codes (bytes 4..7, big-endian), as the
 * little-endian word loads them: protocol 3.0, SSLRequest, GSSENCRequest. */
#define SOCK_PG_STARTUP_V3 0x00000300U
#define SOCK_PG_SSL_REQUEST 0x2f16d204U
#define SOCK_PG_GSSENC_REQUEST 0x3016d204U
#define SOCK_PG_STARTUP_MAX 10000 /* the server refuses a longer one */

/* RESP's digits of an array's length ("*3\r\n$"), at most this many. */
#define SOCK_RESP_DIGITS_MAX 6

/* MySQL commands that start a call mid-stream: COM_QUERY,
 * COM_STMT_PREPARE, COM_STMT_EXECUTE. */
#define SOCK_MYSQL_QUERY 0x03
#define SOCK_MYSQL_PREPARE 0x16
#define SOCK_MYSQL_EXECUTE 0x17
/* The handshake response's sequence over TLS, and its capabilities'
 * second byte: CLIENT_PROTOCOL_41 (0x200) and CLIENT_SSL (0x800). */
#define SOCK_MYSQL_TLS_SEQ 2
#define SOCK_MYSQL_CAPS_41_SSL 0x0a

/*
 * A call that starts a database request on a connection met mid-stream
 * (a client's pool opened before spanprobe started): a PostgreSQL simple
 * query ('Q' and a length that is the whole call) or Parse ('P' and a
 * length within it: Bind, Execute and Sync follow in the same write); a
 * MySQL query or statement command in one packet of sequence 0 that is
 * the whole call.  (A Redis command has the same shape anywhere.)
 */
static __always_inline bool sock_capture__db_request(const __u64 *w, __u32 n, __u32 total)
{
	__u8 t = sock_capture__byte(w, 0), cmd;
	__u32 len;

	if (n >= 5 && (t == 'Q' || t == 'P')) {
		len = bpf_ntohl((__u32)(w[0] >> 8));
		if (t == 'Q' ? len + 1 == total : len >= 8 && len + 1 <= total)
			return true;
	}
	if (n < 5 || sock_capture__byte(w, 3) != 0)
		return false;
	len = (__u32)(w[0] & 0xffffff);
	cmd = sock_capture__byte(w, 4);
	return len + 4 == total && len >= 2 &&
	       (cmd == SOCK_MYSQL_QUERY || cmd == SOCK_MYSQL_PREPARE || cmd == SOCK_MYSQL_EXECUTE);
}

/*
 * The first bytes of a database connection (`n` valid in `w`, of a call
 * of `total` bytes in direction `dir`): a PostgreSQL startup message, SSL
 * or GSS encryption request (a 4-byte length, then the code); a Redis
 * command (a RESP array of bulk strings, "*N\r\n$"); a MySQL or MariaDB
 * server's greeting (a packet header of sequence 0, protocol version 10,
 * a version number: the server speaks first).  Or a request, for a
 * connection met mid-stream (sock_capture__db_request()).  Returns the
 * directions to capture whole from this call on, as the decoder will ask
 * (its verdict comes a poll later: a pipeline may be the first write):
 * the requests' (Redis: the replies' too); 0: not a database's.
 */
static __always_inline __u8 sock_capture__looks_db(const __u64 *w, __u32 n, __u32 total,
						   __u8 dir, bool tls)
{
	__u32 len, code;
	__u8 c;

	if (sock_capture__db_request(w, n, total))
		return SOCK_DIR_BIT(dir);
	/* MySQL over TLS: the plaintext starts with the client's handshake
	 * response (sequence 2, after the greeting and the SSL request),
	 * whose capabilities say 4.1 protocol and SSL. */
	if (tls && n >= 6 && sock_capture__byte(w, 3) == SOCK_MYSQL_TLS_SEQ &&
	    (w[0] & 0xffffff) + 4 == total &&
	    (sock_capture__byte(w, 5) & SOCK_MYSQL_CAPS_41_SSL) == SOCK_MYSQL_CAPS_41_SSL)
		return SOCK_DIR_BIT(dir);
	if (n >= 8 && (w[0] & 0xff) == 0) {
		len = bpf_ntohl((__u32)w[0]);
		code = (__u32)(w[0] >> 32);
		if (len >= 8 && len <= SOCK_PG_STARTUP_MAX &&
		    (code == SOCK_PG_STARTUP_V3 || code == SOCK_PG_SSL_REQUEST ||
		     code == SOCK_PG_GSSENC_REQUEST))
			return SOCK_DIR_BIT(dir);
	}
	if (n >= 6 && sock_capture__byte(w, 3) == 0 && sock_capture__byte(w, 4) == 10) {
		len = (__u32)(w[0] & 0xffffff);
		c = sock_capture__byte(w, 5);
		/* The greeting goes the other way to the requests. */
		if (c >= '0' && c <= '9' && len >= 16 && len + 4 <= total)
			return SOCK_DIR_BIT(dir ^ 3);
	}
	if (sock_capture__byte(w, 0) != '*')
		return 0;
	for (__u32 i = 1; i <= SOCK_RESP_DIGITS_MAX + 1; i++) {
		c = sock_capture__byte(w, i);
		if (c >= '0' && c <= '9' && i <= SOCK_RESP_DIGITS_MAX)
			continue;
		if (i > 1 && c == '\r' && n >= i + 3 && sock_capture__byte(w, i + 1) == '\n' &&
		    sock_capture__byte(w, i + 2) == '$')
			return SOCK_DIRS_BOTH;
		return 0;
	}
	return 0;
}

/* File types of an inode's mode (UAPI macros, not in vmlinux.h). */
#define SOCK_S_IFMT 00170000
#define SOCK_S_IFSOCK 0140000

/* The calls that move socket bytes: everything else leaves at once. */
static __always_inline bool sys__socket_call(long nr)
{
	switch (nr) {
	case SOCK_NR_READ:
	case SOCK_NR_WRITE:
	case SOCK_NR_READV:
	case SOCK_NR_WRITEV:
	case SOCK_NR_SENDTO:
	case SOCK_NR_RECVFROM:
	case SOCK_NR_SENDMSG:
	case SOCK_NR_RECVMSG:
	case SOCK_NR_SENDFILE:
	case SOCK_NR_SPLICE:
		return true;
	}
	return false;
}

/*
 * The kernel socket behind descriptor `fd` of `task`, or NULL when it is
 * not a socket (file, pipe, tty...) or the table changed under us.  Every
 * read or write of a wanted task on a file or a pipe pays for this walk:
 * the task's own structures are read by plain BTF loads (faults read as
 * 0), and only what the verifier cannot type (the descriptor array, the
 * file) takes a probe read.  Another thread may be closing or growing the
 * table: a stale answer costs one record at most.
 */
static __always_inline struct sock *sock_capture__fd_sock(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file **fds, *file = NULL;
	struct socket *sock;
	umode_t mode;

	if (fd < 0 || !fdt || (unsigned long)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & SOCK_S_IFMT) != SOCK_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* Fill `io` from the syscall's registers; false for calls without a buffer. */
static __always_inline bool sock_capture__locate(struct pt_regs *regs, long nr,
					 struct sock_io *io)
{
	struct user_msghdr msg;

	io->buf = NULL;
	io->iov = NULL;
	io->iovcnt = 0;
	switch (nr) {
	case SOCK_NR_READ:
	case SOCK_NR_WRITE:
	case SOCK_NR_SENDTO:
	case SOCK_NR_RECVFROM:
		io->buf = (const void *)SOCK_REGS_ARG2(regs);
		return true;
	case SOCK_NR_READV:
	case SOCK_NR_WRITEV:
		io->iov = (const struct iovec *)SOCK_REGS_ARG2(regs);
		io->iovcnt = SOCK_REGS_ARG3(regs);
		return true;
	case SOCK_NR_SENDMSG:
	case SOCK_NR_RECVMSG:
		if (bpf_probe_read_user(&msg, sizeof(msg),
					(const void *)SOCK_REGS_ARG2(regs)))
			return false;
		io->iov = msg.msg_iov;
		io->iovcnt = msg.msg_iovlen;
		return true;
	}
	return false;
}

/* Copy `len` user bytes to data[off]; off < CAPTURE_MAX, len <= CAPTURE_MAX. */
static __always_inline int sock_capture__copy(struct sock_scratch *s, __u32 off,
				      const void *src, __u32 len)
{
	__u64 n = len, at = off;

	/* Bound the very registers the call uses, or clang loses the bound. */
	if (n > SP_SOCK_CAPTURE_MAX)
		n = SP_SOCK_CAPTURE_MAX;
	barrier_var(n);
	at &= SP_SOCK_CAPTURE_MAX - 1;
	return bpf_probe_read_user(&s->data[at], n, src);
}

/* A vector's capture under bpf_loop(): `got` of `want` bytes so far.
 * On the stack, unlike the whole call's walk: 16 steps of a few words,
 * and no state is carried from one call to the next. */
struct sock_capture_walk {
	struct sock_scratch *s;
	const struct iovec *iov;
	__u32 iovcnt;
	__u32 want;
	__u32 got;
	__u32 failed;
};

/* Copy segment `i` of the vector, or what of it `want` has room for;
 * 1 (stop) when done or a read failed. */
static long sock_capture__segment(__u32 i, void *ctx)
{
	struct sock_capture_walk *w = ctx;
	struct iovec seg;
	__u32 len;

	if (!w->s || i >= w->iovcnt || w->got >= w->want)
		return 1;
	if (bpf_probe_read_user(&seg, sizeof(seg), &w->iov[i]))
		goto failed;
	len = w->want - w->got;
	if (seg.iov_len < len)
		len = seg.iov_len;
	if (sock_capture__copy(w->s, w->got, seg.iov_base, len))
		goto failed;
	w->got += len;
	return 0;
failed:
	w->failed = 1;
	return 1;
}

/* A copy that failed: counted, and the record marked cut. */
static __always_inline void sock_capture__cut(struct sock_scratch *s)
{
	common__count_drop(SP_DROP_READ_FAILED);
	s->ev.sock_flags |= SP_SOCK_F_TRUNCATED;
}

/* Up to `want` bytes of a vector through bpf_loop(); the bytes copied. */
static __always_inline __u32 sock_capture__walk(struct sock_scratch *s,
						const struct sock_io *io, __u32 want)
{
	struct sock_capture_walk w = {
		.s = s, .iov = io->iov, .iovcnt = io->iovcnt, .want = want,
	};

	bpf_loop(SOCK_MAX_IOV, sock_capture__segment, &w, 0);
	if (w.failed)
		sock_capture__cut(s);
	return w.got;
}

/*
 * Capture up to `want` bytes of the call; returns the bytes copied.  A
 * vector goes through bpf_loop() where the kernel has it (5.17): the
 * verifier then checks its step, not SOCK_MAX_IOV unrolled copies of
 * it, which were three quarters of its work on the socket programs
 * (1.6 s of every start on the development machine).  Kernels without
 * it get the loop unrolled, as it was: calling sock_capture__segment()
 * from it instead cost 3 % more verifier steps on 6.18, and no kernel
 * before 5.17 is in the matrix to show it would still fit there.
 */
static __always_inline __u32 sock_capture__capture(struct sock_scratch *s,
					   const struct sock_io *io, __u32 want)
{
	struct iovec seg;
	__u32 got = 0, len;

	if (io->buf) {
		if (sock_capture__copy(s, 0, io->buf, want))
			goto failed;
		return want;
	}
	if (sock_frames__available())
		return sock_capture__walk(s, io, want);
	for (__u32 i = 0; i < SOCK_MAX_IOV; i++) {
		if (i >= io->iovcnt || got >= want)
			break;
		if (bpf_probe_read_user(&seg, sizeof(seg), &io->iov[i]))
			goto failed;
		len = want - got;
		if (seg.iov_len < len)
			len = seg.iov_len;
		if (sock_capture__copy(s, got, seg.iov_base, len))
			goto failed;
		got += len;
	}
	return got;
failed:
	sock_capture__cut(s);
	return got;
}

/* The first bytes of the call, for the HTTP check: SOCK_HTTP_PEEK or fewer. */
static __always_inline __u32 sock_capture__peek(const struct sock_io *io, __u32 total,
					__u64 *b)
{
	struct iovec seg = {};
	__u32 n = total < SOCK_HTTP_PEEK ? total : SOCK_HTTP_PEEK;

	if (io->buf)
		return bpf_probe_read_user(b, SOCK_HTTP_PEEK, io->buf) ? 0 : n;
	if (io->iovcnt == 0 ||
	    bpf_probe_read_user(&seg, sizeof(seg), &io->iov[0]))
		return 0;
	if (seg.iov_len < n)
		n = seg.iov_len;
	return bpf_probe_read_user(b, SOCK_HTTP_PEEK, seg.iov_base) ? 0 : n;
}

/*
 * The addresses of `sk`, with one read where the peer's address comes
 * right before the local one, as it has in sock_common since IPv6 was
 * added there (the record keeps them in that order); two reads
 * elsewhere.  `ports`: from sock_capture__family_ports(), read once per
 * call.
 */
static __always_inline void sock_capture__fill_addrs(struct sp_sock_data_event *ev,
					     struct sock *sk, int family, __u32 ports)
{
	__u64 pair = 0;

	ev->family = family;
	ev->local_port = SOCK_LOCAL_PORT(ports);
	ev->peer_port = SOCK_PEER_PORT(ports);
	if (family == SOCK_AF_INET) {
		__builtin_memset(ev->peer_addr, 0, 32);
		if (bpf_core_field_offset(struct sock_common, skc_rcv_saddr) !=
		    bpf_core_field_offset(struct sock_common, skc_daddr) + 4) {
			bpf_core_read(ev->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
			bpf_core_read(ev->peer_addr, 4, &sk->__sk_common.skc_daddr);
			return;
		}
		bpf_core_read(&pair, 8, &sk->__sk_common.skc_daddr);
		*(__u32 *)ev->peer_addr = (__u32)pair;
		*(__u32 *)ev->local_addr = (__u32)(pair >> 32);
	} else if (bpf_core_field_offset(struct sock_common, skc_v6_rcv_saddr) ==
		   bpf_core_field_offset(struct sock_common, skc_v6_daddr) + 16) {
		bpf_core_read(ev->peer_addr, 32, &sk->__sk_common.skc_v6_daddr);
	} else {
		bpf_core_read(ev->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(ev->peer_addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * The map's entry for the stream `id` of a socket with `ports`, or NULL.
 * An entry made for another connection (the socket was freed, and a
 * verdict written after its close brought its entry back) is deleted: the
 * new connection starts clean.
 */
static __always_inline struct sp_sock_conn *sock_capture__conn(__u64 id, __u32 ports)
{
	struct sp_sock_conn *conn = bpf_map_lookup_elem(&sp_sock_conns, &id);

	if (!conn)
		return NULL;
	if (conn->local_port == SOCK_LOCAL_PORT(ports) &&
	    conn->peer_port == SOCK_PEER_PORT(ports))
		return conn;
	bpf_map_delete_elem(&sp_sock_conns, &id);
	return NULL;
}

/*
 * Remember a connection that carries HTTP (`state`); a full map is
 * counted.  HTTP/2 starts its frame walk in direction `dir` `need` bytes
 * on (the client preface's 24, kept) or at a frame header; the other
 * direction starts out of step (its first call must start a frame).  A
 * plain stream's HTTP/1 verdict is also copied into its slot.  Returns
 * the map's entry, or NULL.
 */
static __always_inline struct sp_sock_conn *sock_capture__mark_http(__u64 id, __u32 ports,
								   __u32 state, __u8 dir,
								   __u32 need, __u8 whole,
								   bool start)
{
	struct sp_sock_conn conn = { .state = state, .whole = whole, .start = start };
	struct sp_sock_h2dir *st = &conn.h2[(dir - 1) & 1];
	long err;

	st->synced = 1;
	st->need = need;
	st->keep = need != 0;
	conn.local_port = SOCK_LOCAL_PORT(ports);
	conn.peer_port = SOCK_PEER_PORT(ports);
	err = bpf_map_update_elem(&sp_sock_conns, &id, &conn, BPF_NOEXIST);
	if (err == -SOCK_E2BIG)
		common__count_drop(SP_DROP_MAP_FULL);
	else if (!err && state == SP_SOCK_CONN_HTTP && !(id & 1))
		sock_capture__remember(id, ports, state, whole);
	return bpf_map_lookup_elem(&sp_sock_conns, &id);
}

/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 section 3.4), in three words. */
static __always_inline bool sock_capture__h2_preface(const __u64 *w, __u32 n)
{
	return n >= 24 && w[0] == 0x5448202a20495250ULL && w[1] == 0x0a0d302e322f5054ULL &&
	       w[2] == 0x0a0d0a0d4d530a0dULL;
}

/*
 * The stream of bytes on socket `sk`: what the socket carries, or with
 * `tls` the plaintext a TLS library read or wrote on it (a stream of its
 * own: the socket's ciphertext is another).  Sockets are aligned, so the
 * low bit is free.
 */
static __always_inline __u64 sock_capture__stream_id(struct sock *sk, bool tls)
{
	return (__u64)sk | (tls ? 1 : 0);
}

/*
 * A TLS record header of a handshake (content type 22, version 3.x):
 * what a TLS connection's first bytes are, both ways.
 */
static __always_inline bool sock_capture__tls_handshake(const __u64 *w, __u32 n)
{
	return n >= 3 && (w[0] & 0xffff) == 0x0316 && ((w[0] >> 16) & 0xff) <= 4;
}

/*
 * A connection that starts a TLS handshake: said once (the daemon tells
 * whether the process's TLS library is probed), then ignored, so later
 * calls skip the first-bytes check.
 */
static __always_inline void sock_capture__tls_seen(__u64 id, __u32 ports, __u8 dir)
{
	struct sp_sock_conn conn = { .state = SP_SOCK_CONN_IGNORE,
				     .local_port = SOCK_LOCAL_PORT(ports),
				     .peer_port = SOCK_PEER_PORT(ports) };
	struct sp_tls_seen_event *ev;
	long err;

	err = bpf_map_update_elem(&sp_sock_conns, &id, &conn, BPF_NOEXIST);
	if (err == -SOCK_E2BIG)
		common__count_drop(SP_DROP_MAP_FULL);
	else if (!err)
		sock_capture__remember(id, ports, SP_SOCK_CONN_IGNORE, 0);
	ev = common__reserve(SP_EV_TLS_SEEN, sizeof(*ev));
	if (!ev)
		return;
	ev->sock_id = id;
	ev->direction = dir;
	__builtin_memset(ev->reserved, 0, sizeof(ev->reserved));
	common__submit(ev);
}

/*
 * Decide whether this call is reported (`tls`: on the socket's TLS
 * plaintext stream, see sock_capture__stream_id()): the connection is
 * known HTTP, or its first bytes start an HTTP message (HTTP/2's client
 * preface, or a HEADERS frame on a connection open before we started),
 * or the call is too short to tell (a one-byte reader still gets its
 * request seen).  `*connp`: the connection's map entry, if looked up and
 * there.  A plain stream whose slot holds the verdict HTTP, with no
 * direction captured whole, needs no lookup: its record needs nothing
 * more of the verdict.  One with directions captured whole, or HTTP/2
 * (whose frame walk keeps its state there), takes the map's entry.
 * (Nothing of the slot is carried into the capture: a value from it
 * would be one more state for the verifier to check all of the capture
 * with, and the older kernels' verifiers are near their budget there.)
 */
static __always_inline bool sock_capture__wanted_bytes(struct sock *sk, __u32 ports, bool tls,
						       const struct sock_io *io,
						       __u32 total, bool has_buf, __u8 dir,
						       struct sp_sock_conn **connp)
{
	__u64 id = sock_capture__stream_id(sk, tls);
	bool frames = sock_frames__available();
	struct sp_sock_known *k = tls ? NULL : sock_capture__known(sk, ports);
	struct sp_sock_conn *conn;
	__u64 head[3] = {};
	__u8 c, whole;
	__u32 n;

	*connp = NULL;
	if (k && k->state == SP_SOCK_CONN_IGNORE)
		return false;
	if (k && k->state == SP_SOCK_CONN_HTTP && !k->whole)
		return true;
	conn = sock_capture__conn(id, ports);
	*connp = conn;
	if (conn)
		return conn->state == SP_SOCK_CONN_HTTP || conn->state == SP_SOCK_CONN_H2;
	if (!has_buf || total == 0)
		return false;
	n = sock_capture__peek(io, total, head);
	if (n == 0)
		return false;
	/* (No pointer arithmetic on `id`: fexit's socket is a typed pointer.) */
	if (!tls && sock_capture__tls_handshake(head, n)) {
		sock_capture__tls_seen(id, ports, dir);
		return false;
	}
	if (frames && sock_capture__h2_preface(head, n)) {
		*connp = sock_capture__mark_http(id, ports, SP_SOCK_CONN_H2, dir, 24, 0, false);
		return true;
	}
	if (frames && n >= SOCK_H2_HEADER_LEN && sock_frames__starts_headers(head, total)) {
		*connp = sock_capture__mark_http(id, ports, SP_SOCK_CONN_H2, dir, 0, 0, false);
		return true;
	}
	whole = sock_capture__looks_db(head, n, total, dir, tls);
	if (whole || sock_capture__looks_http(head, n)) {
		/* A database decoder is told when it sees a connection from
		 * its start (Redis's index is then 0); HTTP needs not. */
		*connp = sock_capture__mark_http(id, ports, SP_SOCK_CONN_HTTP, dir, 0, whole,
						 whole && !tls &&
						 sock_capture__stream_start(sk, total, dir));
		return true;
	}
	/* Too short to tell (an empty line may come alone, a client may write
	 * a byte at a time), if it is text: not the 5-byte record header a
	 * TLS library reads first (content type 20..23). */
	c = head[0] & 0xff;
	if (total < SOCK_HTTP_EMPTY_MAX + 6 &&
	    ((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t'))
		return true;
	/* Not HTTP from its first byte on, both ways: not HTTP for good.  (A
	 * protocol that starts TLS later, STARTTLS-like, is not HTTP inside
	 * either.) */
	if (!tls && sock_capture__stream_start(sk, total, dir))
		sock_capture__mark_quiet(sk, ports, dir);
	return false;
}


/*
 * The payload of a call on an HTTP/2 connection (`conn`, may be NULL):
 * its frames walked, when the kernel can and the direction is in step
 * or gets back in step here (the call starts with a frame header).
 * False: the call is captured by its first bytes.
 */
static __always_inline bool sock_capture__frames(struct sock_scratch *s,
						 struct sp_sock_conn *conn,
						 const struct sock_io *io, bool has_buf,
						 __u32 total, __u8 dir)
{
	struct sp_sock_h2dir *st;
	__u64 head[3] = {};

	if (!conn || conn->state != SP_SOCK_CONN_H2 || !sock_frames__available())
		return false;
	st = &conn->h2[(dir - 1) & 1];
	if (!has_buf) { /* sendfile, splice: bytes not walked */
		st->synced = 0;
		return false;
	}
	if (!st->synced) {
		if (sock_capture__peek(io, total, head) < SOCK_H2_HEADER_LEN ||
		    !sock_frames__plausible(head))
			return false;
		st->synced = 1;
		st->need = 0;
		st->hdr_have = 0;
	}
	s->ev.captured = sock_frames_walk((struct sock_frames_room *)s->data, conn,
					  (__u64)io->buf, (__u64)io->iov,
					  (__u64)dir << 48 | (io->iovcnt & 0xffff) << 32 | total);
	s->ev.sock_flags |= SP_SOCK_F_FRAMES;
	/* Numbered before the ring buffer is asked for room: a record that
	 * finds none leaves a number out, and the daemon knows the table
	 * went with it. */
	s->ev.h2_seq = ++st->seq;
	return true;
}

/*
 * Write the record built in `s` (its fixed part filled, ev.captured bytes
 * of payload after it) to the ring buffer; a full one is counted.
 */
static __always_inline void sock_capture__output(struct sock_scratch *s)
{
	__u32 want = s->ev.captured;

	if (want > SP_SOCK_FRAMES_MAX)
		want = SP_SOCK_FRAMES_MAX;
	/* A bound the verifier sees whatever registers clang picks (it lost
	 * the one above where this is inlined into the TLS return probe);
	 * no-op for want <= SP_SOCK_FRAMES_MAX. */
	barrier_var(want);
	want &= SP_SOCK_FRAMES_MAX * 2 - 1;
	if (SP_STAGE(10))
		want = 0;
	if (SP_STAGE(11)) {
		__u64 ts_ns = bpf_ktime_get_ns();
		struct sp_sock_data_event *r = common__ring_reserve(sizeof(*r));

		if (r) {
			common__fill_header_at(&r->hdr, SP_EV_SOCK_DATA, sizeof(*r), ts_ns);
			bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
		}
		return;
	}
	common__fill_header(&s->ev.hdr, SP_EV_SOCK_DATA, sizeof(s->ev) + want);
	if (common__ring_output(s, sizeof(s->ev) + want,
			       SP_STAGE(9) ? BPF_RB_NO_WAKEUP :
			       common__wakeup_flags(SP_EV_SOCK_DATA, sizeof(s->ev) + want)))
		common__count_drop(SP_DROP_RINGBUF_FULL);
}

/* The records of a call captured whole, its first included. */
#define SOCK_WHOLE_PARTS (SP_SOCK_WHOLE_MAX / SP_SOCK_CAPTURE_MAX)
/* Steps of the walk: each fills a record, takes a segment (a writev may
 * have IOV_MAX, 1024) or copies what is left of one. */
#define SOCK_WHOLE_STEPS (2 * SOCK_WHOLE_PARTS + 2 * 1024)

/* Send the record built so far; the last one allowed counts the rest. */
static __always_inline bool sock_capture__whole_flush(struct sock_scratch *s)
{
	struct sock_whole *w = &s->whole;
	bool last = w->records + 1 >= SOCK_WHOLE_PARTS || w->left == 0;

	s->ev.total_len = w->fill + (last ? w->left : 0);
	s->ev.captured = w->fill;
	sock_capture__output(s);
	w->records++;
	w->fill = 0;
	return last;
}

/* A bpf_loop() context: the scratch, whose `whole` is the walk. */
struct sock_whole_ctx {
	struct sock_scratch *s;
};

/*
 * One step of the walk (a bpf_loop() callback; 1 ends it): take the next
 * segment, or copy what fits of the current one into the record, sent
 * when full or at the call's end.
 */
static long sock_capture__whole_step(__u32 i, void *ctx)
{
	struct sock_scratch *s = ((struct sock_whole_ctx *)ctx)->s;
	struct sock_whole *w;
	struct iovec seg;
	__u32 n;

	if (!s)
		return 1;
	w = &s->whole;
	if (w->seg_left == 0) {
		if (!w->iov || w->seg >= w->iovcnt ||
		    bpf_probe_read_user(&seg, sizeof(seg), &w->iov[w->seg & 0xffff]))
			goto cut;
		w->seg++;
		if (seg.iov_len <= w->skip) {
			w->skip -= seg.iov_len;
			return 0;
		}
		w->ptr = (__u64)seg.iov_base + w->skip;
		seg.iov_len -= w->skip;
		w->skip = 0;
		w->seg_left = seg.iov_len < w->left ? seg.iov_len : w->left;
		return 0;
	}
	n = SP_SOCK_CAPTURE_MAX - w->fill;
	if (w->seg_left < n)
		n = w->seg_left;
	if (w->fill >= SP_SOCK_CAPTURE_MAX ||
	    sock_capture__copy(s, w->fill, (const void *)w->ptr, n))
		goto cut;
	w->fill += n;
	w->ptr += n;
	w->seg_left -= n;
	w->left -= n;
	if (w->fill == SP_SOCK_CAPTURE_MAX || w->left == 0)
		return sock_capture__whole_flush(s);
	return 0;
cut:
	/* Segments that end early, or a read that fails: the rest is a gap. */
	if (w->iov && w->seg < w->iovcnt)
		common__count_drop(SP_DROP_READ_FAILED);
	w->records = SOCK_WHOLE_PARTS;
	sock_capture__whole_flush(s);
	return 1;
}

/*
 * The parts of a call after its first `sent` bytes (of `total`), each a
 * record sent from `s`.  A function of its own, verified once (with its
 * callback) whatever calls it.  `call` is `sent` << 32 | `total`; `buf`
 * or the vector `iov` of `iovcnt` segments has the bytes.
 */
__noinline int sock_capture_whole(struct sock_scratch *s, __u64 buf, __u64 iov,
				  __u64 iovcnt, __u64 call)
{
	struct sock_whole_ctx ctx = { .s = s };
	__u32 sent = call >> 32, total = (__u32)call;
	struct sock_whole *w;

	if (!s || total <= sent || !sock_frames__available())
		return 0;
	w = &s->whole;
	w->iov = buf ? NULL : (const struct iovec *)iov;
	w->iovcnt = iovcnt;
	w->seg = 0;
	w->ptr = buf + sent;
	w->seg_left = buf ? total - sent : 0;
	w->skip = buf ? 0 : sent;
	w->left = total - sent;
	w->fill = 0;
	w->records = 1;
	bpf_loop(SOCK_WHOLE_STEPS, sock_capture__whole_step, &ctx, 0);
	/* Steps ran out (a vector of many small segments): the rest is a gap. */
	if (w->left && w->records < SOCK_WHOLE_PARTS) {
		w->records = SOCK_WHOLE_PARTS;
		sock_capture__whole_flush(s);
	}
	return 0;
}

/*
 * A call on a connection whose decoder wants direction `dir` whole (a
 * database client's requests: a pipeline of commands in one write): true
 * when the kernel can send its parts after the first (bpf_loop(), 5.17).
 */
static __always_inline bool sock_capture__whole(const struct sp_sock_conn *conn, __u8 dir)
{
	return conn && conn->state == SP_SOCK_CONN_HTTP && (conn->whole & SOCK_DIR_BIT(dir)) &&
	       sock_frames__available();
}

/*
 * Send the record of one call that moved `ret` bytes on TCP socket `sk`
 * (`family` from sock_capture__tcp_family()), already judged wanted: fixed part,
 * addresses and up to sp_sock_capture bytes from `io`, or its HTTP/2
 * frames (`conn`: the connection's map entry, NULL if none), or, for a
 * direction its decoder wants whole, the call in parts of
 * SP_SOCK_CAPTURE_MAX bytes, each a record of its own (up to
 * SP_SOCK_WHOLE_MAX).  `fd` is the process's descriptor (-1: unknown);
 * `tls`: the bytes are the plaintext of a TLS library call (nr 0).  A
 * full ring buffer is counted.
 */
static __always_inline void sock_capture__emit(struct sock *sk, int family, __u32 ports,
				       const struct sock_io *io, bool has_buf,
				       __s32 fd, long nr, int ret, __u8 dir, bool tls,
				       struct sp_sock_conn *conn)
{
	bool whole = has_buf && sock_capture__whole(conn, dir);
	struct sock_scratch *s;
	__u32 zero = 0, want = 0;

	s = bpf_map_lookup_elem(&sp_sock_scratch, &zero);
	if (!s)
		return;
	s->ev.sock_id = sock_capture__stream_id(sk, tls);
	s->ev.fd = fd;
	s->ev.total_len = ret;
	s->ev.direction = dir;
	s->ev.syscall_nr = nr;
	s->ev.sock_flags = (has_buf ? 0 : SP_SOCK_F_NO_PAYLOAD) | (tls ? SP_SOCK_F_TLS : 0);
	s->ev.h2_seq = 0;
	__builtin_memset(s->ev.reserved, 0, sizeof(s->ev.reserved));
	sock_capture__fill_addrs(&s->ev, sk, family, ports);
	if (SP_STAGE(12))
		return;
	if (!has_buf && !tls && nr != SOCK_NR_SENDFILE && nr != SOCK_NR_SPLICE)
		common__count_drop(SP_DROP_SOCK_UNKNOWN_CALL);
	if (!sock_capture__frames(s, conn, io, has_buf, ret, dir)) {
		want = whole ? SP_SOCK_CAPTURE_MAX : sp_sock_capture;
		if (want > SP_SOCK_CAPTURE_MAX)
			want = SP_SOCK_CAPTURE_MAX;
		if ((__u32)ret < want)
			want = ret;
		if (SP_STAGE(13) && want > 8)
			want = 8;
		s->ev.captured = has_buf ? sock_capture__capture(s, io, want) : 0;
		/* The rest from where the first record's copy stopped (a
		 * vector's first SOCK_MAX_IOV segments may hold less). */
		want = s->ev.captured;
		whole = whole && (__u32)ret > want &&
			!(s->ev.sock_flags & SP_SOCK_F_TRUNCATED);
		if (whole)
			s->ev.total_len = want;
	} else {
		whole = false;
	}
	if (conn && conn->start) {
		s->ev.sock_flags |= SP_SOCK_F_START;
		conn->start = 0;
	}
	if (SP_STAGE(6) || SP_STAGE(13))
		return;
	if (SP_STAGE(7) || SP_STAGE(8)) {
		common__fill_header(&s->ev.hdr, SP_EV_SOCK_DATA, sizeof(s->ev));
		if (SP_STAGE(8))
			s->ev.hdr.flags = (__u8)common__wakeup_flags(SP_EV_SOCK_DATA,
								      sizeof(s->ev));
		return;
	}
	sock_capture__output(s);
	if (whole)
		sock_capture_whole(s, (__u64)io->buf, (__u64)io->iov, io->iovcnt,
				   (__u64)want << 32 | (__u32)ret);
}

/*
 * `n` bytes of plaintext at `buf` that a TLS library read or wrote on TCP
 * socket `sk_addr` (`family` from sock_capture__tcp_family()): a record
 * on the socket's TLS stream, if the stream is HTTP or starts like it.
 * A global function: the verifier checks it once, on its own, with
 * arguments it knows nothing of, not once more inside each program that
 * calls it (every socket program, for a TLS write's send, and the TLS
 * return probes); inlined, it took the socket programs past the budget
 * of one million instructions of 6.12's verifier.  Returns 0.  The
 * syscall object inlines it (SOCK_PLAINTEXT_INLINE): its own frame is
 * larger, and 6.1's verifier counts the frames of a chain of calls
 * against the 512 bytes of stack (sys_exit -> this -> the whole call's
 * walk -> its step went past them); it is within the instructions' budget
 * there.
 */
#ifdef SOCK_PLAINTEXT_INLINE
static __always_inline int
#else
__noinline int
#endif
sock_capture_plaintext(__u64 sk_addr, int family, __u64 buf, long n,
				      __u32 dir)
{
	struct sock *sk = (struct sock *)sk_addr;
	struct sock_io io = { .buf = (const void *)buf };
	struct sp_sock_conn *conn;
	__u32 ports;

	if (n <= 0 || n > 0x7fffffff || (dir != SP_SOCK_SEND && dir != SP_SOCK_RECV))
		return 0;
	sock_capture__family_ports(sk, &ports);
	if (!sock_capture__wanted_bytes(sk, ports, true, &io, n, true, dir, &conn))
		return 0;
	sock_capture__emit(sk, family, ports, &io, true, -1, 0, n, dir, true, conn);
	return 0;
}

/* TLS's application-data record type (RFC 8446 5.1; every record of TLS
 * 1.3 after the ServerHello carries it on the wire). */
#define SOCK_TLS_APPLICATION_DATA 23

/*
 * A socket call on `sk` that moved `ret` bytes from `io` (`dir`) while
 * the thread may be inside a TLS library call (tls_link.bpf.h): note the
 * socket for the call, and when the call is a write and this is its first
 * send of encrypted data, send the write's plaintext now, from inside the
 * socket call, as a clear-text send is sent.  At the library call's
 * return would be too late: the peer may have read the bytes and answered
 * by then (on one CPU the woken reader runs before the writer returns),
 * and its records would come first, a same-host server's request before
 * its client's.  A handshake record going out first (a write that starts
 * the handshake) waits for the send that carries data.  The return probe
 * (tls.bpf.c) counts what was sent here against what the call wrote.
 */
static __always_inline void sock_capture__tls_send(struct sock *sk, int family,
						   const struct sock_io *io, bool has_buf,
						   int ret, __u8 dir)
{
	struct tls_call *call = tls_link__note_socket(sk);
	__u64 head[3] = {};
	__u64 tls_sk;

	if (!call || dir != SP_SOCK_SEND || call->dir != SP_SOCK_SEND || call->sent ||
	    call->num <= call->skip || ret <= 0 || !has_buf)
		return;
	if (!sock_capture__peek(io, ret, head) ||
	    (head[0] & 0xff) != SOCK_TLS_APPLICATION_DATA)
		return;
	call->sent = 1;
	/* The call's socket as the map holds it (the one its return would
	 * use), loaded from there: fexit's socket is a typed pointer, and
	 * the TLS stream's id (socket | 1) is arithmetic the verifier
	 * refuses on one. */
	tls_sk = *(volatile __u64 *)&call->sk;
	sock_capture_plaintext(tls_sk, family, call->buf + call->skip,
			       call->num - call->skip, SP_SOCK_SEND);
}

/*
 * A send or receive on `sk` that moved `ret` bytes (`flags`: the receive's
 * flags), seen from inside the socket call: the tracepoints, fexit and
 * kretprobes all end here.  The syscall's saved registers give the call
 * and its user buffer, which already holds the bytes of a receive.
 */
static __always_inline int sock_capture__in_call(struct sock *sk, int ret, int flags,
						 __u8 dir)
{
	struct sp_sock_conn *conn;
	struct pt_regs *regs;
	struct sock_io io;
	bool has_buf;
	__u32 ports;
	__s32 fd;
	int family;
	long nr;

	if (ret < 0 || (flags & SOCK_MSG_PEEK) || SP_STAGE(0))
		return 0;
	/* The process is asked after the socket: a judged connection's
	 * call stops before any helper call but the socket's read. */
	family = sock_capture__unjudged(sk, &ports);
	if (!family || SP_STAGE(1) ||
	    !sock_capture__wanted_task(bpf_get_current_pid_tgid() >> 32) || SP_STAGE(2))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = SOCK_REGS_NR(regs);
	has_buf = sock_capture__locate(regs, nr, &io);
	if (SP_STAGE(3))
		return 0;
	sock_capture__tls_send(sk, family, &io, has_buf, ret, dir);
	if (SP_STAGE(4) ||
	    !sock_capture__wanted_bytes(sk, ports, false, &io, ret, has_buf, dir, &conn) ||
	    SP_STAGE(5))
		return 0;
	/* Every call here takes the socket first, but splice (its output). */
	fd = has_buf || nr == SOCK_NR_SENDFILE ? (__s32)SOCK_REGS_ARG1(regs) : -1;
	sock_capture__emit(sk, family, ports, &io, has_buf, fd, nr, ret, dir, false, conn);
	return 0;
}

/*
 * inet_sock_set_state(sk, oldstate, newstate): TCP released a socket;
 * tell the daemon when it had reported on it.
 */
static __always_inline int sock_capture__state_changed(struct bpf_raw_tracepoint_args *ctx)
{
	struct sp_sock_close_event *ev;
	__u64 id = ctx->args[0];
	__u64 tls_id = id | 1;
	struct sp_sock_known *q;
	bool plain, tls;

	if ((int)ctx->args[2] != TCP_CLOSE)
		return 0;
	q = sock_capture__known_slot(id);
	if (q && q->sk == id)
		q->sk = 0;
	/* No port check here: TCP has given the local port back by now.
	 * An entry left for a dead socket goes at the next lookup.  The
	 * record closes the socket's plaintext stream too, if any. */
	plain = bpf_map_delete_elem(&sp_sock_conns, &id) == 0;
	tls = bpf_map_delete_elem(&sp_sock_conns, &tls_id) == 0;
	if (!plain && !tls)
		return 0;
	ev = common__reserve(SP_EV_SOCK_CLOSE, sizeof(*ev));
	if (!ev)
		return 0;
	ev->sock_id = id;
	ev->old_state = (__u8)ctx->args[1];
	__builtin_memset(ev->reserved, 0, sizeof(ev->reserved));
	common__submit(ev);
	return 0;
}

#endif /* SPANPROBE_SOCK_CAPTURE_BPF_H */
