/* SPDX-License-Identifier: MIT */
/*
 * RESP, the Redis serialisation protocol (versions 2 and 3), read from
 * captured socket bytes one direction at a time: what the Redis decoder
 * (redis.c) walks its commands and replies with.
 *
 * The walk keeps no message: it tells the caller each element as it
 * comes (its depth, type byte and count or length), the text of string
 * elements in parts, and the end of each top-level element.  A blob's
 * payload is skipped by its length, through gaps (bytes counted but not
 * captured) too, so a reply of any size costs only its header's bytes.
 * Every type of RESP3 is walked: null (_), double (,), boolean (#), big
 * number ((), blob error (!), verbatim string (=), map (%), set (~),
 * push (>), attribute (|, whose elements are not reported and which is
 * no element of its parent) and the streamed forms ($? with ;-chunks,
 * and aggregates of unknown length ended by ".").  Nesting is bounded
 * (RESP_DEPTH_MAX); deeper, a line that is not RESP, or a header that
 * fell in a gap, and the walk has lost its place: it stops
 * (RESP_LOST) until the caller resets it where messages start again.
 */
#ifndef SPANPROBE_RESP_H
#define SPANPROBE_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Aggregates nested deeper than this lose the place (replies of Redis's
 * own commands nest four or five deep). */
#define RESP_DEPTH_MAX 24
/* Bytes of a line kept: a header's count, a simple string's or an
 * error's text (the rest of a longer line is skipped). */
#define RESP_LINE_MAX 128

enum resp_state { RESP_LINE = 0, RESP_PAYLOAD, RESP_LOST };

/* What the walk tells its caller; any may be NULL. */
struct resp_hooks {
	/* An element starts at `depth` (0: a top-level one) with type byte
	 * `type`: for an aggregate `n` is its count of elements (a map's
	 * pairs count twice; -1: null; -2: streamed, of unknown length), for
	 * a blob its length (-1: null; -2: streamed), else 0. */
	void (*elem)(void *ctx, unsigned depth, char type, int64_t n);
	/* A part of the text of the string, error, number or blob element
	 * just started at `depth` (CR/LF never included). */
	void (*text)(void *ctx, unsigned depth, const char *p, size_t len);
	/* A top-level element is complete. */
	void (*done)(void *ctx);
	/* A top-level line that is no RESP type (an inline command such as
	 * "PING"); NULL: such a line loses the place. */
	void (*inline_line)(void *ctx, const char *line, size_t len);
	void *ctx;
};

struct resp_parser {
	uint64_t payload_left; /* of the blob being read, its CR/LF included */
	uint32_t line_total;   /* bytes of the current line, kept or not */
	uint16_t line_len;     /* of them kept in `line` */
	uint8_t state;         /* enum resp_state */
	uint8_t depth;         /* aggregates open */
	uint8_t attr_depth;    /* of them attributes: elements not reported */
	uint8_t payload_depth; /* the depth of the blob being read */
	uint8_t in_chunk;      /* the blob is a part of a streamed string */
	int64_t left[RESP_DEPTH_MAX]; /* elements to come per level; -1
					 until ".", -2 a streamed string */
	uint8_t is_attr[RESP_DEPTH_MAX];
	char line[RESP_LINE_MAX];
};

/* Start (or start again) at a message boundary. */
void resp_reset(struct resp_parser *p);

/*
 * Walk one read or write: the first `captured` of `total` bytes are in
 * `data`, the rest is a gap.  Returns the state after it; RESP_LOST once
 * the place is lost (later calls do nothing until resp_reset()).
 */
enum resp_state resp_feed(struct resp_parser *p, const void *data,
			  size_t captured, size_t total,
			  const struct resp_hooks *h);

/* True when the walk is between top-level elements. */
static inline int resp_at_boundary(const struct resp_parser *p)
{
	return p->state == RESP_LINE && !p->depth && p->line_total == 0;
}

/* `len` bytes of `s` as a decimal integer ("-" allowed); 0 or -EINVAL. */
int resp_parse_int(const char *s, size_t len, int64_t *out);

#endif /* SPANPROBE_RESP_H */
