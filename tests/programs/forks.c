// SPDX-License-Identifier: MIT
/*
 * A prefork-style program for the tests of followed children: the parent
 * calls work() once, then starts CHILDREN (argv[1], default 2) processes;
 * child i sleeps DELAY_MS (argv[3], default 300) and calls work() CALLS
 * (argv[2], default 3) + i times; the first child also starts a
 * grandchild that sleeps as long and calls work() 2 times.  Each process
 * prints "pid PID calls N" on stdout when its calls are done, and every
 * parent waits for its children.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) void work(int i)
{
	sink += (unsigned long)i;
	__asm__ volatile("" ::: "memory");
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

static void calls(int n)
{
	for (int k = 0; k < n; k++)
		work(k);
	printf("pid %d calls %d\n", (int)getpid(), n);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int children = argc > 1 ? atoi(argv[1]) : 2;
	int per_child = argc > 2 ? atoi(argv[2]) : 3;
	long delay_ms = argc > 3 ? atol(argv[3]) : 300;
	int failed = 0, status;

	calls(1);
	for (int i = 0; i < children; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid > 0)
			continue;
		if (i == 0 && fork() == 0) {
			nap(delay_ms);
			calls(2);
			_exit(0);
		}
		nap(delay_ms);
		calls(per_child + i);
		while (wait(&status) > 0)
			;
		_exit(0);
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	return failed;
}
