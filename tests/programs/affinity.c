// SPDX-License-Identifier: MIT
/*
 * Calls libc's sched_getaffinity() COUNT (argv[1]) times: a libc symbol
 * with an old compat version beside the default one, so the tests see
 * that the default (the one programs bind to) is traced.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	cpu_set_t set;

	for (int i = 0; i < n; i++)
		sched_getaffinity(0, sizeof(set), &set);
	printf("done\n");
	return 0;
}
