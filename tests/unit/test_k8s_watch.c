/* SPDX-License-Identifier: MIT */
/*
 * The API's answers as they arrive: an HTTP/1.1 response (chunked or
 * Content-Length) carrying JSON objects, split anywhere; a list and watch
 * events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR 410) applied to the
 * pod table; its versions and its limit; broken input refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "k8s/httpresp.h"
#include "k8s/watch.h"

#define UID(n) "0b5d2a3c-1e2f-4a5b-8c9d-0e1f2a3b4c5" #n
#define CID(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	       c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static const char *pod_json(const char *uid, const char *name, const char *rv,
			    const char *cid)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\","
		 "\"uid\":\"%s\",\"resourceVersion\":\"%s\"},\"spec\":{\"nodeName\":\"n\","
		 "\"containers\":[{\"name\":\"c\",\"image\":\"i:1\"}]},\"status\":"
		 "{\"containerStatuses\":[{\"name\":\"c\"%s%s%s}]}}",
		 name, uid, rv, cid ? ",\"containerID\":\"containerd://" : "", cid ? cid : "",
		 cid ? "\"" : "");
	return buf;
}

struct fixture {
	struct k8s_podtable t;
	struct k8s_jsonstream js;
	struct k8s_http h;
	char rv[K8S_RV_MAX];
	int stale, errors, events, lists;
};

static int on_event(void *arg, struct json_object *obj)
{
	struct fixture *f = arg;
	int code, ret = k8s_pods_apply_event(&f->t, obj, f->rv, &code);

	f->events++;
	if (ret == K8S_RELIST)
		f->stale++;
	else if (ret < 0)
		f->errors++;
	return 0;
}

static int on_list(void *arg, struct json_object *obj)
{
	struct fixture *f = arg;

	f->lists++;
	return k8s_pods_apply_list(&f->t, obj, f->rv);
}

static int body_watch(void *arg, const char *buf, size_t len)
{
	struct fixture *f = arg;

	return k8s_jsonstream_feed(&f->js, buf, len, on_event, f);
}

static int body_list(void *arg, const char *buf, size_t len)
{
	struct fixture *f = arg;

	return k8s_jsonstream_feed(&f->js, buf, len, on_list, f);
}

static void setup(struct fixture *f, uint32_t max_pods)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(k8s_podtable_init(&f->t, max_pods), 0);
	assert_int_equal(k8s_jsonstream_init(&f->js, 4096), 0);
	k8s_http_init(&f->h);
}

static void teardown(struct fixture *f)
{
	k8s_podtable_destroy(&f->t);
	k8s_jsonstream_destroy(&f->js);
}

/* Append one chunk of `s` to out. */
static void add_chunk(char *out, size_t size, const char *s)
{
	size_t n = strlen(out);

	snprintf(out + n, size - n, "%zx\r\n%s\r\n", strlen(s), s);
}

/* A watch response: a pod added, modified (its container started), a
 * bookmark, another pod added then deleted, an ERROR 410; split in
 * events across chunks as a server may. */
static char *watch_response(void)
{
	static char out[16384];
	char ev[2048];

	snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n");
	snprintf(ev, sizeof(ev), "{\"type\":\"ADDED\",\"object\":%s}\n",
		 pod_json(UID(1), "a", "11", NULL));
	add_chunk(out, sizeof(out), ev);
	snprintf(ev, sizeof(ev), "{\"type\":\"MODIFIED\",\"object\":%s}\n"
				 "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\","
				 "\"metadata\":{\"resourceVersion\":\"15\"}}}\n",
		 pod_json(UID(1), "a", "12", CID("a")));
	/* Two events in one chunk, then one event over two chunks. */
	add_chunk(out, sizeof(out), ev);
	snprintf(ev, sizeof(ev), "{\"type\":\"ADDED\",\"object\":%s}\n",
		 pod_json(UID(2), "b", "16", CID("b")));
	{
		char half[1024];
		size_t n = strlen(ev) / 2;

		snprintf(half, sizeof(half), "%.*s", (int)n, ev);
		add_chunk(out, sizeof(out), half);
		add_chunk(out, sizeof(out), ev + n);
	}
	snprintf(ev, sizeof(ev), "{\"type\":\"DELETED\",\"object\":%s}\n",
		 pod_json(UID(2), "b", "17", CID("b")));
	add_chunk(out, sizeof(out), ev);
	add_chunk(out, sizeof(out), "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
				    "\"code\":410,\"reason\":\"Expired\"}}\n");
	strncat(out, "0\r\n\r\n", sizeof(out) - strlen(out) - 1);
	return out;
}

static void check_after_watch(struct fixture *f)
{
	struct k8s_pod pod;
	const struct k8s_container *c;

	assert_int_equal(f->h.state, K8S_HTTP_DONE);
	assert_int_equal(f->h.status, 200);
	assert_int_equal(f->events, 6);
	assert_int_equal(f->stale, 1);
	assert_int_equal(f->errors, 0);
	assert_string_equal(f->rv, "17"); /* the last object's */
	assert_int_equal(k8s_podtable_count(&f->t), 1);
	assert_true(k8s_podtable_find(&f->t, CID("a"), NULL, &pod, &c));
	assert_string_equal(pod.name, "a");
	assert_string_equal(c->name, "c");
	assert_false(k8s_podtable_find(&f->t, CID("b"), UID(2), &pod, &c));
	assert_int_equal(k8s_jsonstream_end(&f->js), 0);
}

static void test_watch_every_split(void **state)
{
	const char *resp = watch_response();
	size_t len = strlen(resp);

	(void)state;
	/* Whole, byte by byte, and cut at every point into two feeds. */
	for (size_t cut = 0; cut <= len; cut += cut < 64 ? 1 : 7) {
		struct fixture f;

		setup(&f, 16);
		assert_int_equal(k8s_http_feed(&f.h, resp, cut, body_watch, &f), 0);
		assert_int_equal(k8s_http_feed(&f.h, resp + cut, len - cut, body_watch, &f), 0);
		check_after_watch(&f);
		teardown(&f);
	}
	{
		struct fixture f;

		setup(&f, 16);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(k8s_http_feed(&f.h, resp + i, 1, body_watch, &f), 0);
		check_after_watch(&f);
		teardown(&f);
	}
}

static void test_list_and_versions(void **state)
{
	struct fixture f;
	char body[4096], resp[5000], ns[64], name[254], hash[16];
	uint64_t v1, v2;
	struct k8s_pod pod;
	const struct k8s_container *c;

	(void)state;
	setup(&f, 2);
	snprintf(body, sizeof(body), "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":"
				     "\"100\"},\"items\":[%s,", pod_json(UID(1), "a", "90", NULL));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s,",
		 pod_json(UID(2), "b", "91", CID("b")));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s]}",
		 pod_json(UID(3), "c", "92", CID("c")));
	snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	f.js.max_bytes = sizeof(body);
	assert_int_equal(k8s_http_feed(&f.h, resp, strlen(resp), body_list, &f), 0);
	assert_int_equal(f.h.state, K8S_HTTP_DONE);
	assert_int_equal(f.lists, 1);
	assert_string_equal(f.rv, "100");
	/* Room for 2: the third is counted, not kept. */
	assert_int_equal(k8s_podtable_count(&f.t), 2);
	assert_int_equal(f.t.pods_dropped, 1);
	/* By UID while the container has no ID. */
	assert_true(k8s_podtable_find(&f.t, CID("9"), UID(1), &pod, &c));
	assert_null(c);
	v1 = k8s_podtable_version(&f.t, NULL, UID(1));
	assert_true(v1 > 0);
	assert_int_equal(k8s_podtable_version(&f.t, CID("9"), NULL), 0);
	/* The same pod again: no new version; a change: a new one. */
	{
		struct json_object *o = json_tokener_parse(pod_json(UID(1), "a", "93", NULL));

		assert_int_equal(k8s_pod_from_json(o, &pod), 0);
		k8s_podtable_upsert(&f.t, &pod);
		assert_int_equal(k8s_podtable_version(&f.t, NULL, UID(1)), v1);
		json_object_put(o);
		o = json_tokener_parse(pod_json(UID(1), "a", "94", CID("a")));
		assert_int_equal(k8s_pod_from_json(o, &pod), 0);
		pod.owner_kind = K8S_OWNER_REPLICASET;
		snprintf(pod.owner, sizeof(pod.owner), "web-5d8f");
		snprintf(pod.template_hash, sizeof(pod.template_hash), "5d8f");
		k8s_podtable_upsert(&f.t, &pod);
		v2 = k8s_podtable_version(&f.t, CID("a"), NULL);
		assert_true(v2 > v1);
		json_object_put(o);
	}
	/* Its ReplicaSet's Deployment, once known, is a change too. */
	assert_true(k8s_podtable_unresolved(&f.t, ns, name, hash));
	assert_string_equal(name, "web-5d8f");
	assert_string_equal(hash, "5d8f");
	k8s_podtable_set_deployment(&f.t, ns, name, "web");
	assert_false(k8s_podtable_unresolved(&f.t, ns, name, hash));
	assert_true(k8s_podtable_version(&f.t, CID("a"), NULL) > v2);
	assert_true(k8s_podtable_find(&f.t, CID("a"), NULL, &pod, &c));
	assert_string_equal(pod.deployment, "web");
	teardown(&f);
}

static void test_relist_removes(void **state)
{
	struct fixture f;
	char body[2048];
	struct json_object *o;

	(void)state;
	setup(&f, 8);
	/* A list without its resourceVersion leaves rv as it was. */
	o = json_tokener_parse("{\"metadata\":{},\"items\":[]}");
	assert_int_equal(k8s_pods_apply_list(&f.t, o, f.rv), 0);
	assert_string_equal(f.rv, "");
	json_object_put(o);
	snprintf(body, sizeof(body), "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[%s]}",
		 pod_json(UID(1), "a", "4", NULL));
	o = json_tokener_parse(body);
	assert_int_equal(k8s_pods_apply_list(&f.t, o, f.rv), 0);
	json_object_put(o);
	assert_int_equal(k8s_podtable_count(&f.t), 1);
	o = json_tokener_parse("{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}");
	assert_int_equal(k8s_pods_apply_list(&f.t, o, f.rv), 0);
	json_object_put(o);
	assert_int_equal(k8s_podtable_count(&f.t), 0);
	assert_string_equal(f.rv, "9");
	teardown(&f);
}

static void test_broken(void **state)
{
	struct fixture f;

	(void)state;
	/* Not HTTP; a bad chunk size; a line too long. */
	setup(&f, 4);
	assert_int_equal(k8s_http_feed(&f.h, "SSH-2.0-x\r\n", 11, body_watch, &f), -EBADMSG);
	teardown(&f);
	setup(&f, 4);
	assert_int_equal(k8s_http_feed(&f.h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
					     "zz\r\n", 52, body_watch, &f), -EBADMSG);
	teardown(&f);
	setup(&f, 4);
	{
		char *big = malloc(K8S_HTTP_LINE_MAX + 16);

		memset(big, 'a', K8S_HTTP_LINE_MAX + 16);
		assert_int_equal(k8s_http_feed(&f.h, big, K8S_HTTP_LINE_MAX + 16, body_watch, &f),
				 -EMSGSIZE);
		free(big);
	}
	teardown(&f);
	/* The body: not JSON, not an object, an object over the limit. */
	setup(&f, 4);
	assert_int_equal(k8s_jsonstream_feed(&f.js, "[1]", 3, on_event, &f), -EBADMSG);
	k8s_jsonstream_reset(&f.js);
	assert_int_equal(k8s_jsonstream_feed(&f.js, "{\"a\":}", 6, on_event, &f), -EBADMSG);
	k8s_jsonstream_reset(&f.js);
	f.js.max_bytes = 64;
	{
		char obj[200];

		snprintf(obj, sizeof(obj), "{\"type\":\"ADDED\",\"object\":{\"metadata\":"
					   "{\"uid\":\"%0120d\"}}}", 0);
		assert_int_equal(k8s_jsonstream_feed(&f.js, obj, strlen(obj), on_event, &f),
				 -EMSGSIZE);
	}
	/* Nested 40 deep (managedFields do nest): still an event. */
	k8s_jsonstream_reset(&f.js);
	f.js.max_bytes = 4096;
	{
		char deep[512] = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
				 "{\"resourceVersion\":\"77\"},\"x\":";

		for (int i = 0; i < 40; i++)
			strcat(deep, "{\"a\":");
		strcat(deep, "1");
		for (int i = 0; i < 40; i++)
			strcat(deep, "}");
		strcat(deep, "}}");
		assert_int_equal(k8s_jsonstream_feed(&f.js, deep, strlen(deep), on_event, &f), 0);
		assert_string_equal(f.rv, "77");
	}
	/* An event that is not one; a cut object at the end. */
	k8s_jsonstream_reset(&f.js);
	f.js.max_bytes = 4096;
	assert_int_equal(k8s_jsonstream_feed(&f.js, "{\"type\":\"HELLO\",\"object\":{}}\n", 29,
					     on_event, &f), 0);
	assert_int_equal(f.errors, 1);
	assert_int_equal(k8s_jsonstream_feed(&f.js, "{\"type\":", 8, on_event, &f), 0);
	assert_int_equal(k8s_jsonstream_end(&f.js), -EPIPE);
	teardown(&f);
	/* A response cut short; one ended by the close. */
	setup(&f, 4);
	assert_int_equal(k8s_http_feed(&f.h, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
				       41, body_list, &f), 0);
	assert_int_equal(k8s_http_eof(&f.h), -EPIPE);
	teardown(&f);
	setup(&f, 4);
	assert_int_equal(k8s_http_feed(&f.h, "HTTP/1.0 410 Gone\r\n\r\n", 21, body_list, &f), 0);
	assert_int_equal(f.h.status, 410);
	assert_int_equal(k8s_http_eof(&f.h), 0);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_every_split),
		cmocka_unit_test(test_list_and_versions),
		cmocka_unit_test(test_relist_removes),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
