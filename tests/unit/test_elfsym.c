/* SPDX-License-Identifier: MIT */
/*
 * Symbols of one file resolved in one pass give what one name at a time
 * gives: the same offsets, -ENOENT for a missing name (the others still
 * resolved), -ENOTSUP for an IFUNC, names in any order and repeated;
 * "name@@VER" and "name@VER" pick a symbol version.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

	assert_int_equal(libpath_from_maps(getpid(), "libc.so.6", libc, sizeof(libc)), 0);
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

	assert_int_equal(libpath_from_maps(getpid(), "libc.so.6", libc, sizeof(libc)), 0);
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
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
