/* SPDX-License-Identifier: MIT */
/*
 * Where cgroup paths place a process in Kubernetes: the container ID
 * (containerd, CRI-O, Docker; cgroupfs and systemd drivers) and the pod
 * UID of both drivers' pod cgroups, in cgroup v1 and v2 forms.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "k8s/cgroup.h"
#include "span/resource.h"

#define ID "3f6a2b1c9d8e7f605142332415061728394a5b6c7d8e9f0a1b2c3d4e5f607182"
#define UID "0b5d2a3c-1e2f-4a5b-8c9d-0e1f2a3b4c5d"
#define UID_ "0b5d2a3c_1e2f_4a5b_8c9d_0e1f2a3b4c5d"

static void both(const char *cgroup, const char *want_id, const char *want_uid)
{
	char id[65], uid[37];

	if (want_id) {
		assert_int_equal(resource_container_id(cgroup, id), 0);
		assert_string_equal(id, want_id);
	} else {
		assert_int_equal(resource_container_id(cgroup, id), -ENOENT);
	}
	if (want_uid) {
		assert_int_equal(k8s_cgroup_pod_uid(cgroup, uid), 0);
		assert_string_equal(uid, want_uid);
	} else {
		assert_int_equal(k8s_cgroup_pod_uid(cgroup, uid), -ENOENT);
	}
}

static void test_systemd_driver(void **state)
{
	(void)state;
	/* cgroup v2 (one line "0::/..."), containerd. */
	both("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	     ".slice/cri-containerd-" ID ".scope\n", ID, UID);
	/* Guaranteed pods have no QoS level in the path; CRI-O. */
	both("0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope", ID, UID);
	/* Besteffort, Docker (dockershim, cri-dockerd). */
	both("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	     ".slice/docker-" ID ".scope", ID, UID);
}

static void test_cgroupfs_driver(void **state)
{
	(void)state;
	both("/kubepods/burstable/pod" UID "/" ID, ID, UID);
	both("/kubepods/pod" UID "/" ID, ID, UID);
	/* cgroup v1 hybrid: several hierarchies, the v2 line "/" */
	both("12:pids:/kubepods/besteffort/pod" UID "/" ID "\n"
	     "11:memory:/kubepods/besteffort/pod" UID "/" ID "\n0::/\n", ID, UID);
	/* Docker alone, no pod. */
	both("/docker/" ID, ID, NULL);
	/* The pod's own cgroup (a process of no container): the UID only. */
	both("/kubepods/burstable/pod" UID "\n", NULL, UID);
}

static void test_not_pods(void **state)
{
	(void)state;
	both("0::/user.slice/user-1000.slice/session-2.scope", NULL, NULL);
	both("0::/system.slice/podman.service", NULL, NULL);
	/* "pod" then something that is not a UUID, or a UID with the wrong
	 * separators for its driver. */
	both("/kubepods/burstable/podabc/x", NULL, NULL);
	both("/kubepods/burstable/pod" UID_ "/x", NULL, NULL);
	both("/kubepods.slice/kubepods-pod" UID ".slice", NULL, NULL);
	/* Cut short. */
	both("/kubepods/pod0b5d2a3c-1e2f-4a5b-8c9d-0e1f2a3b", NULL, NULL);
	/* Not a component of its own. */
	both("/kubepods/xpod" UID "/y", NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_driver),
		cmocka_unit_test(test_cgroupfs_driver),
		cmocka_unit_test(test_not_pods),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
