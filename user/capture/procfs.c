// SPDX-License-Identifier: MIT
#include "capture/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

ssize_t procfs_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)total < size - 1 &&
	       (n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static int link_resolves(const char *link)
{
	char target[PATH_MAX];

	return readlink(link, target, sizeof(target)) > 0;
}

pid_t procfs_live_task(pid_t pid)
{
	char path[320];
	struct dirent *de;
	pid_t live = -1;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (link_resolves(path))
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	tasks = opendir(path);
	if (!tasks)
		return -1;
	while (live < 0 && (de = readdir(tasks))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/exe", (int)pid, de->d_name);
		if (link_resolves(path))
			live = (pid_t)atoi(de->d_name);
	}
	closedir(tasks);
	return live;
}

int procfs_exe_link(pid_t pid, char *out, size_t size)
{
	pid_t task = procfs_live_task(pid);

	if (task < 0)
		return -ESRCH;
	if (task == pid)
		snprintf(out, size, "/proc/%d/exe", (int)pid);
	else
		snprintf(out, size, "/proc/%d/task/%d/exe", (int)pid, (int)task);
	return 0;
}

/* include/linux/sched.h: the task is a kernel thread. */
#define PF_KTHREAD 0x00200000u

int procfs_read_stat(pid_t pid, struct sp_procfs_stat *out)
{
	char buf[1024];
	const char *open_paren, *close_paren;
	unsigned int flags = 0;
	ssize_t n = procfs_read(pid, "stat", buf, sizeof(buf));

	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	/* "pid (comm) state ppid pgrp session tty tpgid flags": comm may hold
	 * spaces and parentheses, so the last ')' ends it. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren ||
	    sscanf(close_paren + 1, " %c %*d %*d %*d %*d %*d %u", &out->state,
		   &flags) != 2)
		return -EPROTO;
	snprintf(out->comm, sizeof(out->comm), "%.*s",
		 (int)(close_paren - open_paren - 1), open_paren + 1);
	out->kernel_thread = flags & PF_KTHREAD;
	return 0;
}

pid_t procfs_read_tgid(pid_t pid)
{
	char buf[4096];
	const char *tgid;
	ssize_t n = procfs_read(pid, "status", buf, sizeof(buf));
	int v;

	if (n < 0)
		return n == -ENOENT ? -ESRCH : (pid_t)n;
	tgid = strstr(buf, "\nTgid:");
	if (!tgid || sscanf(tgid + 6, "%d", &v) != 1 || v <= 0)
		return -EPROTO;
	return v;
}

int procfs_exe_error(pid_t pid)
{
	char path[64], target[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);

	if (readlink(path, target, sizeof(target)) > 0)
		return 0;
	err = -errno;
	if (err == -ENOENT && kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	return err;
}

/* The mount point of a mountinfo line whose file system is cgroup(2). */
static bool cgroup_mount(const char *line, char *dir, size_t size)
{
	const char *sep = strstr(line, " - ");
	char fmt[32], fstype[16];

	snprintf(fmt, sizeof(fmt), "%%*s %%*s %%*s %%*s %%%zus", size - 1);
	return sep && sscanf(sep + 3, "%15s", fstype) == 1 &&
	       (!strcmp(fstype, "cgroup") || !strcmp(fstype, "cgroup2")) &&
	       sscanf(line, fmt, dir) == 1;
}

int procfs_cgroup_exists(const char *path)
{
	char line[4096], dir[1024], full[PATH_MAX];
	struct stat st;
	int found = -ENODEV;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -ENODEV;
	while (found != 0 && fgets(line, sizeof(line), f)) {
		if (!cgroup_mount(line, dir, sizeof(dir)))
			continue;
		found = -ENOENT;
		if ((size_t)snprintf(full, sizeof(full), "%s%s", dir, path) < sizeof(full) &&
		    stat(full, &st) == 0 && S_ISDIR(st.st_mode))
			found = 0;
	}
	fclose(f);
	return found;
}

/*
 * A program replaced or removed while it runs (a deploy) reads as
 * "PATH (deleted)": its name is still PATH.  (A file really named so
 * loses the suffix too; that is rarer than a deploy.)  Returns whether
 * the suffix was there.
 */
static bool strip_deleted(char *path, size_t len)
{
	static const char suffix[] = " (deleted)";
	size_t n = sizeof(suffix) - 1;

	if (len > n && !strcmp(path + len - n, suffix)) {
		path[len - n] = 0;
		return true;
	}
	return false;
}

/* Each file mapping of `pid`; `raw` keeps the path as the maps have it. */
static int maps_walk(pid_t pid, bool raw,
		     int (*fn)(const struct sp_procfs_mapping *m, void *arg), void *arg)
{
	char line[PATH_MAX + 128], maps[64];
	int ret = 0;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return -ESRCH;
	while (!ret && fgets(line, sizeof(line), f)) {
		struct sp_procfs_mapping m = { 0 };
		char *path = strchr(line, '/');

		if (!path || sscanf(line, "%lx-%lx", &m.start, &m.end) != 2)
			continue;
		path[strcspn(path, "\n")] = 0;
		if (!raw)
			m.deleted = strip_deleted(path, strlen(path));
		m.path = path;
		ret = fn(&m, arg);
	}
	fclose(f);
	return ret;
}

struct path_walk {
	int (*fn)(const char *path, void *arg);
	void *arg;
};

static int path_only(const struct sp_procfs_mapping *m, void *arg)
{
	struct path_walk *w = arg;

	return w->fn(m->path, w->arg);
}

int procfs_maps_each(pid_t pid, int (*fn)(const char *path, void *arg), void *arg)
{
	struct path_walk w = { fn, arg };

	return maps_walk(pid, true, path_only, &w);
}

int procfs_maps_each_mapping(pid_t pid,
			     int (*fn)(const struct sp_procfs_mapping *m, void *arg),
			     void *arg)
{
	return maps_walk(pid, false, fn, arg);
}

/* Value of NAME in a NUL-separated environ block, or NULL. */
static const char *env_lookup(const char *block, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = block; p < block + len; p += strlen(p) + 1)
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=')
			return p + nlen + 1;
	return NULL;
}

/*
 * The paths of every line of /proc/PID/cgroup ("ID:CONTROLLERS:PATH"),
 * one per line: on hybrid hierarchies the v1 controllers may name the
 * container while the v2 line says "/".
 */
static const char *read_cgroup(pid_t pid, char *paths, size_t size)
{
	char buf[4096];
	size_t off = 0;
	char *save = NULL;

	if (procfs_read(pid, "cgroup", buf, sizeof(buf)) <= 0)
		return NULL;
	paths[0] = 0;
	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 && off < size)
			off += (size_t)snprintf(paths + off, size - off, "%s%s",
						off ? "\n" : "", c2 + 1);
	}
	return paths[0] ? paths : NULL;
}

/* The NUL-separated arguments, joined by spaces; NULL when unreadable. */
static const char *read_cmdline(pid_t pid, char *buf, size_t size)
{
	ssize_t n = procfs_read(pid, "cmdline", buf, size);

	for (ssize_t i = 0; i + 1 < n; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	return n > 0 ? buf : NULL;
}

int procfs_read_process(pid_t pid, bool with_cmdline, struct sp_procfs_process *out)
{
	char link[96];
	ssize_t n;

	out->service_name = out->resource_attrs = NULL;
	out->cgroup = out->command_line = NULL;
	if (procfs_exe_link(pid, link, sizeof(link)))
		return -ESRCH;
	n = readlink(link, out->exe, sizeof(out->exe) - 1);
	if (n < 0)
		return -ESRCH;
	out->exe[n] = 0;
	strip_deleted(out->exe, (size_t)n);
	n = procfs_read(pid, "environ", out->environ, sizeof(out->environ));
	if (n > 0) {
		out->service_name = env_lookup(out->environ, (size_t)n, "OTEL_SERVICE_NAME");
		out->resource_attrs = env_lookup(out->environ, (size_t)n,
						 "OTEL_RESOURCE_ATTRIBUTES");
	}
	out->cgroup = read_cgroup(pid, out->cgroups, sizeof(out->cgroups));
	if (with_cmdline)
		out->command_line = read_cmdline(pid, out->cmdline, sizeof(out->cmdline));
	return 0;
}

int procfs_wait_threads_gone(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	if (fd < 0)
		return errno == ESRCH ? 0 : -errno;
	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}
