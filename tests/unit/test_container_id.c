// SPDX-License-Identifier: MIT
/* container.id from cgroup paths of the common runtimes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "span/resource.h"

#define ID "3f6a2b1c9d8e7f605142332415061728394a5b6c7d8e9f0a1b2c3d4e5f607182"

static void finds(const char *cgroup)
{
	char out[65];

	assert_int_equal(resource_container_id(cgroup, out), 0);
	assert_string_equal(out, ID);
}

static void test_runtimes(void **state)
{
	finds("/docker/" ID);
	finds("/system.slice/docker-" ID ".scope");
	finds("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
	      "cri-containerd-" ID ".scope");
	finds("/kubepods/besteffort/pod0b5d/" ID);
	finds("/machine.slice/libpod-" ID ".scope/container");
	/* Hybrid hierarchy: the v2 line says "/", a v1 controller names it. */
	finds("/\n/\n/docker/" ID "\n/");
}

static void test_no_container(void **state)
{
	char out[65];

	assert_int_equal(resource_container_id("/", out), -ENOENT);
	assert_int_equal(resource_container_id("/user.slice/user-1000.slice/session-2.scope", out),
			 -ENOENT);
	/* 63 hex digits, or 64 inside a longer token, are not an ID. */
	assert_int_equal(resource_container_id("/docker/" ID "a", out), -ENOENT);
	assert_int_equal(resource_container_id("/x" ID, out), -ENOENT);
	assert_int_equal(resource_container_id("/docker/3f6a2b1c9d8e7f605142332415061728394a5b6c7d8e9f0a1b2c3d4e5f60718",
					       out), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtimes),
		cmocka_unit_test(test_no_container),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
