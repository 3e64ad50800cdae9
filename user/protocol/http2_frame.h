/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 frames of one direction of a connection, from captured chunks
 * (RFC 9113 section 4): the walker reads 9-byte frame headers and walks
 * their payloads, whatever the chunk boundaries (a frame split across
 * reads, several frames in one), and hands its user what the decoder
 * needs: header block fragments without padding or priority fields,
 * SETTINGS parameters, the fixed fields of RST_STREAM and GOAWAY, the
 * length of a DATA frame's data.
 *
 * A chunk may carry only its first bytes (captured < total): the rest is
 * a gap of known length.  A gap inside a payload is skipped by its length
 * (a DATA frame whose payload was not captured still counts); a gap where
 * a frame header is, or one that runs past the frame it started in, loses
 * the direction's step: it says so once (lost()), counts it, and reads
 * nothing more until a chunk that provably starts at a frame boundary
 * (http2_frame_chain_fits()).  Frame headers that break the rules of
 * their type (RFC 9113 section 6) are taken as a loss of step too: a
 * real peer would have closed the connection on them.
 */
#ifndef SPANPROBE_HTTP2_FRAME_H
#define SPANPROBE_HTTP2_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H2_FRAME_HEADER_LEN 9
/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 section 3.4). */
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

enum h2_frame_type {
	H2_DATA = 0,
	H2_HEADERS = 1,
	H2_PRIORITY = 2,
	H2_RST_STREAM = 3,
	H2_SETTINGS = 4,
	H2_PUSH_PROMISE = 5,
	H2_PING = 6,
	H2_GOAWAY = 7,
	H2_WINDOW_UPDATE = 8,
	H2_CONTINUATION = 9,
};

enum {
	H2_FLAG_END_STREAM = 0x1, /* DATA, HEADERS; ACK on SETTINGS, PING */
	H2_FLAG_END_HEADERS = 0x4,
	H2_FLAG_PADDED = 0x8,
	H2_FLAG_PRIORITY = 0x20,
};

/* SETTINGS_HEADER_TABLE_SIZE (RFC 9113 section 6.5.2). */
#define H2_SETTINGS_HEADER_TABLE_SIZE 1

struct h2_frame {
	uint64_t first_ns; /* the chunk that held its first byte */
	uint32_t length;   /* of the payload */
	uint32_t stream;   /* reserved bit cleared */
	uint8_t type, flags;
};

/* What a frame's fixed fields said, at its end. */
struct h2_frame_end {
	/* DATA: the data, without the padding (when the pad length was
	 * captured; without it, the payload less the pad length byte). */
	uint32_t data_len;
	uint32_t error_code;  /* RST_STREAM, GOAWAY */
	uint32_t last_stream; /* GOAWAY */
	bool fields_known;    /* RST_STREAM, GOAWAY: the fields were captured */
};

/* The walker's user; every callback gets `user`. */
struct h2_frame_ops {
	/* A frame header was read; its payload follows. */
	void (*begin)(void *user, const struct h2_frame *f);
	/* Bytes of the header block fragment of a HEADERS, PUSH_PROMISE or
	 * CONTINUATION frame, in order (its end is the frame's end()). */
	void (*fragment)(void *user, const struct h2_frame *f, const uint8_t *p,
			 size_t n);
	/* Some of the frame's fragment was not captured (said once). */
	void (*fragment_cut)(void *user, const struct h2_frame *f);
	/* One SETTINGS parameter (not ACKs). */
	void (*setting)(void *user, uint16_t id, uint32_t value);
	/* Every byte of the frame was read or skipped. */
	void (*end)(void *user, const struct h2_frame *f,
		    const struct h2_frame_end *e);
	/* The direction lost its step (the walker counted it). */
	void (*lost)(void *user);
};

enum h2_walk_state {
	H2W_PREFACE = 0, /* the client preface comes first */
	H2W_HEADER,      /* at or inside a frame header */
	H2W_PAYLOAD,
	H2W_LOST,        /* out of step: waits for a frame boundary */
};

/* One direction.  Fields are private to http2_frame.c. */
struct h2_walker {
	uint8_t state;       /* enum h2_walk_state */
	uint8_t hdr_len;     /* bytes of hdr[] read */
	uint8_t preface_pos; /* bytes of the preface matched */
	uint8_t lead;        /* payload bytes before the fragment or data */
	uint8_t pad;         /* pad length, when pad_known */
	uint8_t pad_known;
	uint8_t frag_cut;    /* fragment_cut() was said for this frame */
	uint32_t cut_at;     /* payload offset of the first gap (or UINT32_MAX) */
	uint8_t hdr[H2_FRAME_HEADER_LEN];
	uint8_t fixed[8];    /* pad length, priority, ids, codes, a setting */
	uint32_t pos;        /* payload bytes walked */
	uint64_t first_ns;   /* the chunk of the frame header's first byte */
	struct h2_frame f;
	uint32_t losses;     /* times the step was lost */
	uint32_t resyncs;    /* times it was found again */
};

/* Start a direction: after the client preface (`preface`) or at a frame
 * boundary; `lost`: out of step until a chunk proves a boundary. */
void http2_frame_init(struct h2_walker *w, bool preface, bool lost);

/*
 * Walk one chunk of time `ts_ns`: its first `captured` bytes `p`, and a
 * gap of total - captured bytes after them.  Returns 0, or -EPROTO when
 * the preface was expected and the bytes are not it (the walker is then
 * lost).
 */
int http2_frame_walk(struct h2_walker *w, const uint8_t *p, size_t captured,
		     size_t total, uint64_t ts_ns, const struct h2_frame_ops *ops,
		     void *user);

/* True when the walker expects a frame header next, none begun. */
bool http2_frame_between(const struct h2_walker *w);

/* Bytes of unknown length went by unseen (records lost): the walker is
 * lost, as after a frame header in a gap, even when it already was. */
void http2_frame_lose(struct h2_walker *w, const struct h2_frame_ops *ops, void *user);

/* True when `p` (n bytes) is, byte for byte, a prefix of the preface. */
bool http2_frame_is_preface(const uint8_t *p, size_t n);

/*
 * True when the chunk's bytes are whole frames: its first `captured` bytes
 * hold well-formed frame headers of known types, each payload starting
 * where the one before ended, and the last frame ends exactly at `total`
 * (so a chunk that starts mid-frame is not taken for one that starts a
 * frame, unless its bytes line up by chance over its whole length).
 */
bool http2_frame_chain_fits(const uint8_t *p, size_t captured, size_t total);

/* Decode a frame header (9 bytes).  Returns false when it breaks the rules
 * of its type; `strict` also refuses unknown types and the reserved bit. */
bool http2_frame_parse(const uint8_t *p, struct h2_frame *f, bool strict);

#endif /* SPANPROBE_HTTP2_FRAME_H */
