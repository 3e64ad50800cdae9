// SPDX-License-Identifier: MIT
#include "k8s/pod.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "span/resource.h"

#define ANNOTATION_PREFIX "resource.opentelemetry.io/"

/* The string at obj.key, or NULL. */
static const char *get_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *get_obj(struct json_object *obj, const char *key,
				   enum json_type type)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* Copy `s` when it fits; otherwise leave out[] empty. */
static void copy(char *out, size_t size, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	out[0] = '\0';
	if (n < size)
		memcpy(out, s ? s : "", n + 1);
}

static enum k8s_owner_kind owner_kind(const char *kind)
{
	static const struct { const char *name; enum k8s_owner_kind kind; } kinds[] = {
		{ "ReplicaSet", K8S_OWNER_REPLICASET },
		{ "StatefulSet", K8S_OWNER_STATEFULSET },
		{ "DaemonSet", K8S_OWNER_DAEMONSET },
		{ "Job", K8S_OWNER_JOB },
	};

	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			return kinds[i].kind;
	return K8S_OWNER_OTHER;
}

/* The controller among the owner references (the first one, if none is
 * marked controller: true). */
static void read_owner(struct json_object *meta, struct k8s_pod *pod)
{
	struct json_object *refs = get_obj(meta, "ownerReferences", json_type_array);
	struct json_object *pick = NULL;
	size_t n = refs ? json_object_array_length(refs) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(refs, i);
		struct json_object *ctl = get_obj(r, "controller", json_type_boolean);

		if (!json_object_is_type(r, json_type_object))
			continue;
		if (!pick || (ctl && json_object_get_boolean(ctl)))
			pick = r;
	}
	if (!pick || !get_str(pick, "name"))
		return;
	pod->owner_kind = owner_kind(get_str(pick, "kind"));
	copy(pod->owner, sizeof(pod->owner), get_str(pick, "name"));
	if (!pod->owner[0])
		pod->owner_kind = K8S_OWNER_NONE;
}

static void read_labels(struct json_object *meta, struct k8s_pod *pod)
{
	struct json_object *labels = get_obj(meta, "labels", json_type_object);

	copy(pod->app_name, sizeof(pod->app_name), get_str(labels, "app.kubernetes.io/name"));
	copy(pod->app_instance, sizeof(pod->app_instance),
	     get_str(labels, "app.kubernetes.io/instance"));
	copy(pod->app_version, sizeof(pod->app_version),
	     get_str(labels, "app.kubernetes.io/version"));
	copy(pod->template_hash, sizeof(pod->template_hash),
	     get_str(labels, "pod-template-hash"));
}

static void read_annotations(struct json_object *meta, struct k8s_pod *pod)
{
	struct json_object *ann = get_obj(meta, "annotations", json_type_object);
	size_t plen = strlen(ANNOTATION_PREFIX);

	if (!ann)
		return;
	json_object_object_foreach(ann, key, val) {
		struct k8s_annotation *a = &pod->annotations[pod->n_annotations];
		const char *v = json_object_is_type(val, json_type_string)
					? json_object_get_string(val) : NULL;

		if (strncmp(key, ANNOTATION_PREFIX, plen) != 0 || !v)
			continue;
		if (pod->n_annotations == K8S_MAX_ANNOTATIONS)
			break;
		copy(a->key, sizeof(a->key), key + plen);
		copy(a->value, sizeof(a->value), v);
		if (a->key[0] && (a->value[0] || !*v))
			pod->n_annotations++;
	}
}

static struct k8s_container *container_named(struct k8s_pod *pod, const char *name)
{
	for (size_t i = 0; i < pod->n_containers; i++)
		if (strcmp(pod->containers[i].name, name) == 0)
			return &pod->containers[i];
	if (pod->n_containers == K8S_MAX_CONTAINERS || strlen(name) >= 64) {
		pod->containers_cut = true;
		return NULL;
	}
	copy(pod->containers[pod->n_containers].name, 64, name);
	return &pod->containers[pod->n_containers++];
}

/* spec.containers (and the other lists): names and images. */
static void read_specs(struct json_object *list, struct k8s_pod *pod)
{
	size_t n = list ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		const char *name = get_str(c, "name");
		struct k8s_container *kc = name ? container_named(pod, name) : NULL;

		if (kc)
			copy(kc->image, sizeof(kc->image), get_str(c, "image"));
	}
}

/* "containerd://<id>", "cri-o://<id>", "docker://<id>": the ID part. */
static const char *runtime_id(const char *s)
{
	const char *p = s ? strstr(s, "://") : NULL;

	return p && strlen(p + 3) == 64 ? p + 3 : NULL;
}

/* status.containerStatuses (and init, ephemeral): the runtime IDs. */
static void read_statuses(struct json_object *list, struct k8s_pod *pod)
{
	size_t n = list ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		const char *name = get_str(c, "name");
		const char *id = runtime_id(get_str(c, "containerID"));
		struct k8s_container *kc = name ? container_named(pod, name) : NULL;

		if (kc && id)
			copy(kc->id, sizeof(kc->id), id);
	}
}

int k8s_pod_from_json(struct json_object *obj, struct k8s_pod *pod)
{
	static const char *const lists[] = { "containers", "initContainers",
					     "ephemeralContainers" };
	static const char *const statuses[] = { "containerStatuses",
						"initContainerStatuses",
						"ephemeralContainerStatuses" };
	struct json_object *meta = get_obj(obj, "metadata", json_type_object);
	struct json_object *spec = get_obj(obj, "spec", json_type_object);
	struct json_object *status = get_obj(obj, "status", json_type_object);
	const char *uid = get_str(meta, "uid");

	memset(pod, 0, sizeof(*pod));
	if (!uid || strlen(uid) >= sizeof(pod->uid))
		return -EINVAL;
	copy(pod->uid, sizeof(pod->uid), uid);
	copy(pod->namespace_, sizeof(pod->namespace_), get_str(meta, "namespace"));
	copy(pod->name, sizeof(pod->name), get_str(meta, "name"));
	copy(pod->node, sizeof(pod->node), get_str(spec, "nodeName"));
	read_owner(meta, pod);
	read_labels(meta, pod);
	read_annotations(meta, pod);
	for (size_t i = 0; i < 3; i++)
		read_specs(get_obj(spec, lists[i], json_type_array), pod);
	for (size_t i = 0; i < 3; i++)
		read_statuses(get_obj(status, statuses[i], json_type_array), pod);
	return 0;
}

const struct k8s_container *k8s_pod_container(const struct k8s_pod *pod,
					      const char *id)
{
	for (size_t i = 0; id && i < pod->n_containers; i++)
		if (pod->containers[i].id[0] && strcmp(pod->containers[i].id, id) == 0)
			return &pod->containers[i];
	return NULL;
}

bool k8s_cronjob_of_job(const char *job, char *out, size_t size)
{
	const char *dash = strrchr(job, '-');
	size_t digits = dash ? strlen(dash + 1) : 0;

	if (!dash || dash == job || digits < 8 ||
	    strspn(dash + 1, "0123456789") != digits ||
	    (size_t)(dash - job) >= size)
		return false;
	memcpy(out, job, (size_t)(dash - job));
	out[dash - job] = '\0';
	return true;
}

void k8s_image_version(const char *image, char *out, size_t size)
{
	const char *at = strchr(image, '@');
	size_t name_len = at ? (size_t)(at - image) : strlen(image);
	const char *slash = memrchr(image, '/', name_len);
	const char *start = slash ? slash + 1 : image;
	const char *colon = memchr(start, ':', name_len - (size_t)(start - image));
	int tag_len = colon ? (int)(image + name_len - colon - 1) : 0;

	if (colon && at)
		snprintf(out, size, "%.*s@%s", tag_len, colon + 1, at + 1);
	else if (at)
		snprintf(out, size, "%s", at + 1);
	else if (colon)
		snprintf(out, size, "%.*s", tag_len, colon + 1);
	else if (size)
		out[0] = '\0';
}

static const char *annotation(const struct k8s_pod *pod, const char *key)
{
	for (size_t i = 0; i < pod->n_annotations; i++)
		if (strcmp(pod->annotations[i].key, key) == 0 && pod->annotations[i].value[0])
			return pod->annotations[i].value;
	return NULL;
}

/* The owner chain's names, as the semantic conventions name them. */
struct owners {
	const char *replicaset, *deployment, *statefulset, *daemonset, *job;
	char cronjob[K8S_NAME_MAX];
};

static void find_owners(const struct k8s_pod *pod, struct owners *o)
{
	memset(o, 0, sizeof(*o));
	switch (pod->owner_kind) {
	case K8S_OWNER_REPLICASET:
		o->replicaset = pod->owner;
		o->deployment = pod->deployment[0] ? pod->deployment : NULL;
		break;
	case K8S_OWNER_STATEFULSET:
		o->statefulset = pod->owner;
		break;
	case K8S_OWNER_DAEMONSET:
		o->daemonset = pod->owner;
		break;
	case K8S_OWNER_JOB:
		o->job = pod->owner;
		k8s_cronjob_of_job(pod->owner, o->cronjob, sizeof(o->cronjob));
		break;
	default:
		break;
	}
}

/* service.name: the annotation, the well-known labels (instance first, as
 * the operator reads them), then the owners from ancestor to descendant,
 * the pod, the container. */
static const char *service_name(const struct k8s_pod *pod, const struct owners *o,
				const struct k8s_container *c)
{
	const char *order[] = {
		annotation(pod, "service.name"), pod->app_instance, pod->app_name,
		o->deployment, o->replicaset, o->statefulset, o->daemonset,
		o->cronjob, o->job, pod->name, c ? c->name : NULL,
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] && order[i][0])
			return order[i];
	return NULL;
}

static int set_if(struct sp_resource *res, const char *key, const char *val)
{
	return val && *val ? resource_set_str(res, key, val) : 0;
}

static int add_owner_attrs(struct sp_resource *res, const struct owners *o)
{
	return set_if(res, "k8s.replicaset.name", o->replicaset) |
	       set_if(res, "k8s.deployment.name", o->deployment) |
	       set_if(res, "k8s.statefulset.name", o->statefulset) |
	       set_if(res, "k8s.daemonset.name", o->daemonset) |
	       set_if(res, "k8s.job.name", o->job) |
	       set_if(res, "k8s.cronjob.name", o->cronjob);
}

static int add_service_attrs(const struct k8s_pod *pod, const struct owners *o,
			     const struct k8s_container *c, struct sp_resource *res)
{
	const char *ns = annotation(pod, "service.namespace");
	const char *version = annotation(pod, "service.version");
	const char *instance = annotation(pod, "service.instance.id");
	char image_version[K8S_VALUE_MAX * 2] = "";
	char id[K8S_NAME_MAX + 64 * 2 + 2] = "";

	if (!version && pod->app_version[0])
		version = pod->app_version;
	if (!version && c)
		k8s_image_version(c->image, image_version, sizeof(image_version));
	if (!instance && c)
		snprintf(id, sizeof(id), "%s.%s.%s", pod->namespace_, pod->name, c->name);
	return set_if(res, "service.name", service_name(pod, o, c)) |
	       set_if(res, "service.namespace", ns ? ns : pod->namespace_) |
	       set_if(res, "service.version", version ? version : image_version) |
	       set_if(res, "service.instance.id", instance ? instance : id);
}

int k8s_pod_add_attrs(const struct k8s_pod *pod, const struct k8s_container *c,
		      struct sp_resource *res)
{
	struct owners o;
	int err = 0;

	find_owners(pod, &o);
	/* Annotations first: what spanprobe knows of the pod replaces them,
	 * as the operator lets them fill only keys it did not set. */
	for (size_t i = 0; i < pod->n_annotations; i++)
		err |= resource_set_str(res, pod->annotations[i].key,
					pod->annotations[i].value);
	err |= set_if(res, "k8s.namespace.name", pod->namespace_) |
	       set_if(res, "k8s.pod.name", pod->name) |
	       set_if(res, "k8s.pod.uid", pod->uid) |
	       set_if(res, "k8s.container.name", c ? c->name : NULL);
	err |= add_owner_attrs(res, &o);
	err |= add_service_attrs(pod, &o, c, res);
	return err ? -ENOMEM : 0;
}
