// SPDX-License-Identifier: MIT
/*
 * Times N (argv[1]) calls of bench_target() and prints "ns_per_call X":
 * the benchmark runs it untraced and traced to get the cost per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) void bench_target(unsigned long i)
{
	sink += i;
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned long i = 0; i < n; i++)
		bench_target(i);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns_per_call %.1f\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
