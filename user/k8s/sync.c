// SPDX-License-Identifier: MIT
/*
 * The watch thread: list the pods of this node, watch them from the
 * list's resourceVersion, look up the ReplicaSets they belong to; on a
 * watch that ends, watch again from the last version seen; on 410 Gone
 * (the version is too old), list again; when the API is away or refuses,
 * wait (exponential backoff with jitter, capped) and try again.
 */
#include "k8s/meta_impl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/clock.h"
#include "util/log.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 5000
#define WATCH_SECONDS 240                       /* the server ends a watch then */
#define WATCH_IDLE_MS ((WATCH_SECONDS + 30) * 1000) /* silence that ends it here */
#define REQUEST_IDLE_MS 10000                   /* lists and lookups */
#define STALE (-ESTALE)                         /* 410 Gone: list again */

static bool stopping(struct k8s_meta *m)
{
	return __atomic_load_n(&m->stop, __ATOMIC_ACQUIRE);
}

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* Sleep the backoff (or until stopped), then double it. */
static void backoff(struct k8s_meta *m)
{
	struct pollfd p = { .fd = m->wake[0], .events = POLLIN };
	unsigned ms = m->backoff_ms ? m->backoff_ms : BACKOFF_FIRST_MS;
	/* +-20 %: nodes restarted together do not ask together. */
	unsigned jitter = ms / 5 ? (unsigned)rand_r(&m->seed) % (ms / 5 * 2) : 0;

	poll(&p, 1, (int)(ms - ms / 5 + jitter));
	m->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

/* A failed request: counted, and said once for refusals. */
static void request_failed(struct k8s_meta *m, const char *what, int ret)
{
	if (ret == -ECANCELED) /* stopping */
		return;
	count(&m->stats.api_errors);
	if (ret == 401 || ret == 403) {
		bool *told = &m->told_auth[ret == 403];

		if (ret == 401)
			k8s_api_token_stale(&m->api);
		if (!*told)
			sp_warn("k8s: %s: %s by the API server %s (%s); pod metadata is "
				"missing until it lets spanprobe in (RBAC: get, list, watch "
				"pods; get replicasets)", what,
				ret == 401 ? "401 Unauthorized" : "403 Forbidden",
				m->api.cfg.server, k8s_auth_name(m->api.cfg.auth));
		*told = true;
		return;
	}
	/* Until the first list, a failure is most likely a setting (the
	 * server, its CA, a proxy): said once; later ones (a watch dropped,
	 * a restart of the API server) are the everyday kind. */
	if (!m->listed && !m->told_down) {
		m->told_down = true;
		if (ret > 0)
			sp_warn("k8s: %s: HTTP status %d from %s; spans go out without "
				"pod metadata until it answers", what, ret, m->api.cfg.server);
		else
			sp_warn("k8s: %s: %s (%s); spans go out without pod metadata "
				"until it answers", what, strerror(-ret), m->api.cfg.server);
		return;
	}
	if (ret > 0)
		sp_debug("k8s: %s: HTTP status %d", what, ret);
	else
		sp_debug("k8s: %s: %s", what, strerror(-ret));
}

struct body_ctx {
	struct k8s_meta *m;
	bool watch;
	bool events;    /* a watch delivered at least one event */
	bool ok_events; /* ...other than an ERROR */
	char owner[K8S_NAME_MAX]; /* a ReplicaSet's Deployment */
	bool owner_read;
};

static int on_list(void *arg, struct json_object *obj)
{
	struct body_ctx *b = arg;

	return k8s_pods_apply_list(&b->m->pods, obj, b->m->rv) ? -EBADMSG : 0;
}

static void resolve_owners(struct k8s_meta *m);

static int on_event(void *arg, struct json_object *obj)
{
	struct body_ctx *b = arg;
	int code, ret = k8s_pods_apply_event(&b->m->pods, obj, b->m->rv, &code);

	b->events |= ret != -EBADMSG;
	if (ret == K8S_RELIST)
		return STALE;
	b->ok_events |= ret == 0;
	if (ret == -EPROTO)
		sp_debug("k8s: the watch ended with an error event (code %d)", code);
	if (ret < 0)
		return ret == -EPROTO ? STALE : ret;
	resolve_owners(b->m);
	return 0;
}

static int on_body(void *arg, const char *buf, size_t len)
{
	struct body_ctx *b = arg;

	return k8s_jsonstream_feed(&b->m->json, buf, len, b->watch ? on_event : on_list, b);
}

/* GET path into the JSON stream; 200 only when its objects were whole. */
static int get_json(struct k8s_meta *m, const char *path, int idle_ms, struct body_ctx *b)
{
	int ret;

	k8s_jsonstream_reset(&m->json);
	ret = k8s_api_get(&m->api, path, idle_ms, on_body, b);
	if (ret == 200 && k8s_jsonstream_end(&m->json))
		ret = -EPIPE;
	return ret;
}

static int list_pods(struct k8s_meta *m)
{
	struct body_ctx b = { .m = m };
	char path[512];
	int ret;

	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", m->node);
	m->rv[0] = '\0';
	ret = get_json(m, path, REQUEST_IDLE_MS, &b);
	if (ret != 200 || !m->rv[0]) {
		request_failed(m, "listing the pods of this node", ret == 200 ? -EBADMSG : ret);
		m->rv[0] = '\0';
		return -EAGAIN;
	}
	if (m->listed)
		count(&m->stats.relists);
	else if (!k8s_podtable_count(&m->pods))
		sp_warn("k8s: no pod on node %s: is that this node's name "
			"(--node-name, NODE_NAME)?", m->node);
	m->listed = true;
	sp_debug("k8s: %u pods on node %s (resourceVersion %s)",
		 k8s_podtable_count(&m->pods), m->node, m->rv);
	return 0;
}

/* Watch from m->rv until the stream ends: 0 (ended: watch again), STALE
 * (list again), or -EAGAIN (failed: wait first). */
static int watch_pods(struct k8s_meta *m)
{
	struct body_ctx b = { .m = m, .watch = true };
	int64_t started = clock_mono_ms();
	char path[640];
	int ret;

	snprintf(path, sizeof(path),
		 "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1&resourceVersion=%s"
		 "&allowWatchBookmarks=true&timeoutSeconds=%d", m->node, m->rv, WATCH_SECONDS);
	ret = get_json(m, path, WATCH_IDLE_MS, &b);
	if (b.events)
		m->backoff_ms = 0; /* it worked: the next failure waits little */
	m->stale_at_once = (ret == STALE || ret == 410) && !b.ok_events;
	if (ret == STALE || ret == 410)
		return STALE;
	if (ret == 200 || (ret == -EPIPE && b.events)) {
		/* Ended at once with nothing (a proxy's idea of a timeout?):
		 * not asked again in a tight loop. */
		if (!b.events && clock_mono_ms() - started < 1000)
			backoff(m);
		return 0;
	}
	if (ret != -ECANCELED)
		request_failed(m, "watching the pods of this node", ret);
	return -EAGAIN;
}

static int on_replicaset(void *arg, struct json_object *obj)
{
	struct body_ctx *b = arg;

	b->owner_read = k8s_replicaset_deployment(obj, b->owner, sizeof(b->owner)) == 0;
	return 0;
}

static int on_rs_body(void *arg, const char *buf, size_t len)
{
	struct body_ctx *b = arg;

	return k8s_jsonstream_feed(&b->m->rs_json, buf, len, on_replicaset, b);
}

/*
 * The Deployment a ReplicaSet's name implies: "<deployment>-<pod template
 * hash>", as the Deployment controller names them.  For when the API does
 * not answer (or RBAC forbids replicasets).
 */
static void derive_deployment(const char *rs, const char *hash, char *out, size_t size)
{
	size_t n = strlen(rs), h = strlen(hash);

	out[0] = '\0';
	if (h && n > h + 1 && rs[n - h - 1] == '-' && strcmp(rs + n - h, hash) == 0)
		snprintf(out, size, "%.*s", (int)(n - h - 1), rs);
}

/* The Deployment of ReplicaSet ns/name, asked of the API. */
static void lookup_replicaset(struct k8s_meta *m, const char *ns, const char *name,
			      const char *hash)
{
	struct body_ctx b = { .m = m };
	char path[512];
	int ret;

	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/replicasets/%s", ns, name);
	count(&m->stats.owner_lookups);
	/* Its own stream: a watch may be in the middle of an object. */
	k8s_jsonstream_reset(&m->rs_json);
	ret = k8s_api_get(&m->api, path, REQUEST_IDLE_MS, on_rs_body, &b);
	if (ret != 200 || !b.owner_read) {
		if (ret == 403 && !m->told_rs_forbidden)
			sp_warn("k8s: getting replicasets is forbidden (RBAC): Deployment "
				"names are taken from the ReplicaSets' names");
		m->told_rs_forbidden |= ret == 403;
		if (ret != 403)
			request_failed(m, "getting a ReplicaSet", ret == 200 ? -EBADMSG : ret);
		derive_deployment(name, hash, b.owner, sizeof(b.owner));
	}
	k8s_podtable_set_deployment(&m->pods, ns, name, b.owner);
}

/* Every ReplicaSet of a known pod whose Deployment is not known yet. */
static void resolve_owners(struct k8s_meta *m)
{
	char ns[64], name[K8S_NAME_MAX], hash[16];

	while (!stopping(m) && k8s_podtable_unresolved(&m->pods, ns, name, hash))
		lookup_replicaset(m, ns, name, hash);
}

void *k8s_sync_run(void *arg)
{
	struct k8s_meta *m = arg;

	while (!stopping(m)) {
		int ret;

		if (!m->rv[0] && list_pods(m)) {
			backoff(m);
			continue;
		}
		resolve_owners(m);
		ret = watch_pods(m);
		if (ret == STALE) {
			/* Gone at once again: a server that keeps saying so is
			 * not asked in a tight loop. */
			if (m->stale_at_once)
				backoff(m);
			m->rv[0] = '\0';
		} else if (ret == 0) {
			count(&m->stats.watch_restarts);
		} else if (!stopping(m)) {
			count(&m->stats.watch_restarts);
			backoff(m);
		}
	}
	return NULL;
}
