/* SPDX-License-Identifier: MIT */
/*
 * Socket calls that are not HTTP, for bench/bpf_cost.py: for SECONDS,
 * round trips of 64 bytes of a binary protocol ("ping ...") over one
 * loopback TCP connection (`tcp`) or an AF_UNIX socketpair (`unix`):
 * one end writes, the other reads and writes them back, the first reads
 * (both ends speak both ways, as a client and a server do).  Prints the
 * number of write+read pairs.
 *
 * Usage: tcp_echo tcp|unix SECONDS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcp_pair.h"

#define MSG_SIZE 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char buf[MSG_SIZE] = "ping 0123456789abcdef0123456789abcdef0123456789abcdef";
	double seconds = argc == 3 ? atof(argv[2]) : 0, end;
	long pairs = 0;
	int fds[2], rc;

	if (seconds <= 0 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "unix"))) {
		fprintf(stderr, "usage: tcp_echo tcp|unix SECONDS\n");
		return 2;
	}
	rc = strcmp(argv[1], "tcp") ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds)
				    : tcp_pair(&fds[1], &fds[0]);
	if (rc) {
		fprintf(stderr, "tcp_echo: setup: %s\n", strerror(errno));
		return 1;
	}
	end = now_s() + seconds;
	do {
		for (int i = 0; i < 1000; i++, pairs++) {
			int from = i & 1, to = !from;

			if (write(fds[from], buf, sizeof(buf)) != sizeof(buf) ||
			    read(fds[to], buf, sizeof(buf)) != sizeof(buf)) {
				fprintf(stderr, "tcp_echo: write/read: %s\n", strerror(errno));
				return 1;
			}
		}
	} while (now_s() < end);
	printf("%ld\n", pairs);
	return 0;
}
