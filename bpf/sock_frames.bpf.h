/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The HTTP/2 frame walk of one socket call (SP_SOCK_F_FRAMES records,
 * see events.h): a write often carries a large DATA frame and then the
 * HEADERS frame of a gRPC status, and a server answers many streams in
 * one writev of hundreds of segments.  The first bytes of such a call
 * miss what a span needs; instead the 9-byte frame headers are walked
 * through the whole call, its segments in order, and the record keeps
 * every frame header and the payloads of the types that carry header
 * blocks or codes, and only the lengths of the others.
 *
 * The walk of one direction goes on across calls (a frame and even a
 * frame header may be split between two reads): struct sp_sock_h2dir in
 * the connection's map entry says where it stands.  One step of the walk
 * is one bpf_loop() iteration (Linux 5.17): a piece of a frame header, a
 * run of payload, or the next segment.  Where the kernel has no
 * bpf_loop(), the branch that calls it is dead code the verifier never
 * sees, and HTTP/2 is captured by its first bytes, as HTTP/1.x is.
 */
#ifndef SPANPROBE_SOCK_FRAMES_BPF_H
#define SPANPROBE_SOCK_FRAMES_BPF_H

#include "common.bpf.h"

#define SOCK_H2_HEADER_LEN 9
/* Steps per call: a frame takes two or three, a segment one more.
 * Past them the rest of the call is skipped and the walk restarts at
 * the next call that starts at a frame header. */
#define SOCK_H2_STEPS_MAX 8192
/* Segments of a readv/writev/sendmsg/recvmsg walked (UIO_MAXIOV). */
#define SOCK_H2_IOV_MAX 1024

/* Walking frames needs bpf_loop() (Linux 5.17). */
static __always_inline bool sock_frames__available(void)
{
	return bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop);
}

/* RFC 9113 section 6: the types whose payload the record keeps. */
static __always_inline bool sock_frames__keep_type(__u8 type)
{
	switch (type) {
	case 1: /* HEADERS */
	case 3: /* RST_STREAM */
	case 4: /* SETTINGS (the header table size) */
	case 5: /* PUSH_PROMISE */
	case 7: /* GOAWAY */
	case 9: /* CONTINUATION */
		return true;
	}
	return false;
}

/* The walk of one call; lives on the caller's stack. */
struct sock_frames_walk {
	__u8 *data;                /* the record's payload (scratch) */
	struct sp_sock_h2dir *st;  /* the direction's walk (map entry) */
	const struct iovec *iov;   /* NULL: one buffer */
	__u64 iovcnt;
	__u64 ptr;                 /* where the walk is in user memory */
	__u32 seg_left;            /* bytes left in the current segment */
	__u32 seg_i;               /* the next segment */
	__u32 left;                /* bytes of the call not yet walked */
	__u32 piece;               /* offset of the current piece's header */
	__u32 kept, skip;          /* of the current piece */
	__u32 out;                 /* payload bytes written */
	bool cut;                  /* the record ran out of room */
};

#define SOCK_H2_ROOM_MASK (SP_SOCK_FRAMES_MAX - 1)

/* Write the current piece's header (skip after kept, see events.h). */
static __always_inline void sock_frames__close_piece(struct sock_frames_walk *w)
{
	struct sp_sock_piece p = {
		.kept = w->kept, .skip_lo = w->skip & 0xffff, .skip_hi = w->skip >> 16,
	};

	bpf_probe_read_kernel(&w->data[w->piece & SOCK_H2_ROOM_MASK], sizeof(p), &p);
}

/* Keep the next `n` bytes of the call, as room allows; the rest of them
 * is skipped. */
static __always_inline void sock_frames__keep(struct sock_frames_walk *w, __u32 n)
{
	__u32 k = n;

	if (w->skip) { /* skipped bytes end a piece: start another */
		if (w->out + sizeof(struct sp_sock_piece) >= SP_SOCK_FRAMES_MAX) {
			/* No room for its header: the rest is skipped. */
			if (!w->cut) {
				w->cut = true;
				common__count_drop(SP_DROP_H2_CUT);
			}
			w->skip += n;
			return;
		}
		sock_frames__close_piece(w);
		w->piece = w->out;
		w->out += sizeof(struct sp_sock_piece);
		w->kept = 0;
		w->skip = 0;
	}
	if (w->out >= SP_SOCK_FRAMES_MAX)
		k = 0;
	else if (k > SP_SOCK_FRAMES_MAX - w->out)
		k = SP_SOCK_FRAMES_MAX - w->out;
	if (k < n && !w->cut) {
		w->cut = true;
		common__count_drop(SP_DROP_H2_CUT);
	}
	/* out >= 6: k < SP_SOCK_FRAMES_MAX, and the mask is for the verifier */
	barrier_var(k);
	k &= SOCK_H2_ROOM_MASK;
	if (k && bpf_probe_read_user(&w->data[w->out & SOCK_H2_ROOM_MASK], k,
				     (const void *)w->ptr))
		common__count_drop(SP_DROP_READ_FAILED);
	w->out += k;
	w->kept += k;
	w->skip += n - k;
}

/* Move to the next segment of a vector; false when there is none. */
static __always_inline bool sock_frames__next_segment(struct sock_frames_walk *w)
{
	struct iovec seg;

	if (!w->iov || w->seg_i >= w->iovcnt || w->seg_i >= SOCK_H2_IOV_MAX)
		return false;
	if (bpf_probe_read_user(&seg, sizeof(seg), &w->iov[w->seg_i]))
		return false;
	w->seg_i++;
	w->ptr = (__u64)seg.iov_base;
	w->seg_left = seg.iov_len < w->left ? seg.iov_len : w->left;
	return true;
}

/* Up to `n` bytes of a frame header (the rest of it, at most); at its
 * ninth, its payload is what comes next.  Only the length and the type
 * (its first four bytes) are kept between calls. */
static __always_inline __u32 sock_frames__header(struct sock_frames_walk *w, __u32 n)
{
	struct sp_sock_h2dir *st = w->st;
	__u32 have = st->hdr_have, head, m;
	__u64 b[2] = {};

	if (have >= SOCK_H2_HEADER_LEN)
		have = 0;
	if (n > SOCK_H2_HEADER_LEN - have)
		n = SOCK_H2_HEADER_LEN - have;
	/* n <= 9; the mask is a bound older verifiers see on the very
	 * register the call takes */
	m = n;
	barrier_var(m);
	m &= 15;
	if (bpf_probe_read_user(b, m, (const void *)w->ptr))
		common__count_drop(SP_DROP_READ_FAILED);
	if (have == 0)
		st->head = 0;
	if (have < 4)
		st->head |= (__u32)(b[0] << (8 * (have & 3)));
	sock_frames__keep(w, n);
	have += n;
	st->hdr_have = have;
	if (have == SOCK_H2_HEADER_LEN) {
		head = st->head;
		st->need = (head & 0xff) << 16 | (head & 0xff00) | ((head >> 16) & 0xff);
		st->keep = sock_frames__keep_type(head >> 24);
		st->hdr_have = 0;
	}
	return n;
}

/* One step of the walk (a bpf_loop() callback); 1 ends it. */
static long sock_frames__step(__u32 i, void *ctx)
{
	struct sock_frames_walk *w = ctx;
	struct sp_sock_h2dir *st = w->st;
	__u32 n;

	if (w->left == 0)
		return 1;
	if (w->seg_left == 0)
		return sock_frames__next_segment(w) ? 0 : 1;
	if (st->need) {
		n = st->need < w->seg_left ? st->need : w->seg_left;
		if (st->keep)
			sock_frames__keep(w, n);
		else
			w->skip += n;
		st->need -= n;
	} else {
		n = sock_frames__header(w, w->seg_left);
	}
	w->ptr += n;
	w->seg_left -= n;
	w->left -= n;
	return 0;
}

/* The record's payload, as a type: a global function's pointer
 * argument is memory of its type's size. */
struct sock_frames_room {
	__u8 b[SP_SOCK_FRAMES_MAX * 2]; /* twice: keeps offset + length in bounds */
};

/*
 * Walk the call's bytes (at user address `buf`, or in the `iovcnt`
 * segments at `iov`; `total` of them) into `room`, the walk of direction
 * `dir` of `conn` going on; call = dir << 48 | iovcnt << 32 | total.
 * Returns the payload bytes written.  A call the walk could not finish
 * (too many steps or segments, an unreadable vector) leaves the
 * direction out of step.  Global, not inlined: the verifier checks it
 * once, not once for every path of every caller that reaches it (its
 * pointers are whole objects: a map entry's field at a variable offset
 * is not an argument older verifiers take).
 */
__noinline int sock_frames_walk(struct sock_frames_room *room, struct sp_sock_conn *conn,
				__u64 buf, __u64 iov, __u64 call)
{
	struct sock_frames_walk w = {};
	__u32 total = (__u32)call;
	struct sp_sock_h2dir *st;

	if (!room || !conn || !sock_frames__available())
		return 0;
	st = &conn->h2[((call >> 48) - 1) & 1];
	w.data = room->b;
	w.st = st;
	w.iov = buf ? NULL : (const struct iovec *)iov;
	w.iovcnt = (call >> 32) & 0xffff;
	w.ptr = buf;
	w.seg_left = buf ? total : 0;
	w.left = total;
	w.out = sizeof(struct sp_sock_piece);
	bpf_loop(SOCK_H2_STEPS_MAX, sock_frames__step, &w, 0);
	if (w.left) {
		w.skip += w.left;
		st->synced = 0;
		st->need = 0;
		st->hdr_have = 0;
		common__count_drop(SP_DROP_H2_LOST);
	}
	sock_frames__close_piece(&w);
	return w.out;
}

/*
 * A frame header a direction out of step may restart at: a type of RFC
 * 9113, the reserved bit clear, a stream id where the type needs one
 * (and none where it must not), and lengths the type allows.
 */
static __always_inline bool sock_frames__plausible(const __u64 *w)
{
	__u32 len = (w[0] & 0xff) << 16 | (w[0] & 0xff00) | ((w[0] >> 16) & 0xff);
	__u8 type = (w[0] >> 24) & 0xff;
	__u32 stream = ((w[0] >> 40) & 0xff) << 24 | ((w[0] >> 48) & 0xff) << 16 |
		       ((w[0] >> 56) & 0xff) << 8 | (w[1] & 0xff);

	if (type > 9 || (stream & 0x80000000))
		return false;
	switch (type) {
	case 4: /* SETTINGS */
		return stream == 0 && len % 6 == 0;
	case 6: /* PING */
		return stream == 0 && len == 8;
	case 7: /* GOAWAY */
		return stream == 0 && len >= 8;
	case 8: /* WINDOW_UPDATE */
		return len == 4;
	case 3: /* RST_STREAM */
		return stream != 0 && len == 4;
	case 2: /* PRIORITY */
		return stream != 0 && len == 5;
	}
	return stream != 0;
}

/*
 * The first bytes of a call on a connection not seen before (it was open
 * before spanprobe started) are a whole HEADERS frame that starts a
 * request or answers one: the connection is taken for HTTP/2 from here.
 * Strict, as binary protocols abound: END_HEADERS, flags HEADERS defines,
 * an odd (client-opened) stream, a length the default SETTINGS_MAX_FRAME_SIZE
 * allows and the call holds.
 */
static __always_inline bool sock_frames__starts_headers(const __u64 *w, __u32 total)
{
	__u32 len = (w[0] & 0xff) << 16 | (w[0] & 0xff00) | ((w[0] >> 16) & 0xff);
	__u8 type = (w[0] >> 24) & 0xff, flags = (w[0] >> 32) & 0xff;
	__u8 last = w[1] & 0xff; /* the stream id's low byte */

	return type == 1 && (flags & 0x4) && !(flags & ~0x2d) && !((w[0] >> 40) & 0x80) &&
	       (last & 1) && len > 0 && len <= 16384 && len + SOCK_H2_HEADER_LEN <= total;
}

#endif /* SPANPROBE_SOCK_FRAMES_BPF_H */
