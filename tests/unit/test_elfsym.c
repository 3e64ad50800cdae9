/* SPDX-License-Identifier: MIT */
/*
 * Symbols of one file resolved in one pass give what one name at a time
 * gives: the same offsets, -ENOENT for a missing name (the others still
 * resolved), -ENOTSUP for an IFUNC, names in any order and repeated;
 * "name@@VER" and "name@VER" pick a symbol version.  A mapped file
 * replaced on disk is found, and read as it was mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/elfsym.h"
#include "capture/libpath.h"

__attribute__((noinline, used)) void elfsym_probe_alpha(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline, used)) void elfsym_probe_beta(void)
{
	__asm__ volatile("nop" ::: "memory");
}

static void test_same_as_one_by_one(void **state)
{
	const char *names[] = { "elfsym_probe_beta", "main", "no_such_function_here",
				"elfsym_probe_alpha", "elfsym_probe_beta" };
	uint64_t offs[5] = { 0 }, one;
	int errs[5];

	assert_int_equal(elfsym_find_all("/proc/self/exe", names, 5, offs, errs), 0);
	assert_int_equal(errs[2], -ENOENT);
	for (int i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		assert_int_equal(errs[i], 0);
		assert_int_equal(elfsym_find("/proc/self/exe", names[i], &one), 0);
		assert_true(one == offs[i]);
		assert_true(offs[i] > 0);
	}
	assert_true(offs[0] == offs[4]);
	assert_true(offs[0] != offs[3]);
}

static void test_library_dynsym_and_ifunc(void **state)
{
	const char *names[] = { "memcpy", "getaddrinfo", "strlen", "nope_nope" };
	uint64_t offs[4] = { 0 }, one;
	char libc[4096];
	int errs[4];

	assert_int_equal(libpath_from_maps(getpid(), "libc.so.6", libc, sizeof(libc), NULL), 0);
	assert_int_equal(elfsym_find_all(libc, names, 4, offs, errs), 0);
	assert_int_equal(errs[0], -ENOTSUP); /* an IFUNC in glibc on x86-64 */
	assert_int_equal(errs[1], 0);
	assert_int_equal(errs[2], -ENOTSUP);
	assert_int_equal(errs[3], -ENOENT);
	assert_int_equal(elfsym_find(libc, "getaddrinfo", &one), 0);
	assert_true(one == offs[1]);
}

/*
 * glibc's realpath: realpath@@GLIBC_2.3 the default, realpath@GLIBC_2.2.5
 * a hidden compat one.  Debian's libc has no .symtab: the versions are
 * read from .gnu.version and .gnu.version_d.
 */
static void test_library_symbol_versions(void **state)
{
	const char *names[] = { "realpath@@GLIBC_2.3", "realpath", "realpath@GLIBC_2.2.5",
				"realpath@GLIBC_2.3", "realpath@@GLIBC_2.2.5",
				"realpath@GLIBC_9.9" };
	uint64_t offs[6] = { 0 };
	char libc[4096];
	int errs[6];

	assert_int_equal(libpath_from_maps(getpid(), "libc.so.6", libc, sizeof(libc), NULL), 0);
	assert_int_equal(elfsym_find_all(libc, names, 6, offs, errs), 0);
	assert_int_equal(errs[0], 0);
	assert_int_equal(errs[1], 0);
	assert_int_equal(errs[2], 0);
	assert_int_equal(errs[3], 0);
	assert_int_equal(errs[4], -ENOENT); /* not the default version */
	assert_int_equal(errs[5], -ENOENT);
	assert_true(offs[0] == offs[1]);
	assert_true(offs[0] == offs[3]);
	assert_true(offs[2] != offs[0] && offs[2] > 0);
}

/* A copy of this program, mapped, then replaced on disk: the maps say
 * "PATH (deleted)"; the mapped copy is found under PATH and read through
 * /proc/PID/map_files. */
static void test_replaced_mapped_file(void **state)
{
	char dir[] = "/tmp/elfsym-XXXXXX", path[64], tmp[80], cmd[256], found[4096];
	const char *name = "elfsym_probe_alpha";
	uint64_t off, want;
	bool deleted = false;
	struct stat st;
	void *map;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/libcopy.so", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s", (int)getpid(), path);
	assert_int_equal(system(cmd), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	assert_true(map != MAP_FAILED);
	assert_int_equal(libpath_from_maps(getpid(), "libcopy.so", found, sizeof(found),
					   &deleted), 0);
	assert_false(deleted);
	assert_non_null(strstr(found, "/root/tmp/elfsym-"));

	/* Replaced by another file (not ELF: reading it would fail). */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && write(fd, "new", 3) == 3);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(libpath_from_maps(getpid(), "libcopy.so", found, sizeof(found),
					   &deleted), 0);
	assert_true(deleted);
	assert_non_null(strstr(found, "/map_files/"));
	/* Following that link needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE. */
	fd = open(found, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EPERM) {
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(elfsym_find(found, name, &off), 0);
		assert_int_equal(elfsym_find("/proc/self/exe", name, &want), 0);
		assert_true(off == want);
	}
	assert_int_equal(libpath_from_maps(getpid(), path, found, sizeof(found), &deleted), 0);
	assert_true(deleted);

	munmap(map, (size_t)st.st_size);
	unlink(path);
	rmdir(dir);
}

static void test_file_errors(void **state)
{
	const char *names[] = { "main" };
	uint64_t off;
	int err;

	assert_int_equal(elfsym_find_all("/nonexistent/file", names, 1, &off, &err),
			 -ENOENT);
	assert_int_equal(elfsym_find_all("/proc/self/status", names, 1, &off, &err),
			 -ENOEXEC);
	assert_int_equal(elfsym_find_all("/proc/self/exe", names, 0, &off, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_one_by_one),
		cmocka_unit_test(test_library_dynsym_and_ifunc),
		cmocka_unit_test(test_library_symbol_versions),
		cmocka_unit_test(test_replaced_mapped_file),
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
