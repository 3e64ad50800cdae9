// SPDX-License-Identifier: MIT
/*
 * Real traced HTTP/1.1 traffic at a set rate, for the memory benchmark
 * (bench/memory.py).  One process is both ends: each thread owns
 * CONNS/THREADS loopback connections (bench/tcp_pair.h) and, for each
 * request, writes it on the client end, reads it on the server end,
 * writes the response and reads it back.  A node-wide tracer sees two
 * spans per request (the client's and the server's).  Keep-alive, small
 * messages: the most spans per CPU second that real sockets give.
 *
 *   memload [-r REQUESTS_PER_S] [-t SECONDS] [-c CONNS] [-j THREADS]
 *
 * -r 0 (the default) runs as fast as it can.  A thread that falls behind
 * its share of the rate catches up by at most one request per connection
 * per round, so a short stall does not become a burst.  Prints one line:
 *   requests N seconds F rate F
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tcp_pair.h"

#define MAX_CONNS 256
#define MAX_THREADS 16

static const char request[] = "GET /users/42 HTTP/1.1\r\nHost: memload\r\n"
			      "User-Agent: memload\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			       "Content-Type: text/plain\r\n\r\nok";

struct worker {
	pthread_t tid;
	int client[MAX_CONNS], server[MAX_CONNS];
	int n;
	double rate;    /* requests per second, this thread's share; 0: no limit */
	double seconds;
	uint64_t done;
	int err;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read exactly `len` bytes (a message the peer wrote whole). */
static int read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int exchange(struct worker *w, int i)
{
	char buf[256];

	if (write(w->client[i], request, sizeof(request) - 1) != sizeof(request) - 1 ||
	    read_all(w->server[i], buf, sizeof(request) - 1) ||
	    write(w->server[i], response, sizeof(response) - 1) != sizeof(response) - 1 ||
	    read_all(w->client[i], buf, sizeof(response) - 1))
		return -1;
	return 0;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	double start = now(), t;
	int next = 0;

	while ((t = now()) - start < w->seconds) {
		uint64_t due = w->rate > 0 ? (uint64_t)((t - start) * w->rate) : UINT64_MAX;
		int round = 0;

		if (due <= w->done) {
			struct timespec ts = { 0, 200000 };

			nanosleep(&ts, NULL);
			continue;
		}
		while (w->done < due && round++ < w->n) {
			if (exchange(w, next)) {
				w->err = errno ? errno : EIO;
				return NULL;
			}
			next = (next + 1) % w->n;
			w->done++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	double rate = 0, seconds = 5, start, elapsed;
	int conns = 8, threads = 2, opt;
	uint64_t total = 0;

	while ((opt = getopt(argc, argv, "r:t:c:j:")) != -1) {
		switch (opt) {
		case 'r': rate = atof(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'c': conns = atoi(optarg); break;
		case 'j': threads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: memload [-r RATE] [-t SECONDS] [-c CONNS] [-j THREADS]\n");
			return 2;
		}
	}
	if (threads < 1 || threads > MAX_THREADS || conns < threads ||
	    conns > MAX_CONNS * threads || rate < 0 || seconds <= 0) {
		fprintf(stderr, "memload: bad -c/-j/-r/-t\n");
		return 2;
	}
	for (int i = 0; i < conns; i++) {
		struct worker *w = &workers[i % threads];

		if (tcp_pair(&w->client[w->n], &w->server[w->n])) {
			perror("memload: tcp_pair");
			return 1;
		}
		w->n++;
	}
	start = now();
	for (int i = 0; i < threads; i++) {
		workers[i].rate = rate / threads;
		workers[i].seconds = seconds;
		if (pthread_create(&workers[i].tid, NULL, run, &workers[i])) {
			fprintf(stderr, "memload: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(workers[i].tid, NULL);
		total += workers[i].done;
		if (workers[i].err) {
			fprintf(stderr, "memload: exchange: %s\n", strerror(workers[i].err));
			return 1;
		}
	}
	elapsed = now() - start;
	printf("requests %llu seconds %.3f rate %.1f\n", (unsigned long long)total, elapsed,
	       total / elapsed);
	return 0;
}
