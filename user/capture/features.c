// SPDX-License-Identifier: MIT
#include "capture/features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "capture/umulti.h"
#include "util/hex.h"
#include "util/log.h"

#define CAP_BPF_NR 39
#define CAP_PERFMON_NR 38

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static bool detect_privileged(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };

	/* Root without them (a container, setpriv) is not privileged. */
	if (syscall(SYS_capget, &h, d))
		return false;
	return has_cap(d, CAP_SYS_ADMIN) ||
	       (has_cap(d, CAP_BPF_NR) && has_cap(d, CAP_PERFMON_NR));
}

/* A fentry program is the real test: some kernels list the type but refuse
 * to load it (seen: EPERM under some security policies). */
static bool detect_fentry(struct btf *vmlinux)
{
	struct bpf_insn prog[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },                          /* exit */
	};
	int id = vmlinux ? btf__find_by_name_kind(vmlinux, "tcp_sendmsg", BTF_KIND_FUNC)
			 : -1;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FENTRY,
		    .attach_btf_id = (__u32)id);
	int fd;

	if (id <= 0)
		return false;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "sp_detect", "GPL", prog, 2, &o);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool has_btf_type(struct btf *vmlinux, const char *name)
{
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/* Whether enum `type` of the BTF has the value `name`. */
static bool has_enum_value(struct btf *vmlinux, const char *type, const char *name)
{
	int id = vmlinux ? btf__find_by_name_kind(vmlinux, type, BTF_KIND_ENUM) : -1;
	const struct btf_type *t = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	const struct btf_enum *e = t ? btf_enum(t) : NULL;

	for (__u16 i = 0; e && i < btf_vlen(t); i++)
		if (strcmp(btf__name_by_offset(vmlinux, e[i].name_off), name) == 0)
			return true;
	return false;
}

static const char *btf_path = "/sys/kernel/btf/vmlinux";

void features_set_btf_path(const char *path)
{
	btf_path = path;
}

const char *features_btf_path(void)
{
	return btf_path;
}

const char *features_btf_custom_path(void)
{
	return strcmp(btf_path, "/sys/kernel/btf/vmlinux") ? btf_path : NULL;
}

/* Ring buffers as the values of an array of maps: one per CPU. */
static bool detect_ringbuf_per_cpu(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int inner, outer;

	inner = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sp_probe_ring", 0, 0,
			       (__u32)getpagesize(), NULL);
	if (inner < 0)
		return false;
	o.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "sp_probe_rings", 4, 4, 1, &o);
	close(inner);
	if (outer < 0)
		return false;
	close(outer);
	return true;
}

const struct sp_kernel_features *features_get(void)
{
	static struct sp_kernel_features f;
	static bool done;
	struct btf *vmlinux;
	struct utsname u;

	if (done)
		return &f;
	done = true;
	f.privileged = detect_privileged();
	f.btf = access(btf_path, R_OK) == 0;
	f.uprobes = access("/sys/bus/event_source/devices/uprobe/type", R_OK) == 0;
	f.kprobes = access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0;
	f.tracepoints = access("/sys/kernel/tracing/events", R_OK) == 0 ||
			access("/sys/kernel/debug/tracing/events", R_OK) == 0;
	if (uname(&u) == 0)
		snprintf(f.release, sizeof(f.release), "%s %s", u.release, u.machine);
	if (!f.privileged)
		return &f;
	f.ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f.ringbuf_per_cpu = f.ringbuf && detect_ringbuf_per_cpu();
	f.raw_tracepoints =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1;
	f.attach_cookie = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
						  BPF_FUNC_get_attach_cookie, NULL) == 1;
	f.task_pt_regs = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
						 BPF_FUNC_task_pt_regs, NULL) == 1;
	f.uprobe_multi = umulti_supported();
	vmlinux = f.btf ? btf__parse(btf_path, NULL) : NULL;
	if (vmlinux && libbpf_get_error(vmlinux))
		vmlinux = NULL;
	/* The BPF programs choose their bpf_loop() branches by the BTF they
	 * are loaded with (CO-RE): so does what is reported of them. */
	f.bpf_loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT,
					     BPF_FUNC_loop, NULL) == 1 &&
		     has_enum_value(vmlinux, "bpf_func_id", "BPF_FUNC_loop");
	/* Raw tracepoints have a BTF typedef btf_trace_<name>. */
	f.sock_length_tp = has_btf_type(vmlinux, "btf_trace_sock_send_length") &&
			   has_btf_type(vmlinux, "btf_trace_sock_recv_length");
	f.inet_sock_set_state = has_btf_type(vmlinux, "btf_trace_inet_sock_set_state");
	f.sys_exit_tp = has_btf_type(vmlinux, "btf_trace_sys_exit");
	f.fentry = detect_fentry(vmlinux);
	btf__free(vmlinux);
	return &f;
}

int features_check_required(void)
{
	const struct sp_kernel_features *f = features_get();

	if (!f->privileged) {
		sp_err("bpf: spanprobe needs root (or CAP_BPF and CAP_PERFMON) to load its probes; run it as root");
		return -EPERM;
	}
	if (!f->btf) {
		sp_err("bpf: no kernel BTF at %s; spanprobe needs a kernel built with "
		       "CONFIG_DEBUG_INFO_BTF=y, or the kernel's BTF file given with --btf PATH",
		       btf_path);
		return -ENOTSUP;
	}
	if (!f->ringbuf) {
		sp_err("bpf: this kernel has no BPF ring buffer (Linux 5.8 or later needed)");
		return -ENOTSUP;
	}
	return 0;
}

int features_check_functions(void)
{
	const struct sp_kernel_features *f = features_get();

	if (f->uprobes && f->attach_cookie)
		return 0;
	sp_err("bpf: function spans are off: this kernel lacks %s (Linux 5.15 or later has them)",
	       f->uprobes ? "uprobe attach cookies" : "uprobes");
	return -ENOTSUP;
}

static const char *yes_no(bool v)
{
	return v ? "yes" : "no";
}

void features_report(FILE *out)
{
	const struct sp_kernel_features *f = features_get();

	fprintf(out, "kernel %s\n", f->release);
	fprintf(out, "  %-34s %s\n", "privileges (root / CAP_BPF)", yes_no(f->privileged));
	fprintf(out, "  %-34s %s\n", "BTF (CO-RE)", yes_no(f->btf));
	fprintf(out, "  %-34s %s\n", "ring buffer", yes_no(f->ringbuf));
	fprintf(out, "  %-34s %s\n", "a ring buffer per CPU (map in map)",
		yes_no(f->ringbuf_per_cpu));
	fprintf(out, "  %-34s %s\n", "uprobes / uretprobes", yes_no(f->uprobes));
	fprintf(out, "  %-34s %s\n", "attach cookies", yes_no(f->attach_cookie));
	fprintf(out, "  %-34s %s\n", "bpf_task_pt_regs()", yes_no(f->task_pt_regs));
	fprintf(out, "  %-34s %s\n", "bpf_loop()", yes_no(f->bpf_loop));
	fprintf(out, "  %-34s %s\n", "uprobe-multi links", yes_no(f->uprobe_multi));
	fprintf(out, "  %-34s %s\n", "raw tracepoints", yes_no(f->raw_tracepoints));
	fprintf(out, "  %-34s %s\n", "tracepoints (tracefs mounted)", yes_no(f->tracepoints));
	fprintf(out, "  %-34s %s\n", "kprobes", yes_no(f->kprobes));
	fprintf(out, "  %-34s %s\n", "fentry/fexit", yes_no(f->fentry));
	fprintf(out, "  %-34s %s\n", "sock_send_length/sock_recv_length", yes_no(f->sock_length_tp));
	fprintf(out, "  %-34s %s\n", "inet_sock_set_state", yes_no(f->inet_sock_set_state));
	fprintf(out, "  %-34s %s\n", "sys_exit (syscall tracepoints)", yes_no(f->sys_exit_tp));
	fprintf(out, "uses:\n");
	fprintf(out, "  ID tables and hex encoding: %s (chosen at run time)\n", hex_impl());
	fprintf(out, "  function spans: uprobe + uretprobe, one program for all symbols (attach cookie), %s\n",
		f->uprobe_multi ? "one uprobe-multi link per file and direction"
				: "one perf-event link per symbol and direction");
	fprintf(out, "  records: %s\n", f->ringbuf_per_cpu ?
		"a BPF ring buffer per CPU, merged in time order (--ringbuf-shared: one for all)" :
		"one BPF ring buffer for all CPUs");
	fprintf(out, "  process life cycle: raw tracepoints sched_process_exit, sched_process_exec, sched_process_fork, sched_process_free\n");
}
