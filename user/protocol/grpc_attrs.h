/* SPDX-License-Identifier: MIT */
/*
 * A gRPC call (an HTTP/2 stream with content-type application/grpc...) as
 * a span, in the RPC semantic conventions: named "package.Service/Method",
 * rpc.system "grpc", rpc.service, rpc.method, rpc.grpc.status_code from
 * the trailers (or a trailers-only response; else from a stream reset or
 * the HTTP status, as gRPC's own clients map them), and the status rule
 * of each side.
 */
#ifndef SPANPROBE_GRPC_ATTRS_H
#define SPANPROBE_GRPC_ATTRS_H

#include <stdbool.h>

#include "protocol/conntable.h"
#include "protocol/http2.h"
#include "protocol/protocol.h"

/* gRPC status codes (grpc/status.h, "Status codes and their use"). */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/*
 * Describe stream `s` of `c` as a gRPC call into `o` (`path`: its :path,
 * redacted).  Returns false, leaving `o` untouched, when the path does
 * not name a service and a method ("/package.Service/Method").
 */
bool grpc_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
			 const struct http2_stream *s, const char *path);

/* The call's status code, or -1 when nothing says it. */
int grpc_attrs_code(const struct http2_stream *s);

/*
 * A gRPC call whose :path was not seen (a header block cut or naming a
 * table entry from before a loss): described as HTTP, this adds what is
 * known of the call, rpc.system and its status by gRPC's rules.
 */
void grpc_attrs_status_only(struct proto_exchange *o, const struct http2_stream *s);

/* "OK", ..., "UNAUTHENTICATED"; NULL for a code past those. */
const char *grpc_attrs_code_name(int code);

#endif /* SPANPROBE_GRPC_ATTRS_H */
