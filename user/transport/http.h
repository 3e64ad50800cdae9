/* SPDX-License-Identifier: MIT */
/*
 * transport/: the exporter's HTTP/1.1, HTTP/2 and gRPC client.  It may
 * include util/ only; export/ drives it.
 *
 * A small HTTP client for one endpoint: a pool of persistent connections
 * reused across calls, HTTP/2 (h2c with prior knowledge for http://, ALPN
 * for https://) with several requests multiplexed per connection, and
 * HTTP/1.1 keep-alive when asked for or when an http:// server does not
 * speak h2c.  Requests are POSTs; calls are synchronous and bounded by a
 * deadline.  Not thread-safe: one caller (the export thread) at a time.
 */
#ifndef SPANPROBE_NET_HTTP_H
#define SPANPROBE_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/url.h"

#define HTTP_BODY_MAX (1u << 20) /* response bytes kept; the rest dropped */
#define HTTP_FIELDS_MAX (64u << 10) /* header + trailer bytes kept */

enum http_version_pref {
	HTTP_PREF_AUTO = 0, /* h2, falling back to HTTP/1.1 */
	HTTP_PREF_2,
	HTTP_PREF_1_1,
};

struct http_header {
	const char *name;  /* lower case (HTTP/2 requires it) */
	const char *value;
};

struct http_request {
	const char *content_type;
	const struct http_header *headers; /* added as given */
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
	bool trailers; /* HTTP/2 only: "te: trailers", no content-length */
};

struct http_response {
	int error;   /* 0: an answer came; else why not (-ECONNREFUSED...;
		      * -ETIMEDOUT: the deadline passed; -ETIME: the
		      * connect timeout passed before it) */
	int status;  /* HTTP status, 0 when none */
	int version; /* 1 (HTTP/1.x) or 2 */
	char *fields;      /* header and trailer fields: http_response_field() */
	size_t fields_len;
	uint8_t *body;
	size_t body_len;
	bool body_truncated;
	bool sent; /* the request's first bytes went out: with -ETIMEDOUT,
		    * the server may have it (outcome unknown) */
};

struct http_client_options {
	const struct net_url *url;
	enum http_version_pref version;
	unsigned connections;   /* pool size, >= 1 */
	const char *ca_file;    /* https: NULL for the system store */
	const char *cert_file;  /* https: client certificate (mutual TLS) and */
	const char *key_file;   /* its key; both or neither */
	uint32_t tls_check_ms;  /* look for changed TLS files this often; 0: never */
	const char *user_agent;
	int connect_timeout_ms;
};

/* Counters for self-reports and tests. */
struct http_client_stats {
	uint64_t connects;     /* connections opened */
	uint64_t h1_fallbacks; /* h2c refused, HTTP/1.1 used instead */
	uint64_t requests;     /* requests put on a connection */
	uint64_t bytes_written; /* accepted by the sockets (before TLS) */
	uint64_t tls_reloads;   /* new TLS contexts from changed files */
	uint64_t tls_reload_failures; /* changed files that gave none */
};

/*
 * Returns a client (no connection opened yet) or NULL with errno set
 * (EINVAL: a TLS file cannot be used, logged).
 */
struct http_client *http_client_create(const struct http_client_options *o);
void http_client_destroy(struct http_client *c); /* accepts NULL */

/*
 * Send `n` requests at once (spread over the pool, multiplexed on HTTP/2)
 * and wait for every answer until `deadline_ms` (clock_mono_ms(), util/clock.h).
 * Each resps[i] is reset, then holds the answer or its error: -ETIMEDOUT
 * (deadline or cutoff passed; see `sent`), -ETIME (no connection within
 * the connect timeout, before the deadline), -ECONNREFUSED, -ECONNRESET
 * (connection lost), -EHOSTUNREACH, -EPROTO (unreadable answer or TLS
 * failure), -ENOMEM.  Returns 0 (-ENOMEM when it could not start: every
 * response says so); the outcome of each request is in its response.  Each call first looks whether the TLS
 * files changed (transport/tlsctx.h); idle connections made with the
 * files from before a change are closed and made again.  The caller frees bodies with
 * http_response_reset().
 */
int http_client_roundtrip(struct http_client *c, const struct http_request *reqs,
			  struct http_response *resps, size_t n,
			  int64_t deadline_ms);

void http_client_get_stats(const struct http_client *c,
			   struct http_client_stats *out);

/*
 * From now on no call waits past `cutoff_ms` (clock_mono_ms()), the one
 * in progress included: it is woken and ends as if its deadline had
 * passed.  The only function another thread may call while a call runs.
 */
void http_client_set_cutoff(struct http_client *c, int64_t cutoff_ms);

/* The cutoff set by http_client_set_cutoff(), INT64_MAX when none. */
int64_t http_client_cutoff(const struct http_client *c);

/*
 * Sleep until `until_ms` (a wait before a retry), ending early when the
 * cutoff comes first or is moved.
 */
void http_client_pause(struct http_client *c, int64_t until_ms);

/* Free the body and the fields, clear the rest.  Safe on a zeroed response. */
void http_response_reset(struct http_response *r);

/*
 * The value of the answer's header or trailer field `name` (any case; the
 * last one when repeated, so a trailer wins over a header), or NULL.
 * Valid until http_response_reset().
 */
const char *http_response_field(const struct http_response *r,
				const char *name);

#endif /* SPANPROBE_NET_HTTP_H */
