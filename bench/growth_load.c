// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 load at a fixed total rate over many keep-alive connections
 * and processes, for bench/growth.py:
 *
 *   growth_load PORT PROCS CONNS RATE SECONDS
 *
 * forks PROCS clients that together hold CONNS connections to
 * 127.0.0.1:PORT (CONNS/PROCS each, at least one) and send RATE requests/s
 * in all (RATE/PROCS each), spread round-robin over every connection, one
 * request in flight per connection at most.  Every connection first
 * carries one request (so a tracer has seen each before the measured part
 * starts); then the program prints "ready" and, for each line on stdin,
 * runs SECONDS and prints "requests N" (those of that run), keeping the
 * connections open until stdin closes.  A client that fails
 * (a refused connection, a closed one, a bad response) ends the run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char request[] = "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n";

struct conn {
	int fd;
	int busy;          /* a request is waiting for its response */
	size_t have;       /* bytes of the response read so far */
	char buf[512];
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* A failure ends every client (main() made them one process group), so
 * that none is left holding its connections and the parent never waits
 * for a result that will not come. */
static void die(const char *what)
{
	perror(what);
	signal(SIGTERM, SIG_DFL);
	kill(0, SIGTERM);
	exit(1);
}

static int open_conn(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		die("socket");
	/* The server may be starting beside this program: 5 s to listen. */
	for (int tries = 0; connect(fd, (struct sockaddr *)&a, sizeof(a)); tries++) {
		const struct timespec pause_10ms = { 0, 10000000 };

		if (errno != ECONNREFUSED || tries == 500)
			die("connect");
		close(fd);
		nanosleep(&pause_10ms, NULL);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_request(struct conn *c)
{
	if (write(c->fd, request, sizeof(request) - 1) != sizeof(request) - 1)
		die("write");
	c->busy = 1;
	c->have = 0;
}

/* 1 when the response in c->buf is whole (headers and Content-Length body). */
static int response_done(struct conn *c)
{
	char *end, *len;

	c->buf[c->have] = '\0';
	end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return 0;
	len = strcasestr(c->buf, "\r\nContent-Length:");
	if (!len || len > end) {
		errno = EPROTO;
		die("growth_load: a response without Content-Length");
	}
	return c->have >= (size_t)(end + 4 - c->buf) + strtoul(len + 17, NULL, 10);
}

/* Read what `c` has; returns 1 when its response completed. */
static int read_conn(struct conn *c)
{
	ssize_t n = read(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have);

	if (n <= 0) {
		if (n == 0)
			errno = ECONNRESET;
		die("growth_load: reading a response");
	}
	c->have += n;
	if (!response_done(c))
		return 0;
	c->busy = 0;
	return 1;
}

/* Wait for responses for up to `ms`; returns how many completed. */
static long poll_conns(int ep, int ms)
{
	struct epoll_event ev[256];
	long done = 0;
	int n = epoll_wait(ep, ev, 256, ms);

	if (n < 0 && errno != EINTR)
		die("epoll_wait");
	for (int i = 0; i < n; i++)
		done += read_conn(ev[i].data.ptr);
	return done;
}

/*
 * One request on every connection, at most WARM_WINDOW in flight: 10,000
 * at once would be a burst of 20,000 spans, more than a tracer's default
 * queue holds.
 */
#define WARM_WINDOW 512

static void warm_up(int ep, struct conn *c, int n)
{
	long done = 0;
	int sent = 0;

	while (done < n) {
		while (sent < n && sent - done < WARM_WINDOW)
			send_request(&c[sent++]);
		done += poll_conns(ep, 1000);
	}
}

/* Milliseconds until `due` s from now, at least 1, at most `left` s. */
static int wait_ms(double due, double left)
{
	double s = due < left ? due : left;

	return s < 0.001 ? 1 : (int)(s * 1000) + 1;
}

/*
 * RATE requests/s for SECONDS over the connections; returns the responses.
 * The k-th request is due at (k + 1 - PHASE) / RATE: the clients' phases
 * are spread over [0, 1), so that their requests interleave evenly as one
 * client's do, instead of every client sending at the same instants (a
 * burst of PROCS requests each 1/RATE s would measure bursts, not processes).
 */
static long run_load(int ep, struct conn *c, int n, double rate, double phase,
		     double seconds)
{
	double t0 = now(), t;
	long sent = 0, done = 0;
	int next = 0;

	while ((t = now() - t0) < seconds) {
		long due = (long)(rate * t + phase) - sent;

		for (int tries = 0; due > 0 && tries < n; tries++) {
			struct conn *k = &c[next];

			next = (next + 1) % n;
			if (k->busy)
				continue;
			send_request(k);
			sent++;
			due--;
		}
		/* Sleep until the next request is due: 500 clients of a few
		 * requests/s each must not spin. */
		done += poll_conns(ep, wait_ms((sent + 1 - phase) / rate - t, seconds - t));
	}
	while (done < sent)
		done += poll_conns(ep, 1000);
	return done;
}

static void client(int port, int n, double rate, double phase, double seconds,
		   int ready_fd, int go_fd, int result_fd)
{
	struct conn *c = calloc(n, sizeof(*c));
	int ep = epoll_create1(0);
	long done;
	char b;

	if (!c || ep < 0)
		die("client");
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c[i] };

		c[i].fd = open_conn(port);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev))
			die("epoll_ctl");
	}
	warm_up(ep, c, n);
	if (write(ready_fd, "r", 1) != 1)
		die("ready");
	/* A byte on `go_fd` per run; its end (the parent's exit) ends this
	 * one, the connections open until then. */
	while (read(go_fd, &b, 1) == 1) {
		done = run_load(ep, c, n, rate, phase, seconds);
		if (write(result_fd, &done, sizeof(done)) != sizeof(done))
			die("result");
	}
	exit(0);
}

static void raise_nofile(int conns)
{
	struct rlimit r = { .rlim_cur = conns + 64, .rlim_max = conns + 64 };

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur >= (rlim_t)conns + 64)
		return;
	r.rlim_cur = r.rlim_max = conns + 64;
	if (setrlimit(RLIMIT_NOFILE, &r))
		die("setrlimit(RLIMIT_NOFILE)");
}

/* Wait for a line on stdin; 0 at its end. */
static int next_line(void)
{
	int ch;

	while ((ch = getchar()) != '\n')
		if (ch == EOF)
			return 0;
	return 1;
}

/* One measured run of every client; prints "requests N". */
static void run_all(int procs, int go_fd, int result_fd)
{
	long total = 0, n;

	for (int i = 0; i < procs; i++)
		if (write(go_fd, "g", 1) != 1)
			die("go");
	for (int i = 0; i < procs; i++) {
		if (read(result_fd, &n, sizeof(n)) != sizeof(n))
			die("a client failed");
		total += n;
	}
	printf("requests %ld\n", total);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int ready[2], go[2], result[2];
	int port, procs, conns;
	pid_t *kids;
	double rate, seconds;
	char b;

	if (argc != 6) {
		fprintf(stderr, "usage: growth_load PORT PROCS CONNS RATE SECONDS\n");
		return 2;
	}
	port = atoi(argv[1]);
	procs = atoi(argv[2]);
	conns = atoi(argv[3]);
	rate = atof(argv[4]);
	seconds = atof(argv[5]);
	if (procs < 1 || conns < procs || rate <= 0 || seconds <= 0) {
		fprintf(stderr, "growth_load: need 1 <= PROCS <= CONNS, RATE > 0, SECONDS > 0\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed connection fails its write */
	if (getpgrp() != getpid() && setpgid(0, 0))
		die("setpgid");
	raise_nofile(conns / procs + 1);
	kids = calloc(procs, sizeof(*kids));
	if (!kids || pipe(ready) || pipe(go) || pipe(result))
		die("pipe");
	for (int i = 0; i < procs; i++) {
		int mine = conns / procs + (i < conns % procs);

		kids[i] = fork();
		if (kids[i] < 0)
			die("fork");
		if (kids[i] == 0) {
			close(go[1]);
			client(port, mine, rate / procs, (double)i / procs, seconds, ready[1], go[0],
			       result[1]);
		}
	}
	close(go[0]);
	for (int i = 0; i < procs; i++)
		if (read(ready[0], &b, 1) != 1)
			die("a client failed to start");
	printf("ready\n");
	fflush(stdout);
	while (next_line())
		run_all(procs, go[1], result[0]);
	for (int i = 0; i < procs; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
