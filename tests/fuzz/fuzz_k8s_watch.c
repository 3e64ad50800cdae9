// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: what the Kubernetes API server sends.  The input is
 * an HTTP/1.1 response (its framing, chunked or not) whose body goes,
 * however it is cut, through the JSON stream to the list and watch event
 * handling, the pod table, and the attributes a pod's process gets.
 * The first byte picks the body's reading (a list or a watch) and where
 * the input is cut into feeds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "k8s/httpresp.h"
#include "k8s/watch.h"
#include "span/resource.h"

struct fuzz_ctx {
	struct k8s_podtable t;
	struct k8s_jsonstream js;
	char rv[K8S_RV_MAX];
	int list;
};

static int on_object(void *arg, struct json_object *obj)
{
	struct fuzz_ctx *f = arg;
	int code;

	if (f->list)
		k8s_pods_apply_list(&f->t, obj, f->rv);
	else
		k8s_pods_apply_event(&f->t, obj, f->rv, &code);
	return 0;
}

static int on_body(void *arg, const char *buf, size_t len)
{
	struct fuzz_ctx *f = arg;

	return k8s_jsonstream_feed(&f->js, buf, len, on_object, f);
}

/* Every pod kept gives a resource its attributes, as a process would. */
static void describe_all(struct fuzz_ctx *f)
{
	for (uint32_t i = 0; i < f->t.n; i++) {
		const struct k8s_pod *pod = f->t.pods[i];
		struct sp_resource *res = calloc(1, sizeof(*res));

		if (!res)
			return;
		res->refs = 1;
		k8s_pod_add_attrs(pod, pod->n_containers ? &pod->containers[0] : NULL, res);
		resource_put(res);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ctx f;
	struct k8s_http h;
	size_t cut;

	if (size < 1)
		return 0;
	f.list = data[0] & 1;
	cut = size > 1 ? (data[0] >> 1) % size : 0;
	data++;
	size--;
	if (cut > size)
		cut = size;
	if (k8s_podtable_init(&f.t, 8) || k8s_jsonstream_init(&f.js, 16384))
		abort();
	f.rv[0] = '\0';
	k8s_http_init(&h);
	if (k8s_http_feed(&h, (const char *)data, cut, on_body, &f) == 0)
		k8s_http_feed(&h, (const char *)data + cut, size - cut, on_body, &f);
	k8s_http_eof(&h);
	k8s_jsonstream_end(&f.js);
	describe_all(&f);
	k8s_jsonstream_destroy(&f.js);
	k8s_podtable_destroy(&f.t);
	return 0;
}
