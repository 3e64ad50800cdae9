/* SPDX-License-Identifier: MIT */
/*
 * What spanprobe keeps of a Kubernetes pod, read from the API's JSON
 * (a Pod object of a list or a watch event), and the resource attributes
 * it gives a process of one of its containers.
 */
#ifndef SPANPROBE_K8S_POD_H
#define SPANPROBE_K8S_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct sp_resource;

#define K8S_MAX_CONTAINERS 16  /* containers, init and ephemeral, per pod */
#define K8S_MAX_ANNOTATIONS 8  /* resource.opentelemetry.io/ ones kept */
#define K8S_NAME_MAX 254       /* DNS subdomain names: 253 and a NUL */
#define K8S_VALUE_MAX 256      /* label and annotation values kept */

struct k8s_container {
	char id[65];    /* runtime's ID (64 hex), "" while not started */
	char name[64];
	char image[K8S_VALUE_MAX];
};

struct k8s_annotation {
	char key[64];   /* after the resource.opentelemetry.io/ prefix */
	char value[K8S_VALUE_MAX];
};

/* The kinds of controller a pod (or its ReplicaSet, Job) is owned by. */
enum k8s_owner_kind {
	K8S_OWNER_NONE = 0,
	K8S_OWNER_REPLICASET,
	K8S_OWNER_STATEFULSET,
	K8S_OWNER_DAEMONSET,
	K8S_OWNER_JOB,
	K8S_OWNER_OTHER,
};

struct k8s_pod {
	char uid[37];
	char namespace_[64];
	char name[K8S_NAME_MAX];
	char node[K8S_NAME_MAX];
	enum k8s_owner_kind owner_kind; /* the controller owner reference */
	char owner[K8S_NAME_MAX];
	char deployment[K8S_NAME_MAX];  /* through the ReplicaSet, "" unknown */
	bool deployment_known;          /* looked up (even when it has none) */
	char template_hash[16];         /* label pod-template-hash */
	char app_name[K8S_VALUE_MAX];   /* label app.kubernetes.io/name */
	char app_instance[K8S_VALUE_MAX]; /* label app.kubernetes.io/instance */
	char app_version[K8S_VALUE_MAX];  /* label app.kubernetes.io/version */
	struct k8s_annotation annotations[K8S_MAX_ANNOTATIONS];
	size_t n_annotations;
	struct k8s_container containers[K8S_MAX_CONTAINERS];
	size_t n_containers;
	bool containers_cut; /* it has more than K8S_MAX_CONTAINERS: the rest are not kept */
	uint64_t version; /* stamp of its last change (the table's generation) */
};

/*
 * Fill `pod` from a Pod object.  Fields too long for their room are left
 * empty (names never are: the API bounds them).  Returns 0, or -EINVAL
 * when the object has no metadata.uid (not a pod).
 */
int k8s_pod_from_json(struct json_object *obj, struct k8s_pod *pod);

/*
 * The container of `pod` with runtime ID `id` (64 hex), or NULL.
 */
const struct k8s_container *k8s_pod_container(const struct k8s_pod *pod,
					      const char *id);

/*
 * Add the pod's attributes to `res` for a process of container `c` (NULL:
 * the container is not known yet, only the pod): k8s.namespace.name,
 * k8s.pod.name, k8s.pod.uid, k8s.container.name, the owners
 * (k8s.replicaset.name, k8s.deployment.name, ...), the pod's
 * resource.opentelemetry.io/ annotations, and service.name,
 * service.namespace, service.version, service.instance.id by the
 * OpenTelemetry operator's rules (README, "Kubernetes metadata").
 * Returns 0 or -ENOMEM.
 */
int k8s_pod_add_attrs(const struct k8s_pod *pod, const struct k8s_container *c,
		      struct sp_resource *res);

/*
 * The CronJob that made Job `job`: a CronJob names its Jobs
 * "<cronjob>-<scheduled time in minutes>"; a name ending in "-" and 8 or
 * more digits is taken for one.  Writes the CronJob's name to out[size]
 * and returns true, or false.
 */
bool k8s_cronjob_of_job(const char *job, char *out, size_t size);

/*
 * service.version from an image reference ("registry/repo:tag@digest"):
 * "tag@digest", the digest, or the tag; "" when it has neither.
 */
void k8s_image_version(const char *image, char *out, size_t size);

#endif /* SPANPROBE_K8S_POD_H */
