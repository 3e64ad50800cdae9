/* SPDX-License-Identifier: MIT */
/*
 * Shared between http1.c (the per-connection state machine) and
 * http1_parse.c (start lines, header lines, the bounded line buffer).
 * Not part of the module's interface.
 */
#ifndef SPANPROBE_HTTP1_INTERNAL_H
#define SPANPROBE_HTTP1_INTERNAL_H

#include "protocol/http1.h"

#include <stdbool.h>

/* A start line longer than this is not HTTP (servers stop near 8 KiB). */
#define HTTP1_START_HARD_MAX 65536
/* A header block longer than this is treated as cut by a gap. */
#define HTTP1_HEADER_HARD_MAX (1u << 20)
/* A chunk-size line (with extensions) longer than this breaks framing. */
#define HTTP1_CHUNK_LINE_MAX 4096

/* The first-bytes rule, as the kernel side's (SOCK_HTTP_EMPTY_MAX and
 * SOCK_HTTP_METHOD_MAX in bpf/sock_capture.bpf.h). */
#define HTTP1_CLASSIFY_EMPTY_MAX 2
#define HTTP1_CLASSIFY_METHOD_MAX 20

enum http1_kind { KIND_NONE = 0, KIND_REQUEST = 1, KIND_RESPONSE = 2 };

/* What the first bytes of a message say. */
enum http1_class { CLASS_NO = -1, CLASS_MAYBE = 0, CLASS_REQUEST = 1,
		   CLASS_RESPONSE = 2 };

/*
 * The line being parsed.  A line that came whole in one chunk, no longer
 * than the line buffer, is read where it was captured: no copy, and no
 * wipe after (an Authorization value never enters the connection's
 * memory).  Any other is read from the half's line buffer.
 */
struct http1_line {
	const char *p;    /* its first bytes kept, CR included */
	size_t len;       /* bytes at p */
	uint32_t total;   /* bytes of the whole line, kept or not */
	const char *tail; /* its last bytes when total > len */
	size_t tail_len;
};

/* A request line split into its parts (pointers into the line). */
struct http1_reqline {
	const char *method, *target;
	size_t method_len, target_len;
	size_t query_at; /* the target's first '?', or target_len */
	uint8_t method_id; /* enum http1_method */
	uint8_t version; /* 10, 11, or 0 when the line was cut */
	bool target_cut; /* the target's end was not kept */
};

/* Framing-relevant and kept headers, by name. */
enum http1_hdr {
	HDR_OTHER = 0,
	HDR_HOST,
	HDR_USER_AGENT,
	HDR_TRACEPARENT,
	HDR_TRACESTATE,
	HDR_CONTENT_TYPE,
	HDR_CONTENT_LENGTH,
	HDR_TRANSFER_ENCODING,
	HDR_EXPECT,
	HDR_UPGRADE,
	HDR_COUNT /* not a name: the number of ids */
};

/* Values of struct http1_half.chunked */
enum { TE_NONE = 0, TE_CHUNKED = 1, TE_OTHER = 2 };

enum http1_class http1_classify(const char *p, size_t n);
void http1_line_append(struct http1_half *h, const char *p, size_t n);
void http1_line_wipe(struct http1_half *h);

/*
 * Ends the current line: wipes what the half's buffer holds of it.  Most
 * lines are parsed where they were captured and leave nothing there (it
 * is asked several times per line: one test then).
 */
static inline void http1_line_reset(struct http1_half *h)
{
	if (h->line_len | h->tail_len | h->line_total)
		http1_line_wipe(h);
}
/* The line the half's buffer holds. */
void http1_line_of_half(const struct http1_half *h, struct http1_line *l);
bool http1_line_is_empty(const struct http1_line *l);
int http1_parse_request_line(const struct http1_line *l, bool cut,
			     struct http1_reqline *out);
int http1_parse_status_line(const struct http1_line *l, bool cut,
			    uint8_t *version, uint16_t *status);
/* The start lines nearly every message has, in one pass; 0 for any other
 * line, which the two above then read.  Neither writes the half. */
size_t http1_quick_request_line(const char *p, size_t n,
				struct http1_reqline *out);
size_t http1_quick_status_line(const char *p, size_t n, uint8_t *version,
			       uint16_t *status);
enum http1_method http1_method_lookup(const char *m, size_t len);
/* Splits a header line (`len` bytes kept at `l`, of a longer line when
 * `overflowed`); returns its name's id (HDR_OTHER for a name not kept, and
 * for a malformed line).  The value is set for a kept name only. */
int http1_split_header(const char *l, size_t len, bool overflowed,
		       const char **value, size_t *value_len);
bool http1_copy_field(char *dst, size_t size, const char *src, size_t n);
/* `v` (n bytes, updated) past its last '@': no userinfo. */
const char *http1_skip_userinfo(const char *v, size_t *n);
int http1_parse_content_length(const char *v, size_t n, uint64_t *out);
int http1_parse_transfer_encoding(const char *v, size_t n);
bool http1_value_is(const char *v, size_t n, const char *lit);
void http1_fill_request(struct http1_exchange *x, const struct http1_half *h,
			const struct http1_reqline *rl);
void http1_store_header(struct http1_exchange *x, const struct http1_half *h,
			bool overflowed, int id, const char *v, size_t n);

#endif /* SPANPROBE_HTTP1_INTERNAL_H */
