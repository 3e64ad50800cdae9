/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 streams from captured socket chunks: a frame walker per
 * direction (http2_frame.h), an HPACK inflater per direction (nghttp2's),
 * and a table of the streams in flight.  One request/response stream
 * comes out as one struct http2_stream when the response ends
 * (END_STREAM), when either side resets it (RST_STREAM), when a GOAWAY
 * says it was never processed, or when the connection closes.
 *
 * The connection is recognised by the client preface (its direction says
 * which side the process is), or, best effort and counted, from frame
 * headers that line up over a whole chunk (a connection first seen in
 * the middle).  Without the preface, the side that sends :method is the
 * client.
 *
 * Missing state is honest.  A header block whose bytes were not captured,
 * or that nghttp2 cannot inflate, ends that direction's dynamic table:
 * what the block gave before the failure is kept, the rest of its headers
 * are left out and the stream is marked partial (counted).  The next
 * block of that direction is inflated from an empty table, which cannot
 * resolve an index to a wrong entry: the encoder's newest entries are
 * the inflater's, at the same indexes, and an index past what it holds
 * fails the block instead (RFC 7541 section 2.3.3).  So headers are
 * decoded right or not at all.
 *
 * Memory: the state below lives in the connection table; each stream in
 * flight takes one struct http2_stream from the heap (HTTP2_STREAMS_MAX
 * at most: a stream past that is dropped and counted) and a pointer in an
 * array that grows with them (kept until the connection goes: 1 KiB at
 * most), each inflater its
 * dynamic table (HTTP2_HPACK_TABLE_MAX at most) and nghttp2's buffers.
 * http2_release() frees all of it.
 */
#ifndef SPANPROBE_HTTP2_H
#define SPANPROBE_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/http2_frame.h"

/* Streams one connection may have in flight: more are dropped and
 * counted.  nginx allows 128 at once by default, h2load's -m 100 fits. */
#define HTTP2_STREAMS_MAX 128
/* The largest dynamic table an inflater accepts (the encoder may use what
 * the decoder's SETTINGS_HEADER_TABLE_SIZE allowed; past this, the block
 * fails and is left out). */
#define HTTP2_HPACK_TABLE_MAX 65536
/* The protocol's initial table size (RFC 9113 section 6.5.2). */
#define HTTP2_HPACK_TABLE_DEFAULT 4096
/* A header block gathered for hpack.h: larger ones are left out. */
#define HTTP2_BLOCK_MAX 65536

#define HTTP2_METHOD_MAX 24
#define HTTP2_PATH_MAX 256
#define HTTP2_QUERY_MAX 128
#define HTTP2_AUTHORITY_MAX 128
#define HTTP2_UA_MAX 256
#define HTTP2_TRACEPARENT_MAX 64 /* as HTTP1_TRACEPARENT_MAX */
#define HTTP2_GRPC_MESSAGE_MAX 128

enum http2_role { HTTP2_ROLE_UNKNOWN = 0, HTTP2_ROLE_SERVER, HTTP2_ROLE_CLIENT };

/* Directions, as enum stream_dir: what the process reads and writes. */
enum http2_dir { HTTP2_IN = 0, HTTP2_OUT = 1 };

/* What one header block said (strings NUL-terminated, "" when absent). */
struct http2_fields {
	char method[HTTP2_METHOD_MAX];
	char path[HTTP2_PATH_MAX];   /* :path before '?' */
	char query[HTTP2_QUERY_MAX]; /* after '?', without it */
	char authority[HTTP2_AUTHORITY_MAX]; /* :authority (or host), no userinfo */
	char user_agent[HTTP2_UA_MAX];
	char traceparent[HTTP2_TRACEPARENT_MAX];
	char grpc_message[HTTP2_GRPC_MESSAGE_MAX]; /* as sent: percent-encoded */
	uint64_t grpc_timeout_ns; /* 0: none */
	int32_t grpc_status;      /* -1: none */
	uint16_t status;          /* :status; 0: none */
	uint8_t grpc;             /* content-type application/grpc[+-;]... */
	uint8_t truncated;        /* a kept value was cut to its field */
};

/* struct http2_stream.flags */
enum {
	H2S_ANNOUNCED = 1u << 0,      /* `seq` counts in requests started */
	H2S_REQ_END = 1u << 1,        /* the request's END_STREAM was seen */
	H2S_RESP_HEADERS = 1u << 2,   /* a final response's headers came */
	H2S_RESP_END = 1u << 3,       /* the response's END_STREAM */
	H2S_RESET = 1u << 4,          /* RST_STREAM ended it */
	H2S_RESET_BY_CLIENT = 1u << 5,
	H2S_RESET_CODE = 1u << 6,     /* rst_code was captured */
	H2S_REFUSED = 1u << 7,        /* past the last stream of a GOAWAY */
	H2S_CLOSED = 1u << 8,         /* the connection closed first */
	H2S_REQ_PARTIAL = 1u << 9,    /* request headers left out */
	H2S_RESP_PARTIAL = 1u << 10,  /* response headers or trailers left out */
	H2S_REQ_BODY_LOST = 1u << 11, /* DATA of the request went uncounted */
	H2S_RESP_BODY_LOST = 1u << 12,
	H2S_TRAILERS = 1u << 13,      /* the response ended with trailers */
	H2S_END_LOST = 1u << 14,      /* pushed out of a full table: in flight
				       * when bytes were lost, its end unseen */
	H2S_AT_LOSS = 1u << 15,       /* in flight when records were lost in
				       * the kernel (protocol.h) */
};

/* One stream: its request's fields, what the response said, sizes and
 * times (the ts_ns of the chunks that held the first HEADERS and the end). */
struct http2_stream {
	uint32_t id;
	uint32_t seq; /* with H2S_ANNOUNCED: the request's number */
	uint32_t flags;
	uint32_t rst_code; /* with H2S_RESET_CODE */
	uint64_t start_ns, end_ns;
	int64_t req_body, resp_body; /* DATA bytes, padding excluded */
	uint16_t status;
	int32_t grpc_status; /* -1: none */
	char grpc_message[HTTP2_GRPC_MESSAGE_MAX];
	struct http2_fields req;
};

/* Counters per connection; nothing is lost without being counted here. */
struct http2_stats {
	uint32_t streams;        /* streams that came out */
	uint32_t table_full;     /* streams dropped: HTTP2_STREAMS_MAX in flight */
	uint32_t no_memory;      /* streams or inflaters not allocated */
	uint32_t hpack_failures; /* header blocks cut or not inflated */
	uint32_t partial;        /* streams that came out with headers left out */
	uint32_t losses;         /* a direction lost its frame step */
	uint32_t orphan_blocks;  /* header blocks of streams not seen */
	uint32_t midstream;      /* picked up without the preface (0 or 1) */
	uint32_t hpack_unknown;  /* fields left out: they named table entries
				  * from before the table was lost */
	uint32_t end_lost;       /* streams pushed out of a full table, their
				  * end in bytes not seen */
	uint32_t calls_lost;     /* times a direction's numbered calls skipped
				  * a number: records lost (http2_call_seq()) */
	uint32_t tables_kept;    /* of those, the table kept: the encoder was
				  * adding no entries */
};

/* One direction's frames and header blocks.  Private to http2.c. */
struct http2_half {
	struct h2_walker w;
	struct nghttp2_hd_inflater *hd; /* NULL: made at the next block */
	/* Once the table was lost (a gap, or picked up after the preface):
	 * the decoder that learns it again (hpack.h), fed whole blocks
	 * gathered in `blk`; `hd` is not used again. */
	struct hpack_dec *tol;
	uint8_t *blk;
	uint32_t blk_len, blk_cap;
	uint32_t table_max;  /* the largest table the peer's SETTINGS allow */
	uint32_t table_told; /* what `hd` was told */
	uint32_t block_stream; /* the open header block's stream (0: none) */
	uint64_t block_ns;     /* chunk of its first frame */
	uint8_t in_block;      /* CONTINUATION frames expected */
	uint8_t block_push;    /* a PUSH_PROMISE's block: inflated, not kept */
	uint8_t block_end_stream;
	uint8_t block_bad;     /* headers left out from some point on */
	uint8_t seq;           /* the last call number seen (http2_call_seq()) */
	uint8_t seq_known;
	uint8_t seq_lost;      /* calls before the next chunk were lost */
	uint8_t adds;          /* the last eight blocks, newest lowest: bit
				* set when the block changed the table */
	uint64_t table_at;     /* table_mark() as the open block began */
	struct http2_fields fields; /* what the open block said so far */
};

struct http2_conn {
	uint8_t state; /* private: new, HTTP/2, not HTTP/2 */
	uint8_t role;  /* enum http2_role */
	uint16_t n_streams;
	uint32_t req_seq;   /* requests started (streams announced) */
	uint32_t told;      /* of them, told to the stage above */
	uint32_t max_req_stream; /* highest stream id a request opened */
	uint64_t now_ns;    /* the chunk being fed */
	uint32_t loss_epoch; /* proto_loss_epoch when its streams were told */
	struct http2_stats stats;
	struct http2_half half[2]; /* by enum http2_dir */
	/* The streams in flight, `n_streams` of `streams_cap`: an array
	 * from the heap that doubles up to HTTP2_STREAMS_MAX (not inside
	 * the state, which every connection's entry in the table holds). */
	struct http2_stream **streams;
	uint16_t streams_cap;
};

/* What comes out of a connection. */
struct http2_cbs {
	/* A stream ended (`s` lives until the call returns). */
	void (*stream)(const struct http2_stream *s, enum http2_role role,
		       void *user);
	/* Called before a stream whose request was counted in this very
	 * chunk comes out: the stage above learns of it first.  May be NULL. */
	void (*announce)(void *user);
	void *user;
};

/* Set up `c` (its memory may hold anything; release one in use first). */
void http2_init(struct http2_conn *c);

/* Free the streams and inflaters; `c` is then as after http2_init().
 * Accepts NULL. */
void http2_release(struct http2_conn *c);

/*
 * The next chunks of `dir` are of the call the kernel numbered `seq` when
 * it walked its frames (stream.h); the pieces of one call share it.  A
 * number skipped means calls were lost on the way (the ring buffer was
 * full): the next chunk is fed as after a loss, the HPACK table with it,
 * since blocks that added entries may have been among them.
 */
void http2_call_seq(struct http2_conn *c, enum http2_dir dir, uint8_t seq);

/*
 * Feed one chunk: `dir`, its first `captured` of `total` bytes, `ts_ns`.
 * The first chunk decides: the preface (or frames that line up) makes the
 * connection HTTP/2, anything else not (later chunks are then ignored).
 * Returns 0, or -EINVAL for a bad direction or captured > total.
 */
int http2_feed(struct http2_conn *c, enum http2_dir dir, const void *data,
	       size_t captured, size_t total, uint64_t ts_ns,
	       const struct http2_cbs *cb);

/*
 * A fresh `c` takes over a connection an HTTP/1.1 request upgraded to h2c
 * (RFC 7540 section 3.2): that request, number `seq` (started already),
 * is stream 1, half closed; `role` is the process's side.  The requests
 * after it are numbered from `next_seq` on: the requests HTTP/1 counted
 * are all started already, kept or not (later than `seq` only when
 * requests were pipelined after it and left out).  The client preface
 * comes next from the client, HTTP/2 frames from the server.  Returns 0,
 * -EINVAL (not fresh, no role, `next_seq` not after `seq`) or -ENOMEM
 * (counted).
 */
int http2_upgraded(struct http2_conn *c, enum http2_role role, uint32_t seq,
		   uint32_t next_seq, uint64_t start_ns, int64_t req_body,
		   const struct http2_fields *req);

/* The connection closed at `ts_ns`: every stream in flight comes out
 * (H2S_CLOSED), oldest first.  The counters stay: http2_release() next. */
void http2_close(struct http2_conn *c, uint64_t ts_ns, const struct http2_cbs *cb);

/* True once the first chunk was HTTP/2; false before, and when it was not. */
bool http2_is_decoding(const struct http2_conn *c);
/* True when the first chunk was not HTTP/2. */
bool http2_is_skipped(const struct http2_conn *c);

/* The stream whose request is number `seq`, or NULL. */
const struct http2_stream *http2_find_seq(const struct http2_conn *c,
					  uint32_t seq);

/* The first bytes of a connection: preface, frames that line up, or no. */
enum http2_guess { HTTP2_NO = 0, HTTP2_PREFACE, HTTP2_FRAMES };
enum http2_guess http2_recognise(const void *data, size_t len);

#endif /* SPANPROBE_HTTP2_H */
