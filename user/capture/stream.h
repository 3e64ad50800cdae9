/* SPDX-License-Identifier: MIT */
/*
 * What capture hands up for connections: stream data (one read or write
 * of a connection, its first bytes or only its size) and the end of a
 * connection, whatever kernel hook saw them.  Capture knows no protocol;
 * the protocol layer implements struct stream_sink and tells capture, per
 * connection, whether the kernel side should keep sending its bytes
 * (stream_verdict_fn).
 */
#ifndef SPANPROBE_STREAM_H
#define SPANPROBE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Direction as the traced process sees it. */
enum stream_dir { STREAM_IN = 0, STREAM_OUT = 1 };

/* One end of a TCP connection.  IPv4 is stored as family 2, 4 bytes. */
struct stream_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

/* One read or write: the first `captured` of `total_len` bytes. */
struct stream_chunk {
	uint64_t conn_id; /* the kernel socket: unique while it lives */
	uint64_t ts_ns;   /* CLOCK_MONOTONIC */
	uint32_t pid, tid;
	enum stream_dir dir;
	const struct stream_addr *local, *peer;
	const void *data;
	size_t captured, total_len;
	bool tls;         /* plaintext read or written at a TLS library */
	/* An HTTP/2 call whose frames the kernel walked: its number in its
	 * direction (sp_sock_data_event.h2_seq); one skipped is a lost record. */
	bool has_seq;
	uint8_t seq;
	/* The call moved the first bytes of its direction of a database
	 * connection (SP_SOCK_F_START): it is seen from its start. */
	bool start;
};

struct stream_sink {
	void (*data)(void *ctx, const struct stream_chunk *chunk);
	/* The socket was released at `ts_ns`. */
	void (*close)(void *ctx, uint64_t conn_id, uint64_t ts_ns);
	void *ctx;
};

/* What the kernel side should do with a connection's further I/O. */
enum stream_verdict {
	STREAM_VERDICT_NONE = 0, /* undecided: keep looking at first bytes */
	STREAM_VERDICT_DECODE,   /* a decoder takes it: send its bytes */
	STREAM_VERDICT_IGNORE,   /* no decoder wants it: sizes only, or nothing */
	STREAM_VERDICT_FRAMES,   /* a decoder of HTTP/2 takes it: walk its frames */
	/* A decoder takes it and needs every byte of one direction's calls
	 * (its requests: a pipeline of commands in one write), not only
	 * the first: OUT, what the process sends; IN, what it receives. */
	STREAM_VERDICT_WHOLE_OUT,
	STREAM_VERDICT_WHOLE_IN,
	STREAM_VERDICT_WHOLE_BOTH, /* both ways (replies to a pipeline too) */
};

/*
 * Tell the kernel side the verdict on `conn_id`, the connection between
 * `local_port` and `peer_port` (a later socket at the same address is
 * another connection).  Returns 0 or a negative errno (the kernel side
 * then keeps judging by itself).
 */
typedef int (*stream_verdict_fn)(void *ctx, uint64_t conn_id,
				 uint16_t local_port, uint16_t peer_port,
				 enum stream_verdict verdict);

/* Format `a`'s address (IPv4-mapped IPv6 as IPv4) into `buf` (>= 46
 * bytes).  Returns buf (empty when it cannot be formatted). */
const char *stream_addr_str(const struct stream_addr *a, char *buf, size_t size);

/* `a`'s address as 16 bytes, IPv4 as IPv4-mapped IPv6 (so a v4 client
 * matches a dual-stack server). */
void stream_addr_v6(const struct stream_addr *a, uint8_t out[16]);

/* True when `x` and `y` are one address and port (IPv4 or mapped). */
bool stream_addr_same(const struct stream_addr *x, const struct stream_addr *y);

struct sockaddr;

/* `sa` (AF_INET or AF_INET6) as a stream_addr.  Returns 0 or -EAFNOSUPPORT. */
int stream_addr_from_sockaddr(const struct sockaddr *sa, struct stream_addr *out);

#endif /* SPANPROBE_STREAM_H */
