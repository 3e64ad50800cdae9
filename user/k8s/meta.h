/* SPDX-License-Identifier: MIT */
/*
 * k8s/: Kubernetes metadata for the resources of the processes of pods.
 * It may include util/, span/ (the resource it adds to) and transport/
 * (the connection code its API client uses).
 *
 * A thread lists and watches the pods of this node (and looks up the
 * ReplicaSets they belong to) and keeps them in a table; resources are
 * enriched from the table by the thread that builds them, never waiting
 * for the API.  The thread's backoff and reconnects are its own: spans
 * flow, without the metadata, while the API is away.
 */
#ifndef SPANPROBE_K8S_META_H
#define SPANPROBE_K8S_META_H

#include <stdbool.h>
#include <stdint.h>

#include "span/resource.h"

struct k8s_meta;

struct k8s_meta_opts {
	const char *kubeconfig;   /* NULL: $KUBECONFIG, else in-cluster */
	const char *node_name;    /* NULL: $NODE_NAME, else the host name */
	const char *cluster_name; /* NULL: $SPANPROBE_CLUSTER_NAME, else none */
	uint32_t max_pods;        /* pods kept; more are counted, not kept */
	const char *sa_dir;       /* NULL: the service account's usual place */
};

struct k8s_meta_stats {
	uint32_t pods;            /* known now */
	uint64_t pods_dropped;    /* not kept: the table was full */
	uint64_t pods_cut;        /* kept without the containers past 16 */
	uint64_t relists;         /* lists after the first (410 Gone, errors) */
	uint64_t watch_restarts;  /* watches started again from the last version */
	uint64_t api_errors;      /* failed requests: refused, 4xx/5xx, cut */
	uint64_t owner_lookups;   /* ReplicaSets asked for */
};

/*
 * Start when there is a cluster to ask: a kubeconfig (given, or
 * $KUBECONFIG: its first file), or in a pod (KUBERNETES_SERVICE_HOST and
 * _PORT and the service account's token).  Returns NULL with errno
 * ENODEV when there is none (metadata off), or another errno (logged:
 * a kubeconfig that cannot be used).
 */
struct k8s_meta *k8s_meta_start(const struct k8s_meta_opts *opts);

/* Whether k8s_meta_start() would look for a cluster (the options and the
 * environment name one), without reading anything yet. */
bool k8s_meta_wanted(const struct k8s_meta_opts *opts);

/* Stop the thread and free everything; accepts NULL. */
void k8s_meta_stop(struct k8s_meta *m);

/* What resource_build() calls (span/resource.h); valid until stop. */
const struct sp_resource_enricher *k8s_meta_enricher(struct k8s_meta *m);

void k8s_meta_get_stats(struct k8s_meta *m, struct k8s_meta_stats *out);

#endif /* SPANPROBE_K8S_META_H */
