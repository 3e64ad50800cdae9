// SPDX-License-Identifier: MIT
#include "k8s/podtable.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int k8s_podtable_init(struct k8s_podtable *t, uint32_t max_pods)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->max_pods = max_pods;
	t->pods = calloc(max_pods, sizeof(*t->pods));
	t->seen = calloc(max_pods, sizeof(*t->seen));
	t->rs = calloc(max_pods, sizeof(*t->rs));
	if (!t->pods || !t->seen || !t->rs) {
		k8s_podtable_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

void k8s_podtable_destroy(struct k8s_podtable *t)
{
	for (uint32_t i = 0; t->pods && i < t->n; i++)
		free(t->pods[i]);
	free(t->pods);
	free(t->seen);
	free(t->rs);
	t->pods = NULL;
	t->seen = NULL;
	t->rs = NULL;
	t->n = 0;
	pthread_mutex_destroy(&t->lock);
}

/* Under the lock: the next version stamp. */
static uint64_t bump(struct k8s_podtable *t)
{
	return __atomic_add_fetch(&t->generation, 1, __ATOMIC_RELEASE);
}

static int index_of(const struct k8s_podtable *t, const char *uid)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (strcmp(t->pods[i]->uid, uid) == 0)
			return (int)i;
	return -1;
}

static const struct k8s_rs_entry *rs_find(const struct k8s_podtable *t,
					  const char *ns, const char *name)
{
	for (uint32_t i = 0; i < t->n_rs; i++)
		if (strcmp(t->rs[i].name, name) == 0 && strcmp(t->rs[i].namespace_, ns) == 0)
			return &t->rs[i];
	return NULL;
}

/* The Deployment of a pod's ReplicaSet, when already looked up. */
static void resolve(const struct k8s_podtable *t, struct k8s_pod *pod)
{
	const struct k8s_rs_entry *e;

	if (pod->owner_kind != K8S_OWNER_REPLICASET)
		return;
	e = rs_find(t, pod->namespace_, pod->owner);
	if (e) {
		memcpy(pod->deployment, e->deployment, sizeof(pod->deployment));
		pod->deployment_known = true;
	}
}

/* Whether the attributes a process would get changed. */
static bool same_pod(const struct k8s_pod *a, const struct k8s_pod *b)
{
	return memcmp(a, b, offsetof(struct k8s_pod, version)) == 0;
}

int k8s_podtable_upsert(struct k8s_podtable *t, const struct k8s_pod *pod)
{
	struct k8s_pod *p;
	int i, err = 0;

	pthread_mutex_lock(&t->lock);
	i = index_of(t, pod->uid);
	if (i < 0 && t->n == t->max_pods) {
		__atomic_add_fetch(&t->pods_dropped, 1, __ATOMIC_RELAXED);
		err = -ENOSPC;
		goto out;
	}
	if (i < 0) {
		p = malloc(sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		i = (int)t->n++;
		t->pods[i] = p;
		memcpy(p, pod, sizeof(*p));
		if (p->containers_cut)
			__atomic_add_fetch(&t->pods_cut, 1, __ATOMIC_RELAXED);
		resolve(t, p);
		p->version = bump(t);
	} else {
		struct k8s_pod next = *pod;

		p = t->pods[i];
		resolve(t, &next);
		next.version = p->version;
		if (!same_pod(p, &next)) {
			*p = next;
			p->version = bump(t);
		}
	}
	t->seen[i] = true;
out:
	pthread_mutex_unlock(&t->lock);
	return err;
}

/* Under the lock: remove slot i (the last one takes its place). */
static void remove_at(struct k8s_podtable *t, uint32_t i)
{
	free(t->pods[i]);
	t->n--;
	t->pods[i] = t->pods[t->n];
	t->seen[i] = t->seen[t->n];
	bump(t);
}

void k8s_podtable_remove(struct k8s_podtable *t, const char *uid)
{
	int i;

	pthread_mutex_lock(&t->lock);
	i = index_of(t, uid);
	if (i >= 0)
		remove_at(t, (uint32_t)i);
	pthread_mutex_unlock(&t->lock);
}

void k8s_podtable_begin_relist(struct k8s_podtable *t)
{
	pthread_mutex_lock(&t->lock);
	memset(t->seen, 0, t->max_pods * sizeof(*t->seen));
	pthread_mutex_unlock(&t->lock);
}

void k8s_podtable_end_relist(struct k8s_podtable *t)
{
	pthread_mutex_lock(&t->lock);
	for (uint32_t i = t->n; i-- > 0;)
		if (!t->seen[i])
			remove_at(t, i);
	pthread_mutex_unlock(&t->lock);
}

bool k8s_podtable_unresolved(struct k8s_podtable *t, char *ns, char *name,
			     char *hash)
{
	bool found = false;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < t->n && !found; i++) {
		const struct k8s_pod *p = t->pods[i];

		if (p->owner_kind != K8S_OWNER_REPLICASET || p->deployment_known)
			continue;
		memcpy(ns, p->namespace_, sizeof(p->namespace_));
		memcpy(name, p->owner, sizeof(p->owner));
		memcpy(hash, p->template_hash, sizeof(p->template_hash));
		found = true;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

void k8s_podtable_set_deployment(struct k8s_podtable *t, const char *ns,
				 const char *name, const char *deployment)
{
	struct k8s_rs_entry *e;

	pthread_mutex_lock(&t->lock);
	e = (struct k8s_rs_entry *)rs_find(t, ns, name);
	if (!e) {
		/* A ring: the oldest lookup makes room (asked again if needed). */
		e = &t->rs[t->rs_next];
		t->rs_next = (t->rs_next + 1) % t->max_pods;
		if (t->n_rs < t->max_pods)
			t->n_rs++;
	}
	snprintf(e->namespace_, sizeof(e->namespace_), "%s", ns);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->deployment, sizeof(e->deployment), "%s", deployment);
	for (uint32_t i = 0; i < t->n; i++) {
		struct k8s_pod *p = t->pods[i];

		if (p->owner_kind != K8S_OWNER_REPLICASET || strcmp(p->owner, name) ||
		    strcmp(p->namespace_, ns))
			continue;
		snprintf(p->deployment, sizeof(p->deployment), "%s", deployment);
		p->deployment_known = true;
		p->version = bump(t);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Under the lock. */
static const struct k8s_pod *find_locked(struct k8s_podtable *t, const char *cid,
					 const char *uid,
					 const struct k8s_container **c)
{
	int i;

	*c = NULL;
	for (uint32_t j = 0; cid && j < t->n; j++) {
		*c = k8s_pod_container(t->pods[j], cid);
		if (*c)
			return t->pods[j];
	}
	i = uid ? index_of(t, uid) : -1;
	return i >= 0 ? t->pods[i] : NULL;
}

bool k8s_podtable_find(struct k8s_podtable *t, const char *container_id,
		       const char *pod_uid, struct k8s_pod *out,
		       const struct k8s_container **container)
{
	const struct k8s_container *c;
	const struct k8s_pod *p;

	pthread_mutex_lock(&t->lock);
	p = find_locked(t, container_id, pod_uid, &c);
	if (p) {
		*out = *p;
		/* The copy's own container, not the table's. */
		*container = c ? &out->containers[c - p->containers] : NULL;
	}
	pthread_mutex_unlock(&t->lock);
	return p != NULL;
}

uint64_t k8s_podtable_version(struct k8s_podtable *t, const char *container_id,
			      const char *pod_uid)
{
	const struct k8s_container *c;
	const struct k8s_pod *p;
	uint64_t v;

	pthread_mutex_lock(&t->lock);
	p = find_locked(t, container_id, pod_uid, &c);
	v = p ? p->version : 0;
	pthread_mutex_unlock(&t->lock);
	return v;
}

uint32_t k8s_podtable_count(struct k8s_podtable *t)
{
	uint32_t n;

	pthread_mutex_lock(&t->lock);
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
