// SPDX-License-Identifier: MIT
#include "k8s/cgroup.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A UUID (8-4-4-4-12 hex) with `sep` between the groups, copied with
 * dashes to out. */
static bool take_uuid(const char *p, char sep, char out[37])
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? p[i] != sep : !is_hex(p[i]))
			return false;
		out[i] = dash ? '-' : p[i];
	}
	out[36] = '\0';
	return true;
}

int k8s_cgroup_pod_uid(const char *cgroup, char out[37])
{
	for (const char *p = cgroup; (p = strstr(p, "pod")); p += 3) {
		char before = p == cgroup ? '/' : p[-1];
		const char *u = p + 3;

		/* cgroupfs: a whole component "pod<uid>". */
		if (before == '/' && take_uuid(u, '-', out) &&
		    (u[36] == '/' || u[36] == '\n' || u[36] == '\0'))
			return 0;
		/* systemd: "kubepods[-<class>]-pod<uid>.slice". */
		if (before == '-' && take_uuid(u, '_', out) &&
		    strncmp(u + 36, ".slice", 6) == 0)
			return 0;
	}
	return -ENOENT;
}
