/* SPDX-License-Identifier: MIT */
/*
 * Resource attributes of a traced process (OpenTelemetry resource semantic
 * conventions).  A resource is built once per process and shared by
 * reference with every span of that process; the last reference frees it.
 */
#ifndef SPANPROBE_RESOURCE_H
#define SPANPROBE_RESOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sp_resattr_type { SP_RES_STRING = 1, SP_RES_INT = 2 };

struct sp_resattr {
	char *key;
	uint8_t type; /* enum sp_resattr_type */
	char *str;
	int64_t i;
};

struct sp_resource {
	int refs; /* atomic */
	uint32_t pid;
	uint64_t start_time; /* /proc/PID/stat field 22: tells a reused PID apart */
	size_t count;
	size_t cap;
	struct sp_resattr *attrs;
	int announced; /* the text console printed it (export thread only) */
	int filtered;  /* the process is outside --exe/--cgroup/--pid: no spans */
	char *cgroup;  /* the process's cgroup paths, one per line */
};

/* What the resource of a process is built from (what the daemon knows). */
struct sp_process_info {
	pid_t pid;
	const char *exe_path;      /* absolute path of the executable */
	const char *command_line;  /* NULL unless it should be exported */
	const char *service_name;  /* process's own OTEL_SERVICE_NAME, or NULL */
	const char *own_resource_attrs; /* process's OTEL_RESOURCE_ATTRIBUTES */
	const char *cgroup;        /* cgroup paths, one per line, or NULL */
};

/* Settings that apply to every resource, from spanprobe's own environment. */
struct sp_resource_defaults {
	const char *service_name;   /* spanprobe's OTEL_SERVICE_NAME or NULL */
	const char *resource_attrs; /* spanprobe's OTEL_RESOURCE_ATTRIBUTES */
	int with_command_line;      /* export process.command_line */
};

/*
 * Build the resource of `info`.  Precedence for service.name: the process's
 * own OTEL_SERVICE_NAME, then spanprobe's, then "unknown_service:<exe>".
 * OTEL_RESOURCE_ATTRIBUTES pairs are added (spanprobe's, then the
 * process's, later ones winning); a malformed value is reported once and
 * ignored as a whole.  Returns a resource holding one reference, or NULL
 * with errno = ENOMEM.
 */
struct sp_resource *resource_build(const struct sp_process_info *info,
				   const struct sp_resource_defaults *defaults);

struct sp_resource *resource_get(struct sp_resource *res);
void resource_put(struct sp_resource *res); /* accepts NULL */

/*
 * The container ID in a cgroup path: the last 64-hex-digit run that forms
 * a path component or a "<runtime>-<id>.scope" name (Docker, containerd,
 * CRI-O, Kubernetes), copied to out[65].  Returns 0 or -ENOENT.
 */
int resource_container_id(const char *cgroup, char out[65]);

/* Look up an attribute; NULL when absent. */
const struct sp_resattr *resource_find(const struct sp_resource *res,
				       const char *key);

/*
 * Parse OTEL_RESOURCE_ATTRIBUTES ("k1=v1,k2=v2", values percent-decoded)
 * into `res`, replacing attributes with the same key.  Returns the number
 * of pairs added, -EINVAL when the string is malformed (then nothing is
 * added), or -ENOMEM.
 */
int resource_parse_env(struct sp_resource *res, const char *value);

/* Set (add or replace) an attribute.  Returns 0 or -ENOMEM. */
int resource_set_str(struct sp_resource *res, const char *key, const char *val);
int resource_set_int(struct sp_resource *res, const char *key, int64_t val);

#endif /* SPANPROBE_RESOURCE_H */
