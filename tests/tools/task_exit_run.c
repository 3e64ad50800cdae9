// SPDX-License-Identifier: MIT
/*
 * Test tool: runs the thread-exit program (bpf/task.bpf.c sp_thread_exit)
 * with BPF_PROG_TEST_RUN in this process, which stays alive, and counts
 * the exit records it writes, for each state of the process in the maps:
 *
 *   untracked     in neither map: no record
 *   tracked       in sp_tracked: a record
 *   ended         in sp_exited only (a thread still on its way out after
 *                 another found the process over): a record
 *   gone          out of sp_exited again (as sp_proc_free takes it out
 *                 when the main thread is freed; that program reads a
 *                 kernel task, which a test run cannot give): no record
 *
 * Prints "STATE N" per state, N the records of this thread; exits 1 when
 * the programs cannot be loaded or run.  Run as root.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture/loader.h"
#include "spanprobe/events.h"
#include "task.skel.h"

static int records;

static int on_event(void *ctx, const struct sp_event_header *hdr, size_t size)
{
	if (hdr->type == SP_EV_THREAD_EXIT && hdr->pid == (uint32_t)getpid() &&
	    hdr->tid == (uint32_t)gettid())
		records++;
	return 0;
}

/* Runs `prog` once here; 0 or a negative errno. */
static int run(struct bpf_program *prog, uint64_t arg)
{
	uint64_t args[2] = { arg, 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof(args));

	return bpf_prog_test_run_opts(bpf_program__fd(prog), &o) ? -errno : (int)o.retval;
}

/* Records of this thread after one run of the exit program. */
static int exits(struct sp_loader *l)
{
	records = 0;
	if (run(l->task->progs.sp_thread_exit, 0))
		return -1;
	while (loader_poll(l, 50) > 0)
		;
	return records;
}

int main(void)
{
	struct sp_loader_opts opts = { .ringbuf_bytes = 1u << 20, .max_processes = 64,
				       .on_event = on_event };
	struct sp_loader l;
	__u32 me = (__u32)getpid(), one = 1;
	__u8 yes = 1;
	int exited_fd;

	if (loader_open(&l, &opts) || loader_map_ring(&l)) {
		fprintf(stderr, "task_exit_run: loading failed: %s\n", loader_libbpf_last());
		return 1;
	}
	exited_fd = bpf_map__fd(l.task->maps.sp_exited);
	printf("untracked %d\n", exits(&l));
	bpf_map_update_elem(l.tracked_fd, &me, &one, BPF_ANY);
	printf("tracked %d\n", exits(&l));
	bpf_map_delete_elem(l.tracked_fd, &me);
	bpf_map_update_elem(exited_fd, &me, &yes, BPF_ANY);
	printf("ended %d\n", exits(&l));
	bpf_map_delete_elem(exited_fd, &me);
	printf("gone %d\n", exits(&l));
	loader_close(&l);
	return 0;
}
