// SPDX-License-Identifier: MIT
/*
 * The kernel's prices for what a socket program does (bench/kprice.bpf.c):
 * nanoseconds per run of a program that does nothing, and of one that
 * copies user memory (8 and 256 bytes, once and twice), copies kernel
 * memory, reads the clock or the task's ids, or writes an 88-byte
 * ring-buffer record.
 * bpf_stats around BENCH_CALLS calls per step, the steps in alternating
 * order round by round, BENCH_ROUNDS rounds; min/median/max per step, and
 * the median of each round's difference from the empty program, after a
 * round not kept; all on the CPU it started on.  Root.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "summary.h"
#include "kprice.skel.h"

enum { STEPS = 8 };
static const char *const step_name[STEPS] = {
	"an empty program",
	"bpf_probe_read_user(), 8 bytes",
	"bpf_probe_read_user(), 256 bytes",
	"bpf_probe_read_user() twice, 8 bytes each",
	"bpf_probe_read_kernel(), 8 bytes",
	"bpf_ktime_get_ns()",
	"bpf_get_current_pid_tgid()",
	"ring buffer: 88-byte record reserved, submitted",
};

static char user_bytes[4096] __attribute__((aligned(4096)));

/* The probed function: not inlined, cloned or folded away.  It reads the bytes
 * the program copies, as a process has touched the buffer it hands to a
 * socket call (their page is in the TLB). */
__attribute__((noipa, used)) void kp_call(void)
{
	*(volatile char *)user_bytes;
	__asm__ volatile("" ::: "memory");
}

static int no_record(void *ctx, void *data, size_t size)
{
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ns per run of the program over `calls` calls in step `step`; -1 when
 * the kernel did not count one run per call. */
static double run_step(struct kprice_bpf *skel, struct ring_buffer *rb, int step, long calls)
{
	struct bpf_prog_info a = {}, b = {};
	__u32 len = sizeof(a);
	int fd = bpf_program__fd(skel->progs.kp_probe);

	skel->bss->kp_step = step;
	if (bpf_obj_get_info_by_fd(fd, &a, &len))
		return -1;
	for (long i = 0; i < calls; i++) {
		kp_call();
		if ((i & 4095) == 4095)
			ring_buffer__consume(rb); /* never full: no failed reservation */
	}
	len = sizeof(b);
	if (bpf_obj_get_info_by_fd(fd, &b, &len) || b.run_cnt - a.run_cnt != (__u64)calls)
		return -1;
	return (double)(b.run_time_ns - a.run_time_ns) / (double)calls;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && atol(v) > 0 ? atol(v) : dflt;
}

static struct bpf_link *attach_self(struct kprice_bpf *skel)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "kp_call");

	return bpf_program__attach_uprobe_opts(skel->progs.kp_probe, getpid(),
					       "/proc/self/exe", 0, &opts);
}

/* Rounds of every step, in alternating order, after one round not kept;
 * each round's ns in ns[step][round].  False if a count was wrong. */
static bool measure(struct kprice_bpf *skel, struct ring_buffer *rb, int rounds, long calls,
		    double ns[STEPS][64])
{
	for (int k = 0; k < STEPS; k++)
		if (run_step(skel, rb, k, calls) < 0)
			return false;
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < STEPS; k++) {
			int step = r % 2 ? STEPS - 1 - k : k;

			ns[step][r] = run_step(skel, rb, step, calls);
			if (ns[step][r] < 0)
				return false;
		}
	return true;
}

/* All on one CPU: the one it runs on now (the CPUs of a VM may differ). */
static int pin_here(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : cpu;
}

static void report(int rounds, long calls, double ns[STEPS][64])
{
	double sorted[64], diff[64], added[STEPS] = {0};
	char figure[160], measured[80];

	printf("kernel prices: ns per run of a BPF program (bpf_stats), %d rounds of %ld calls, "
	       "on CPU %d:\n", rounds, calls, sched_getcpu());
	for (int s = 0; s < STEPS; s++) {
		memcpy(sorted, ns[s], sizeof(double) * rounds);
		qsort(sorted, rounds, sizeof(double), cmp_double);
		for (int r = 0; r < rounds; r++)
			diff[r] = ns[s][r] - ns[0][r];
		qsort(diff, rounds, sizeof(double), cmp_double);
		added[s] = diff[rounds / 2];
		printf("  %-48s min %6.1f  median %6.1f  max %6.1f", step_name[s], sorted[0],
		       sorted[rounds / 2], sorted[rounds - 1]);
		if (s)
			printf("  (+%.1f)", added[s]);
		printf("\n");
		if (!s)
			continue;
		snprintf(figure, sizeof(figure), "kernel price: %s", step_name[s]);
		snprintf(measured, sizeof(measured), "%.0f ns over an empty program", added[s]);
		summary_record(figure, measured, NULL, -1);
	}
}

int main(void)
{
	static double ns[STEPS][64];
	int rounds = (int)env_long("BENCH_ROUNDS", 7);
	long calls = env_long("BENCH_CALLS", 200000);
	struct kprice_bpf *skel;
	struct ring_buffer *rb = NULL;
	struct bpf_link *link = NULL;
	int stats_fd = -1, status = 1;

	if (rounds > 64)
		rounds = 64;
	memset(user_bytes, 1, sizeof(user_bytes));
	skel = kprice_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->kp_user_addr = (unsigned long)user_bytes;
	if (kprice_bpf__load(skel)) {
		fprintf(stderr, "kprice: cannot load the program (root needed)\n");
		goto out;
	}
	link = attach_self(skel);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.kp_ring), no_record, NULL, NULL);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (!link || !rb || stats_fd < 0) {
		fprintf(stderr, "kprice: cannot attach the uprobe or turn on bpf_stats: %s\n",
			strerror(errno));
		goto out;
	}
	if (pin_here() < 0 || !measure(skel, rb, rounds, calls, ns)) {
		fprintf(stderr, "kprice: could not pin to a CPU, or the kernel did not count "
			"one run of the program per call\n");
		goto out;
	}
	report(rounds, calls, ns);
	status = 0;
out:
	if (stats_fd >= 0)
		close(stats_fd);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	kprice_bpf__destroy(skel);
	return status;
}
