/* SPDX-License-Identifier: MIT */
/*
 * A Pod object becomes attributes: k8s.* names, the owners, and
 * service.name / service.version / service.namespace by the OpenTelemetry
 * operator's rules, each rule and its rank; and where they rank among the
 * process's and spanprobe's own settings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "k8s/pod.h"
#include "span/resource.h"

#define CID "3f6a2b1c9d8e7f605142332415061728394a5b6c7d8e9f0a1b2c3d4e5f607182"

/* A pod: `owner` "Kind/name" or NULL, extra metadata members. */
static struct json_object *make_pod(const char *owner, const char *labels,
				    const char *annotations, const char *image)
{
	char text[4096];
	char kind[64] = "", name[128] = "";

	if (owner)
		sscanf(owner, "%63[^/]/%127s", kind, name);
	snprintf(text, sizeof(text),
		 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p-1\",\"namespace\":\"ns1\","
		 "\"uid\":\"0b5d2a3c-1e2f-4a5b-8c9d-0e1f2a3b4c5d\",\"labels\":{%s},"
		 "\"annotations\":{%s}%s%s%s%s%s},"
		 "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"side\",\"image\":\"x:9\"},"
		 "{\"name\":\"main\",\"image\":\"%s\"}],"
		 "\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox\"}]},"
		 "\"status\":{\"containerStatuses\":[{\"name\":\"main\",\"containerID\":"
		 "\"containerd://" CID "\"},{\"name\":\"side\"}],"
		 "\"initContainerStatuses\":[{\"name\":\"init\",\"containerID\":\"cri-o://"
		 "1111111111111111111111111111111111111111111111111111111111111111\"}]}}",
		 labels ? labels : "", annotations ? annotations : "",
		 owner ? ",\"ownerReferences\":[{\"kind\":\"Other\",\"name\":\"nope\"},"
			 "{\"controller\":true,\"kind\":\"" : "",
		 owner ? kind : "", owner ? "\",\"name\":\"" : "", owner ? name : "",
		 owner ? "\"}]" : "", image ? image : "reg.io/team/app:2.1");
	return json_tokener_parse(text);
}

/* Attributes of the main container's process. */
static struct sp_resource *attrs_of(const char *owner, const char *labels,
				    const char *annotations, const char *image,
				    const char *deployment)
{
	struct json_object *obj = make_pod(owner, labels, annotations, image);
	static struct k8s_pod pod;
	struct sp_resource *res = calloc(1, sizeof(*res));

	assert_non_null(obj);
	assert_int_equal(k8s_pod_from_json(obj, &pod), 0);
	json_object_put(obj);
	if (deployment) {
		snprintf(pod.deployment, sizeof(pod.deployment), "%s", deployment);
		pod.deployment_known = true;
	}
	res->refs = 1;
	assert_int_equal(k8s_pod_add_attrs(&pod, k8s_pod_container(&pod, CID), res), 0);
	return res;
}

static const char *get(const struct sp_resource *res, const char *key)
{
	const struct sp_resattr *a = resource_find(res, key);

	return a ? a->str : NULL;
}

static void test_pod_fields(void **state)
{
	struct json_object *obj = make_pod("ReplicaSet/web-abc12", NULL, NULL, NULL);
	struct k8s_pod pod;

	(void)state;
	assert_int_equal(k8s_pod_from_json(obj, &pod), 0);
	json_object_put(obj);
	assert_string_equal(pod.uid, "0b5d2a3c-1e2f-4a5b-8c9d-0e1f2a3b4c5d");
	assert_string_equal(pod.namespace_, "ns1");
	assert_string_equal(pod.node, "n1");
	/* The controller reference, not the first. */
	assert_int_equal(pod.owner_kind, K8S_OWNER_REPLICASET);
	assert_string_equal(pod.owner, "web-abc12");
	assert_int_equal(pod.n_containers, 3);
	assert_string_equal(k8s_pod_container(&pod, CID)->name, "main");
	assert_string_equal(k8s_pod_container(&pod, CID)->image, "reg.io/team/app:2.1");
	assert_string_equal(k8s_pod_container(&pod, "1111111111111111111111111111111111111111"
							 "111111111111111111111111")->name, "init");
	assert_null(k8s_pod_container(&pod, "2222"));
	/* Not a pod. */
	obj = json_tokener_parse("{\"kind\":\"Status\",\"code\":410}");
	assert_int_equal(k8s_pod_from_json(obj, &pod), -EINVAL);
	json_object_put(obj);
}

static void test_attributes(void **state)
{
	struct sp_resource *res = attrs_of("ReplicaSet/web-abc12", NULL, NULL, NULL, "web");

	(void)state;
	assert_string_equal(get(res, "k8s.namespace.name"), "ns1");
	assert_string_equal(get(res, "k8s.pod.name"), "p-1");
	assert_string_equal(get(res, "k8s.pod.uid"), "0b5d2a3c-1e2f-4a5b-8c9d-0e1f2a3b4c5d");
	assert_string_equal(get(res, "k8s.container.name"), "main");
	assert_string_equal(get(res, "k8s.replicaset.name"), "web-abc12");
	assert_string_equal(get(res, "k8s.deployment.name"), "web");
	assert_string_equal(get(res, "service.name"), "web");
	assert_string_equal(get(res, "service.namespace"), "ns1");
	assert_string_equal(get(res, "service.version"), "2.1");
	assert_string_equal(get(res, "service.instance.id"), "ns1.p-1.main");
	assert_null(get(res, "k8s.statefulset.name"));
	resource_put(res);
}

/* service.name of the main container's process. */
static char *service(const char *owner, const char *labels, const char *annotations,
		     const char *deployment)
{
	static char out[256];
	struct sp_resource *res = attrs_of(owner, labels, annotations, NULL, deployment);

	snprintf(out, sizeof(out), "%s", get(res, "service.name"));
	resource_put(res);
	return out;
}

#define ANN "\"resource.opentelemetry.io/service.name\":\"from-annotation\""
#define INST "\"app.kubernetes.io/instance\":\"from-instance\""
#define NAME "\"app.kubernetes.io/name\":\"from-name\""

static void test_service_name_rules(void **state)
{
	(void)state;
	/* Each rule over all below it. */
	assert_string_equal(service("ReplicaSet/web-abc12", INST "," NAME, ANN, "web"),
			    "from-annotation");
	assert_string_equal(service("ReplicaSet/web-abc12", INST "," NAME, NULL, "web"),
			    "from-instance");
	assert_string_equal(service("ReplicaSet/web-abc12", NAME, NULL, "web"), "from-name");
	assert_string_equal(service("ReplicaSet/web-abc12", NULL, NULL, "web"), "web");
	/* A ReplicaSet of no Deployment. */
	assert_string_equal(service("ReplicaSet/web-abc12", NULL, NULL, ""), "web-abc12");
	assert_string_equal(service("StatefulSet/db", NULL, NULL, NULL), "db");
	assert_string_equal(service("DaemonSet/agent", NULL, NULL, NULL), "agent");
	/* A CronJob's Job: the CronJob; another Job: the Job. */
	assert_string_equal(service("Job/backup-28912345", NULL, NULL, NULL), "backup");
	assert_string_equal(service("Job/migrate-v2", NULL, NULL, NULL), "migrate-v2");
	/* No owner (or one of another kind): the pod. */
	assert_string_equal(service(NULL, NULL, NULL, NULL), "p-1");
	assert_string_equal(service("Node/n1", NULL, NULL, NULL), "p-1");
	/* Empty values do not count. */
	assert_string_equal(service("StatefulSet/db", "\"app.kubernetes.io/name\":\"\"", NULL, NULL),
			    "db");
}

static void test_version_and_namespace(void **state)
{
	struct sp_resource *res;
	char v[600];

	(void)state;
	res = attrs_of(NULL, "\"app.kubernetes.io/version\":\"3.0\"",
		       "\"resource.opentelemetry.io/service.version\":\"4.0\","
		       "\"resource.opentelemetry.io/service.namespace\":\"team\","
		       "\"resource.opentelemetry.io/deployment.environment\":\"prod\","
		       "\"other.io/x\":\"y\"", NULL, NULL);
	assert_string_equal(get(res, "service.version"), "4.0");
	assert_string_equal(get(res, "service.namespace"), "team");
	assert_string_equal(get(res, "deployment.environment"), "prod");
	assert_null(get(res, "x"));
	resource_put(res);
	res = attrs_of(NULL, "\"app.kubernetes.io/version\":\"3.0\"", NULL, NULL, NULL);
	assert_string_equal(get(res, "service.version"), "3.0");
	resource_put(res);

	k8s_image_version("reg:5000/a/b:1.2@sha256:ab", v, sizeof(v));
	assert_string_equal(v, "1.2@sha256:ab");
	k8s_image_version("reg:5000/a/b@sha256:ab", v, sizeof(v));
	assert_string_equal(v, "sha256:ab");
	k8s_image_version("reg:5000/a/b", v, sizeof(v));
	assert_string_equal(v, "");
	k8s_image_version("nginx:1.25", v, sizeof(v));
	assert_string_equal(v, "1.25");
	k8s_image_version("nginx", v, sizeof(v));
	assert_string_equal(v, "");
}

static void test_container_limit(void **state)
{
	char text[8192] = "{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"containers\":[";
	struct json_object *obj;
	struct k8s_pod pod;

	(void)state;
	for (int i = 0; i < K8S_MAX_CONTAINERS + 4; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "%s{\"name\":\"c%d\",\"image\":\"i\"}", i ? "," : "", i);
	strcat(text, "]}}");
	obj = json_tokener_parse(text);
	assert_int_equal(k8s_pod_from_json(obj, &pod), 0);
	json_object_put(obj);
	assert_int_equal(pod.n_containers, K8S_MAX_CONTAINERS);
	assert_true(pod.containers_cut);
	assert_string_equal(pod.containers[K8S_MAX_CONTAINERS - 1].name, "c15");
}

static void test_cronjob_names(void **state)
{
	char out[64];

	(void)state;
	assert_true(k8s_cronjob_of_job("nightly-report-28912345", out, sizeof(out)));
	assert_string_equal(out, "nightly-report");
	assert_false(k8s_cronjob_of_job("job-1234567", out, sizeof(out))); /* 7 digits */
	assert_false(k8s_cronjob_of_job("job-1234567x", out, sizeof(out)));
	assert_false(k8s_cronjob_of_job("-12345678", out, sizeof(out)));
	assert_false(k8s_cronjob_of_job("nodash", out, sizeof(out)));
}

/* An enricher that knows one pod, for resource_build()'s precedence. */
static int fake_enrich(void *ctx, struct sp_resource *res)
{
	(void)ctx;
	res->meta_wanted = true;
	resource_set_str(res, "k8s.pod.name", "p-1");
	resource_set_str(res, "team", "from-pod");
	return resource_set_str(res, "service.name", "from-pod") ? -ENOMEM : 1;
}

static const char *built(const char *own, const char *own_attrs, const char *agent,
			 const char *agent_attrs, const char *key)
{
	static char out[128];
	struct sp_resource_enricher e = { .enrich = fake_enrich };
	struct sp_process_info info = { .pid = 7, .exe_path = "/bin/app", .cgroup = "0::/x",
					.service_name = own, .own_resource_attrs = own_attrs };
	struct sp_resource_defaults defs = { .service_name = agent, .resource_attrs = agent_attrs,
					     .enricher = &e };
	struct sp_resource *res = resource_build(&info, &defs);

	snprintf(out, sizeof(out), "%s", resource_find(res, key)->str);
	resource_put(res);
	return out;
}

static void test_precedence(void **state)
{
	(void)state;
	/* The pod's name beats spanprobe's own OTEL_SERVICE_NAME and
	 * OTEL_RESOURCE_ATTRIBUTES... */
	assert_string_equal(built(NULL, NULL, "agent", "service.name=a,team=agent", "service.name"),
			    "from-pod");
	assert_string_equal(built(NULL, NULL, NULL, "team=agent", "team"), "from-pod");
	/* ...the process's own settings beat the pod's. */
	assert_string_equal(built("own", NULL, "agent", NULL, "service.name"), "own");
	assert_string_equal(built(NULL, "service.name=ownattrs,team=own", "agent", NULL,
				  "service.name"), "ownattrs");
	assert_string_equal(built(NULL, "team=own", NULL, NULL, "team"), "own");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_fields),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_service_name_rules),
		cmocka_unit_test(test_version_and_namespace),
		cmocka_unit_test(test_container_limit),
		cmocka_unit_test(test_cronjob_names),
		cmocka_unit_test(test_precedence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
