/* SPDX-License-Identifier: MIT */
/* Shared by the HTTP client's pool (http_client.c) and its h2 / h1 parts. */
#ifndef SPANPROBE_NET_HTTP_INTERNAL_H
#define SPANPROBE_NET_HTTP_INTERNAL_H

#include <nghttp2/nghttp2.h>

#include "transport/conn.h"
#include "transport/http.h"

#define H1_HEAD_MAX (64u << 10) /* status line + headers of one answer */

/* One request in flight. */
struct http_exchange {
	const struct http_request *req;
	struct http_response *resp;
	struct http_conn *conn;
	size_t body_off;   /* request body bytes handed out */
	int32_t stream_id; /* HTTP/2 */
	bool started;      /* put on the connection */
	bool ended;        /* the answer ended normally (END_STREAM / length) */
	bool done;
};

enum http_conn_proto { HTTP_CONN_CLOSED = 0, HTTP_CONN_H2, HTTP_CONN_H1 };

enum h1_phase {
	H1_HEAD = 0,
	H1_BODY_LENGTH,
	H1_CHUNK_SIZE,
	H1_CHUNK_DATA,
	H1_CHUNK_CRLF,
	H1_TRAILERS,
	H1_BODY_EOF,
};

struct h1_state {
	char *head;        /* request head being written */
	size_t head_len, head_off;
	uint8_t *in;       /* bytes read and not yet parsed */
	size_t in_len, in_cap;
	enum h1_phase phase;
	uint64_t need;     /* body / chunk bytes still to come */
	bool close_after;  /* Connection: close or HTTP/1.0 */
	struct http_exchange *cur;
};

#define H2_WRITE_BATCH (64 * 1024)

struct http_conn {
	struct http_client *client;
	struct net_conn io;
	enum http_conn_proto proto;
	bool fresh;          /* nothing received yet */
	bool settings_seen;  /* HTTP/2 SETTINGS from the server */
	nghttp2_session *h2;
	const uint8_t *out;  /* HTTP/2 output from nghttp2 not yet copied */
	size_t out_len;
	/* HTTP/2 frames gathered into one send (a 16 KiB DATA frame per
	 * send() costs a syscall each); wbuf[woff, wlen) is still to write. */
	uint8_t wbuf[H2_WRITE_BATCH];
	size_t woff, wlen;
	struct h1_state h1;
	size_t active;       /* exchanges started and not done */
};

struct http_client {
	struct net_url url;
	enum http_version_pref version;
	char *user_agent;
	int connect_timeout_ms;
	SSL_CTX *tls;
	bool h1_only;        /* learned: the server does not speak h2c */
	struct http_conn *conns;
	unsigned n_conns;
	unsigned next_conn;  /* round-robin start */
	struct http_client_stats stats;
};

/* Finish an exchange with `error` (0: answered). */
void http_exchange_finish(struct http_exchange *x, int error);

/* Append to the response body, bounded by HTTP_BODY_MAX. */
void http_response_append(struct http_response *r, const uint8_t *p, size_t n);

/* Record a header of the answer that the exporter cares about. */
void http_response_header(struct http_response *r, const char *name,
			  size_t name_len, const char *value, size_t value_len);

/* HTTP/2 part (h2.c).  Functions return 0 or a negative errno. */
int h2_session_open(struct http_conn *hc);
int h2_submit(struct http_conn *hc, struct http_exchange *x);
int h2_on_readable(struct http_conn *hc);
int h2_on_writable(struct http_conn *hc);
bool h2_wants_write(const struct http_conn *hc);
bool h2_usable(const struct http_conn *hc);
void h2_session_close(struct http_conn *hc);

/* HTTP/1.1 part (h1.c). */
int h1_start(struct http_conn *hc, struct http_exchange *x);
int h1_on_readable(struct http_conn *hc);
int h1_on_writable(struct http_conn *hc);
bool h1_wants_write(const struct http_conn *hc);
void h1_reset(struct http_conn *hc);

#endif /* SPANPROBE_NET_HTTP_INTERNAL_H */
