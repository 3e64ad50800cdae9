/* SPDX-License-Identifier: MIT */
/*
 * Go executable facts: release names parsed from version strings; the
 * verdicts on files that are not Go; and on the Go test program the build
 * makes (SP_BUILD, default "build", when run from the source tree): both
 * functions found, each return a C3 byte of the file, the stripped copy
 * reported without symbols.  Without the Go program the last two fail,
 * saying so (deploy/deps.sh installs golang-go; make tests-build).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/gobuildinfo.h"
#include "capture/gotls.h"

static void test_release(void **state)
{
	int major = -1, minor = -1;

	(void)state;
	assert_int_equal(gobuildinfo_release("go1.19.8", &major, &minor), 0);
	assert_int_equal(major, 1);
	assert_int_equal(minor, 19);
	assert_int_equal(gobuildinfo_release("go1.21rc2", &major, &minor), 0);
	assert_int_equal(minor, 21);
	assert_int_equal(gobuildinfo_release("go1.16", &major, &minor), 0);
	assert_int_equal(minor, 16);
	assert_int_equal(gobuildinfo_release("devel go1.22-abc123 Tue Jan 1", &major, &minor), 0);
	assert_int_equal(minor, 22);
	assert_int_equal(gobuildinfo_release("", &major, &minor), -EINVAL);
	assert_int_equal(gobuildinfo_release("go2", &major, &minor), -EINVAL);
	assert_int_equal(gobuildinfo_release("go1.", &major, &minor), -EINVAL);
	assert_int_equal(gobuildinfo_release("xgo1.19", &major, &minor), -EINVAL);
}

static void test_not_go(void **state)
{
	struct gotls_facts f;
	char msg[256], path[] = "/tmp/test_gotls_XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	assert_int_equal(gotls_inspect(path, &f), 0);
	assert_int_equal(f.verdict, GOTLS_NOT_ELF);
	unlink(path);

	assert_int_equal(gotls_inspect("/proc/self/exe", &f), 0);
	assert_int_equal(f.verdict, GOTLS_NOT_GO);
	assert_false(f.is_go);
	assert_string_equal(f.version, "");
	gotls_describe("/x/y", &f, msg, sizeof(msg));
	assert_string_equal(msg, "not a Go executable: /x/y");

	assert_int_equal(gotls_inspect("/no/such/file", &f), -ENOENT);
}

static const char *go_program(const char *suffix, char *buf, size_t size)
{
	const char *build = getenv("SP_BUILD");

	snprintf(buf, size, "%s/tests/programs/tls_server%s", build ? build : "build", suffix);
	if (access(buf, R_OK)) {
		print_error("%s missing: install Go (deploy/deps.sh) and run make tests-build\n",
			    buf);
		return NULL;
	}
	return buf;
}

/* Each return offset is a C3 byte of the file, inside its function. */
static void assert_returns(FILE *file, const struct gotls_func *fn)
{
	assert_true(fn->n_returns > 0);
	for (size_t i = 0; i < fn->n_returns; i++) {
		assert_true(fn->returns[i] > fn->entry);
		assert_true(fn->returns[i] < fn->entry + fn->size);
		assert_int_equal(fseek(file, (long)fn->returns[i], SEEK_SET), 0);
		assert_int_equal(fgetc(file), 0xc3);
		if (i)
			assert_true(fn->returns[i] > fn->returns[i - 1]);
	}
}

static void test_go_program(void **state)
{
	struct gotls_facts f;
	char buf[4096];
	const char *path = go_program("", buf, sizeof(buf));
	FILE *file;

	(void)state;
	assert_non_null(path);
	assert_int_equal(gotls_inspect(path, &f), 0);
	assert_int_equal(f.verdict, GOTLS_PROBEABLE);
	assert_true(f.is_go && f.has_symbols && f.regabi);
	assert_int_equal(strncmp(f.version, "go1.", 4), 0);
	assert_int_equal(f.major, 1);
	assert_true(f.minor >= 17);
	assert_true(f.read.entry != f.write.entry);
	file = fopen(path, "rb");
	assert_non_null(file);
	assert_returns(file, &f.read);
	assert_returns(file, &f.write);
	fclose(file);
}

static void test_go_stripped(void **state)
{
	struct gotls_facts f;
	char buf[4096], msg[4200];
	const char *path = go_program(".stripped", buf, sizeof(buf));

	(void)state;
	assert_non_null(path);
	assert_int_equal(gotls_inspect(path, &f), 0);
	assert_int_equal(f.verdict, GOTLS_NO_SYMBOLS);
	assert_true(f.is_go);
	assert_false(f.has_symbols);
	assert_int_equal(f.read.n_returns + f.write.n_returns, 0);
	gotls_describe(path, &f, msg, sizeof(msg));
	assert_int_equal(strncmp(msg, "Go executable without symbols: ", 31), 0);
	assert_string_equal(msg + 31, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_not_go),
		cmocka_unit_test(test_go_program),
		cmocka_unit_test(test_go_stripped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
