// SPDX-License-Identifier: MIT
/*
 * The programs are found through /proc/self/fd, not through the loader's
 * objects: another thread may read them while the loader works, and a
 * descriptor is looked at through a dup of it, whose type is checked
 * after the dup (a descriptor closed and reused meanwhile is then either
 * not a program, and skipped, or a program of ours all the same).
 */
#include "capture/progstats.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEEN_MAX 512 /* program IDs told apart (one program, many fds) */

bool progstats_enabled(void)
{
	char c = '0';
	int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/* A dup of `fd` when it is a BPF program, else -1. */
static int dup_prog(int fd)
{
	char path[64], link[64];
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	ssize_t n;

	if (d < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", d);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		if (strcmp(link, "anon_inode:bpf-prog") == 0)
			return d;
	}
	close(d);
	return -1;
}

static void add(struct progstat *out, size_t max, int *n,
		const struct bpf_prog_info *info)
{
	char name[16];
	int i;

	snprintf(name, sizeof(name), "%s", info->name[0] ? info->name : "unnamed");
	for (i = 0; i < *n && strcmp(out[i].name, name); i++)
		;
	if (i == *n) {
		if ((size_t)*n == max) {
			i = *n - 1; /* the last entry becomes "other" */
			snprintf(out[i].name, sizeof(out[i].name), "other");
		} else {
			memset(&out[i], 0, sizeof(out[i]));
			snprintf(out[i].name, sizeof(out[i].name), "%s", name);
			(*n)++;
		}
	}
	out[i].run_time_ns += info->run_time_ns;
	out[i].run_cnt += info->run_cnt;
}

static bool seen_before(uint32_t *seen, size_t *n_seen, uint32_t id)
{
	for (size_t i = 0; i < *n_seen; i++)
		if (seen[i] == id)
			return true;
	if (*n_seen < SEEN_MAX)
		seen[(*n_seen)++] = id;
	return false;
}

int progstats_read(struct progstat *out, size_t max)
{
	uint32_t *seen = calloc(SEEN_MAX, sizeof(*seen));
	size_t n_seen = 0;
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir || !seen || !max) {
		int err = !dir ? -errno : !seen ? -ENOMEM : 0;

		if (dir)
			closedir(dir);
		free(seen);
		return err;
	}
	while ((e = readdir(dir))) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = e->d_name[0] >= '0' && e->d_name[0] <= '9' ? atoi(e->d_name) : -1;
		int d = fd >= 0 && fd != dirfd(dir) ? dup_prog(fd) : -1;

		if (d < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(d, &info, &len) == 0 &&
		    !seen_before(seen, &n_seen, info.id))
			add(out, max, &n, &info);
		close(d);
	}
	closedir(dir);
	free(seen);
	return n;
}
