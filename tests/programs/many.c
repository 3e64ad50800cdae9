// SPDX-License-Identifier: MIT
/*
 * 64 functions (fn64.h), for tests of start-up with many symbols:
 * `many N` calls each of them N times (default 1) in order, then prints
 * "done".
 */
#include <stdio.h>
#include <stdlib.h>

#include "fn64.h"

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1;

	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < 64; i++)
			fns[i]();
	printf("done\n");
	return 0;
}
