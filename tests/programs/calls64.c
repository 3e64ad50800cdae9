// SPDX-License-Identifier: MIT
/*
 * The 64 functions of fn64.h (fn00 .. fn77, two octal digits), called
 * at a fixed total rate spread over the first K of them, for
 * bench/growth.py:
 *
 *   calls64 K RATE SECONDS
 *
 * prints "ready", waits for a line on stdin, then calls the first K in
 * turn, RATE calls/s in all, for SECONDS, prints "calls N" and waits
 * for stdin to close (so a tracer's exit report comes after the count).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fn64.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const struct timespec tick = { 0, 1000000 }; /* 1 ms */
	unsigned long calls = 0;
	unsigned k, next = 0;
	double rate, seconds, t0, t;
	int c;

	if (argc != 4 || (k = atoi(argv[1])) < 1 || k > 64 ||
	    (rate = atof(argv[2])) <= 0 || (seconds = atof(argv[3])) <= 0) {
		fprintf(stderr, "usage: calls64 K(1..64) RATE SECONDS\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	while ((c = getchar()) != '\n' && c != EOF)
		;
	t0 = now();
	while ((t = now() - t0) < seconds) {
		unsigned long due = (unsigned long)(rate * t);

		for (; calls < due; calls++) {
			fns[next]();
			next = next + 1 == k ? 0 : next + 1;
		}
		nanosleep(&tick, NULL);
	}
	printf("calls %lu\n", calls);
	fflush(stdout);
	while (getchar() != EOF)
		;
	return 0;
}
