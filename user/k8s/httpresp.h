/* SPDX-License-Identifier: MIT */
/*
 * An HTTP/1.1 response read as its bytes arrive: the status line, the
 * headers (Content-Length, Transfer-Encoding: chunked), and the body
 * handed on piece by piece, its chunk framing removed.  A watch is one
 * long chunked response; nothing is buffered but one line.
 */
#ifndef SPANPROBE_K8S_HTTPRESP_H
#define SPANPROBE_K8S_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_HTTP_LINE_MAX 8192 /* a status, header or chunk-size line */

enum k8s_http_state {
	K8S_HTTP_STATUS = 0,
	K8S_HTTP_HEADERS,
	K8S_HTTP_CHUNK_SIZE,
	K8S_HTTP_CHUNK_DATA,
	K8S_HTTP_CHUNK_END,   /* the CRLF after a chunk's data */
	K8S_HTTP_TRAILERS,
	K8S_HTTP_LENGTH,      /* Content-Length bytes */
	K8S_HTTP_UNTIL_CLOSE, /* neither: the body ends with the connection */
	K8S_HTTP_DONE,
};

struct k8s_http {
	enum k8s_http_state state;
	int status;
	bool chunked;
	int64_t length;       /* Content-Length, -1 when absent */
	uint64_t left;        /* of the chunk or the Content-Length body */
	size_t line_len;
	char line[K8S_HTTP_LINE_MAX];
};

/* Called with each piece of the body; a negative return stops the feed. */
typedef int (*k8s_body_fn)(void *ctx, const char *buf, size_t len);

void k8s_http_init(struct k8s_http *h);

/*
 * Feed `len` bytes of the response.  Returns 0 (more wanted, or
 * state == K8S_HTTP_DONE), -EBADMSG when the response is not HTTP/1.x or
 * its framing is broken, -EMSGSIZE for a line over K8S_HTTP_LINE_MAX, or
 * body()'s negative return.  Bytes past the end of the response are
 * ignored.
 */
int k8s_http_feed(struct k8s_http *h, const char *buf, size_t len,
		  k8s_body_fn body, void *ctx);

/* At the connection's end: 0 when the response is complete, else -EPIPE. */
int k8s_http_eof(struct k8s_http *h);

#endif /* SPANPROBE_K8S_HTTPRESP_H */
