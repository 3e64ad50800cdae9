// SPDX-License-Identifier: MIT
/*
 * A program with known call counts and nesting, traced by the tests:
 * for ITERATIONS (argv[1], default 1000): outer() calls inner() 3 times;
 * recurse(DEPTH) (argv[2], default 0) calls itself DEPTH times on the
 * first iteration only.  Every call sleeps `spin_us` (argv[3]) so
 * durations are measurable.  Prints "done" and exits with argv[4] (0).
 *
 * `nested stdin`: for each line N read from stdin, run N iterations and
 * print "ok N"; exit at end of input (for attach tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;
static unsigned spin_us;

static void spin(void)
{
	struct timespec start, now;

	if (!spin_us)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000000L +
		       (now.tv_nsec - start.tv_nsec) / 1000 < (long)spin_us);
}

__attribute__((noinline)) void inner(int i)
{
	spin();
	sink += (unsigned long)i;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void outer(int i)
{
	for (int k = 0; k < 3; k++)
		inner(i + k);
	spin();
}

__attribute__((noinline)) int recurse(int n)
{
	__asm__ volatile("" ::: "memory");
	return n <= 0 ? 0 : 1 + recurse(n - 1);
}

static int from_stdin(void)
{
	char line[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		int n = atoi(line);

		for (int i = 0; i < n; i++)
			outer(i);
		printf("ok %d\n", n);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] == 's')
		return from_stdin();
	int iterations = argc > 1 ? atoi(argv[1]) : 1000;
	int depth = argc > 2 ? atoi(argv[2]) : 0;
	int status = argc > 4 ? atoi(argv[4]) : 0;

	spin_us = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	for (int i = 0; i < iterations; i++) {
		outer(i);
		if (i == 0 && depth > 0)
			sink += (unsigned long)recurse(depth);
	}
	printf("done\n");
	return status;
}
