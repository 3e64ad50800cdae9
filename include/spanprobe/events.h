/* SPDX-License-Identifier: MIT */
/*
 * Records that cross the kernel boundary: written by the BPF programs into
 * the ring buffer, read by the daemon.  This is the only header both sides
 * include.
 *
 * Rules (a mismatch must fail the build, not the run):
 *  - fixed-width types only, little-endian (x86-64 and arm64 BPF both are),
 *    no pointers, no `long`, explicit padding;
 *  - every record starts with struct sp_event_header;
 *  - type numbers never change meaning: new records are appended and
 *    SP_EVENT_VERSION is raised when an existing layout changes.
 */
#ifndef SPANPROBE_EVENTS_H
#define SPANPROBE_EVENTS_H

#ifdef __BPF__
/* vmlinux.h already defines __u8 .. __u64. */
#else
#include <linux/types.h>
#endif

#define SP_EVENT_VERSION 3

enum sp_event_type {
	SP_EV_FUNC_ENTRY = 1,  /* struct sp_func_event: a traced function was entered */
	SP_EV_FUNC_RETURN = 2, /* struct sp_func_event: a traced function returned */
	SP_EV_THREAD_EXIT = 3, /* struct sp_task_event: a thread of a tracked process exited */
	SP_EV_PROC_EXEC = 4,   /* struct sp_exec_event: a process called exec (v2) */
	SP_EV_SOCK_DATA = 5,   /* struct sp_sock_data_event: bytes sent or received on a TCP socket */
	SP_EV_SOCK_CLOSE = 6,  /* struct sp_sock_close_event: a TCP socket we reported on closed */
	SP_EV_LIB_LOADED = 7,  /* struct sp_lib_event: a process loaded a library (dlopen) */
	SP_EV_TLS_SEEN = 8,    /* struct sp_tls_seen_event: a connection starts a TLS handshake */
	SP_EV_PROC_FORK = 9,   /* struct sp_fork_event: a tracked process started a followed one */
	SP_EV_TYPE_MAX,
};

/* Common first member of every record (24 bytes). */
struct sp_event_header {
	__u16 type;    /* enum sp_event_type */
	__u16 size;    /* size of the whole record in bytes */
	__u8 version;  /* SP_EVENT_VERSION of the writer */
	__u8 flags;
	__u16 cpu;     /* CPU that wrote the record */
	__u32 pid;     /* process (thread-group) id */
	__u32 tid;     /* thread id */
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/*
 * Entry and return of a function traced by a uprobe/uretprobe pair.
 * stack_ptr pairs a return with its entry: at entry the stack pointer
 * addresses the return address; after `ret` has popped it, the return probe
 * sees stack_ptr + 8 (x86-64).  Pairing by stack pointer, not by depth,
 * survives lost records, longjmp and recursion.
 */
struct sp_func_event {
	struct sp_event_header hdr;
	__u32 probe_id;  /* index of the symbol in the daemon's probe table */
	__u32 reserved;
	__u64 stack_ptr;
};

#define SP_COMM_LEN 16

/* sp_task_event.hdr.flags: no thread of the process is left alive.
 * Threads that exit together may each say so: the flag is read after a
 * thread has counted itself out, and others may count out before it
 * reaches the record. */
#define SP_TASK_F_PROCESS_EXIT 0x1

/* Thread exit of a tracked process (node-wide: process exit of any). */
struct sp_task_event {
	struct sp_event_header hdr;
	__u32 exit_code; /* task->exit_code */
	__u32 reserved;
	char comm[SP_COMM_LEN];
};

#define SP_EXEC_PATH_LEN 256

/*
 * A process called exec.  The file name is carried because a short-lived
 * process may be gone from /proc by the time the daemon reads the record.
 */
struct sp_exec_event {
	struct sp_event_header hdr;
	char comm[SP_COMM_LEN];
	char filename[SP_EXEC_PATH_LEN]; /* as given to execve, NUL-terminated */
};

/*
 * `trace`: a tracked process (hdr.pid) started a new process, tracked from
 * now on (sp_tracked), so the daemon gives it the function probes too.
 */
struct sp_fork_event {
	struct sp_event_header hdr;
	__u32 child_pid; /* the new process's ID (its thread-group ID) */
	__u32 reserved;
};

/*
 * Indexes of the per-CPU drop counters every BPF object exports as map
 * `sp_drops`: where a record could not be written, it is counted here.
 */
enum sp_drop_reason {
	SP_DROP_RINGBUF_FULL = 0,   /* bpf_ringbuf_reserve failed */
	SP_DROP_READ_FAILED = 1,    /* bpf_probe_read_* failed */
	SP_DROP_MAP_FULL = 2,       /* a state map had no room */
	SP_DROP_SOCK_UNKNOWN_CALL = 3, /* socket I/O from a call we cannot decode (io_uring...) */
	SP_DROP_TLS_NO_SOCKET = 4,  /* TLS plaintext of a session whose socket was never seen */
	SP_DROP_H2_CUT = 5,         /* HTTP/2 frames past SP_SOCK_FRAMES_MAX of a call skipped */
	SP_DROP_H2_LOST = 6,        /* an HTTP/2 frame walk lost its step (restarts later) */
	SP_DROP_REASON_MAX = 8,
};

/*
 * Socket I/O on a TCP connection (IPv4 or IPv6), from the socket
 * send/receive tracepoints.  `sock_id` names the connection while it lives
 * (the kernel's socket, never reused before SP_EV_SOCK_CLOSE); `captured`
 * payload bytes follow the fixed part, the first bytes the call moved, out
 * of `total_len`.  Payload is sent only when the bytes may start or
 * continue an HTTP message; otherwise nothing is sent at all.  Addresses
 * are in network byte order, IPv4 in the first 4 bytes; ports in host
 * order.  `total_len` 0 on SP_SOCK_RECV is end of stream (the peer closed).
 */
enum sp_sock_dir {
	SP_SOCK_SEND = 1,
	SP_SOCK_RECV = 2,
};

enum sp_sock_flags {
	SP_SOCK_F_TRUNCATED = 1 << 0, /* reading the payload failed part way */
	SP_SOCK_F_NO_PAYLOAD = 1 << 1, /* the call has no user buffer (sendfile, splice) */
	SP_SOCK_F_TLS = 1 << 2,        /* plaintext of a TLS library call (sock_id | 1) */
	SP_SOCK_F_FRAMES = 1 << 3,     /* HTTP/2 frames walked: the payload is pieces */
	SP_SOCK_F_START = 1 << 4,      /* a database connection's first bytes this way
					* (TCP's counters; not said for TLS) */
};

#define SP_SOCK_CAPTURE_MAX 4096 /* upper bound of the capture setting */
/* A call captured whole (struct sp_sock_conn.whole) comes as consecutive
 * records of one call each carrying the next part (total_len: its part),
 * up to this many bytes in all; past them, the last record's total_len
 * counts the rest, not captured. */
#define SP_SOCK_WHOLE_MAX (16 * SP_SOCK_CAPTURE_MAX)

/*
 * SP_SOCK_F_FRAMES: the kernel side walked the call's HTTP/2 frames
 * (RFC 9113 section 4.1) and kept their headers and the payloads a span
 * needs (HEADERS, CONTINUATION, PUSH_PROMISE, RST_STREAM, SETTINGS,
 * GOAWAY; the client preface), not the payloads of DATA and the other
 * types.  The payload is then a run of pieces, in the call's order, each
 * a struct sp_sock_piece and its `kept` bytes, then `skip` bytes of the
 * call that are not in the record; the pieces' kept + skip add up to
 * total_len.  Up to SP_SOCK_FRAMES_MAX payload bytes: past them, the
 * rest of the call is skipped.
 */
#define SP_SOCK_FRAMES_MAX 8192

struct sp_sock_piece {
	__u16 kept;
	__u16 skip_lo;      /* skip = skip_hi << 16 | skip_lo (unaligned in the record) */
	__u16 skip_hi;
} __attribute__((packed));

struct sp_sock_data_event {
	struct sp_event_header hdr;
	__u64 sock_id;       /* the kernel socket; | 1: the plaintext of its TLS (SP_SOCK_F_TLS) */
	__s32 fd;           /* the process's descriptor, -1 when unknown */
	__u32 total_len;    /* bytes the call moved */
	__u16 captured;     /* payload bytes following this struct */
	__u8 direction;     /* enum sp_sock_dir */
	__u8 family;        /* AF_INET (2) or AF_INET6 (10) */
	__u16 local_port;
	__u16 peer_port;
	__u16 syscall_nr;   /* the call that moved the bytes (architecture's number) */
	__u8 sock_flags;    /* enum sp_sock_flags */
	/* SP_SOCK_F_FRAMES: the number of this walked call in its direction
	 * (struct sp_sock_h2dir.seq, wrapping), counted whether or not its
	 * record found room: a number skipped means records of the direction
	 * were lost, and the HPACK table with them.  0 otherwise. */
	__u8 h2_seq;
	__u8 reserved[4];
	__u8 peer_addr[16];  /* then local_addr: the order of struct sock_common */
	__u8 local_addr[16];
	/* __u8 data[captured] */
};

/*
 * Value of the BPF map `sp_sock_conns` (key: sock_id), written by the BPF
 * side when a connection's bytes look like HTTP and by the daemon when its
 * parser knows better.  Absent: unknown, each call's first bytes decide.
 * The ports name the connection the entry is for: a kernel socket freed and
 * reused at the same address for a new connection must not inherit it (a
 * verdict can reach the map after its socket closed).
 */
enum sp_sock_conn_state {
	SP_SOCK_CONN_HTTP = 1,   /* a decoder's: capture every call (HTTP/1, databases) */
	SP_SOCK_CONN_IGNORE = 2, /* not HTTP: send nothing until close */
	SP_SOCK_CONN_H2 = 3,     /* HTTP/2: capture every call, frame by frame */
};

/*
 * Where the frame walk of one direction of an SP_SOCK_CONN_H2 connection
 * stands between calls (the BPF side's own; the daemon writes zeros).
 */
struct sp_sock_h2dir {
	__u32 need;      /* bytes of the current frame's payload (or the preface) to come */
	__u8 keep;       /* those bytes go into the record */
	__u8 hdr_have;   /* bytes of the next frame header seen (0..8) */
	__u8 synced;     /* in step; 0: the next call must start at a frame header */
	__u8 seq;        /* calls walked, wrapping (sp_sock_data_event.h2_seq) */
	__u32 head;      /* its first 4 bytes (length, type) as far as seen, first lowest */
};

struct sp_sock_conn {
	__u8 state;  /* enum sp_sock_conn_state */
	/* SP_SOCK_CONN_HTTP: bit (1 << direction) per direction whose calls
	 * are captured whole, up to SP_SOCK_WHOLE_MAX bytes a call, in
	 * records of up to SP_SOCK_CAPTURE_MAX (a database client's
	 * requests: a pipeline of commands, a statement and its execution in
	 * one write); the others, their first bytes only. */
	__u8 whole;
	/* Set with the entry by the kernel side when the call that made it
	 * moved its direction's first bytes: that call's record says so
	 * (SP_SOCK_F_START), and this goes back to 0.  The daemon writes 0. */
	__u8 start;
	__u8 reserved;
	__u16 local_port, peer_port; /* host order, as in the data records */
	struct sp_sock_h2dir h2[2]; /* [direction - 1] */
};

/*
 * Value of the BPF array `sp_sock_known`: a direct-mapped table of judged
 * connections, one slot per hash of the socket (sp_sock_known_slot()),
 * read by every socket call before any map lookup.  A slot holds one
 * socket and its ports: the directions whose first bytes were not HTTP
 * (both: the connection is not, for good), or the verdict of its plain
 * stream, a copy of `sp_sock_conns`' that spares the hash lookup on every
 * call when it is "ignore", or HTTP with no direction captured whole (a
 * whole direction's capture, and HTTP/2's frame walk, whose state lives
 * in the map, still take the map's entry).  Two sockets on one slot: the
 * later wins, the earlier is looked up in the map again.  The BPF side
 * fills it; the daemon rewrites a slot holding the connection it gives a
 * verdict, after the map; TCP_CLOSE frees it.
 */
#define SP_SOCK_KNOWN_BITS 14

struct sp_sock_known {
	__u64 sk;     /* the kernel socket; 0: free */
	__u32 ports;  /* skc_portpair as the socket holds it: peer port in
		       * network order, low; local port, host order, high */
	__u8 dirs;    /* bit (1 << direction) per direction judged not HTTP */
	__u8 state;   /* enum sp_sock_conn_state of the plain stream; 0: none */
	__u8 whole;   /* with SP_SOCK_CONN_HTTP: as sp_sock_conn.whole */
	__u8 reserved;
};

/* The slot of socket `sk` (sockets are 64-byte aligned at least). */
static inline __u32 sp_sock_known_slot(__u64 sk)
{
	return (__u32)(((sk >> 6) * 0x9e3779b97f4a7c15ULL) >> (64 - SP_SOCK_KNOWN_BITS));
}

/*
 * The first bytes of a TCP connection of process hdr.pid are a TLS
 * handshake record: its plaintext is seen only if a probed TLS library
 * handles it.  Once per connection (the connection is then ignored).
 */
struct sp_tls_seen_event {
	struct sp_event_header hdr;
	__u64 sock_id;
	__u8 direction;     /* enum sp_sock_dir of the call that carried it */
	__u8 reserved[7];
};

/* dlopen returned a library in process hdr.pid: its maps changed. */
struct sp_lib_event {
	struct sp_event_header hdr;
};

/*
 * The kernel released a TCP socket that had SP_EV_SOCK_DATA records (state
 * TCP_CLOSE); its TLS plaintext stream (sock_id | 1), if any, ends too.  hdr.pid/tid name whatever task was running (often a softirq
 * on behalf of nobody): match by sock_id only.
 */
struct sp_sock_close_event {
	struct sp_event_header hdr;
	__u64 sock_id;
	__u8 old_state;     /* TCP state before closing */
	__u8 reserved[7];
};

#define SP_ASSERT_LAYOUT(type, size_)                                          \
	_Static_assert(sizeof(type) == (size_), #type " layout changed")

SP_ASSERT_LAYOUT(struct sp_event_header, 24);
SP_ASSERT_LAYOUT(struct sp_func_event, 40);
SP_ASSERT_LAYOUT(struct sp_task_event, 48);
SP_ASSERT_LAYOUT(struct sp_exec_event, 296);
SP_ASSERT_LAYOUT(struct sp_lib_event, 24);
SP_ASSERT_LAYOUT(struct sp_fork_event, 32);
SP_ASSERT_LAYOUT(struct sp_tls_seen_event, 40);
_Static_assert(__builtin_offsetof(struct sp_func_event, stack_ptr) == 32,
	       "sp_func_event.stack_ptr moved");
SP_ASSERT_LAYOUT(struct sp_sock_data_event, 88);
SP_ASSERT_LAYOUT(struct sp_sock_close_event, 40);
SP_ASSERT_LAYOUT(struct sp_sock_conn, 32);
SP_ASSERT_LAYOUT(struct sp_sock_piece, 6);
_Static_assert(__builtin_offsetof(struct sp_sock_data_event, captured) == 40,
	       "sp_sock_data_event.captured moved");
_Static_assert(__builtin_offsetof(struct sp_sock_data_event, peer_addr) == 56 &&
	       __builtin_offsetof(struct sp_sock_data_event, local_addr) == 72,
	       "sp_sock_data_event's addresses moved");

#endif /* SPANPROBE_EVENTS_H */
