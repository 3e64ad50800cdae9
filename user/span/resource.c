// SPDX-License-Identifier: MIT
#include "span/resource.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hex.h"
#include "util/utf8.h"
#include "util/log.h"

#define SP_SDK_NAME "spanprobe"
#define SP_SDK_LANGUAGE "cpp" /* closest value the semantic conventions list for C */

struct sp_resource *resource_get(struct sp_resource *res)
{
	if (res)
		__atomic_add_fetch(&res->refs, 1, __ATOMIC_RELAXED);
	return res;
}

void resource_put(struct sp_resource *res)
{
	resource_put_n(res, 1);
}

void resource_put_n(struct sp_resource *res, int n)
{
	if (!res || __atomic_sub_fetch(&res->refs, n, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < res->count; i++) {
		free(res->attrs[i].key);
		free(res->attrs[i].str);
	}
	free(res->attrs);
	free(res->cgroup);
	free(res->encoded);
	free(res->encoded_json);
	free(res);
}

void *resource_encoded(void *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

void *resource_keep_encoded(void **slot, void *made)
{
	void *kept = NULL;

	/* Two encoders at once: the first one's copy stays. */
	if (__atomic_compare_exchange_n(slot, &kept, made, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return made;
	free(made);
	return kept;
}

const struct sp_resattr *resource_find(const struct sp_resource *res,
				       const char *key)
{
	for (size_t i = 0; i < res->count; i++)
		if (strcmp(res->attrs[i].key, key) == 0)
			return &res->attrs[i];
	return NULL;
}

/* The slot for `key`: the existing one (emptied) or a new one. */
static struct sp_resattr *slot_for(struct sp_resource *res, const char *key)
{
	struct sp_resattr *a = (struct sp_resattr *)resource_find(res, key);

	/* Set only before it is shared; an encoding made before is stale. */
	free(res->encoded);
	free(res->encoded_json);
	res->encoded = NULL;
	res->encoded_json = NULL;
	if (a) {
		free(a->str);
		a->str = NULL;
		return a;
	}
	if (res->count == res->cap) {
		size_t cap = res->cap ? res->cap * 2 : 16;
		struct sp_resattr *n = realloc(res->attrs, cap * sizeof(*n));

		if (!n)
			return NULL;
		res->attrs = n;
		res->cap = cap;
	}
	a = &res->attrs[res->count];
	memset(a, 0, sizeof(*a));
	a->key = strdup(key);
	if (!a->key)
		return NULL;
	res->count++;
	return a;
}

int resource_set_str(struct sp_resource *res, const char *key, const char *val)
{
	struct sp_resattr *a = slot_for(res, key);

	if (!a)
		return -ENOMEM;
	a->type = SP_RES_STRING;
	a->str = strdup(val);
	if (!a->str)
		return -ENOMEM;
	/* File names, environments and API answers are bytes: OTLP's are not. */
	a->str[utf8_mend(a->str, strlen(a->str))] = '\0';
	return 0;
}

int resource_set_int(struct sp_resource *res, const char *key, int64_t val)
{
	struct sp_resattr *a = slot_for(res, key);

	if (!a)
		return -ENOMEM;
	a->type = SP_RES_INT;
	a->i = val;
	return 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t'))
		(*s)++, (*len)--;
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* Split "k=v,..." into decoded pairs; sets each unless dry, and then
 * *service: whether one of them is service.name. */
static int parse_pairs(struct sp_resource *res, const char *value, int dry,
		       bool *service)
{
	const char *p = value;
	int added = 0;

	while (*p) {
		const char *end = strchrnul(p, ',');
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *k = p, *v;
		size_t klen, vlen;
		char key[256], val[1024];

		if (!eq)
			return -EINVAL;
		klen = (size_t)(eq - p);
		v = eq + 1;
		vlen = (size_t)(end - v);
		trim(&k, &klen);
		trim(&v, &vlen);
		if (klen == 0 || klen >= sizeof(key) || vlen >= sizeof(val))
			return -EINVAL;
		if (percent_decode(k, klen, key) < 0 || percent_decode(v, vlen, val) < 0)
			return -EINVAL;
		/* A key is an OTLP string too (values are mended when set). */
		key[utf8_mend(key, strlen(key))] = '\0';
		if (!dry) {
			if (resource_set_str(res, key, val))
				return -ENOMEM;
			*service |= strcmp(key, "service.name") == 0;
		}
		added++;
		p = *end ? end + 1 : end;
	}
	return added;
}

static int parse_env(struct sp_resource *res, const char *value, bool *service)
{
	int ret;

	/* Validate everything first: a malformed value is ignored as a whole. */
	ret = parse_pairs(res, value, 1, service);
	if (ret < 0)
		return ret;
	return parse_pairs(res, value, 0, service);
}

int resource_parse_env(struct sp_resource *res, const char *value)
{
	bool service = false;

	return parse_env(res, value, &service);
}

/* Returns whether `value` was taken and named service.name. */
static bool add_env_attrs(struct sp_resource *res, const char *value,
			  const char *whose)
{
	bool service = false;

	if (!value || !*value)
		return false;
	if (parse_env(res, value, &service) == -EINVAL) {
		sp_warn("resource: OTEL_RESOURCE_ATTRIBUTES of %s is malformed "
			"(expected key=value,...); ignored as a whole", whose);
		return false;
	}
	return service;
}

static int add_static_attrs(struct sp_resource *res,
			    const struct sp_process_info *info,
			    const struct sp_resource_defaults *defaults)
{
	const char *exe = info->exe_path ? info->exe_path : "";
	const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	char host[256] = "";
	char unknown[300];
	int err = 0;

	gethostname(host, sizeof(host) - 1);
	snprintf(unknown, sizeof(unknown), "unknown_service:%s", base);
	err |= resource_set_str(res, "service.name", unknown);
	err |= resource_set_int(res, "process.pid", info->pid);
	err |= resource_set_str(res, "process.executable.name", base);
	err |= resource_set_str(res, "process.executable.path", exe);
	if (info->command_line && defaults->with_command_line)
		err |= resource_set_str(res, "process.command_line",
					info->command_line);
	err |= resource_set_str(res, "host.name", host);
	err |= resource_set_str(res, "telemetry.sdk.name", SP_SDK_NAME);
	err |= resource_set_str(res, "telemetry.sdk.version", SP_VERSION);
	err |= resource_set_str(res, "telemetry.sdk.language", SP_SDK_LANGUAGE);
	return err ? -ENOMEM : 0;
}

static bool is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int resource_container_id(const char *cgroup, char out[65])
{
	int found = -ENOENT;

	for (const char *p = cgroup; *p; p++) {
		/* The id starts a component, or follows the runtime's '-'. */
		if (p != cgroup && p[-1] != '/' && p[-1] != '-')
			continue;
		if (strnlen(p, 64) < 64 || !is_hex64(p))
			continue;
		if (p[64] && p[64] != '/' && p[64] != '\n' &&
		    strncmp(p + 64, ".scope", 6) != 0)
			continue;
		memcpy(out, p, 64);
		out[64] = 0;
		found = 0;
	}
	return found;
}

struct sp_resource *resource_build(const struct sp_process_info *info,
				   const struct sp_resource_defaults *defaults)
{
	struct sp_resource *res = calloc(1, sizeof(*res));
	const char *service = NULL;
	char whose[64];
	bool own;
	int named = 0;

	if (!res)
		goto nomem;
	res->refs = 1;
	res->pid = (uint32_t)info->pid;
	if (add_static_attrs(res, info, defaults))
		goto nomem;
	if (info->cgroup) {
		char id[65];

		res->cgroup = strdup(info->cgroup);
		if (!res->cgroup)
			goto nomem;
		if (resource_container_id(info->cgroup, id) == 0 &&
		    resource_set_str(res, "container.id", id))
			goto nomem;
	}
	/* Precedence (lowest first): spanprobe's attributes, the process's
	 * own, then service.name from the OTEL_SERVICE_NAME variables, which
	 * the specification ranks above OTEL_RESOURCE_ATTRIBUTES. */
	add_env_attrs(res, defaults->resource_attrs, "spanprobe");
	/* A pod's names rank above spanprobe's settings, below the process's
	 * own (as the OpenTelemetry operator leaves a container's variables). */
	if (defaults->enricher && res->cgroup) {
		named = defaults->enricher->enrich(defaults->enricher->ctx, res);
		if (named < 0)
			goto nomem;
	}
	snprintf(whose, sizeof(whose), "process %d", (int)info->pid);
	/* The process naming itself in its OTEL_RESOURCE_ATTRIBUTES ranks
	 * above spanprobe's node-wide default, as a pod's name does. */
	own = add_env_attrs(res, info->own_resource_attrs, whose);
	if (defaults->service_name && *defaults->service_name && named <= 0 && !own)
		service = defaults->service_name;
	if (info->service_name && *info->service_name)
		service = info->service_name;
	if (service && resource_set_str(res, "service.name", service))
		goto nomem;
	return res;
nomem:
	resource_put(res);
	errno = ENOMEM;
	return NULL;
}
