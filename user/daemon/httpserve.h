/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 server for spanprobe's own endpoints (/metrics,
 * /healthz, /readyz): one thread, a few connections at once, one request
 * per connection (a keep-alive request is answered, then the connection
 * closed), a bounded request head and a time limit to send it.  A new
 * connection is always taken: with every slot in use, the connection that
 * has waited longest for its head is closed for it.  Bad requests get a
 * 4xx answer; nothing a client sends can stop the thread.
 */
#ifndef SPANPROBE_HTTPSERVE_H
#define SPANPROBE_HTTPSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/strbuf.h"

#define HTTPSERVE_HEAD_MAX 8192   /* request line and headers */
#define HTTPSERVE_PATH_MAX 256    /* the target, query included */
#define HTTPSERVE_CLIENTS 4       /* connections held at once */
#define HTTPSERVE_READ_MS 2000    /* to send the whole request head */
#define HTTPSERVE_WRITE_MS 2000   /* to take the whole answer */
#define HTTPSERVE_BODY_MAX (1u << 20) /* an answer larger is a 500 */

struct httpserve_request {
	char method[16];
	char path[HTTPSERVE_PATH_MAX]; /* without the query */
	int minor;                     /* HTTP/1.x */
};

/*
 * Parse the head of a request in buf[0..len): request line (RFC 9112
 * section 3) and header lines, up to the empty line; a bare LF ends a
 * line as CRLF does.  Returns the head's length (> 0) once it is whole,
 * 0 when more bytes are needed, or the status to answer with, negated:
 * -400 (malformed), -414 (target longer than HTTPSERVE_PATH_MAX - 1),
 * -505 (not HTTP/1.x).
 */
int httpserve_parse(const char *buf, size_t len, struct httpserve_request *req);

/*
 * Parse a listening address: "A.B.C.D:PORT", "[IPv6]:PORT", or ":PORT"
 * (every address: IPv6 and IPv4 both).  PORT 0 lets the kernel choose one
 * (httpserve_port() says which).  Returns 0, or -EINVAL.
 */
int httpserve_parse_address(const char *s, struct sockaddr_storage *out,
			    socklen_t *len);

/* What a handler fills in; the body is sent as is. */
struct httpserve_response {
	int status;
	const char *content_type; /* NULL: text/plain; charset=utf-8 */
	struct sp_strbuf body;
};

/*
 * Answer one request (method and path already checked for shape).  Runs
 * on the server's thread.
 */
typedef void (*httpserve_handler)(void *ctx, const struct httpserve_request *req,
				  struct httpserve_response *resp);

struct httpserve_stats {
	uint64_t requests;     /* answered, whatever the status */
	uint64_t bad_requests; /* refused for what the client sent: 400, 405,
				* 414, 431, 505 */
	uint64_t timeouts;     /* closed before a whole head: it did not come
				* in time, or a newer connection took the slot */
};

struct httpserve;

/*
 * Listen on `address` (httpserve_parse_address()) and serve from a new
 * thread.  Returns NULL with errno set and a message logged (EINVAL: bad
 * address; EADDRINUSE and the other errors of bind()).
 */
struct httpserve *httpserve_start(const char *address, httpserve_handler handler,
				  void *ctx);

/* The port listened on (an address given with port 0 gets one). */
uint16_t httpserve_port(const struct httpserve *s);

void httpserve_get_stats(const struct httpserve *s, struct httpserve_stats *out);

/* Stop the thread, close every connection.  Accepts NULL. */
void httpserve_stop(struct httpserve *s);

/* The reason phrase of `status` ("OK", "Not Found"...). */
const char *httpserve_reason(int status);

#endif /* SPANPROBE_HTTPSERVE_H */
