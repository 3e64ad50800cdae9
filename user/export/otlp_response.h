/* SPDX-License-Identifier: MIT */
/*
 * What an OTLP receiver answers: the partial_success of an
 * ExportTraceServiceResponse and the message of a failure (a
 * google.rpc.Status, or plain text from a proxy).
 */
#ifndef SPANPROBE_OTLP_RESPONSE_H
#define SPANPROBE_OTLP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Read partial_success from a response body (protobuf, or OTLP/JSON when
 * `json`).  Returns 0 with *rejected (0 when absent) and its error
 * message in msg ("" when absent), or -EBADMSG for a malformed body.
 */
int otlp_response_partial(const uint8_t *body, size_t len, bool json,
			  int64_t *rejected, char *msg, size_t msg_size);

/*
 * A printable one-line message from an error body: Status.message for
 * protobuf (content type application/x-protobuf) or JSON bodies, else the
 * text itself; control bytes replaced, cut to msg_size.
 */
void otlp_response_error_message(const uint8_t *body, size_t len,
				 const char *content_type, char *msg,
				 size_t msg_size);

#endif /* SPANPROBE_OTLP_RESPONSE_H */
