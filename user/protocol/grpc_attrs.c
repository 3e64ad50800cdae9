// SPDX-License-Identifier: MIT
/* A gRPC call as a span (see grpc_attrs.h). */
#include "protocol/grpc_attrs.h"

#include <string.h>

#include "protocol/http_attrs.h"
#include "util/hex.h"

static const char *const code_names[] = {
	"OK",		     "CANCELLED",	  "UNKNOWN",
	"INVALID_ARGUMENT",  "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS",    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED",	  "OUT_OF_RANGE",
	"UNIMPLEMENTED",     "INTERNAL",	  "UNAVAILABLE",
	"DATA_LOSS",	     "UNAUTHENTICATED",
};

const char *grpc_attrs_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]))
		return NULL;
	return code_names[code];
}

/* RFC 9113 error codes of RST_STREAM. */
enum { H2_REFUSED_STREAM = 0x7, H2_CANCEL = 0x8, H2_ENHANCE_YOUR_CALM = 0xb,
       H2_INADEQUATE_SECURITY = 0xc };

/*
 * A client cancels a call at its deadline: a CANCEL that comes when the
 * grpc-timeout the request carried has run out (give or take the time
 * between the client's clock and the capture: 5 % and 5 ms) is the
 * deadline's.
 */
static bool deadline_passed(const struct http2_stream *s)
{
	uint64_t t = s->req.grpc_timeout_ns, slack = t / 20 + 5000000;

	return t && s->end_ns - s->start_ns + slack >= t;
}

/* gRPC's mapping of RST_STREAM codes to status codes (PROTOCOL-HTTP2). */
static int code_of_reset(const struct http2_stream *s)
{
	if (!(s->flags & H2S_RESET_CODE))
		return -1;
	switch (s->rst_code) {
	case H2_REFUSED_STREAM:
		return GRPC_UNAVAILABLE;
	case H2_CANCEL:
		return deadline_passed(s) ? GRPC_DEADLINE_EXCEEDED : GRPC_CANCELLED;
	case H2_ENHANCE_YOUR_CALM:
		return GRPC_RESOURCE_EXHAUSTED;
	case H2_INADEQUATE_SECURITY:
		return GRPC_PERMISSION_DENIED;
	default:
		return GRPC_INTERNAL;
	}
}

/* gRPC's mapping of an HTTP status without grpc-status to a code. */
static int code_of_http_status(uint16_t status)
{
	switch (status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

int grpc_attrs_code(const struct http2_stream *s)
{
	if (s->grpc_status >= 0)
		return s->grpc_status;
	if (s->flags & H2S_RESET)
		return code_of_reset(s);
	if (s->flags & H2S_REFUSED)
		return GRPC_UNAVAILABLE;
	if ((s->flags & H2S_RESP_HEADERS) && s->status && s->status != 200)
		return code_of_http_status(s->status);
	return -1;
}

/* The codes a server's span is an error for (RPC semantic conventions). */
static bool server_error(int code)
{
	return code == GRPC_UNKNOWN || code == GRPC_DEADLINE_EXCEEDED ||
	       code == GRPC_UNIMPLEMENTED || code == GRPC_INTERNAL ||
	       code == GRPC_UNAVAILABLE || code == GRPC_DATA_LOSS;
}

/* "/package.Service/Method" -> service and method, both non-empty. */
static bool split_path(const char *path, const char **service, size_t *slen,
		       const char **method)
{
	const char *slash;

	if (path[0] != '/')
		return false;
	slash = strrchr(path + 1, '/');
	if (!slash || slash == path + 1 || !slash[1])
		return false;
	*service = path + 1;
	*slen = (size_t)(slash - path - 1);
	*method = slash + 1;
	return true;
}

/* The status and, for an error, error.type and grpc-message. */
static void set_status(struct proto_exchange *o, const struct http2_stream *s,
		       int code)
{
	const char *name = grpc_attrs_code_name(code);
	char *msg;
	size_t n = strlen(s->grpc_message);

	if (code < 0) {
		/* No status at all: a client whose call was cut short failed. */
		if (!o->server && !(s->flags & (H2S_RESP_END | H2S_END_LOST))) {
			proto_attr_cstr(o, "error.type", "connection_closed");
			o->status_message = "connection closed before the call ended";
			o->error = true;
		}
		return;
	}
	proto_attr_int(o, "rpc.grpc.status_code", code);
	if (code == GRPC_OK || (o->server && !server_error(code)))
		return;
	o->error = true;
	proto_attr_cstr(o, "error.type", name ? name : proto_text(o, "%d", code));
	/* grpc-message is percent-encoded (PROTOCOL-HTTP2), which also says
	 * a message that does not decode is not thrown away: it is kept as
	 * it came (one cut short by our field's room often ends so). */
	msg = n ? proto_text_alloc(o, n + 1) : NULL;
	if (msg && percent_decode(s->grpc_message, n, msg) < 0)
		memcpy(msg, s->grpc_message, n + 1);
	if (msg)
		o->status_message = msg;
}

void grpc_attrs_status_only(struct proto_exchange *o, const struct http2_stream *s)
{
	proto_attr_cstr(o, "rpc.system", "grpc");
	set_status(o, s, grpc_attrs_code(s));
}

bool grpc_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
			 const struct http2_stream *s, const char *path)
{
	const char *service, *method;
	size_t slen;

	if (!split_path(path, &service, &slen, &method))
		return false;
	o->name = proto_text(o, "%.*s/%s", (int)slen, service, method);
	o->name_len = strlen(o->name);
	proto_attr_cstr(o, "rpc.system", "grpc");
	proto_attr_str(o, "rpc.service", service, slen, false);
	proto_attr_cstr(o, "rpc.method", method);
	/* Recommended for RPC spans too (the transport's protocol). */
	proto_attr_cstr(o, "network.protocol.name", "http");
	proto_attr_cstr(o, "network.protocol.version", "2");
	http_attrs_server(o, s->req.authority, strlen(s->req.authority),
			  o->server ? &c->local : &c->peer, c->tls);
	http_attrs_peer(o, c, o->server);
	set_status(o, s, grpc_attrs_code(s));
	return true;
}
