// SPDX-License-Identifier: MIT
#include "k8s/watch.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

int k8s_jsonstream_init(struct k8s_jsonstream *s, size_t max_bytes)
{
	memset(s, 0, sizeof(*s));
	/* Deeper than json-c's default of 32: a list's pods' managedFields
	 * nest their field paths. */
	s->tok = json_tokener_new_ex(64);
	s->max_bytes = max_bytes;
	return s->tok ? 0 : -ENOMEM;
}

void k8s_jsonstream_destroy(struct k8s_jsonstream *s)
{
	if (s->tok)
		json_tokener_free(s->tok);
	s->tok = NULL;
}

void k8s_jsonstream_reset(struct k8s_jsonstream *s)
{
	json_tokener_reset(s->tok);
	s->bytes = 0;
}

/* Bytes of whitespace at buf (the newlines between a watch's events). */
static size_t blanks(const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && (buf[n] == ' ' || buf[n] == '\t' || buf[n] == '\r' ||
			   buf[n] == '\n'))
		n++;
	return n;
}

int k8s_jsonstream_feed(struct k8s_jsonstream *s, const char *buf, size_t len,
			k8s_json_fn fn, void *ctx)
{
	while (len) {
		struct json_object *obj;
		enum json_tokener_error jerr;
		size_t room = s->max_bytes - s->bytes, chunk, used;
		int err;

		if (s->bytes == 0) {
			used = blanks(buf, len);
			buf += used;
			len -= used;
			if (!len)
				break;
			if (*buf != '{')
				return -EBADMSG;
		}
		/* One byte over the room is enough to see an object too long. */
		chunk = len > room ? room + 1 : len;
		if (chunk > INT32_MAX)
			chunk = INT32_MAX;
		obj = json_tokener_parse_ex(s->tok, buf, (int)chunk);
		jerr = json_tokener_get_error(s->tok);
		if (jerr == json_tokener_continue) {
			s->bytes += chunk;
			if (s->bytes > s->max_bytes)
				return -EMSGSIZE;
			buf += chunk;
			len -= chunk;
			continue;
		}
		if (jerr != json_tokener_success || !obj) {
			json_object_put(obj);
			return -EBADMSG;
		}
		used = json_tokener_get_parse_end(s->tok);
		s->bytes = 0;
		json_tokener_reset(s->tok);
		if (!json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			return -EBADMSG;
		}
		err = fn(ctx, obj);
		json_object_put(obj);
		if (err < 0)
			return err;
		buf += used;
		len -= used;
	}
	return 0;
}

int k8s_jsonstream_end(const struct k8s_jsonstream *s)
{
	return s->bytes ? -EPIPE : 0;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* metadata.resourceVersion of `obj` into rv, when it has one that fits. */
static void keep_rv(struct json_object *obj, char *rv)
{
	struct json_object *v = member(member(obj, "metadata"), "resourceVersion");
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

	if (s && *s && strlen(s) < K8S_RV_MAX)
		memcpy(rv, s, strlen(s) + 1);
}

static int event_type(const char *s)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK",
					     "ERROR" };

	for (int i = 0; s && i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return K8S_EVENT_ADDED + i;
	return -EBADMSG;
}

static int apply_error(struct json_object *obj, int *code)
{
	struct json_object *c = member(obj, "code");

	*code = json_object_is_type(c, json_type_int) ? json_object_get_int(c) : 0;
	return *code == 410 ? K8S_RELIST : -EPROTO;
}

int k8s_pods_apply_event(struct k8s_podtable *t, struct json_object *ev,
			 char *rv, int *code)
{
	struct json_object *type = member(ev, "type");
	struct json_object *obj = member(ev, "object");
	int kind = event_type(json_object_is_type(type, json_type_string)
				      ? json_object_get_string(type) : NULL);
	struct k8s_pod pod;

	*code = 0;
	if (kind < 0 || !json_object_is_type(obj, json_type_object))
		return -EBADMSG;
	if (kind == K8S_EVENT_ERROR)
		return apply_error(obj, code);
	keep_rv(obj, rv);
	if (kind == K8S_EVENT_BOOKMARK)
		return 0;
	if (k8s_pod_from_json(obj, &pod))
		return -EBADMSG;
	if (kind == K8S_EVENT_DELETED)
		k8s_podtable_remove(t, pod.uid);
	else
		k8s_podtable_upsert(t, &pod); /* full: counted there */
	return 0;
}

int k8s_pods_apply_list(struct k8s_podtable *t, struct json_object *list, char *rv)
{
	struct json_object *items = member(list, "items");
	size_t n;

	if (!json_object_is_type(items, json_type_array) &&
	    !json_object_is_type(items, json_type_null))
		return -EBADMSG;
	n = items && json_object_is_type(items, json_type_array)
		    ? json_object_array_length(items) : 0;
	k8s_podtable_begin_relist(t);
	for (size_t i = 0; i < n; i++) {
		struct k8s_pod pod;

		if (k8s_pod_from_json(json_object_array_get_idx(items, i), &pod) == 0)
			k8s_podtable_upsert(t, &pod);
	}
	k8s_podtable_end_relist(t);
	keep_rv(list, rv);
	return 0;
}

int k8s_replicaset_deployment(struct json_object *rs, char *out, size_t size)
{
	struct json_object *refs = member(member(rs, "metadata"), "ownerReferences");
	size_t n = json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;

	if (!json_object_is_type(member(rs, "metadata"), json_type_object))
		return -EBADMSG;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(refs, i);
		struct json_object *kind = member(r, "kind"), *name = member(r, "name");

		if (!json_object_is_type(kind, json_type_string) ||
		    !json_object_is_type(name, json_type_string) ||
		    strcmp(json_object_get_string(kind), "Deployment") != 0)
			continue;
		snprintf(out, size, "%s", json_object_get_string(name));
		return 0;
	}
	return 0;
}
