// SPDX-License-Identifier: MIT
/*
 * OTLP/JSON: the JSON mapping of the OTLP protobuf messages as the OTLP
 * specification fixes it (hex IDs instead of base64, enum values as
 * integers, (u)int64 as decimal strings, lowerCamelCase keys).
 */
#include "export/otlp_encode.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "span/resource.h"
#include "util/hex.h"
#include "util/strbuf.h"

#define JSON_LIMIT (256u << 20)

static void add_hex(struct sp_strbuf *b, const uint8_t *id, size_t len)
{
	char *p = strbuf_reserve(b, 2 * len + 2);

	if (!p)
		return;
	p[0] = '"';
	hex_encode(p + 1, id, len);
	p[2 * len + 1] = '"';
	b->len += 2 * len + 2;
}

static void add_key(struct sp_strbuf *b, const char *key)
{
	strbuf_adds(b, "{\"key\":\"");
	strbuf_add_json_str(b, key, strlen(key));
	strbuf_adds(b, "\",\"value\":{");
}

static void add_span_attr(struct sp_strbuf *b, const struct sp_span *span,
			  const struct sp_attr *a)
{
	add_key(b, a->key);
	switch (a->type) {
	case SP_ATTR_STRING:
		strbuf_adds(b, "\"stringValue\":\"");
		strbuf_add_json_str(b, span_str(span, a->v.str.off), a->v.str.len);
		strbuf_addc(b, '"');
		break;
	case SP_ATTR_INT:
		strbuf_adds(b, "\"intValue\":\"");
		strbuf_add_i64(b, a->v.i);
		strbuf_addc(b, '"');
		break;
	case SP_ATTR_BOOL:
		strbuf_adds(b, a->v.b ? "\"boolValue\":true" : "\"boolValue\":false");
		break;
	case SP_ATTR_DOUBLE:
		/* Proto3 JSON spells the non-finite values as strings. */
		if (isnan(a->v.d))
			strbuf_adds(b, "\"doubleValue\":\"NaN\"");
		else if (isinf(a->v.d))
			strbuf_adds(b, a->v.d > 0 ? "\"doubleValue\":\"Infinity\""
						  : "\"doubleValue\":\"-Infinity\"");
		else
			strbuf_addf(b, "\"doubleValue\":%.17g", a->v.d);
		break;
	}
	strbuf_adds(b, "}}");
}

static void add_resource_attrs(struct sp_strbuf *b, const struct sp_resource *res)
{
	for (size_t i = 0; res && i < res->count; i++) {
		const struct sp_resattr *a = &res->attrs[i];

		if (i)
			strbuf_addc(b, ',');
		add_key(b, a->key);
		if (a->type == SP_RES_INT) {
			strbuf_adds(b, "\"intValue\":\"");
			strbuf_add_i64(b, a->i);
			strbuf_addc(b, '"');
		} else {
			strbuf_adds(b, "\"stringValue\":\"");
			strbuf_add_json_str(b, a->str, strlen(a->str));
			strbuf_addc(b, '"');
		}
		strbuf_adds(b, "}}");
	}
}

/* A resource's attributes as JSON, written once (struct sp_resource's
 * `encoded_json`): a batch of spans of many processes carries one
 * resource block per process, and they do not change once shared. */
struct resource_json {
	size_t len;
	char text[];
};

/* The resource's attributes as JSON, made at its first batch; NULL when
 * memory is short (then they are written in place, as every time). */
static const struct resource_json *resource_json(const struct sp_resource *r)
{
	struct resource_json *j = resource_encoded((void *const *)&r->encoded_json);
	struct sp_strbuf t;

	if (j)
		return j;
	strbuf_init(&t, JSON_LIMIT);
	add_resource_attrs(&t, r);
	j = t.err ? NULL : malloc(sizeof(*j) + t.len);
	if (j) {
		j->len = t.len;
		if (t.len) /* a resource with no attributes: no buffer */
			memcpy(j->text, t.data, t.len);
	}
	strbuf_free(&t);
	return j ? resource_keep_encoded((void **)&r->encoded_json, j) : NULL;
}

static void add_resource(struct sp_strbuf *b, const struct sp_resource *res)
{
	const struct resource_json *j = res ? resource_json(res) : NULL;

	strbuf_adds(b, "{\"resource\":{\"attributes\":[");
	if (j)
		strbuf_add(b, j->text, j->len);
	else
		add_resource_attrs(b, res);
	strbuf_adds(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"" SP_SCOPE_NAME
		       "\",\"version\":\"" SP_VERSION "\"},\"spans\":[");
}

static void add_span(struct sp_strbuf *b, const struct sp_span *span)
{
	size_t name_len;
	const char *name = span_name(span, &name_len);

	strbuf_adds(b, "{\"traceId\":");
	add_hex(b, span->trace_id, 16);
	strbuf_adds(b, ",\"spanId\":");
	add_hex(b, span->span_id, 8);
	if (span_has_parent(span)) {
		strbuf_adds(b, ",\"parentSpanId\":");
		add_hex(b, span->parent_span_id, 8);
	}
	strbuf_adds(b, ",\"name\":\"");
	strbuf_add_json_str(b, name, name_len);
	strbuf_adds(b, "\",\"kind\":");
	strbuf_add_u64(b, span->kind);
	strbuf_adds(b, ",\"startTimeUnixNano\":\"");
	strbuf_add_u64(b, span->start_unix_ns);
	strbuf_adds(b, "\",\"endTimeUnixNano\":\"");
	strbuf_add_u64(b, span->end_unix_ns);
	strbuf_adds(b, "\",\"attributes\":[");
	for (size_t i = 0; i < span->n_attrs; i++) {
		if (i)
			strbuf_addc(b, ',');
		add_span_attr(b, span, &span->attrs[i]);
	}
	strbuf_adds(b, "],\"status\":{");
	if (span->status_code) {
		strbuf_adds(b, "\"code\":");
		strbuf_add_u64(b, span->status_code);
		if (span->status_msg_len) {
			strbuf_adds(b, ",\"message\":\"");
			strbuf_add_json_str(b, span_str(span, span->status_msg_off),
					    span->status_msg_len);
			strbuf_addc(b, '"');
		}
	}
	strbuf_adds(b, "}}");
}

int otlp_encode_json(struct sp_span *const *spans, size_t count,
		     uint8_t **out, size_t *len)
{
	struct sp_strbuf b;

	strbuf_init(&b, JSON_LIMIT);
	strbuf_adds(&b, "{\"resourceSpans\":[");
	for (size_t i = 0; i < count; i++) {
		bool first_of_resource =
			i == 0 || spans[i]->resource != spans[i - 1]->resource;

		if (first_of_resource) {
			if (i)
				strbuf_adds(&b, "]}]},");
			add_resource(&b, spans[i]->resource);
		} else {
			strbuf_addc(&b, ',');
		}
		add_span(&b, spans[i]);
	}
	if (count)
		strbuf_adds(&b, "]}]}");
	strbuf_adds(&b, "]}");
	if (b.err) {
		int err = b.err;

		strbuf_free(&b);
		return err;
	}
	*out = (uint8_t *)b.data;
	*len = b.len;
	return 0;
}
