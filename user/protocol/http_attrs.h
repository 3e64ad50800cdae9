/* SPDX-License-Identifier: MIT */
/*
 * What an HTTP request and its response mean as a span, in the terms of
 * the stable HTTP semantic conventions, whatever the version that carried
 * them: the span name, the request, URL, server, peer and size attributes
 * and the status rule.  The HTTP/1.x and HTTP/2 decoders fill a struct
 * http_attrs_msg and add what only their version knows (a connection
 * closed early, a stream reset) after.
 */
#ifndef SPANPROBE_HTTP_ATTRS_H
#define SPANPROBE_HTTP_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/conntable.h"
#include "protocol/protocol.h"

/* One request and its response.  Strings are NUL-terminated, "" when
 * absent, and their lengths given (what strlen() says: no NUL inside);
 * `path` is already free of the parameters that are redacted. */
struct http_attrs_msg {
	const char *method;          /* a known method's name; NULL: unknown */
	const char *method_original; /* the unknown method as sent; "" with
					method NULL: no method seen */
	bool connect;                /* CONNECT: the target is an authority */
	const char *path, *query;
	const char *host;            /* Host or :authority, without userinfo */
	const char *user_agent;
	const char *version;         /* "1.0", "1.1", "2", or NULL: unknown */
	size_t path_len, query_len, host_len, user_agent_len, version_len;
	uint16_t status;             /* 0: no response */
	int64_t req_body_size;       /* -1: unknown */
	int64_t resp_body_size;      /* -1: unknown; left out without status */
};

/*
 * Name `o` ("METHOD route", "HTTP route" for an unknown method, "CONNECT")
 * and add the attributes of `m` seen on `c`: the request, the URL (with
 * the query only when `with_query`), the response status code, the server
 * (from the host, else the socket's end), the peer, the version, the user
 * agent and the body sizes.  The status is left to http_attrs_status().
 */
void http_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
			 const struct http_attrs_msg *m, bool with_query);

/* Make `o` an error of `status` (error.type the code). */
void http_attrs_error(struct proto_exchange *o, uint16_t status);

/*
 * The status rule: a 5xx is an error on both sides, a 4xx on the client
 * only (error.type the code).  Returns true when it made `o` an error.
 * Inline: most exchanges are not errors, and are told so without a call.
 */
static inline bool http_attrs_status(struct proto_exchange *o, uint16_t status,
				     bool server)
{
	if (status >= 500 || (!server && status >= 400)) {
		http_attrs_error(o, status);
		return true;
	}
	return false;
}

/* server.address and server.port: from `host` (`host_len` bytes, then a
 * NUL; the port, when it has none, the scheme's default), else (0 bytes)
 * from the server's end of the socket. */
void http_attrs_server(struct proto_exchange *o, const char *host,
		       size_t host_len, const struct stream_addr *server_end,
		       bool tls);

/* network.peer.address/port, and client.address/port on a server. */
void http_attrs_peer(struct proto_exchange *o, const struct proto_conn *c,
		     bool server);

/* `a`'s address as text, kept in `o`'s text ("" when it is full). */
const char *http_attrs_addr_text(struct proto_exchange *o,
				 const struct stream_addr *a);

/*
 * A Host value "name", "name:port" or "[v6]:port" (`host_len` bytes) ->
 * the name (`len` bytes from `*name`) and the port (-1 when there is none
 * or it is not a port).
 */
void http_attrs_split_host(const char *host, size_t host_len,
			   const char **name, size_t *len, long *port);

#endif /* SPANPROBE_HTTP_ATTRS_H */
