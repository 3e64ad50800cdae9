/* SPDX-License-Identifier: MIT */
/*
 * The pods of this node, as the API's list and watch last described them,
 * and the Deployments of the ReplicaSets they belong to.  Written by the
 * watch thread, read by the ring-buffer consumer when it builds a
 * resource: one mutex, never taken per span.  `generation` changes with
 * every change; readers poll it without the lock.
 */
#ifndef SPANPROBE_K8S_PODTABLE_H
#define SPANPROBE_K8S_PODTABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "k8s/pod.h"

struct k8s_rs_entry {
	char namespace_[64];
	char name[K8S_NAME_MAX];
	char deployment[K8S_NAME_MAX]; /* "" when it has no Deployment */
};

struct k8s_podtable {
	pthread_mutex_t lock;
	struct k8s_pod **pods;    /* [max_pods], the first n used */
	bool *seen;               /* during a relist: listed again */
	uint32_t n, max_pods;
	struct k8s_rs_entry *rs;  /* [max_pods] ring of ReplicaSets looked up */
	uint32_t n_rs, rs_next;
	uint64_t generation;      /* atomic: bumped by every change */
	uint64_t pods_dropped;    /* atomic: not kept, the table was full */
	uint64_t pods_cut;        /* atomic: kept without some containers */
};

/* Room for `max_pods` pods and as many ReplicaSets.  0 or -ENOMEM. */
int k8s_podtable_init(struct k8s_podtable *t, uint32_t max_pods);
void k8s_podtable_destroy(struct k8s_podtable *t);

/* Add or replace a pod (by UID).  Returns 0, or -ENOSPC (counted) when
 * `max_pods` are kept already, or -ENOMEM. */
int k8s_podtable_upsert(struct k8s_podtable *t, const struct k8s_pod *pod);
void k8s_podtable_remove(struct k8s_podtable *t, const char *uid);

/* A relist: pods not upserted between begin and end are removed. */
void k8s_podtable_begin_relist(struct k8s_podtable *t);
void k8s_podtable_end_relist(struct k8s_podtable *t);

/*
 * A ReplicaSet whose Deployment is not known yet: its namespace and name
 * written to ns[64] and name[K8S_NAME_MAX], and its pods'
 * pod-template-hash label to hash[16].  Returns false when none.
 */
bool k8s_podtable_unresolved(struct k8s_podtable *t, char *ns, char *name,
			     char *hash);

/* ReplicaSet ns/name belongs to `deployment` ("" for none): remembered,
 * and given to its pods. */
void k8s_podtable_set_deployment(struct k8s_podtable *t, const char *ns,
				 const char *name, const char *deployment);

/*
 * The pod of a process: by container ID (64 hex, or NULL) first, then by
 * pod UID (or NULL).  Copies the pod to *out and sets *container (NULL
 * when found by UID alone).  Returns true when found.
 */
bool k8s_podtable_find(struct k8s_podtable *t, const char *container_id,
		       const char *pod_uid, struct k8s_pod *out,
		       const struct k8s_container **container);

/* Version stamp of what k8s_podtable_find() would give; 0 when nothing. */
uint64_t k8s_podtable_version(struct k8s_podtable *t, const char *container_id,
			      const char *pod_uid);

uint32_t k8s_podtable_count(struct k8s_podtable *t);

static inline uint64_t k8s_podtable_generation(const struct k8s_podtable *t)
{
	return __atomic_load_n(&t->generation, __ATOMIC_ACQUIRE);
}

#endif /* SPANPROBE_K8S_PODTABLE_H */
