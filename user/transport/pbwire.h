/* SPDX-License-Identifier: MIT */
/*
 * A minimal protobuf wire-format reader for the few small messages the
 * exporter reads back (google.rpc.Status, RetryInfo, the OTLP export
 * response).  Outside bytes: every length is checked against the buffer.
 */
#ifndef SPANPROBE_NET_PBWIRE_H
#define SPANPROBE_NET_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

struct pb_reader {
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t number;
	uint32_t wire_type;   /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
	uint64_t varint;      /* wire types 0, 1, 5 */
	const uint8_t *bytes; /* wire type 2 */
	size_t len;
};

static inline void pb_reader_init(struct pb_reader *r, const uint8_t *p,
				  size_t len)
{
	r->p = p;
	/* An empty body may come as NULL (no bytes received); NULL + 0 is
	 * undefined in C. */
	r->end = len ? p + len : p;
}

/* Next field: 1 when one was read, 0 at the end, -EBADMSG when malformed. */
int pb_next(struct pb_reader *r, struct pb_field *f);

#endif /* SPANPROBE_NET_PBWIRE_H */
