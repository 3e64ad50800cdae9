// SPDX-License-Identifier: MIT
#include "capture/umulti.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UMULTI_F_RETURN 1 /* BPF_F_UPROBE_MULTI_RETURN */

/* The head of union bpf_attr's link_create with its uprobe_multi member,
 * as the kernel lays it out (include/uapi/linux/bpf.h, Linux 6.6). */
struct umulti_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;
	uint32_t pid;
	uint32_t pad;
};

int umulti_attach(int prog_fd, const char *path, const uint64_t *offsets,
		  const uint64_t *cookies, size_t n, pid_t pid, bool ret)
{
	struct umulti_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = UMULTI_ATTACH_TYPE;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)offsets;
	a.cookies = (uint64_t)(uintptr_t)cookies;
	a.cnt = (uint32_t)n;
	a.multi_flags = ret ? UMULTI_F_RETURN : 0;
	a.pid = (uint32_t)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}

/*
 * A kernel that knows the link type checks the path first: a directory
 * is refused with EBADF.  One that does not refuses the attach type
 * with EINVAL.
 */
static bool umulti_probe(void)
{
	struct bpf_insn prog[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },                          /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = UMULTI_ATTACH_TYPE);
	uint64_t offset = 0, cookie = 0;
	int fd, link;

	fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "sp_umulti", "GPL", prog, 2, &o);
	if (fd < 0)
		return false;
	link = umulti_attach(fd, "/", &offset, &cookie, 1, 0, false);
	if (link >= 0)
		close(link);
	close(fd);
	return link == -EBADF;
}

bool umulti_supported(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = umulti_probe();
	return cached;
}
