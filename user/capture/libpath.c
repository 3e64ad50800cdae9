// SPDX-License-Identifier: MIT
#include "capture/libpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/elfsym.h"
#include "capture/procfs.h"

static int name_matches(const char *path, const char *lib)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(lib);

	if (lib[0] == '/')
		return strcmp(path, lib) == 0;
	base = base ? base + 1 : path;
	if (strcmp(base, lib) == 0)
		return 1;
	return strncmp(base, lib, n) == 0 && (base[n] == '.' || base[n] == '-');
}

struct maps_search {
	pid_t pid;
	const char *lib;
	char *out;
	size_t size;
	bool deleted;
};

static int copy_if_matches(const struct sp_procfs_mapping *m, void *arg)
{
	struct maps_search *ms = arg;

	if (!name_matches(m->path, ms->lib))
		return 0;
	/* The file under its name, as the process sees it (a container's
	 * root), is another file or none once it was replaced: the mapped
	 * one is still there through map_files. */
	if (m->deleted)
		snprintf(ms->out, ms->size, "/proc/%d/map_files/%lx-%lx", (int)ms->pid,
			 m->start, m->end);
	else
		snprintf(ms->out, ms->size, "/proc/%d/root%s", (int)ms->pid, m->path);
	ms->deleted = m->deleted;
	return 1;
}

int libpath_from_maps(pid_t pid, const char *lib, char *out, size_t size, bool *deleted)
{
	struct maps_search ms = { .pid = pid, .lib = lib, .out = out, .size = size };
	int ret = procfs_maps_each_mapping(pid, copy_if_matches, &ms);

	if (ret < 0)
		return ret;
	if (deleted)
		*deleted = ms.deleted;
	return ret ? 0 : -ENOENT;
}

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Try each directory of the ':'-separated list; $ORIGIN is exe's directory. */
static int search_dirs(const char *list, const char *origin, const char *lib,
		       char *out, size_t size)
{
	char buf[4096];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (char *dir = strtok_r(buf, ":;", &save); dir;
	     dir = strtok_r(NULL, ":;", &save)) {
		if (strncmp(dir, "$ORIGIN", 7) == 0)
			snprintf(out, size, "%s%s/%s", origin, dir + 7, lib);
		else if (strncmp(dir, "${ORIGIN}", 9) == 0)
			snprintf(out, size, "%s%s/%s", origin, dir + 9, lib);
		else
			snprintf(out, size, "%s/%s", dir, lib);
		if (is_file(out))
			return 0;
	}
	return -ENOENT;
}

/*
 * glibc's loader cache (format "glibc-ld.so.cache" version "1.1"): a header
 * of 48 bytes, then nlibs entries of 24 bytes {flags, key, value, osversion,
 * hwcap}; key and value are offsets of NUL-terminated strings from the
 * start of the file.  Entries for x86-64 have flags 0x0303 (ELF, x86-64 ABI).
 */
#define CACHE_MAGIC "glibc-ld.so.cache1.1"
#define CACHE_FLAGS_X8664 0x0303

static int search_cache(const char *lib, char *out, size_t size)
{
	int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	const unsigned char *map;
	struct stat st;
	int ret = -ENOENT;

	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) || st.st_size < 48) {
		close(fd);
		return -ENOENT;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -ENOENT;
	if (memcmp(map, CACHE_MAGIC, strlen(CACHE_MAGIC)) == 0) {
		uint32_t n;

		memcpy(&n, map + 20, 4);
		for (uint32_t i = 0; i < n && 48 + (size_t)(i + 1) * 24 <= (size_t)st.st_size; i++) {
			const unsigned char *e = map + 48 + (size_t)i * 24;
			int32_t flags;
			uint32_t key, value;

			memcpy(&flags, e, 4);
			memcpy(&key, e + 4, 4);
			memcpy(&value, e + 8, 4);
			if ((flags & 0xffff) != CACHE_FLAGS_X8664 ||
			    key >= st.st_size || value >= st.st_size ||
			    !memchr(map + key, 0, (size_t)st.st_size - key) ||
			    !memchr(map + value, 0, (size_t)st.st_size - value))
				continue;
			if (strcmp((const char *)map + key, lib) == 0) {
				snprintf(out, size, "%s", (const char *)map + value);
				ret = 0;
				break;
			}
		}
	}
	munmap((void *)map, (size_t)st.st_size);
	return ret;
}

static const char default_dirs[] =
	"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib";

int libpath_resolve(const char *exe, const char *lib, char *out, size_t size)
{
	char runpath[4096] = "", origin[PATH_MAX];
	char *slash;
	int is_rpath = 0;

	if (strchr(lib, '/')) {
		snprintf(out, size, "%s", lib);
		return is_file(out) ? 0 : -ENOENT;
	}
	snprintf(origin, sizeof(origin), "%s", exe);
	slash = strrchr(origin, '/');
	if (slash)
		*slash = 0;
	elfsym_runpath(exe, runpath, sizeof(runpath), &is_rpath);
	if (is_rpath && search_dirs(runpath, origin, lib, out, size) == 0)
		return 0;
	if (search_dirs(getenv("LD_LIBRARY_PATH"), origin, lib, out, size) == 0)
		return 0;
	if (!is_rpath && search_dirs(runpath, origin, lib, out, size) == 0)
		return 0;
	if (search_cache(lib, out, size) == 0)
		return 0;
	return search_dirs(default_dirs, origin, lib, out, size);
}

int libpath_which(const char *cmd, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char buf[8192];
	char *save = NULL;
	int err = -ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(out, size, "%s", cmd);
		if (!is_file(out))
			return -ENOENT;
		return access(out, X_OK) ? -EACCES : 0;
	}
	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *dir = strtok_r(buf, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, size, "%s/%s", *dir ? dir : ".", cmd);
		if (!is_file(out))
			continue;
		if (access(out, X_OK) == 0)
			return 0;
		err = -EACCES;
	}
	return err;
}
