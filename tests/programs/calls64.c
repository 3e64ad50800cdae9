// SPDX-License-Identifier: MIT
/*
 * 64 functions, fn00 .. fn77 (two octal digits: fn00 .. fn07, fn10 ..
 * fn17, ...), called at a fixed total rate spread over the first K of
 * them, for bench/growth.py:
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

static volatile unsigned long sink;

#define FN(n)                                                   \
	__attribute__((noinline)) void fn##n(void)              \
	{                                                       \
		sink += n##u;                                   \
		__asm__ volatile("" ::: "memory");              \
	}
#define FN8(t) FN(t##0) FN(t##1) FN(t##2) FN(t##3) FN(t##4) FN(t##5) FN(t##6) FN(t##7)
FN8(0) FN8(1) FN8(2) FN8(3) FN8(4) FN8(5) FN8(6) FN8(7)

#define REF(n) fn##n,
#define REF8(t) REF(t##0) REF(t##1) REF(t##2) REF(t##3) REF(t##4) REF(t##5) REF(t##6) REF(t##7)
static void (*const fns[64])(void) = {
	REF8(0) REF8(1) REF8(2) REF8(3) REF8(4) REF8(5) REF8(6) REF8(7)
};

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
