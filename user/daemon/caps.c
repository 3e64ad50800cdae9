// SPDX-License-Identifier: MIT
#include "daemon/caps.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/umulti.h"
#include "util/log.h"

static bool has(uint64_t set, int cap)
{
	return set & (1ULL << cap);
}

static void add(struct caps_verdict *out, size_t *n, int cap, const char *name,
		enum caps_need need, const char *without)
{
	out[(*n)++] = (struct caps_verdict){ cap, name, need, without };
}

/* Who reads /proc of processes that are not ours: run, or attach to another user's. */
static bool reads_others(const struct caps_work *w)
{
	return w->command == SP_CMD_RUN || (w->command == SP_CMD_ATTACH && w->other_user);
}

/* Uprobes are made: function spans, or TLS plaintext under HTTP capture. */
static bool makes_uprobes(const struct caps_work *w)
{
	return w->functions || !w->no_http;
}

size_t caps_missing(const struct caps_work *w, uint64_t eff, struct caps_verdict *out)
{
	bool admin = has(eff, CAPS_SYS_ADMIN);
	size_t n = 0;

	if (!w->kernel_has_bpf_caps) {
		if (!admin)
			add(out, &n, CAPS_SYS_ADMIN, "CAP_SYS_ADMIN", CAPS_REQUIRED,
			    "loading the BPF programs fails without it: this kernel "
			    "predates CAP_BPF and CAP_PERFMON (Linux 5.8)");
		return n;
	}
	/* CAP_SYS_ADMIN still implies both (kernel's bpf_capable(), perfmon_capable()). */
	if (!has(eff, CAPS_BPF) && !admin)
		add(out, &n, CAPS_BPF, "CAP_BPF", CAPS_REQUIRED,
		    "creating the BPF maps and loading the programs fails without it");
	if (!has(eff, CAPS_PERFMON) && !admin)
		add(out, &n, CAPS_PERFMON, "CAP_PERFMON", CAPS_REQUIRED,
		    "loading the tracing programs (raw tracepoints, uprobes) fails without it");
	if (reads_others(w) && !has(eff, CAPS_SYS_PTRACE))
		add(out, &n, CAPS_SYS_PTRACE, "CAP_SYS_PTRACE", CAPS_REQUIRED,
		    "reading /proc/PID/exe, maps and root of other users' processes fails "
		    "without it: their spans lose who sent them, their TLS libraries are "
		    "not probed");
	if (w->memlock_charged && w->memlock_limited && !has(eff, CAPS_SYS_RESOURCE))
		add(out, &n, CAPS_SYS_RESOURCE, "CAP_SYS_RESOURCE", CAPS_REQUIRED,
		    "raising RLIMIT_MEMLOCK for the BPF maps fails without it: this kernel "
		    "charges BPF memory to it (before Linux 5.11)");
	if (reads_others(w) && !has(eff, CAPS_DAC_READ_SEARCH))
		add(out, &n, CAPS_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH", CAPS_OPTIONAL,
		    "reading /proc/PID/environ of other users' processes fails without it: "
		    "their OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are not used");
	if (!w->uprobe_multi && makes_uprobes(w) && !admin)
		add(out, &n, CAPS_SYS_ADMIN, "CAP_SYS_ADMIN", CAPS_OPTIONAL,
		    "uprobes go through perf events on this kernel (no uprobe-multi "
		    "links), which Linux 6.16 and stable kernels with its rule allow "
		    "only with it: function spans and TLS plaintext may not attach");
	return n;
}

int caps_effective(uint64_t *effective)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return -errno;
	*effective = (uint64_t)d[1].effective << 32 | d[0].effective;
	return 0;
}

/* CAP_BPF is the last capability a 5.8 kernel knows; before, neither it
 * nor CAP_PERFMON exist.  Unreadable: assume a kernel that has them. */
static bool kernel_knows_cap_bpf(void)
{
	char buf[16] = "";
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	bool known = true;

	if (f && fgets(buf, sizeof(buf), f))
		known = atoi(buf) >= CAPS_BPF;
	if (f)
		fclose(f);
	return known;
}

/*
 * BPF memory is charged to the memory cgroup since Linux 5.11, which
 * added bpf_ktime_get_coarse_ns() in the same release: a socket filter
 * calling it loads only there (libbpf tells the two apart the same way).
 */
static bool memlock_charged(void)
{
	struct bpf_insn prog[] = {
		{ .code = 0x85, .imm = BPF_FUNC_ktime_get_coarse_ns }, /* call */
		{ .code = 0x95 },                                      /* exit */
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "sp_memcg", "GPL", prog, 2, NULL);

	if (fd < 0)
		return true;
	close(fd);
	return false;
}

/* Fill in what the kernel is; the probes that load a program only when it can. */
static void describe_kernel(struct caps_work *w, uint64_t eff)
{
	struct rlimit rl;
	bool bpf_ok = has(eff, CAPS_SYS_ADMIN) ||
		      (has(eff, CAPS_BPF) && has(eff, CAPS_PERFMON));

	w->kernel_has_bpf_caps = kernel_knows_cap_bpf();
	w->memlock_limited = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
			     rl.rlim_max != RLIM_INFINITY;
	/* Without them nothing loads: the missing ones are said already. */
	w->memlock_charged = bpf_ok && w->memlock_limited && memlock_charged();
	w->uprobe_multi = !bpf_ok || umulti_supported();
}

static struct caps_work work_of(const struct sp_config *cfg, uint64_t eff)
{
	struct caps_work w = {
		.command = cfg->command,
		.functions = cfg->n_symbols > 0,
		.no_http = cfg->no_http,
	};
	char path[64];
	struct stat st;

	if (cfg->command == SP_CMD_ATTACH) {
		snprintf(path, sizeof(path), "/proc/%d", (int)cfg->pid);
		w.other_user = stat(path, &st) == 0 && st.st_uid != geteuid();
	}
	describe_kernel(&w, eff);
	return w;
}

/* The initial PID namespace's inode number (the kernel's PROC_PID_INIT_INO). */
#define PIDNS_INIT_INO 0xEFFFFFFCU

/*
 * The BPF programs see the kernel's process IDs, those of the initial PID
 * namespace; a process in a namespace of its own sees others, and no
 * record would ever match a process it tracks or reads in /proc.  Refused
 * with the way out, rather than running and tracing nothing.
 */
static int pidns_check(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) != 0 || st.st_ino == PIDNS_INIT_INO)
		return 0; /* unreadable: no namespaces in this kernel */
	sp_err("spanprobe runs in a PID namespace of its own: the kernel names "
	       "processes by the host's IDs, which it cannot see from here; run it "
	       "in the host's PID namespace (docker run --pid=host, Kubernetes "
	       "hostPID: true)");
	return -EPERM;
}

int caps_check(const struct sp_config *cfg)
{
	struct caps_verdict v[CAPS_MAX];
	struct caps_work w;
	uint64_t eff;
	size_t n;
	int err = pidns_check();

	if (err)
		return err;
	err = caps_effective(&eff);

	if (err) {
		sp_warn("cannot read this process's capabilities (%s): not checked",
			strerror(-err));
		return 0;
	}
	w = work_of(cfg, eff);
	n = caps_missing(&w, eff, v);
	err = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].need == CAPS_REQUIRED) {
			sp_err("missing capability %s: %s (give it, or run as root)",
			       v[i].name, v[i].without);
			err = -EPERM;
		} else {
			sp_warn("missing capability %s: %s; give it for full function",
				v[i].name, v[i].without);
		}
	}
	return err;
}

void caps_report(FILE *out)
{
	static const struct {
		int cap;
		const char *name;
		const char *buys;
	} table[] = {
		{ CAPS_BPF, "CAP_BPF", "BPF maps and programs" },
		{ CAPS_PERFMON, "CAP_PERFMON", "tracing programs" },
		{ CAPS_SYS_PTRACE, "CAP_SYS_PTRACE", "other users' /proc/PID" },
		{ CAPS_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH", "their /proc/PID/environ" },
		{ CAPS_SYS_RESOURCE, "CAP_SYS_RESOURCE", "RLIMIT_MEMLOCK (before 5.11)" },
		{ CAPS_SYS_ADMIN, "CAP_SYS_ADMIN", "uprobes before Linux 6.6" },
	};
	struct sp_config run = { .command = SP_CMD_RUN };
	struct caps_verdict v[CAPS_MAX];
	struct caps_work w;
	uint64_t eff = 0;
	size_t n;

	if (caps_effective(&eff)) {
		fprintf(out, "capabilities: unreadable\n");
		return;
	}
	w = work_of(&run, eff);
	n = caps_missing(&w, eff, v);
	fprintf(out, "capabilities (of `run`; uid %d):\n", (int)geteuid());
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		fprintf(out, "  %-20s %-30s %s\n", table[i].name, table[i].buys,
			has(eff, table[i].cap) ? "present" : "missing");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s %s: %s\n", v[i].need == CAPS_REQUIRED ? "required," : "optional,",
			v[i].name, v[i].without);
	if (!n)
		fprintf(out, "  nothing missing\n");
}
