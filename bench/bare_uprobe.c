// SPDX-License-Identifier: MIT
/*
 * Runs a command with the bare uprobe + uretprobe pair of bare.bpf.c on
 * each FUNCTION of EXE: `bare_uprobe EXE FUNCTION[,FUNCTION...] -- COMMAND...`
 * (EXE may be a shared library).  The records are drained after the
 * command ends, so no reader competes with it.  Exits with the command's
 * status; prints how many records were written.
 *
 * `bare_uprobe --sock SECONDS`: the bare socket programs instead, on every
 * socket call of the host for SECONDS, the records drained as they come
 * (every 10 ms), as spanprobe's reader drains its own; beside them, the
 * programs that read the socket once and stop.  `--sock-read SECONDS`:
 * only those (started before spanprobe, they run before its programs).
 */
#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bare.skel.h"
#include "capture/elfsym.h"

static int count_record(void *ctx, void *data, size_t size)
{
	(*(long *)ctx)++;
	return 0;
}

/* Both probes on each comma-separated function of `exe`; false (and a
 * message) when one is missing or cannot be attached. */
static bool attach_all(struct bare_bpf *skel, const char *exe, char *functions)
{
	char *save = NULL;

	for (char *fn = strtok_r(functions, ",", &save); fn; fn = strtok_r(NULL, ",", &save)) {
		uint64_t off;

		if (elfsym_find(exe, fn, &off)) {
			fprintf(stderr, "bare_uprobe: %s not found in %s\n", fn, exe);
			return false;
		}
		/* The links live as long as the process. */
		if (!bpf_program__attach_uprobe(skel->progs.bare_entry, false, -1, exe, off) ||
		    !bpf_program__attach_uprobe(skel->progs.bare_return, true, -1, exe, off)) {
			fprintf(stderr, "bare_uprobe: cannot attach to %s of %s\n", fn, exe);
			return false;
		}
	}
	return true;
}

/* The socket floor: attached for `seconds`, drained as it runs; only the
 * programs that read the socket once when `read_only`. */
static int run_sock(struct bare_bpf *skel, double seconds, bool read_only)
{
	struct ring_buffer *rb;
	long records = 0;

	if ((!read_only && (!bpf_program__attach(skel->progs.bare_sock_send) ||
			    !bpf_program__attach(skel->progs.bare_sock_recv))) ||
	    !bpf_program__attach(skel->progs.bare_read_send) ||
	    !bpf_program__attach(skel->progs.bare_read_recv)) {
		fprintf(stderr, "bare_uprobe: cannot attach the socket programs\n");
		return 2;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.bare_events), count_record, &records, NULL);
	if (!rb)
		return 2;
	printf("ready\n");
	fflush(stdout);
	/* Records go in without a wake-up, so epoll never sees them: read
	 * after every wait, as the daemon does (else the ring fills, and
	 * every later reservation fails at once: a floor too low). */
	for (long i = 0; i < (long)(seconds * 100); i++) {
		ring_buffer__poll(rb, 10);
		ring_buffer__consume(rb);
	}
	fprintf(stderr, "bare_uprobe: %ld records\n", records);
	ring_buffer__free(rb);
	return 0;
}

int main(int argc, char **argv)
{
	struct bare_bpf *skel;
	struct ring_buffer *rb;
	long records = 0;
	int status = 1;
	pid_t child;

	if (argc == 3 && (!strcmp(argv[1], "--sock") || !strcmp(argv[1], "--sock-read"))) {
		skel = bare_bpf__open_and_load();
		if (!skel) {
			fprintf(stderr, "bare_uprobe: cannot load (root needed)\n");
			return 2;
		}
		status = run_sock(skel, atof(argv[2]), !strcmp(argv[1], "--sock-read"));
		bare_bpf__destroy(skel);
		return status;
	}
	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: bare_uprobe EXE FUNCTION[,FUNCTION...] -- COMMAND...\n");
		return 2;
	}
	skel = bare_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "bare_uprobe: cannot load (root needed)\n");
		return 2;
	}
	if (!attach_all(skel, argv[1], argv[2])) {
		bare_bpf__destroy(skel);
		return 2;
	}
	child = fork();
	if (child == 0) {
		execv(argv[4], argv + 4);
		_exit(127);
	}
	waitpid(child, &status, 0);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.bare_events), count_record, &records, NULL);
	if (rb)
		ring_buffer__consume(rb);
	fprintf(stderr, "bare_uprobe: %ld records\n", records);
	ring_buffer__free(rb);
	bare_bpf__destroy(skel);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
