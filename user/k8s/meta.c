// SPDX-License-Identifier: MIT
#include "k8s/meta_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s/cgroup.h"
#include "util/log.h"

#define LIST_MAX_BYTES (64u << 20) /* a PodList or an event's object */
#define RS_MAX_BYTES (1u << 20)    /* a ReplicaSet */

/* Where the process of `res` is: its container ID and pod UID (either may
 * be NULL).  False when its cgroups name neither. */
static bool where(const struct sp_resource *res, char cid[65], char uid[37],
		  const char **cidp, const char **uidp)
{
	*cidp = res->cgroup && resource_container_id(res->cgroup, cid) == 0 ? cid : NULL;
	*uidp = res->cgroup && k8s_cgroup_pod_uid(res->cgroup, uid) == 0 ? uid : NULL;
	return *cidp || *uidp;
}

static int enrich(void *ctx, struct sp_resource *res)
{
	struct k8s_meta *m = ctx;
	const struct k8s_container *c;
	const char *cidp, *uidp;
	char cid[65], uid[37];
	struct k8s_pod *pod;
	int err;

	if (!where(res, cid, uid, &cidp, &uidp))
		return 0;
	res->meta_wanted = true;
	pod = malloc(sizeof(*pod)); /* some 9 KB: not on the consumer's stack */
	if (!pod)
		return -ENOMEM;
	if (!k8s_podtable_find(&m->pods, cidp, uidp, pod, &c)) {
		free(pod);
		return 0;
	}
	res->meta_version = pod->version;
	/* Where the pod runs, not only where spanprobe does (a kubeconfig
	 * may name a cluster this host is no node of). */
	err = k8s_pod_add_attrs(pod, c, res);
	if (!err && m->cluster[0])
		err = resource_set_str(res, "k8s.cluster.name", m->cluster);
	if (!err)
		err = resource_set_str(res, "k8s.node.name", pod->node[0] ? pod->node : m->node);
	free(pod);
	return err ? err : 1;
}

static uint64_t version(void *ctx, const struct sp_resource *res)
{
	struct k8s_meta *m = ctx;
	const char *cidp, *uidp;
	char cid[65], uid[37];

	if (!where(res, cid, uid, &cidp, &uidp))
		return 0;
	return k8s_podtable_version(&m->pods, cidp, uidp);
}

static uint64_t generation(void *ctx)
{
	return k8s_podtable_generation(&((struct k8s_meta *)ctx)->pods);
}

/* The first file of a KUBECONFIG list. */
static const char *first_kubeconfig(char *buf, size_t size)
{
	const char *env = getenv("KUBECONFIG");
	const char *colon;

	if (!env || !*env)
		return NULL;
	colon = strchr(env, ':');
	snprintf(buf, size, "%.*s", colon ? (int)(colon - env) : (int)strlen(env), env);
	return buf;
}

bool k8s_meta_wanted(const struct k8s_meta_opts *o)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	char buf[PATH_MAX];

	return o->kubeconfig || first_kubeconfig(buf, sizeof(buf)) || (host && *host);
}

/* Which API, from the options and the environment (kubectl's order). */
static int find_api(const struct k8s_meta_opts *o, struct k8s_api_config *c)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char buf[PATH_MAX];
	const char *kc = o->kubeconfig ? o->kubeconfig : first_kubeconfig(buf, sizeof(buf));

	if (kc)
		return k8s_kubeconfig_load(kc, c);
	if (!host || !*host || !port || !*port ||
	    k8s_incluster_load(host, port, o->sa_dir ? o->sa_dir : K8S_SA_DIR, c))
		return -ENODEV;
	return 0;
}

static void set_names(struct k8s_meta *m, const struct k8s_meta_opts *o)
{
	const char *node = o->node_name ? o->node_name : getenv("NODE_NAME");
	const char *cluster = o->cluster_name ? o->cluster_name
					      : getenv("SPANPROBE_CLUSTER_NAME");

	if (node && *node)
		snprintf(m->node, sizeof(m->node), "%s", node);
	else if (gethostname(m->node, sizeof(m->node) - 1))
		snprintf(m->node, sizeof(m->node), "localhost");
	if (cluster)
		snprintf(m->cluster, sizeof(m->cluster), "%s", cluster);
}

static int setup(struct k8s_meta *m, const struct k8s_meta_opts *o,
		 struct k8s_api_config *c)
{
	int err;

	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	err = k8s_api_init(&m->api, c, m->wake[0]);
	if (!err)
		err = k8s_podtable_init(&m->pods, o->max_pods ? o->max_pods : 1024);
	if (!err)
		err = k8s_jsonstream_init(&m->json, LIST_MAX_BYTES);
	if (!err)
		err = k8s_jsonstream_init(&m->rs_json, RS_MAX_BYTES);
	if (err)
		return err;
	m->seed = (unsigned)getpid();
	m->enricher = (struct sp_resource_enricher){
		.enrich = enrich, .version = version, .generation = generation, .ctx = m,
	};
	set_names(m, o);
	if (pthread_create(&m->thread, NULL, k8s_sync_run, m))
		return -EAGAIN;
	m->started = true;
	return 0;
}

struct k8s_meta *k8s_meta_start(const struct k8s_meta_opts *opts)
{
	struct k8s_api_config c;
	struct k8s_meta *m;
	int err = find_api(opts, &c);

	if (err) {
		errno = -err;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		k8s_api_config_free(&c);
		errno = ENOMEM;
		return NULL;
	}
	m->wake[0] = m->wake[1] = -1;
	err = setup(m, opts, &c);
	if (err) {
		k8s_api_config_free(&c);
		k8s_meta_stop(m);
		errno = -err;
		return NULL;
	}
	sp_info("k8s: pod metadata from %s (%s), node %s, authentication: %s%s",
		m->api.cfg.server, m->api.cfg.source, m->node, k8s_auth_name(m->api.cfg.auth),
		m->api.cfg.insecure ? ", server certificate not verified" : "");
	return m;
}

void k8s_meta_stop(struct k8s_meta *m)
{
	if (!m)
		return;
	__atomic_store_n(&m->stop, true, __ATOMIC_RELEASE);
	if (m->wake[1] >= 0 && write(m->wake[1], "", 1) < 0)
		sp_debug("k8s: cannot wake the watch thread");
	if (m->started)
		pthread_join(m->thread, NULL);
	k8s_api_destroy(&m->api);
	if (m->pods.pods)
		k8s_podtable_destroy(&m->pods);
	k8s_jsonstream_destroy(&m->json);
	k8s_jsonstream_destroy(&m->rs_json);
	for (int i = 0; i < 2; i++)
		if (m->wake[i] >= 0)
			close(m->wake[i]);
	free(m);
}

const struct sp_resource_enricher *k8s_meta_enricher(struct k8s_meta *m)
{
	return &m->enricher;
}

void k8s_meta_get_stats(struct k8s_meta *m, struct k8s_meta_stats *out)
{
	out->pods = k8s_podtable_count(&m->pods);
	out->pods_dropped = __atomic_load_n(&m->pods.pods_dropped, __ATOMIC_RELAXED);
	out->pods_cut = __atomic_load_n(&m->pods.pods_cut, __ATOMIC_RELAXED);
	out->relists = __atomic_load_n(&m->stats.relists, __ATOMIC_RELAXED);
	out->watch_restarts = __atomic_load_n(&m->stats.watch_restarts, __ATOMIC_RELAXED);
	out->api_errors = __atomic_load_n(&m->stats.api_errors, __ATOMIC_RELAXED);
	out->owner_lookups = __atomic_load_n(&m->stats.owner_lookups, __ATOMIC_RELAXED);
}
