/* SPDX-License-Identifier: MIT */
/*
 * gRPC over HTTP/2 pieces for unary calls (gRPC "PROTOCOL-HTTP2"): the
 * 5-byte message prefix, grpc-message decoding and the RetryInfo carried
 * in grpc-status-details-bin.
 */
#ifndef SPANPROBE_NET_GRPC_H
#define SPANPROBE_NET_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/http.h"

#define GRPC_PREFIX 5

/* The outcome of a call, as its answer's trailers (or headers) say. */
struct grpc_status {
	int code;           /* grpc-status; -1 when the answer has none */
	char message[256];  /* grpc-message, percent-decoded */
	char details[2048]; /* grpc-status-details-bin (base64), "" if none */
};

/* Read the gRPC status fields of an answer into *st. */
void grpc_status_read(const struct http_response *r, struct grpc_status *st);

/*
 * Write the prefix (compressed flag, 4-byte big-endian length) for a
 * message of `len` bytes into out[0..4].  -EFBIG when len >= 4 GiB.
 */
int grpc_prefix(uint8_t out[GRPC_PREFIX], size_t len, bool compressed);

/*
 * Find the one message of a unary answer body.  Returns 0 with *msg /
 * *len / *compressed (an empty body gives len 0), or -EBADMSG.
 */
int grpc_unframe(const uint8_t *body, size_t body_len, const uint8_t **msg,
		 size_t *len, bool *compressed);

/* Percent-decode a grpc-message value in place. */
void grpc_message_decode(char *s);

/*
 * Look for google.rpc.RetryInfo in a grpc-status-details-bin value
 * (base64 of google.rpc.Status).  Returns 0 and its retry_delay in *ms,
 * -ENOENT when there is none, -EBADMSG when the value is malformed.
 * When `message` is non-NULL, Status.message is copied there too.
 */
int grpc_retry_info(const char *details_b64, int64_t *ms, char *message,
		    size_t message_size);

#endif /* SPANPROBE_NET_GRPC_H */
