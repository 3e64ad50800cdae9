/* SPDX-License-Identifier: MIT */
/* What meta.c (start, stop, enrichment) and sync.c (the thread) share. */
#ifndef SPANPROBE_K8S_META_IMPL_H
#define SPANPROBE_K8S_META_IMPL_H

#include <pthread.h>

#include "k8s/apiclient.h"
#include "k8s/meta.h"
#include "k8s/podtable.h"
#include "k8s/watch.h"

struct k8s_meta {
	struct k8s_api api;
	struct k8s_podtable pods;
	struct k8s_jsonstream json;    /* lists and watches */
	struct k8s_jsonstream rs_json; /* ReplicaSet lookups */
	struct sp_resource_enricher enricher;
	char node[K8S_NAME_MAX];
	char cluster[K8S_NAME_MAX];
	char rv[K8S_RV_MAX];     /* where the watch resumes; "" : list first */
	bool listed;             /* a list succeeded once */
	bool stale_at_once;      /* the last watch was Gone before any event */
	unsigned backoff_ms;
	unsigned seed;           /* the backoff's jitter */
	int wake[2];             /* a pipe: stop() writes, the thread polls */
	bool stop;               /* atomic */
	pthread_t thread;
	bool started;
	bool told_auth[2];       /* 401, 403 said once */
	bool told_down;          /* the API server not reached yet: said once */
	bool told_rs_forbidden;
	struct k8s_meta_stats stats; /* counters: atomic */
};

/* The thread (sync.c). */
void *k8s_sync_run(void *arg);

#endif /* SPANPROBE_K8S_META_IMPL_H */
