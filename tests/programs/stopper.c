// SPDX-License-Identifier: MIT
/*
 * A command with shutdown work, for the tests of stopping `trace`: prints
 * "ready", then waits.  On SIGINT or SIGTERM its handler calls
 * on_stop(SIGNAL) once per signal, and after the first cleanup() 3 times,
 * 100 ms each, as a service winds down; then:
 *
 *   stopper exit N    exits with status N
 *   stopper die       dies of the signal it got (the default action)
 *   stopper linger    keeps waiting (a command that ignores the stop)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static volatile sig_atomic_t got;

__attribute__((noinline)) void on_stop(int sig)
{
	sink += (unsigned long)sig;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void cleanup(int i)
{
	struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	sink += (unsigned long)i;
	__asm__ volatile("" ::: "memory");
}

static void on_signal(int sig)
{
	got = sig;
	on_stop(sig);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "exit";
	int status = argc > 2 && !strcmp(mode, "exit") ? atoi(argv[2]) : 0;
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!got)
		pause();
	for (int i = 0; i < 3; i++)
		cleanup(i);
	if (!strcmp(mode, "die")) {
		signal(got, SIG_DFL);
		raise(got);
	}
	while (!strcmp(mode, "linger"))
		pause();
	return status;
}
