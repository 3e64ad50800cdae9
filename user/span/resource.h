/* SPDX-License-Identifier: MIT */
/*
 * Resource attributes of a traced process (OpenTelemetry resource semantic
 * conventions).  A resource is built once per process and shared by
 * reference with every span of that process; the last reference frees it.
 */
#ifndef SPANPROBE_RESOURCE_H
#define SPANPROBE_RESOURCE_H

#include <stdbool.h>
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
	bool meta_wanted;      /* an enricher could describe it (a pod's process) */
	uint64_t meta_version; /* the enricher's version of what it added; 0: none */
	/* Its attributes as an encoder wrote them once (export/otlp_pb_fast.c):
	 * they do not change once the resource is shared, and a batch of
	 * spans of many processes carries one resource block per process.
	 * Set once (atomically), freed with the resource. */
	void *encoded;
	void *encoded_json; /* the same for export/otlp_json.c */
	/* References the process table took ahead, for spans to come
	 * (assemble/pipeline.c; its thread only): one atomic operation per
	 * RESOURCE_PREPAID spans instead of one per span. */
	int prepaid;
};

#define RESOURCE_PREPAID 64

/*
 * Attributes of where a process runs that spanprobe learns from elsewhere
 * (Kubernetes, k8s/), which may come after the process's first spans.
 * Called by the thread that builds resources; they must not block long.
 */
struct sp_resource_enricher {
	/* Add to `res` (its cgroup set); set res->meta_wanted and
	 * res->meta_version.  Returns 1 when it set service.name, 0, or
	 * -ENOMEM. */
	int (*enrich)(void *ctx, struct sp_resource *res);
	/* The version enrich() would give `res` now; 0 when nothing. */
	uint64_t (*version)(void *ctx, const struct sp_resource *res);
	/* Changes whenever any version may have: cheap, lock-free. */
	uint64_t (*generation)(void *ctx);
	void *ctx;
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
	const struct sp_resource_enricher *enricher; /* NULL: none */
};

/*
 * Build the resource of `info`.  Attributes are added in rising
 * precedence: spanprobe's OTEL_RESOURCE_ATTRIBUTES, the enricher's (a
 * pod's), the process's own OTEL_RESOURCE_ATTRIBUTES; a malformed value
 * is reported once and ignored as a whole.  service.name: the process's
 * own OTEL_SERVICE_NAME; else, for a process the enricher named (a pod's),
 * the process's OTEL_RESOURCE_ATTRIBUTES' or the enricher's; else
 * spanprobe's OTEL_SERVICE_NAME, the process's OTEL_RESOURCE_ATTRIBUTES',
 * spanprobe's, "unknown_service:<exe>".  Returns a resource holding one reference, or NULL
 * with errno = ENOMEM.
 */
struct sp_resource *resource_build(const struct sp_process_info *info,
				   const struct sp_resource_defaults *defaults);

struct sp_resource *resource_get(struct sp_resource *res);
void resource_put(struct sp_resource *res);
/* `n` references dropped at once: one atomic operation on a count the
 * thread that takes them shares (a batch of spans of one process). */
void resource_put_n(struct sp_resource *res, int n); /* accepts NULL */

/*
 * An encoder's copy of a resource's attributes, kept in one of its
 * encoded fields (`slot`: &res->encoded or &res->encoded_json), which
 * any export thread may read or fill.  resource_encoded(): the copy kept,
 * NULL when none yet.  resource_keep_encoded(): keep `made` (malloc'd)
 * unless another encoder kept one first, in which case `made` is freed;
 * returns the copy kept.
 */
void *resource_encoded(void *const *slot);
void *resource_keep_encoded(void **slot, void *made);

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
