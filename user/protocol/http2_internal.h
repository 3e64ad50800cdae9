/* SPDX-License-Identifier: MIT */
/*
 * Shared between http2.c (frames, header blocks, streams) and
 * http2_fields.c (the fields kept from a header block).  Not part of the
 * module's interface.
 */
#ifndef SPANPROBE_HTTP2_INTERNAL_H
#define SPANPROBE_HTTP2_INTERNAL_H

#include <nghttp2/nghttp2.h>

#include "protocol/http2.h"

/* Empty `x`: no field, no gRPC status. */
void http2_fields_reset(struct http2_fields *x);

/* Keep what `nv` says in `x`, if it is a field a span needs. */
void http2_fields_add(struct http2_fields *x, const nghttp2_nv *nv);

#endif /* SPANPROBE_HTTP2_INTERNAL_H */
