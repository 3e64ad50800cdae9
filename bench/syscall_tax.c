/* SPDX-License-Identifier: MIT */
/*
 * The node-wide tax, as one process that speaks no HTTP sees it: nanoseconds
 * per operation for
 *   getppid          a system call no socket hook should see;
 *   pipe             write + read of 64 bytes over a pipe (not a socket:
 *                    filtered before any capture);
 *   unix             write + read over an AF_UNIX socketpair;
 *   tcp              write + read over a loopback TCP connection.
 * The payload starts like a binary protocol ("ping ..."), never like HTTP.
 * One measurement per run (best of three passes, so a preemption does not
 * count); bench/syscall_tax.py repeats runs with and without spanprobe.
 *
 * Usage: syscall_tax [iterations]   (default 1000000 getppid, a tenth of
 * that for each write + read)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tcp_pair.h"

#define PASSES 3
#define MSG_SIZE 64

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double time_getppid(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / n;
}

/* ns per write of MSG_SIZE bytes to fds[1] and read of them from fds[0];
 * -1 when a call fails or comes short. */
static double time_write_read(const int fds[2], long n)
{
	char buf[MSG_SIZE] = "ping 0123456789abcdef0123456789abcdef0123456789abcdef";
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		if (write(fds[1], buf, sizeof(buf)) != sizeof(buf) ||
		    read(fds[0], buf, sizeof(buf)) != sizeof(buf))
			return -1;
	}
	return (now_ns() - t0) / n;
}

static double best(double a, double b)
{
	return a < 0 || b < 0 ? -1 : (a < b ? a : b);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	double ppid = 1e18, pipe_ns = 1e18, unix_ns = 1e18, tcp_ns = 1e18;
	int pfds[2], ufds[2], tfds[2];

	if (n < 10) {
		fprintf(stderr, "syscall_tax: iterations must be at least 10\n");
		return 2;
	}
	if (pipe(pfds) || socketpair(AF_UNIX, SOCK_STREAM, 0, ufds) ||
	    tcp_pair(&tfds[1], &tfds[0])) {
		fprintf(stderr, "syscall_tax: setup: %s\n", strerror(errno));
		return 1;
	}
	for (int pass = 0; pass < PASSES; pass++) {
		ppid = best(ppid, time_getppid(n));
		pipe_ns = best(pipe_ns, time_write_read(pfds, n / 10));
		unix_ns = best(unix_ns, time_write_read(ufds, n / 10));
		tcp_ns = best(tcp_ns, time_write_read(tfds, n / 10));
	}
	if (pipe_ns < 0 || unix_ns < 0 || tcp_ns < 0) {
		fprintf(stderr, "syscall_tax: write/read: %s\n", strerror(errno));
		return 1;
	}
	printf("getppid_ns %.1f\npipe_ns %.1f\nunix_ns %.1f\ntcp_ns %.1f\n", ppid,
	       pipe_ns, unix_ns, tcp_ns);
	return 0;
}
