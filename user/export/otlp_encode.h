/* SPDX-License-Identifier: MIT */
/*
 * Encoders of an OTLP ExportTraceServiceRequest for a batch of spans.
 * Spans that share a resource (same struct sp_resource pointer) must be
 * adjacent; each run becomes one ResourceSpans with one ScopeSpans
 * (scope "spanprobe", version SP_VERSION).
 */
#ifndef SPANPROBE_OTLP_ENCODE_H
#define SPANPROBE_OTLP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "span/span.h"

/* Instrumentation scope of every span spanprobe makes. */
#define SP_SCOPE_NAME "spanprobe"

/*
 * Protobuf (binary) encoding.  On success returns 0 and a malloc'd buffer
 * in *out of *len bytes, which the caller frees.  Returns -ENOMEM.
 */
int otlp_encode_protobuf(struct sp_span *const *spans, size_t count,
			 uint8_t **out, size_t *len);

/*
 * OTLP/JSON encoding (OTLP specification, "JSON Protobuf Encoding"): hex
 * trace/span IDs, enums as integers, 64-bit integers as strings,
 * lowerCamelCase field names, one line with no newline at the end.
 * Same contract as otlp_encode_protobuf().
 */
int otlp_encode_json(struct sp_span *const *spans, size_t count,
		     uint8_t **out, size_t *len);

#endif /* SPANPROBE_OTLP_ENCODE_H */
