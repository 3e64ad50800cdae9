// SPDX-License-Identifier: MIT
/* Calls lib_work() from libspwork.so COUNT (argv[1]) times. */
#include <stdio.h>
#include <stdlib.h>

int lib_work(int x);

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	long sum = 0;

	for (int i = 0; i < n; i++)
		sum += lib_work(i);
	printf("done %ld\n", sum);
	return 0;
}
