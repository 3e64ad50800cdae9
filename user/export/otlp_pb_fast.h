/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one protobuf encoder: the OTLP exporter always uses it.
 *
 * Hand-written OTLP protobuf encoder for the export hot path.  It writes
 * the same bytes as otlp_encode_protobuf() (the protobuf-c reference, which
 * the unit tests compare it with), without building a message tree.
 */
#ifndef SPANPROBE_OTLP_PB_FAST_H
#define SPANPROBE_OTLP_PB_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "span/span.h"

/*
 * Same contract as otlp_encode_protobuf(): on success returns 0 and a
 * malloc'd buffer in *out of *len bytes, which the caller frees; spans with
 * the same resource must be adjacent.  Returns -ENOMEM.
 */
int otlp_encode_protobuf_fast(struct sp_span *const *spans, size_t count,
			      uint8_t **out, size_t *len);

/* Its per-thread table of encoded keys: slots, and the bytes a slot holds
 * (tag, length, key: keys up to OTLP_PB_KEY_FIELD_MAX - 2 bytes). */
#define OTLP_PB_KEY_SLOTS 128
#define OTLP_PB_KEY_FIELD_MAX 48

#endif /* SPANPROBE_OTLP_PB_FAST_H */
