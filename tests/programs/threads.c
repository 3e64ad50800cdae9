// SPDX-License-Identifier: MIT
/*
 * Threads for the tests: THREADS (argv[1]) threads each call work() CALLS
 * (argv[2]) times; one more thread enters leave() and exits from inside
 * it with pthread_exit(), so leave() never returns.
 *
 * `threads main-exit N`: the main thread leaves at once (pthread_exit);
 * a worker waits for a line on stdin, then calls work() N times.
 *
 * `threads exit-all N`: N threads enter leave() and wait there; the main
 * thread ends the process (exit) as soon as they are all in, so that N + 1
 * threads are in do_exit at once, in any order.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile unsigned long sink;
static int calls;
static int entered; /* threads inside leave() */
static int hold;    /* leave() waits there for the process's end */

__attribute__((noinline)) void work(int i)
{
	sink += (unsigned long)i;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void leave(void)
{
	sink++;
	__atomic_add_fetch(&entered, 1, __ATOMIC_RELEASE);
	while (hold)
		pause();
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

/* Returns once `n` threads are inside leave(), leaving it. */
static void all_leave(int n)
{
	pthread_t t;

	for (int i = 0; i < n; i++) {
		if (pthread_create(&t, NULL, leaver, NULL)) {
			fprintf(stderr, "threads: thread %d not created\n", i);
			exit(1);
		}
		pthread_detach(t);
	}
	while (__atomic_load_n(&entered, __ATOMIC_ACQUIRE) < n)
		sched_yield();
}

int main(int argc, char **argv)
{
	if (argc > 2 && argv[1][0] == 'e') {
		hold = 1;
		all_leave(atoi(argv[2]));
		printf("done\n");
		exit(0);
	}
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
