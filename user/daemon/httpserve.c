// SPDX-License-Identifier: MIT
/*
 * The self-metrics server: poll() over an eventfd (stop), the listening
 * socket and up to HTTPSERVE_CLIENTS connections.  A connection reads its
 * request head into a fixed buffer, is answered once, shut for writing,
 * and drained a moment (closing with unread bytes would reset the
 * connection and could take the answer with it).  A new connection is
 * always accepted: with every slot taken, it takes the slot of the one
 * that has waited longest for its head.  Otherwise a few idle clients
 * would hold /healthz away from a liveness probe for the read timeout,
 * again and again if they reconnect.
 */
#include "daemon/httpserve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/counter.h"
#include "util/log.h"

#define DRAIN_MS 500     /* reading what follows an answer, at most */
#define ACCEPT_PAUSE_MS 100 /* after accept() failed (out of files) */
#define BACKLOG 8

enum client_state { CLIENT_FREE = 0, CLIENT_READING, CLIENT_DRAINING };

struct client {
	int fd;
	enum client_state state;
	uint64_t seq; /* accept order: the lowest has waited longest */
	int64_t deadline_ms;
	size_t len;
	char buf[HTTPSERVE_HEAD_MAX];
};

struct httpserve {
	int listen_fd;
	int stop_fd; /* eventfd */
	uint16_t port;
	int64_t accept_after_ms; /* accept() failed: the listener rests until */
	uint64_t accepted;       /* connections so far: the next client's seq */
	pthread_t thread;
	httpserve_handler handler;
	void *ctx;
	struct httpserve_stats stats; /* util/counter.h */
	struct client clients[HTTPSERVE_CLIENTS];
};

/* RFC 9110 section 5.6.2. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of buf[off..len): its length without the CRLF/LF, or -1. */
static long next_line(const char *buf, size_t len, size_t off, size_t *next)
{
	const char *lf = memchr(buf + off, '\n', len - off);
	size_t end;

	if (!lf)
		return -1;
	end = (size_t)(lf - buf);
	*next = end + 1;
	if (end > off && buf[end - 1] == '\r')
		end--;
	return (long)(end - off);
}

static int parse_request_line(const char *s, size_t n, struct httpserve_request *req)
{
	size_t i = 0, m, t;

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= sizeof(req->method) || i == n || s[i] != ' ')
		return -400;
	memcpy(req->method, s, i);
	req->method[i] = '\0';
	t = ++i;
	while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
		i++;
	if (i == t || i == n || s[i] != ' ' || s[t] != '/')
		return -400; /* origin-form only (RFC 9112 section 3.2.1) */
	if (i - t >= sizeof(req->path))
		return -414;
	m = strcspn(s + t, "? ");
	memcpy(req->path, s + t, m);
	req->path[m] = '\0';
	s += i + 1;
	n -= i + 1;
	if (n < 5 || memcmp(s, "HTTP/", 5))
		return -400;
	if (n != 8 || s[5] != '1' || s[6] != '.' || s[7] < '0' || s[7] > '9')
		return -505;
	req->minor = s[7] - '0';
	return 0;
}

/* field-name ":" OWS field-value OWS; no space before the colon (5.1). */
static int parse_field_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i == n || s[i] != ':')
		return -400;
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 && c != '\t')
			return -400;
		if (c == 0x7f)
			return -400;
	}
	return 0;
}

int httpserve_parse(const char *buf, size_t len, struct httpserve_request *req)
{
	size_t off = 0, next;
	long n;
	int err;

	memset(req, 0, sizeof(*req));
	/* RFC 9112 section 2.2: empty lines before the request line are ignored. */
	while (off < len && (buf[off] == '\r' || buf[off] == '\n'))
		off++;
	n = next_line(buf, len, off, &next);
	if (n < 0)
		return 0;
	err = parse_request_line(buf + off, (size_t)n, req);
	if (err)
		return err;
	for (off = next;;) {
		n = next_line(buf, len, off, &next);
		if (n < 0)
			return 0;
		if (n == 0)
			return (int)next;
		/* Obsolete line folding is refused (section 5.2). */
		if (buf[off] == ' ' || buf[off] == '\t')
			return -400;
		err = parse_field_line(buf + off, (size_t)n);
		if (err)
			return err;
		off = next;
	}
}

/* 0 is taken: the kernel chooses a free port (tests; -v says which). */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int httpserve_parse_address(const char *s, struct sockaddr_storage *out,
			    socklen_t *len)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hl;
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (!colon || parse_port(colon + 1, &port))
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl == 0) { /* every address: IPv6 with IPv4 mapped */
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return -EINVAL;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	*len = sizeof(*a4);
	return 0;
}

const char *httpserve_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

/* Write all of buf before the deadline; the socket is non-blocking. */
static int write_all(int fd, const char *buf, size_t len, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int64_t left;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		left = deadline_ms - clock_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Refused for what the client sent (not 404, a timeout or our own 5xx). */
static bool bad_request(int status)
{
	return status == 400 || status == 405 || status == 414 || status == 431 ||
	       status == 505;
}

static void send_response(struct httpserve *s, struct client *c, bool head_only,
			  struct httpserve_response *r)
{
	int64_t deadline = clock_mono_ms() + HTTPSERVE_WRITE_MS;
	char hdr[512];
	int n;

	if (r->body.err) {
		strbuf_reset(&r->body);
		r->body.err = 0;
		r->status = 500;
		r->content_type = NULL;
		strbuf_adds(&r->body, "answer too large\n");
	}
	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
		     r->status, httpserve_reason(r->status),
		     r->content_type ? r->content_type : "text/plain; charset=utf-8",
		     r->body.len, r->status == 405 ? "Allow: GET, HEAD\r\n" : "");
	counter_add(&s->stats.requests, 1);
	if (bad_request(r->status))
		counter_add(&s->stats.bad_requests, 1);
	if (write_all(c->fd, hdr, (size_t)n, deadline) == 0 && !head_only && r->body.len)
		write_all(c->fd, r->body.data, r->body.len, deadline);
	shutdown(c->fd, SHUT_WR);
	c->state = CLIENT_DRAINING;
	c->deadline_ms = clock_mono_ms() + DRAIN_MS;
}

/* Answer the client with an error of ours, no handler involved. */
static void send_error(struct httpserve *s, struct client *c, int status)
{
	struct httpserve_response r = { .status = status };

	strbuf_init(&r.body, 256);
	strbuf_addf(&r.body, "%s\n", httpserve_reason(status));
	send_response(s, c, false, &r);
	strbuf_free(&r.body);
}

static void serve_request(struct httpserve *s, struct client *c,
			  const struct httpserve_request *req)
{
	bool head = strcmp(req->method, "HEAD") == 0;
	struct httpserve_response r = { .status = 200 };

	if (!head && strcmp(req->method, "GET")) {
		send_error(s, c, 405);
		return;
	}
	strbuf_init(&r.body, HTTPSERVE_BODY_MAX);
	s->handler(s->ctx, req, &r);
	send_response(s, c, head, &r);
	strbuf_free(&r.body);
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = CLIENT_FREE;
}

static void client_readable(struct httpserve *s, struct client *c)
{
	struct httpserve_request req;
	char sink[4096];
	ssize_t n;
	int ret;

	if (c->state == CLIENT_DRAINING) {
		n = recv(c->fd, sink, sizeof(sink), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			client_close(c);
		return;
	}
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* gone before a whole request: nothing to answer */
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	ret = httpserve_parse(c->buf, c->len, &req);
	if (ret > 0)
		serve_request(s, c, &req);
	else if (ret < 0)
		send_error(s, c, -ret);
	else if (c->len == sizeof(c->buf))
		send_error(s, c, 431);
}

/* Closed before its head came in time (or to make room for a new one). */
static void client_give_up(struct httpserve *s, struct client *c)
{
	if (c->state == CLIENT_READING) {
		counter_add(&s->stats.timeouts, 1);
		if (c->len) /* a partial request: say why it is closed */
			send_error(s, c, 408);
	}
	client_close(c);
}

/*
 * Which of a and b to give up first: a reader before one answered, then
 * the older.  One answered is only draining, but its client may still be
 * reading the answer.
 */
static bool give_up_first(const struct client *a, const struct client *b)
{
	if (a->state != b->state)
		return a->state == CLIENT_READING;
	return a->seq < b->seq;
}

/* A free slot, or the slot of the connection given up for a new one. */
static struct client *take_slot(struct httpserve *s)
{
	struct client *victim = &s->clients[0];

	for (int i = 0; i < HTTPSERVE_CLIENTS; i++) {
		struct client *c = &s->clients[i];

		if (c->state == CLIENT_FREE)
			return c;
		if (give_up_first(c, victim))
			victim = c;
	}
	client_give_up(s, victim);
	return victim;
}

static void accept_one(struct httpserve *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *c;

	if (fd < 0) {
		/* Out of files (or gone already): not a busy loop on the listener. */
		if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
			s->accept_after_ms = clock_mono_ms() + ACCEPT_PAUSE_MS;
		return;
	}
	c = take_slot(s);
	c->fd = fd;
	c->state = CLIENT_READING;
	c->seq = s->accepted++;
	c->len = 0;
	c->deadline_ms = clock_mono_ms() + HTTPSERVE_READ_MS;
}

/*
 * The poll set: stop, the clients, listen (unless resting after a failed
 * accept()).  The clients come first: what they sent is read, and a whole
 * head answered, before a new connection may take a slot.
 */
static int fill_poll(struct httpserve *s, struct pollfd *p, int *slot, int *timeout)
{
	int n = 1;
	int64_t now = clock_mono_ms(), first = now + 60000;

	p[0] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
	for (int i = 0; i < HTTPSERVE_CLIENTS; i++) {
		struct client *c = &s->clients[i];

		if (c->state == CLIENT_FREE)
			continue;
		slot[n] = i;
		p[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		first = c->deadline_ms < first ? c->deadline_ms : first;
	}
	if (now >= s->accept_after_ms) {
		slot[n] = -1;
		p[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	} else {
		first = s->accept_after_ms < first ? s->accept_after_ms : first;
	}
	*timeout = first > now ? (int)(first - now) : 0;
	return n;
}

static void *serve(void *arg)
{
	struct httpserve *s = arg;
	struct pollfd p[HTTPSERVE_CLIENTS + 2];
	int slot[HTTPSERVE_CLIENTS + 2];
	int timeout, n;

	for (;;) {
		n = fill_poll(s, p, slot, &timeout);
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			sp_warn("metrics: poll failed: %s; the server stops", strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		for (int i = 1; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (slot[i] < 0)
				accept_one(s);
			else
				client_readable(s, &s->clients[slot[i]]);
		}
		for (int i = 0; i < HTTPSERVE_CLIENTS; i++) {
			struct client *c = &s->clients[i];

			if (c->state != CLIENT_FREE && clock_mono_ms() >= c->deadline_ms)
				client_give_up(s, c);
		}
	}
	return NULL;
}

static int open_listener(const char *address, struct httpserve *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, zero = 0, fd, err;

	if (httpserve_parse_address(address, &ss, &len)) {
		sp_err("--metrics-address: '%s' is not A.B.C.D:PORT, [IPv6]:PORT or :PORT",
		       address);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* ":PORT" listens on IPv4 too, whatever net.ipv6.bindv6only says. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, BACKLOG))
		goto fail;
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	s->listen_fd = fd;
	sp_info("metrics: serving /metrics, /healthz and /readyz on %s (port %u)",
		address, s->port);
	return 0;
fail:
	err = -errno;
	sp_err("metrics: cannot listen on %s: %s", address, strerror(-err));
	if (fd >= 0)
		close(fd);
	return err;
}

/* The thread takes no signal: SIGINT must interrupt the main thread's waits. */
static int start_thread(struct httpserve *s)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

struct httpserve *httpserve_start(const char *address, httpserve_handler handler,
				  void *ctx)
{
	struct httpserve *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	s->handler = handler;
	s->ctx = ctx;
	s->listen_fd = s->stop_fd = -1;
	for (int i = 0; i < HTTPSERVE_CLIENTS; i++)
		s->clients[i].fd = -1;
	err = open_listener(address, s);
	if (!err) {
		s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		err = s->stop_fd < 0 ? -errno : 0;
	}
	if (!err)
		err = start_thread(s);
	if (err) {
		if (s->listen_fd >= 0) /* else open_listener() said why */
			sp_err("metrics: cannot start the server: %s", strerror(-err));
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		if (s->stop_fd >= 0)
			close(s->stop_fd);
		free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

uint16_t httpserve_port(const struct httpserve *s)
{
	return s->port;
}

void httpserve_get_stats(const struct httpserve *s, struct httpserve_stats *out)
{
	out->requests = counter_get(&s->stats.requests);
	out->bad_requests = counter_get(&s->stats.bad_requests);
	out->timeouts = counter_get(&s->stats.timeouts);
}

void httpserve_stop(struct httpserve *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		sp_warn("metrics: cannot wake the server thread: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	for (int i = 0; i < HTTPSERVE_CLIENTS; i++)
		if (s->clients[i].state != CLIENT_FREE)
			client_close(&s->clients[i]);
	close(s->listen_fd);
	close(s->stop_fd);
	free(s);
}
