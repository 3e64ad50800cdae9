// SPDX-License-Identifier: MIT
/*
 * Threads for the tests: THREADS (argv[1]) threads each call work() CALLS
 * (argv[2]) times; one more thread enters leave() and exits from inside
 * it with pthread_exit(), so leave() never returns.
 *
 * `threads main-exit N`: the main thread leaves at once (pthread_exit);
 * a worker waits for a line on stdin, then calls work() N times.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;
static int calls;

__attribute__((noinline)) void work(int i)
{
	sink += (unsigned long)i;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void leave(void)
{
	sink++;
	pthread_exit(NULL);
}

static void *worker(void *arg)
{
	for (int i = 0; i < calls; i++)
		work(i);
	return arg;
}

static void *leaver(void *arg)
{
	leave();
	return arg;
}

static void *late_worker(void *arg)
{
	char line[16];

	if (fgets(line, sizeof(line), stdin))
		for (int i = 0; i < calls; i++)
			work(i);
	return arg;
}

int main(int argc, char **argv)
{
	if (argc > 2 && argv[1][0] == 'm') {
		pthread_t t;

		calls = atoi(argv[2]);
		setvbuf(stdout, NULL, _IOLBF, 0);
		pthread_create(&t, NULL, late_worker, NULL);
		printf("ready\n");
		pthread_exit(NULL);
	}

	int n = argc > 1 ? atoi(argv[1]) : 4;
	pthread_t t[65];

	calls = argc > 2 ? atoi(argv[2]) : 100;
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	pthread_create(&t[n], NULL, leaver, NULL);
	for (int i = 0; i <= n; i++)
		pthread_join(t[i], NULL);
	printf("done\n");
	return 0;
}
