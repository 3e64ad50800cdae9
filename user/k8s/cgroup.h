/* SPDX-License-Identifier: MIT */
/*
 * Where a process's cgroup paths place it in Kubernetes: the pod UID the
 * kubelet names its pod cgroup after, in both drivers' forms.  (The
 * container ID: resource_container_id(), span/resource.h.)
 */
#ifndef SPANPROBE_K8S_CGROUP_H
#define SPANPROBE_K8S_CGROUP_H

/*
 * The pod UID in `cgroup` (one path per line, as /proc/PID/cgroup gives
 * them): the cgroupfs driver's ".../pod<uid>/..." and the systemd
 * driver's "...-pod<uid with '_' for '-'>.slice", written with dashes to
 * out[37].  Returns 0 or -ENOENT.
 */
int k8s_cgroup_pod_uid(const char *cgroup, char out[37]);

#endif /* SPANPROBE_K8S_CGROUP_H */
