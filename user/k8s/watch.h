/* SPDX-License-Identifier: MIT */
/*
 * The bodies of the API's answers: a stream of JSON objects (a list is
 * one, a watch is one per event, newline-separated), parsed incrementally
 * as chunks arrive, however they are split; and what a list or a watch
 * event of pods does to the pod table.
 */
#ifndef SPANPROBE_K8S_WATCH_H
#define SPANPROBE_K8S_WATCH_H

#include <stddef.h>

#include "k8s/podtable.h"

struct json_object;
struct json_tokener;

#define K8S_RV_MAX 64 /* a resourceVersion kept */

struct k8s_jsonstream {
	struct json_tokener *tok;
	size_t bytes;     /* of the object being parsed */
	size_t max_bytes; /* an object larger is refused */
};

/* Called with each complete object (the stream keeps its reference);
 * a negative return stops the feed. */
typedef int (*k8s_json_fn)(void *ctx, struct json_object *obj);

/* Returns 0 or -ENOMEM. */
int k8s_jsonstream_init(struct k8s_jsonstream *s, size_t max_bytes);
void k8s_jsonstream_destroy(struct k8s_jsonstream *s);
/* Start afresh (a new response). */
void k8s_jsonstream_reset(struct k8s_jsonstream *s);

/*
 * Feed bytes.  Returns 0, -EBADMSG when they are not JSON objects,
 * -EMSGSIZE for an object over max_bytes, or fn()'s negative return.
 */
int k8s_jsonstream_feed(struct k8s_jsonstream *s, const char *buf, size_t len,
			k8s_json_fn fn, void *ctx);

/* At the body's end: 0, or -EPIPE when an object was cut. */
int k8s_jsonstream_end(const struct k8s_jsonstream *s);

enum k8s_event_type {
	K8S_EVENT_ADDED = 1,
	K8S_EVENT_MODIFIED,
	K8S_EVENT_DELETED,
	K8S_EVENT_BOOKMARK,
	K8S_EVENT_ERROR,
};

/* What k8s_pods_apply_event() says besides errors. */
#define K8S_RELIST 1 /* 410 Gone: the resourceVersion is too old */

/*
 * Apply a watch event of pods ({"type": ..., "object": {...}}) to `t`,
 * keeping the object's metadata.resourceVersion in rv[K8S_RV_MAX].
 * Returns 0, K8S_RELIST for an ERROR event with code 410, -EPROTO for
 * another ERROR event (its code in *code), or -EBADMSG when it is not an
 * event.  A pod the table has no room for is counted there.
 */
int k8s_pods_apply_event(struct k8s_podtable *t, struct json_object *ev,
			 char *rv, int *code);

/*
 * Replace the table's pods with those of a PodList, keeping its
 * metadata.resourceVersion in rv[K8S_RV_MAX].  Returns 0 or -EBADMSG.
 */
int k8s_pods_apply_list(struct k8s_podtable *t, struct json_object *list, char *rv);

/*
 * The Deployment of a ReplicaSet object (its controller owner of kind
 * Deployment) written to out[size] ("" when none).  Returns 0 or -EBADMSG.
 */
int k8s_replicaset_deployment(struct json_object *rs, char *out, size_t size);

#endif /* SPANPROBE_K8S_WATCH_H */
