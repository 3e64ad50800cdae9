/* SPDX-License-Identifier: MIT */
/*
 * The local OTLP sink (bench/otlp_sink.c) as the benchmarks that export
 * to it run it: started as a child process that prints its port, stopped
 * with SIGTERM, after which it prints its counters.  Header only: each
 * benchmark is one .c file built into its own program.
 */
#ifndef SPANPROBE_BENCH_SINK_H
#define SPANPROBE_BENCH_SINK_H

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SINK_SECONDS "3600" /* a safety net; the sink is stopped at the end */

struct sink {
	pid_t pid;
	FILE *out;
	int port;
	uint64_t requests, h2, h1, body_bytes, connections, errors, wire_bytes, cpu_ms;
};

/* Start the sink and read its port.  Returns 0 or a negative errno. */
static int sink_start(struct sink *s, const char *path)
{
	int fds[2];
	char line[128];

	if (pipe(fds))
		return -errno;
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the benchmark */
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(path, path, "-t", SINK_SECONDS, (char *)NULL);
		fprintf(stderr, "sink: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	s->out = fdopen(fds[0], "r");
	if (!s->out || !fgets(line, sizeof(line), s->out) ||
	    sscanf(line, "listening %d", &s->port) != 1)
		return -EIO;
	return 0;
}

/* Stop the sink and read its counters.  Returns 0 or -EIO. */
static int sink_stop(struct sink *s)
{
	char line[512];
	int status, n = 0;

	kill(s->pid, SIGTERM);
	if (fgets(line, sizeof(line), s->out))
		n = sscanf(line, "requests %" SCNu64 " h2 %" SCNu64 " h1 %" SCNu64
			   " body_bytes %" SCNu64 " connections %" SCNu64
			   " errors %" SCNu64 " wire_bytes %" SCNu64 " cpu_ms %" SCNu64,
			   &s->requests, &s->h2, &s->h1, &s->body_bytes,
			   &s->connections, &s->errors, &s->wire_bytes, &s->cpu_ms);
	fclose(s->out);
	waitpid(s->pid, &status, 0);
	return n == 8 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The sink is built next to the benchmark. */
static void sink_default_path(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		snprintf(path, size, "otlp_sink");
		return;
	}
	self[n] = '\0';
	snprintf(path, size, "%s/otlp_sink", dirname(self));
}

#endif /* SPANPROBE_BENCH_SINK_H */
