// SPDX-License-Identifier: MIT
/*
 * Runs a command with the bare uprobe + uretprobe pair of bare.bpf.c on
 * FUNCTION of EXE: `bare_uprobe EXE FUNCTION -- COMMAND...`.  The records
 * are drained after the command ends, so no reader competes with it.
 * Exits with the command's status; prints how many records were written.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
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

int main(int argc, char **argv)
{
	struct bare_bpf *skel;
	struct ring_buffer *rb;
	uint64_t off;
	long records = 0;
	int status = 1;
	pid_t child;

	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: bare_uprobe EXE FUNCTION -- COMMAND...\n");
		return 2;
	}
	if (elfsym_find(argv[1], argv[2], &off)) {
		fprintf(stderr, "bare_uprobe: %s not found in %s\n", argv[2], argv[1]);
		return 2;
	}
	skel = bare_bpf__open_and_load();
	if (!skel || !bpf_program__attach_uprobe(skel->progs.bare_entry, false, -1, argv[1], off) ||
	    !bpf_program__attach_uprobe(skel->progs.bare_return, true, -1, argv[1], off)) {
		fprintf(stderr, "bare_uprobe: cannot load or attach (root needed)\n");
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
