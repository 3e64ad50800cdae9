/* SPDX-License-Identifier: MIT */
/* The capability check's verdicts, with made-up effective sets and kernels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/caps.h"

#define BIT(c) (1ULL << (c))
#define SET4 (BIT(CAPS_BPF) | BIT(CAPS_PERFMON) | BIT(CAPS_SYS_PTRACE) | BIT(CAPS_DAC_READ_SEARCH))
#define ALL 0x1ffffffffffULL /* 41 capabilities: root */

static const struct caps_work modern_run = {
	.command = SP_CMD_RUN, .kernel_has_bpf_caps = true, .uprobe_multi = true,
};

static size_t verdicts(const struct caps_work *w, uint64_t eff, struct caps_verdict *v)
{
	size_t n = caps_missing(w, eff, v);

	assert_true(n <= CAPS_MAX);
	return n;
}

static void test_root_and_the_set_miss_nothing(void **state)
{
	struct caps_verdict v[CAPS_MAX];
	struct caps_work attach = modern_run;

	(void)state;
	assert_int_equal(verdicts(&modern_run, ALL, v), 0);
	assert_int_equal(verdicts(&modern_run, SET4, v), 0);
	attach.command = SP_CMD_ATTACH;
	attach.other_user = true;
	attach.functions = true;
	assert_int_equal(verdicts(&attach, SET4, v), 0);
}

/* Each of the four removed in turn: named, and required or not. */
static void test_each_removed(void **state)
{
	static const struct {
		int cap;
		const char *name;
		enum caps_need need;
	} c[] = {
		{ CAPS_BPF, "CAP_BPF", CAPS_REQUIRED },
		{ CAPS_PERFMON, "CAP_PERFMON", CAPS_REQUIRED },
		{ CAPS_SYS_PTRACE, "CAP_SYS_PTRACE", CAPS_REQUIRED },
		{ CAPS_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH", CAPS_OPTIONAL },
	};
	struct caps_verdict v[CAPS_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(verdicts(&modern_run, SET4 & ~BIT(c[i].cap), v), 1);
		assert_int_equal(v[0].cap, c[i].cap);
		assert_string_equal(v[0].name, c[i].name);
		assert_int_equal(v[0].need, c[i].need);
		assert_non_null(strstr(v[0].without, "without it"));
	}
}

/* CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON, as in the kernel. */
static void test_sys_admin_implies_bpf_and_perfmon(void **state)
{
	struct caps_verdict v[CAPS_MAX];
	uint64_t eff = BIT(CAPS_SYS_ADMIN) | BIT(CAPS_SYS_PTRACE) | BIT(CAPS_DAC_READ_SEARCH);

	(void)state;
	assert_int_equal(verdicts(&modern_run, eff, v), 0);
}

/* trace launches its own command; attach to our own process reads our own /proc. */
static void test_own_processes_need_no_ptrace(void **state)
{
	struct caps_work w = modern_run;
	struct caps_verdict v[CAPS_MAX];

	(void)state;
	w.command = SP_CMD_TRACE;
	w.functions = true;
	assert_int_equal(verdicts(&w, BIT(CAPS_BPF) | BIT(CAPS_PERFMON), v), 0);
	w.command = SP_CMD_ATTACH;
	assert_int_equal(verdicts(&w, BIT(CAPS_BPF) | BIT(CAPS_PERFMON), v), 0);
	w.other_user = true;
	assert_int_equal(verdicts(&w, BIT(CAPS_BPF) | BIT(CAPS_PERFMON), v), 2);
	assert_int_equal(v[0].cap, CAPS_SYS_PTRACE);
	assert_int_equal(v[0].need, CAPS_REQUIRED);
}

static void test_old_kernels(void **state)
{
	struct caps_work w = modern_run;
	struct caps_verdict v[CAPS_MAX];

	(void)state;
	/* Before 5.8: only CAP_SYS_ADMIN loads BPF. */
	w.kernel_has_bpf_caps = false;
	assert_int_equal(verdicts(&w, SET4, v), 1);
	assert_int_equal(v[0].cap, CAPS_SYS_ADMIN);
	assert_int_equal(v[0].need, CAPS_REQUIRED);
	assert_int_equal(verdicts(&w, SET4 | BIT(CAPS_SYS_ADMIN), v), 0);
	/* 5.8 to 5.10 with a memlock limit: CAP_SYS_RESOURCE. */
	w = modern_run;
	w.memlock_charged = true;
	w.memlock_limited = true;
	assert_int_equal(verdicts(&w, SET4, v), 1);
	assert_int_equal(v[0].cap, CAPS_SYS_RESOURCE);
	assert_int_equal(v[0].need, CAPS_REQUIRED);
	w.memlock_limited = false;
	assert_int_equal(verdicts(&w, SET4, v), 0);
	/* No uprobe-multi links: perf-event uprobes may want CAP_SYS_ADMIN. */
	w = modern_run;
	w.uprobe_multi = false;
	assert_int_equal(verdicts(&w, SET4, v), 1);
	assert_int_equal(v[0].cap, CAPS_SYS_ADMIN);
	assert_int_equal(v[0].need, CAPS_OPTIONAL);
	w.no_http = true; /* and no -u: no uprobe at all */
	assert_int_equal(verdicts(&w, SET4, v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_the_set_miss_nothing),
		cmocka_unit_test(test_each_removed),
		cmocka_unit_test(test_sys_admin_implies_bpf_and_perfmon),
		cmocka_unit_test(test_own_processes_need_no_ptrace),
		cmocka_unit_test(test_old_kernels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
