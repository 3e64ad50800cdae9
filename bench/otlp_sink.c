// SPDX-License-Identifier: MIT
/*
 * A fast OTLP/HTTP sink for the export benchmark: it reads every request's
 * whole body without decoding it and answers 200 with an empty
 * ExportTraceServiceResponse (a zero-length protobuf message is a valid
 * one).  HTTP/2 with prior knowledge (h2c) and HTTP/1.1 keep-alive share
 * one port: the first bytes of a connection tell which (RFC 9113 §3.4,
 * the client connection preface).
 *
 *   otlp_sink [-p PORT] [-t SECONDS] [-w H2_WINDOW_BYTES]
 *
 * Listens on 127.0.0.1 (PORT 0, the default, picks a free one) and prints
 * "listening PORT" once ready.  Stops on SIGTERM or SIGINT or after the
 * time limit (600 s by default) and prints one line of counters:
 *   requests N h2 N h1 N body_bytes N connections N errors N wire_bytes N cpu_ms N
 * (wire_bytes: every byte read, framing included).
 * One thread, epoll.  Every buffer is bounded: a request head that does
 * not fit the input buffer is answered 431 and the connection closed;
 * input is not read while answers wait to be written; connections beyond
 * MAX_CONNS are closed at once (counted as errors).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP (64 * 1024)  /* also the largest HTTP/1.1 request head */
#define OUT_CAP (64 * 1024)
#define H2_FRAME_ROOM (16384 + 9) /* largest frame at the default size */
#define H1_ANSWER_ROOM 256
#define MAX_CONNS 64

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

enum proto { PROTO_UNKNOWN = 0, PROTO_H1, PROTO_H2 };

struct conn {
	int fd;
	enum proto proto;
	uint32_t events;   /* the epoll mask registered now */
	bool closing;      /* close once `out` is written */
	nghttp2_session *h2;
	bool in_body;      /* HTTP/1.1: reading a body */
	bool close_after;  /* HTTP/1.1: close after answering this request */
	uint64_t body_left;
	size_t in_len, out_off, out_len;
	uint8_t in[IN_CAP];
	uint8_t out[OUT_CAP];
};

static struct {
	uint64_t requests, h2, h1, body_bytes, connections, errors, wire_bytes;
} stats;

static struct conn *conns[MAX_CONNS];
static uint32_t h2_window = 1 << 20; /* as Go's HTTP/2 server (collector) */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static size_t out_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/* Queue bytes to write; -ENOBUFS when they do not fit (the caller's bug). */
static int out_append(struct conn *c, const void *data, size_t len)
{
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > OUT_CAP - c->out_len)
		return -ENOBUFS;
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

/* Write what is queued until the socket would block. */
static int out_flush(struct conn *c)
{
	while (out_pending(c)) {
		ssize_t n = write(c->fd, c->out + c->out_off, out_pending(c));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* --- HTTP/2 ---------------------------------------------------------------- */

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user)
{
	stats.body_bytes += len;
	return 0;
}

#define NV(n, v)                                                          \
	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,   \
	  NGHTTP2_NV_FLAG_NONE }

/* The request ended (END_STREAM on its HEADERS, DATA or trailers): answer. */
static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	nghttp2_nv nv[] = {
		NV(":status", "200"),
		NV("content-type", "application/x-protobuf"),
		NV("content-length", "0"),
	};

	if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	if (nghttp2_submit_response(s, f->hd.stream_id, nv, 3, NULL))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	stats.requests++;
	stats.h2++;
	return 0;
}

static int h2_open(struct conn *c)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2_window },
	};
	int ret;

	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
								  on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	ret = nghttp2_session_server_new(&c->h2, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (ret)
		return -ENOMEM;
	c->proto = PROTO_H2;
	/* The stream window is a setting; the connection's needs an update. */
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
						  (int32_t)h2_window))
		return -ENOMEM;
	return 0;
}

/* Move nghttp2's output to `out` while a whole frame surely fits. */
static int h2_pump(struct conn *c)
{
	const uint8_t *data;
	ssize_t n;

	while (nghttp2_session_want_write(c->h2)) {
		if (c->out_off || OUT_CAP - c->out_len < H2_FRAME_ROOM) {
			if (out_flush(c))
				return -EIO;
			if (OUT_CAP - out_pending(c) < H2_FRAME_ROOM)
				return 0; /* blocked: EPOLLOUT resumes */
		}
		n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			break;
		if (out_append(c, data, (size_t)n))
			return -ENOBUFS;
	}
	if (out_flush(c))
		return -EIO;
	if (!nghttp2_session_want_read(c->h2) &&
	    !nghttp2_session_want_write(c->h2))
		c->closing = true; /* GOAWAY exchanged */
	return 0;
}

static int h2_process(struct conn *c)
{
	if (c->in_len) {
		ssize_t n = nghttp2_session_mem_recv(c->h2, c->in, c->in_len);

		if (n < 0 || (size_t)n != c->in_len)
			return -EPROTO;
		c->in_len = 0;
	}
	return h2_pump(c);
}

/* --- HTTP/1.1 -------------------------------------------------------------- */

static int h1_answer(struct conn *c, const char *status, bool close)
{
	char buf[H1_ANSWER_ROOM];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\nContent-Type: application/x-protobuf\r\n"
			 "Content-Length: 0\r\n%s\r\n",
			 status, close ? "Connection: close\r\n" : "");

	if (close)
		c->closing = true;
	return out_append(c, buf, (size_t)n);
}

static bool header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/*
 * Parse a request head (`len` bytes up to the blank line).  Sets the body
 * length and whether to close after the answer; returns NULL, or the
 * status line to answer before closing.
 */
static const char *h1_parse_head(struct conn *c, const char *head, size_t len,
				 bool *close)
{
	const char *end = head + len, *eol, *v;
	char num[24];
	size_t vlen;

	eol = memmem(head, len, "\r\n", 2);
	if (!eol || eol - head < 14 || memcmp(eol - 9, " HTTP/1.", 8) != 0)
		return "400 Bad Request";
	*close = eol[-1] == '0'; /* HTTP/1.0: no keep-alive by default */
	c->body_left = 0;
	for (const char *p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol || eol == p)
			break;
		v = memchr(p, ':', (size_t)(eol - p));
		if (!v)
			return "400 Bad Request";
		for (v++; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		vlen = (size_t)(eol - v);
		if (header_is(p, (size_t)(eol - p), "transfer-encoding"))
			return "411 Length Required"; /* our client never chunks */
		if (header_is(p, (size_t)(eol - p), "connection"))
			*close = vlen >= 5 && strncasecmp(v, "close", 5) == 0;
		if (header_is(p, (size_t)(eol - p), "content-length")) {
			char *stop_at;

			if (vlen == 0 || vlen >= sizeof(num))
				return "400 Bad Request";
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			errno = 0;
			c->body_left = strtoull(num, &stop_at, 10);
			if (errno || *stop_at || num[0] == '-')
				return "400 Bad Request";
		}
	}
	return NULL;
}

static int h1_request_done(struct conn *c, bool close)
{
	stats.requests++;
	stats.h1++;
	return h1_answer(c, "200 OK", close);
}

/*
 * Consume heads and bodies from `in`.  Returns 1 when it stopped because
 * the answers waiting to be written leave no room for another, 0 when it
 * needs more input, or a negative errno.
 */
static int h1_consume(struct conn *c)
{
	const uint8_t *end;
	const char *bad;
	size_t off = 0;
	int ret = 0;

	while (off < c->in_len && !c->closing && !ret) {
		if (c->in_body) {
			size_t take = c->in_len - off;

			if (take > c->body_left)
				take = (size_t)c->body_left;
			stats.body_bytes += take;
			c->body_left -= take;
			off += take;
			if (!c->body_left) {
				c->in_body = false;
				ret = h1_request_done(c, c->close_after);
			}
			continue;
		}
		if (OUT_CAP - out_pending(c) < H1_ANSWER_ROOM) {
			ret = 1;
			break;
		}
		end = memmem(c->in + off, c->in_len - off, "\r\n\r\n", 4);
		if (!end) {
			if (off == 0 && c->in_len == IN_CAP)
				ret = h1_answer(c, "431 Request Header Fields"
						" Too Large", true);
			break;
		}
		bad = h1_parse_head(c, (const char *)c->in + off,
				    (size_t)(end + 4 - (c->in + off)),
				    &c->close_after);
		off = (size_t)(end + 4 - c->in);
		if (bad)
			ret = h1_answer(c, bad, true);
		else if (c->body_left)
			c->in_body = true;
		else
			ret = h1_request_done(c, c->close_after);
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return ret;
}

/*
 * Answer what `in` holds.  Input already read must not wait for the next
 * EPOLLIN (none may come): when writing freed room, consume again.
 */
static int h1_process(struct conn *c)
{
	int ret;

	do {
		ret = h1_consume(c);
		if (ret < 0)
			return ret;
		if (out_flush(c))
			return -EIO;
	} while (ret == 1 && !out_pending(c));
	return 0;
}

/* --- connections ----------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	if (c->h2)
		nghttp2_session_del(c->h2);
	close(c->fd);
	free(c);
}

static int conn_process(struct conn *c)
{
	if (c->proto == PROTO_UNKNOWN && c->in_len) {
		size_t n = c->in_len < H2_PREFACE_LEN ? c->in_len : H2_PREFACE_LEN;

		if (memcmp(c->in, h2_preface, n) != 0)
			c->proto = PROTO_H1;
		else if (n == H2_PREFACE_LEN && h2_open(c))
			return -ENOMEM;
	}
	if (c->proto == PROTO_H2)
		return h2_process(c);
	if (c->proto == PROTO_H1)
		return h1_process(c);
	return 0;
}

/* Read once, process, write; returns < 0 when the connection is done. */
static int conn_event(struct conn *c, uint32_t ev)
{
	int ret;

	if (ev & EPOLLERR)
		return -EIO;
	if ((ev & EPOLLOUT) && out_flush(c))
		return -EIO;
	if ((ev & (EPOLLIN | EPOLLHUP)) && c->in_len < IN_CAP && !c->closing) {
		ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);

		if (n == 0)
			return -ECONNRESET; /* the client is done */
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0) {
			c->in_len += (size_t)n;
			stats.wire_bytes += (uint64_t)n;
		}
	}
	ret = conn_process(c);
	if (ret)
		return ret;
	if (c->closing && !out_pending(c))
		return -ECONNRESET;
	return 0;
}

static void conn_watch(int ep, struct conn *c)
{
	struct epoll_event e = { .data.ptr = c };

	if (!c->closing && c->in_len < IN_CAP &&
	    out_pending(c) < OUT_CAP / 2)
		e.events |= EPOLLIN;
	if (out_pending(c))
		e.events |= EPOLLOUT;
	if (e.events != c->events) {
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
		c->events = e.events;
	}
}

static void sink_accept(int ep, int lfd)
{
	int fd, one = 1, slot;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct conn *c = NULL;
		struct epoll_event e = { .events = EPOLLIN };

		for (slot = 0; slot < MAX_CONNS && conns[slot]; slot++)
			;
		if (slot < MAX_CONNS)
			c = calloc(1, sizeof(*c));
		if (!c) {
			stats.errors++; /* full: refused */
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->events = e.events;
		e.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e)) {
			stats.errors++;
			close(fd);
			free(c);
			continue;
		}
		conns[slot] = c;
		stats.connections++;
	}
}

static int sink_listen(int port, int *actual)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen)) {
		int err = -errno;

		close(fd);
		return err;
	}
	*actual = ntohs(a.sin_port);
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sink_loop(int ep, int lfd, int64_t until)
{
	struct epoll_event evs[64];

	while (!stop) {
		int64_t left = until - now_ms();
		int n;

		if (left <= 0)
			break;
		n = epoll_wait(ep, evs, 64, left > 1000 ? 1000 : (int)left);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int ret;

			if (!c) {
				sink_accept(ep, lfd);
				continue;
			}
			ret = conn_event(c, evs[i].events);
			if (ret) {
				if (ret != -ECONNRESET)
					stats.errors++;
				conn_close(c);
			} else {
				conn_watch(ep, c);
			}
		}
	}
}

static void sink_report(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("requests %" PRIu64 " h2 %" PRIu64 " h1 %" PRIu64
	       " body_bytes %" PRIu64 " connections %" PRIu64 " errors %" PRIu64
	       " wire_bytes %" PRIu64 " cpu_ms %ld\n",
	       stats.requests, stats.h2, stats.h1, stats.body_bytes,
	       stats.connections, stats.errors, stats.wire_bytes,
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	int port = 0, seconds = 600, opt, lfd, ep;

	while ((opt = getopt(argc, argv, "p:t:w:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 't')
			seconds = atoi(optarg);
		else if (opt == 'w')
			h2_window = (uint32_t)strtoul(optarg, NULL, 10);
		else
			break;
	}
	if (optind != argc || port < 0 || port > 65535 || seconds <= 0 ||
	    h2_window < 65535 || h2_window > 0x7fffffff) {
		fprintf(stderr, "usage: otlp_sink [-p PORT] [-t SECONDS]"
			" [-w H2_WINDOW (65535..2^31-1)]\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = sink_listen(port, &port);
	if (lfd < 0) {
		fprintf(stderr, "otlp_sink: cannot listen on 127.0.0.1:%d: %s\n",
			port, strerror(-lfd));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e)) {
		perror("otlp_sink: epoll");
		return 1;
	}
	printf("listening %d\n", port);
	fflush(stdout);
	sink_loop(ep, lfd, now_ms() + (int64_t)seconds * 1000);
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i])
			conn_close(conns[i]);
	close(ep);
	close(lfd);
	sink_report();
	return 0;
}
