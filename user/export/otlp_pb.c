// SPDX-License-Identifier: MIT
/*
 * OTLP protobuf encoding through protobuf-c: the reference encoder.  Not
 * used by the daemon, which sends otlp_pb_fast.c's bytes: kept as the
 * oracle the unit tests and benchmarks compare that encoder with, byte
 * for byte.
 *
 * The message tree of a whole batch is built in one arena (a single
 * malloc sized by a counting pass), packed into a second malloc'd buffer,
 * and the arena freed: two allocations per batch, none per span.
 *
 * protobuf-c takes strings as NUL-terminated char *, so span strings (which
 * live unterminated in the span's arena) are copied into the batch arena;
 * a string is therefore cut at its first NUL byte.  The hand-written
 * encoder (otlp_pb_fast.c) follows the same rule so both give equal bytes.
 */
#include "export/otlp_encode.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	pb_request;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_value;

/* Bump allocator over the batch arena; sized exactly, so it cannot run out. */
struct bump {
	char *next;
};

#define BUMP_ALIGN alignof(max_align_t)

static size_t bump_round(size_t n)
{
	return (n + BUMP_ALIGN - 1) & ~(BUMP_ALIGN - 1);
}

static void *bump_take(struct bump *b, size_t n)
{
	void *p = b->next;

	b->next += bump_round(n);
	return p;
}

/* What a batch needs from the arena; filled by plan_batch(). */
struct plan {
	size_t groups;   /* runs of spans with the same resource */
	size_t resattrs; /* resource attributes, summed over runs */
	size_t spanattrs;
	size_t statuses;
	size_t strbytes; /* copies of span strings, NUL included */
};

static bool span_has_status(const struct sp_span *s)
{
	return s->status_code != SP_STATUS_UNSET || s->status_msg_len != 0;
}

static void plan_batch(struct sp_span *const *spans, size_t count,
		       struct plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	for (size_t i = 0; i < count; i++) {
		const struct sp_span *s = spans[i];

		if (i == 0 || s->resource != spans[i - 1]->resource) {
			pl->groups++;
			if (s->resource)
				pl->resattrs += s->resource->count;
		}
		pl->strbytes += bump_round(s->name_len + 1);
		if (span_has_status(s)) {
			pl->statuses++;
			pl->strbytes += bump_round(s->status_msg_len + 1);
		}
		pl->spanattrs += s->n_attrs;
		for (unsigned a = 0; a < s->n_attrs; a++)
			if (s->attrs[a].type == SP_ATTR_STRING)
				pl->strbytes +=
					bump_round(s->attrs[a].v.str.len + 1);
	}
}

static size_t plan_arena_size(const struct plan *pl, size_t count)
{
	size_t attrs = pl->resattrs + pl->spanattrs;
	size_t n = 0;

	n += bump_round(pl->groups * sizeof(pb_resource_spans *));
	n += pl->groups * (bump_round(sizeof(pb_resource_spans)) +
			   bump_round(sizeof(pb_scope_spans *)) +
			   bump_round(sizeof(pb_scope_spans)) +
			   bump_round(sizeof(pb_resource)));
	/* Pointer arrays: one per group for spans and resource attributes. */
	n += pl->groups * 2 * BUMP_ALIGN + (count + attrs) * sizeof(void *);
	n += count * bump_round(sizeof(pb_span));
	/* Span attribute pointer arrays, one per span. */
	n += count * BUMP_ALIGN + pl->spanattrs * sizeof(void *);
	n += attrs * (bump_round(sizeof(pb_key_value)) +
		      bump_round(sizeof(pb_any_value)));
	n += pl->statuses * bump_round(sizeof(pb_status));
	return n + pl->strbytes;
}

static char *copy_str(struct bump *b, const char *s, size_t len)
{
	char *d = bump_take(b, len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static pb_key_value *new_key_value(struct bump *b, const char *key)
{
	pb_key_value *kv = bump_take(b, sizeof(*kv));
	pb_any_value *av = bump_take(b, sizeof(*av));

	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(av);
	kv->key = (char *)key;
	kv->value = av;
	return kv;
}

static pb_key_value *build_span_attr(struct bump *b, const struct sp_span *s,
				     const struct sp_attr *a)
{
	pb_key_value *kv = new_key_value(b, a->key);
	pb_any_value *av = kv->value;

	switch (a->type) {
	case SP_ATTR_STRING:
		av->value_case =
			OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		av->string_value =
			copy_str(b, span_str(s, a->v.str.off), a->v.str.len);
		break;
	case SP_ATTR_INT:
		av->value_case =
			OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		av->int_value = a->v.i;
		break;
	case SP_ATTR_BOOL:
		av->value_case =
			OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		av->bool_value = a->v.b ? 1 : 0;
		break;
	case SP_ATTR_DOUBLE:
		av->value_case =
			OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
		av->double_value = a->v.d;
		break;
	default:
		/* Unknown type: an empty AnyValue, as OTLP allows. */
		break;
	}
	return kv;
}

static pb_span *build_span(struct bump *b, const struct sp_span *s)
{
	pb_span *ps = bump_take(b, sizeof(*ps));

	opentelemetry__proto__trace__v1__span__init(ps);
	ps->trace_id.data = (uint8_t *)s->trace_id;
	ps->trace_id.len = sizeof(s->trace_id);
	ps->span_id.data = (uint8_t *)s->span_id;
	ps->span_id.len = sizeof(s->span_id);
	if (span_has_parent(s)) {
		ps->parent_span_id.data = (uint8_t *)s->parent_span_id;
		ps->parent_span_id.len = sizeof(s->parent_span_id);
	}
	/* W3C trace-flags bit 0: the span was sampled. */
	ps->flags = s->sampled ? 1 : 0;
	ps->name = copy_str(b, span_str(s, s->name_off), s->name_len);
	ps->kind = s->kind;
	ps->start_time_unix_nano = s->start_unix_ns;
	ps->end_time_unix_nano = s->end_unix_ns;
	ps->n_attributes = s->n_attrs;
	ps->attributes = bump_take(b, s->n_attrs * sizeof(pb_key_value *));
	for (unsigned a = 0; a < s->n_attrs; a++)
		ps->attributes[a] = build_span_attr(b, s, &s->attrs[a]);
	if (span_has_status(s)) {
		pb_status *st = bump_take(b, sizeof(*st));

		opentelemetry__proto__trace__v1__status__init(st);
		st->code = s->status_code;
		st->message = copy_str(b, span_str(s, s->status_msg_off),
				       s->status_msg_len);
		ps->status = st;
	}
	return ps;
}

static pb_resource *build_resource(struct bump *b, const struct sp_resource *r)
{
	pb_resource *pr = bump_take(b, sizeof(*pr));

	opentelemetry__proto__resource__v1__resource__init(pr);
	pr->n_attributes = r->count;
	pr->attributes = bump_take(b, r->count * sizeof(pb_key_value *));
	for (size_t i = 0; i < r->count; i++) {
		const struct sp_resattr *ra = &r->attrs[i];
		pb_key_value *kv = new_key_value(b, ra->key);
		pb_any_value *av = kv->value;

		if (ra->type == SP_RES_INT) {
			av->value_case =
				OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			av->int_value = ra->i;
		} else {
			av->value_case =
				OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
			av->string_value = ra->str ? ra->str : "";
		}
		pr->attributes[i] = kv;
	}
	return pr;
}

/* One ResourceSpans for spans[0..n), which share a resource. */
static pb_resource_spans *build_group(struct bump *b, struct sp_span *const *spans,
				      size_t n, pb_scope *scope)
{
	pb_resource_spans *rs = bump_take(b, sizeof(*rs));
	pb_scope_spans *ss = bump_take(b, sizeof(*ss));

	opentelemetry__proto__trace__v1__resource_spans__init(rs);
	opentelemetry__proto__trace__v1__scope_spans__init(ss);
	if (spans[0]->resource)
		rs->resource = build_resource(b, spans[0]->resource);
	rs->n_scope_spans = 1;
	rs->scope_spans = bump_take(b, sizeof(pb_scope_spans *));
	rs->scope_spans[0] = ss;
	ss->scope = scope;
	ss->n_spans = n;
	ss->spans = bump_take(b, n * sizeof(pb_span *));
	for (size_t i = 0; i < n; i++)
		ss->spans[i] = build_span(b, spans[i]);
	return rs;
}

static void build_request(struct bump *b, struct sp_span *const *spans,
			  size_t count, size_t groups, pb_request *req,
			  pb_scope *scope)
{
	size_t g = 0;

	req->n_resource_spans = groups;
	req->resource_spans = bump_take(b, groups * sizeof(pb_resource_spans *));
	for (size_t i = 0; i < count;) {
		size_t n = 1;

		while (i + n < count && spans[i + n]->resource == spans[i]->resource)
			n++;
		req->resource_spans[g++] = build_group(b, spans + i, n, scope);
		i += n;
	}
}

int otlp_encode_protobuf(struct sp_span *const *spans, size_t count,
			 uint8_t **out, size_t *len)
{
	pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	pb_scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	struct plan pl;
	struct bump b;
	void *arena;
	size_t size;
	uint8_t *buf;

	plan_batch(spans, count, &pl);
	arena = malloc(plan_arena_size(&pl, count) + 1);
	if (!arena)
		return -ENOMEM;
	b.next = arena;
	scope.name = (char *)SP_SCOPE_NAME;
	scope.version = (char *)SP_VERSION;
	build_request(&b, spans, count, pl.groups, &req, &scope);

	size = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	buf = malloc(size ? size : 1);
	if (!buf) {
		free(arena);
		return -ENOMEM;
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
	free(arena);
	*out = buf;
	*len = size;
	return 0;
}
