/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x exchanges from captured socket bytes.
 *
 * The BPF side reports, per read or write on a socket, how many bytes moved
 * (`total_len`) and the first `captured` of them.  The rest of the chunk is
 * a gap: known length, unknown content.  http1_feed() takes those chunks of
 * one connection, in order, and calls back once per request/response
 * exchange.  A struct http1_conn lives inside a connection table; it
 * allocates only for pipelined requests (below), while they wait.
 *
 * Framing follows RFC 9112 section 6.3.  Policies when something is lost:
 *  - a gap inside a body is counted as body bytes;
 *  - a gap inside the header block truncates the headers (flag
 *    HTTP1_X_HEADERS_TRUNCATED); the message then ends where the next one
 *    visibly starts (a chunk that opens with a request/status line in the
 *    same direction, or the peer's next message), and its body size is
 *    unknown (-1);
 *  - bytes that break the framing put that direction in resync (the next
 *    chunk that opens with a start line resumes) and mark the connection
 *    desynced: exchanges carry HTTP1_X_DESYNC until a clean boundary;
 *  - the first bytes of the connection decide "not HTTP": later chunks are
 *    then ignored at the cost of one branch.
 *
 * Header values kept are bounded copies (flag HTTP1_X_FIELD_TRUNCATED when
 * cut).  Authorization and Cookie values are never copied, and the line
 * buffer that held them is wiped.
 */
#ifndef SPANPROBE_HTTP1_H
#define SPANPROBE_HTTP1_H

#include <stddef.h>
#include <stdint.h>

/*
 * Requests one connection may have waiting for their responses (HTTP/1.1
 * pipelining): more are dropped and counted (pipeline_overflows).  Browsers
 * and pipelining benchmarks stay at 32 or fewer, and a server answers what
 * one read brought before it reads again.  Each slot is a struct
 * http1_pending (about 1.2 KiB), so --max-connections bounds the total.
 */
/* Pending exchanges kept inside struct http1_conn; more are allocated
 * while they wait.  Without pipelining one is ever pending, and every
 * connection's entry holds the inline ones, busy or idle. */
#define HTTP1_FIFO_INLINE 1
#ifndef HTTP1_PIPELINE_MAX
#define HTTP1_PIPELINE_MAX 64
#endif
/* Bytes of one start or header line kept; the rest of a line is skipped. */
#ifndef HTTP1_LINE_MAX
#define HTTP1_LINE_MAX 384
#endif
/* Header block bytes (start line included) after which headers are no
 * longer stored (flag HTTP1_X_HEADERS_TRUNCATED); framing is still read. */
#ifndef HTTP1_HEADER_MAX
#define HTTP1_HEADER_MAX 8192
#endif

#define HTTP1_METHOD_MAX 24
#define HTTP1_PATH_MAX 256
#define HTTP1_QUERY_MAX 128
#define HTTP1_HOST_MAX 128
#define HTTP1_UA_MAX 256 /* a phone browser's runs past 128 */
#define HTTP1_TRACEPARENT_MAX 64 /* 55 for version 00; more tells a longer one */
#define HTTP1_TRACESTATE_MAX 256
#define HTTP1_CTYPE_MAX 64

enum http1_dir { HTTP1_INBOUND = 0, HTTP1_OUTBOUND = 1 };

/* Which side of the connection this process is. */
enum http1_role {
	HTTP1_ROLE_UNKNOWN = 0,
	HTTP1_ROLE_SERVER, /* requests come in */
	HTTP1_ROLE_CLIENT, /* requests go out */
};

enum http1_method {
	HTTP1_M_OTHER = 0, /* "_OTHER"; the token is in method_original */
	HTTP1_M_GET,
	HTTP1_M_HEAD,
	HTTP1_M_POST,
	HTTP1_M_PUT,
	HTTP1_M_DELETE,
	HTTP1_M_CONNECT,
	HTTP1_M_OPTIONS,
	HTTP1_M_TRACE,
	HTTP1_M_PATCH,
};

/* struct http1_exchange.flags */
enum {
	/* A gap or the HTTP1_HEADER_MAX limit cut a header block. */
	HTTP1_X_HEADERS_TRUNCATED = 1u << 0,
	/* The connection closed before the response was complete (status 0:
	 * no response at all). */
	HTTP1_X_INCOMPLETE = 1u << 1,
	/* One or more 1xx interim responses came before the final one. */
	HTTP1_X_INTERIM = 1u << 2,
	/* A kept value (path, query, a header) was cut to its field size. */
	HTTP1_X_FIELD_TRUNCATED = 1u << 3,
	/* Emitted while the connection was out of step: the pairing of
	 * request and response is a best guess. */
	HTTP1_X_DESYNC = 1u << 4,
	/* The request carried "Expect: 100-continue". */
	HTTP1_X_EXPECT_CONTINUE = 1u << 5,
	/* The connection left HTTP/1 after this exchange (101, CONNECT). */
	HTTP1_X_UPGRADED = 1u << 6,
	/* The response was still being received when the request side had not
	 * finished its body (early response). */
	HTTP1_X_REQUEST_PARTIAL = 1u << 7,
};

/*
 * One request and its response.  Strings are NUL-terminated and empty when
 * absent.  Versions are 10 or 11 (0: unknown).  Body sizes count body
 * bytes only (for chunked: the decoded data); -1 when the framing was lost.
 * Timestamps are the ts_ns of the chunks that held the first and the last
 * byte; 0 when there was none.
 */
struct http1_exchange {
	uint64_t req_start_ns, req_end_ns;
	uint64_t resp_start_ns, resp_end_ns;
	int64_t req_body_size, resp_body_size;
	uint32_t flags; /* HTTP1_X_* */
	uint32_t seq;   /* the request's number (http1_conn.req_seq then) */
	uint16_t status; /* final status; 0: no response */
	uint8_t method; /* enum http1_method */
	uint8_t role; /* enum http1_role */
	uint8_t req_version, resp_version;
	/* strlen() of path, query, host and user_agent: set wherever those
	 * are written, so a reader need not measure them again. */
	uint16_t path_len, query_len, host_len, user_agent_len;
	char method_original[HTTP1_METHOD_MAX];
	char path[HTTP1_PATH_MAX]; /* target without the query */
	char query[HTTP1_QUERY_MAX]; /* after '?', without it */
	char host[HTTP1_HOST_MAX];
	char user_agent[HTTP1_UA_MAX];
	char traceparent[HTTP1_TRACEPARENT_MAX]; /* raw; see traceparent.h */
	char tracestate[HTTP1_TRACESTATE_MAX];
	char req_content_type[HTTP1_CTYPE_MAX];
	char resp_content_type[HTTP1_CTYPE_MAX];
};

typedef void (*http1_exchange_cb)(const struct http1_exchange *x, void *user);

/* Counters per connection; nothing is lost without being counted here. */
struct http1_stats {
	uint32_t exchanges;
	uint32_t pipeline_overflows; /* requests dropped: FIFO full */
	uint32_t fifo_no_memory; /* requests dropped: the FIFO could not grow */
	uint32_t orphan_responses; /* responses without a known request */
	uint32_t desyncs; /* framing lost in a direction */
	uint32_t truncated_headers;
};

/* Internal: one direction's parser.  Fields are private to http1.c. */
struct http1_half {
	uint64_t remaining; /* body or chunk bytes still to come */
	uint64_t body; /* body bytes of the current message */
	uint64_t content_length;
	uint64_t framing; /* chunk-size lines, CRLFs and trailers seen */
	uint64_t first_ns; /* chunk that held the message's first byte */
	uint64_t last_ns; /* chunk that held the message's latest byte */
	uint32_t header_bytes;
	uint32_t line_total; /* bytes of the current line, kept or not */
	uint32_t msg_seq; /* sequence of the current message's exchange */
	uint16_t line_len;
	uint8_t state;
	uint8_t kind; /* 0 none, 1 request, 2 response */
	uint8_t start_ok; /* start line prefix recognised */
	uint8_t slot_valid; /* msg_seq names a live pending exchange */
	uint8_t has_cl, chunked, cl_bad, no_body, chunk_phase;
	uint8_t tail_len, body_lost, connect;
	uint8_t upgrade_h2c; /* a response's "Upgrade: h2c" */
	uint16_t status;
	char tail[16]; /* last bytes of an over-long start line */
	char line[HTTP1_LINE_MAX];
};

struct http1_pending {
	struct http1_exchange x;
	uint32_t seq;
	uint8_t req_done;
};

struct http1_conn {
	uint8_t state; /* private: sniffing, HTTP, not HTTP, upgraded */
	uint8_t role; /* enum http1_role */
	uint8_t seen_http; /* some message start looked like HTTP */
	uint8_t desynced;
	uint16_t head, count; /* FIFO of pending exchanges */
	uint16_t cap;         /* slots of `fifo`: the inline ones or more */
	uint32_t req_seq, resp_seq; /* next request / final response number */
	uint32_t h2c_rest;  /* after an upgrade to h2c: where HTTP/2 starts in
			     * the chunk that ended the 101 */
	struct http1_stats stats;
	struct http1_half half[2]; /* indexed by enum http1_dir */
	/* `fifo` is `inline_fifo` until more requests are pending; then a
	 * heap ring that doubles up to HTTP1_PIPELINE_MAX and goes when the
	 * connection is idle again, so memory follows what is pending. */
	struct http1_pending *fifo;
	struct http1_pending inline_fifo[HTTP1_FIFO_INLINE];
};

/* Set up `c` for a new connection (its memory may hold anything, so a
 * `c` in use must be released first).  Never fails. */
void http1_init(struct http1_conn *c);

/* Free what `c` allocated (pending requests beyond the inline ones); `c`
 * is then as after http1_init().  Accepts NULL. */
void http1_release(struct http1_conn *c);

/*
 * Feed one chunk: `dir` is the direction of the read or write, `data` its
 * first `captured` bytes, `total_len` the bytes the call moved (the last
 * total_len - captured are a gap), `ts_ns` its time.  Calls `cb` (may be
 * NULL) for every exchange completed by this chunk.
 * Returns 0, or -EINVAL for a NULL conn, a bad direction, or captured >
 * total_len (the chunk is then ignored).
 */
int http1_feed(struct http1_conn *c, enum http1_dir dir, const void *data,
	       size_t captured, size_t total_len, uint64_t ts_ns,
	       http1_exchange_cb cb, void *user);

/*
 * The connection closed at `ts_ns`.  A response delimited by the close is
 * completed; every other pending request is emitted with
 * HTTP1_X_INCOMPLETE.  A request whose start line was never seen whole is
 * not emitted.  `c` is reset (http1_init) afterwards.
 */
void http1_close(struct http1_conn *c, uint64_t ts_ns, http1_exchange_cb cb,
		 void *user);

/*
 * After a "101 Switching Protocols" to h2c: the request that asked (its
 * number in `*seq`), which HTTP/2 answers, and in `*rest` where HTTP/2
 * starts in the chunk that ended the 101.  NULL otherwise.
 */
const struct http1_exchange *http1_h2c(const struct http1_conn *c, uint32_t *seq,
				      size_t *rest);

/* True when the connection was recognised as something other than HTTP/1
 * (or left it by an upgrade); feeding it further is a no-op. */
int http1_is_skipped(const struct http1_conn *c);

/* "GET", ..., or "_OTHER" for HTTP1_M_OTHER. */
const char *http1_method_name(enum http1_method m);

#endif /* SPANPROBE_HTTP1_H */
