// SPDX-License-Identifier: MIT
/*
 * The two OTLP protobuf encoders: protobuf-c (otlp_pb.c) and hand-written
 * (otlp_pb_fast.c).  They must give identical bytes for any batch, and
 * protobuf-c must decode those bytes back to exactly the spans' values.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "span/resource.h"
#include "span/span.h"
#include "export/otlp_encode.h"
#include "export/otlp_pb_fast.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	pb_request;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_value;

#define ANY(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/* --- deterministic random batches ------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible without libc's rand() state. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t rnd_below(size_t n)
{
	return n ? rnd() % n : 0;
}

/* Keys have static storage, as the span model requires. */
static const char *const keys[] = {
	"http.request.method", "url.path", "http.response.status_code",
	"server.address", "server.port", "", "k",
	"a.key.that.is.rather.long.to.push.the.length.of.this.key.value.past."
	"one.hundred.and.twenty.seven.bytes.so.that.its.varint.needs.two.bytes.x",
	"db.query.text", "error", "ratio",
};

/* Random text: mostly ASCII, some UTF-8, rarely a NUL (cut by the encoders). */
static size_t rnd_text(char *out, size_t max)
{
	static const char *const pieces[] = { "a", "Z", "/", " ", "é", "日本",
					      "0", "-", "\xf0\x9f\x98\x80" };
	size_t target = rnd_below(4) == 0 ? max : rnd_below(max + 1), n = 0;

	while (n < target) {
		const char *p = pieces[rnd_below(9)];
		size_t l = strlen(p);

		if (rnd_below(200) == 0)
			p = "\0", l = 1;
		if (n + l > target)
			break;
		memcpy(out + n, p, l);
		n += l;
	}
	return n;
}

static double rnd_double(void)
{
	static const double special[] = { 0.0, -0.0, 1.5, -1e300, 1e-310,
					  INFINITY, -INFINITY };
	double d;
	uint64_t bits;

	if (rnd_below(2))
		return special[rnd_below(7)];
	bits = rnd();
	memcpy(&d, &bits, 8);
	return isnan(d) ? 3.25 : d;
}

static int64_t rnd_int(void)
{
	static const int64_t special[] = { 0, 1, -1, 127, 128, INT64_MAX,
					   INT64_MIN };

	if (rnd_below(2))
		return special[rnd_below(7)];
	return (int64_t)(rnd() >> rnd_below(64));
}

static void rnd_id(uint8_t *id, size_t len)
{
	int zero = rnd_below(8) == 0;

	for (size_t i = 0; i < len; i++)
		id[i] = zero ? 0 : (uint8_t)rnd();
}

static void rnd_attr(struct sp_span *s)
{
	const char *key = keys[rnd_below(sizeof(keys) / sizeof(keys[0]))];
	char text[SP_SPAN_ARENA];

	switch (rnd_below(4)) {
	case 0:
		span_add_str(s, key, text, rnd_text(text, rnd_below(2) ? 40 : 300));
		break;
	case 1:
		span_add_int(s, key, rnd_int());
		break;
	case 2:
		span_add_bool(s, key, rnd_below(2));
		break;
	default:
		span_add_double(s, key, rnd_double());
		break;
	}
}

static void rnd_span(struct sp_span *s, struct sp_resource *res)
{
	char text[SP_SPAN_ARENA + 16];
	size_t n;

	span_reset(s);
	rnd_id(s->trace_id, 16);
	rnd_id(s->span_id, 8);
	rnd_id(s->parent_span_id, 8);
	s->start_unix_ns = rnd_below(8) ? rnd() : 0;
	s->end_unix_ns = rnd_below(8) ? rnd() : 0;
	s->kind = (uint8_t)rnd_below(6);
	s->sampled = (uint8_t)rnd_below(2);
	s->resource = res;
	/* Sometimes a name longer than the arena: truncated to fit. */
	n = rnd_text(text, rnd_below(10) ? 130 : sizeof(text));
	span_set_name(s, text, n);
	if (rnd_below(3)) {
		n = rnd_text(text, 60);
		text[n] = '\0';
		span_set_status(s, (enum sp_status_code)rnd_below(3),
				rnd_below(2) ? text : NULL);
	}
	n = rnd_below(6) == 0 ? SP_SPAN_MAX_ATTRS + 2 : rnd_below(13);
	for (size_t i = 0; i < n; i++)
		rnd_attr(s);
}

static struct sp_resource *new_resource(void)
{
	struct sp_resource *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->refs = 1;
	return r;
}

static struct sp_resource *rnd_resource(void)
{
	struct sp_resource *r = new_resource();
	char key[32], val[20000];
	size_t n = rnd_below(8);

	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), i == 3 ? "" : "res.key.%zu", i);
		if (rnd_below(3)) {
			/* Rarely huge: three-byte varint lengths up the tree. */
			size_t len = rnd_text(val, rnd_below(10) ? 50 : 19000);

			val[len] = '\0';
			assert_int_equal(resource_set_str(r, key, val), 0);
		} else {
			assert_int_equal(resource_set_int(r, key, rnd_int()), 0);
		}
	}
	return r;
}

/* --- checking ------------------------------------------------------------- */

static size_t cut(const char *s, size_t len)
{
	const char *nul = memchr(s, 0, len);

	return nul ? (size_t)(nul - s) : len;
}

static void check_str(const char *got, const char *want, size_t want_len)
{
	want_len = cut(want, want_len);
	assert_int_equal(strlen(got), want_len);
	assert_memory_equal(got, want, want_len);
}

static void check_attr(const pb_key_value *kv, const struct sp_span *s,
		       const struct sp_attr *a)
{
	const pb_any_value *v = kv->value;

	assert_string_equal(kv->key, a->key);
	assert_non_null(v);
	switch (a->type) {
	case SP_ATTR_STRING:
		assert_int_equal(v->value_case, ANY(STRING_VALUE));
		check_str(v->string_value, span_str(s, a->v.str.off),
			  a->v.str.len);
		break;
	case SP_ATTR_INT:
		assert_int_equal(v->value_case, ANY(INT_VALUE));
		assert_true(v->int_value == a->v.i);
		break;
	case SP_ATTR_BOOL:
		assert_int_equal(v->value_case, ANY(BOOL_VALUE));
		assert_int_equal(!!v->bool_value, a->v.b);
		break;
	case SP_ATTR_DOUBLE:
		assert_int_equal(v->value_case, ANY(DOUBLE_VALUE));
		assert_memory_equal(&v->double_value, &a->v.d, 8);
		break;
	default:
		fail();
	}
}

static void check_span(const pb_span *p, const struct sp_span *s)
{
	assert_int_equal(p->trace_id.len, 16);
	assert_memory_equal(p->trace_id.data, s->trace_id, 16);
	assert_int_equal(p->span_id.len, 8);
	assert_memory_equal(p->span_id.data, s->span_id, 8);
	if (span_has_parent(s)) {
		assert_int_equal(p->parent_span_id.len, 8);
		assert_memory_equal(p->parent_span_id.data, s->parent_span_id, 8);
	} else {
		assert_int_equal(p->parent_span_id.len, 0);
	}
	check_str(p->name, span_str(s, s->name_off), s->name_len);
	assert_int_equal(p->kind, s->kind);
	assert_true(p->start_time_unix_nano == s->start_unix_ns);
	assert_true(p->end_time_unix_nano == s->end_unix_ns);
	assert_int_equal(p->flags, s->sampled ? 1 : 0);
	assert_int_equal(p->n_attributes, s->n_attrs);
	for (size_t i = 0; i < s->n_attrs; i++)
		check_attr(p->attributes[i], s, &s->attrs[i]);
	if (s->status_code || s->status_msg_len) {
		assert_non_null(p->status);
		assert_int_equal(p->status->code, s->status_code);
		check_str(p->status->message, span_str(s, s->status_msg_off),
			  s->status_msg_len);
	} else {
		assert_null(p->status);
	}
	assert_int_equal(p->n_events + p->n_links, 0);
}

static void check_resource(const Opentelemetry__Proto__Resource__V1__Resource *p,
			   const struct sp_resource *r)
{
	if (!r) {
		assert_null(p);
		return;
	}
	assert_non_null(p);
	assert_int_equal(p->n_attributes, r->count);
	for (size_t i = 0; i < r->count; i++) {
		const pb_any_value *v = p->attributes[i]->value;

		assert_string_equal(p->attributes[i]->key, r->attrs[i].key);
		if (r->attrs[i].type == SP_RES_INT) {
			assert_int_equal(v->value_case, ANY(INT_VALUE));
			assert_true(v->int_value == r->attrs[i].i);
		} else {
			assert_int_equal(v->value_case, ANY(STRING_VALUE));
			assert_string_equal(v->string_value, r->attrs[i].str);
		}
	}
}

/* Decode `buf` with protobuf-c and compare with the batch, group by group. */
static void check_decoded(const uint8_t *buf, size_t len,
			  struct sp_span *const *spans, size_t count)
{
	pb_request *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, len, buf);
	size_t g = 0, i = 0;

	assert_non_null(req);
	while (i < count) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs;
		const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
		size_t n = 1;

		while (i + n < count && spans[i + n]->resource == spans[i]->resource)
			n++;
		assert_true(g < req->n_resource_spans);
		rs = req->resource_spans[g++];
		check_resource(rs->resource, spans[i]->resource);
		assert_string_equal(rs->schema_url, "");
		assert_int_equal(rs->n_scope_spans, 1);
		ss = rs->scope_spans[0];
		assert_string_equal(ss->scope->name, SP_SCOPE_NAME);
		assert_string_equal(ss->scope->version, SP_VERSION);
		assert_int_equal(ss->n_spans, n);
		for (size_t k = 0; k < n; k++)
			check_span(ss->spans[k], spans[i + k]);
		i += n;
	}
	assert_int_equal(g, req->n_resource_spans);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
}

/* Encode with both, require equal bytes, decode and compare. */
static void check_batch(struct sp_span *const *spans, size_t count)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;

	assert_int_equal(otlp_encode_protobuf(spans, count, &a, &alen), 0);
	assert_int_equal(otlp_encode_protobuf_fast(spans, count, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	check_decoded(a, alen, spans, count);
	free(a);
	free(b);
}

/* --- the interop fixture ----------------------------------------------- */

/*
 * A known batch for tests/integration/test_otlp_interop_decode.py, which
 * decodes it with the OpenTelemetry project's own generated code and
 * expects exactly these values: keep the two in step.
 */
static void fixture_build(struct sp_span *s, struct sp_resource **res)
{
	res[0] = new_resource();
	res[1] = new_resource();
	resource_set_str(res[0], "service.name", "checkout");
	resource_set_int(res[0], "process.pid", 4242);
	resource_set_str(res[0], "host.name", "box-1");
	resource_set_str(res[1], "service.name", "日本-svc");
	resource_set_int(res[1], "k.min", INT64_MIN);

	for (int i = 0; i < 3; i++)
		span_reset(&s[i]);
	for (int i = 0; i < 16; i++) {
		s[0].trace_id[i] = s[1].trace_id[i] = (uint8_t)(i + 1);
		s[2].trace_id[i] = 0xff;
	}
	for (int i = 0; i < 8; i++) {
		s[0].span_id[i] = s[1].parent_span_id[i] = (uint8_t)(0xa1 + i);
		s[1].span_id[i] = (uint8_t)(0xb1 + i);
		s[2].span_id[i] = (uint8_t)(i + 1);
	}
	s[0].resource = s[1].resource = res[0];
	s[2].resource = res[1];

	span_set_name(&s[0], "GET /api/orders", 15);
	s[0].kind = SP_KIND_SERVER;
	s[0].start_unix_ns = 1700000000123456789ULL;
	s[0].end_unix_ns = 1700000000223456789ULL;
	s[0].sampled = 1;
	span_add_cstr(&s[0], "http.request.method", "GET");
	span_add_int(&s[0], "http.response.status_code", 200);
	span_add_cstr(&s[0], "url.path", "/api/orders");
	span_add_bool(&s[0], "error", false);
	span_add_double(&s[0], "ratio", 0.25);
	span_add_cstr(&s[0], "empty", "");
	span_add_int(&s[0], "big", INT64_MAX);
	span_add_int(&s[0], "neg", -1);

	span_set_name(&s[1], "SELECT orders", 13);
	s[1].kind = SP_KIND_CLIENT;
	s[1].start_unix_ns = 1700000000130000000ULL;
	s[1].end_unix_ns = 1700000000210000000ULL;
	s[1].sampled = 1;
	span_set_status(&s[1], SP_STATUS_ERROR, "timeout after 2s");
	span_add_cstr(&s[1], "db.system", "postgresql");
	span_add_double(&s[1], "pi", 3.141592653589793);
	span_add_bool(&s[1], "flag", true);

	/* Empty name, kind unspecified, not sampled: fields left off. */
	s[2].start_unix_ns = 5;
	s[2].end_unix_ns = 5;
	span_set_status(&s[2], SP_STATUS_OK, NULL);
	span_add_cstr(&s[2], "utf8", "é日本\xf0\x9f\x98\x80");
	span_add_double(&s[2], "tiny", 1e-300);
}

/* Write the fixture encoded by `encoder` ("protobuf-c" or "fast"). */
static int fixture_write(const char *path, const char *encoder)
{
	struct sp_span *s = calloc(3, sizeof(*s));
	struct sp_span *spans[3] = { &s[0], &s[1], &s[2] };
	struct sp_resource *res[2];
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (!s)
		return 1;
	fixture_build(s, res);
	if (strcmp(encoder, "fast") == 0)
		ret = otlp_encode_protobuf_fast(spans, 3, &buf, &len);
	else
		ret = otlp_encode_protobuf(spans, 3, &buf, &len);
	f = ret ? NULL : fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "test_otlp_pb: cannot write %s\n", path);
		ret = 1;
	}
	free(buf);
	free(s);
	resource_put(res[0]);
	resource_put(res[1]);
	return ret ? 1 : 0;
}

/* --- tests ---------------------------------------------------------------- */

static void test_fixture_round_trip(void **state)
{
	struct sp_span *s = calloc(3, sizeof(*s));
	struct sp_span *spans[3] = { &s[0], &s[1], &s[2] };
	struct sp_resource *res[2];

	assert_non_null(s);
	fixture_build(s, res);
	check_batch(spans, 3);
	free(s);
	resource_put(res[0]);
	resource_put(res[1]);
}

static void test_empty_batch(void **state)
{
	uint8_t *a, *b;
	size_t alen = 1, blen = 1;

	assert_int_equal(otlp_encode_protobuf(NULL, 0, &a, &alen), 0);
	assert_int_equal(otlp_encode_protobuf_fast(NULL, 0, &b, &blen), 0);
	assert_int_equal(alen, 0);
	assert_int_equal(blen, 0);
	free(a);
	free(b);
}

/* A hand-worked encoding, so that both encoders cannot be wrong alike. */
static void test_known_bytes(void **state)
{
	static const uint8_t want_span[] = {
		0x0a, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		0x12, 8, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0x2a, 3, 'G', 'E', 'T',
		0x30, 2,                                /* kind SERVER */
		0x39, 0x01, 0, 0, 0, 0, 0, 0, 0,        /* start 1 */
		0x41, 0x02, 0x01, 0, 0, 0, 0, 0, 0,     /* end 258 */
		0x4a, 9, 0x0a, 1, 'n', 0x12, 4, 0x18, 0xff, 0xff, 0x03,
		0x7a, 2, 0x18, 2,                       /* status ERROR */
		0x85, 0x01, 1, 0, 0, 0,                 /* flags: sampled */
	};
	struct sp_resource *r = new_resource();
	struct sp_span *s = calloc(1, sizeof(*s));
	struct sp_span *spans[1] = { s };
	uint8_t want[256], *a, *b, *w = want;
	size_t alen, blen;
	size_t name_len = strlen(SP_SCOPE_NAME), ver_len = strlen(SP_VERSION);
	size_t scope_len = 4 + name_len + ver_len;
	size_t ss_len = 2 + scope_len + 2 + sizeof(want_span);
	size_t rs_len = 11 + 2 + ss_len;

	assert_int_equal(resource_set_int(r, "p", 7), 0);
	span_reset(s);
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(i + 1);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(0xa1 + i);
	span_set_name(s, "GET", 3);
	s->kind = SP_KIND_SERVER;
	s->start_unix_ns = 1;
	s->end_unix_ns = 258;
	s->sampled = 1;
	span_add_int(s, "n", 65535);
	span_set_status(s, SP_STATUS_ERROR, NULL);
	s->resource = r;

	assert_true(rs_len < 128); /* one-byte lengths below */
	*w++ = 0x0a, *w++ = (uint8_t)rs_len;
	/* Resource { attributes { key "p" value { int_value 7 } } } */
	memcpy(w, (uint8_t[]){ 0x0a, 9, 0x0a, 7, 0x0a, 1, 'p', 0x12, 2, 0x18, 7 },
	       11);
	w += 11;
	*w++ = 0x12, *w++ = (uint8_t)ss_len;
	*w++ = 0x0a, *w++ = (uint8_t)scope_len;
	*w++ = 0x0a, *w++ = (uint8_t)name_len;
	memcpy(w, SP_SCOPE_NAME, name_len), w += name_len;
	*w++ = 0x12, *w++ = (uint8_t)ver_len;
	memcpy(w, SP_VERSION, ver_len), w += ver_len;
	*w++ = 0x12, *w++ = sizeof(want_span);
	memcpy(w, want_span, sizeof(want_span)), w += sizeof(want_span);

	assert_int_equal(otlp_encode_protobuf(spans, 1, &a, &alen), 0);
	assert_int_equal(otlp_encode_protobuf_fast(spans, 1, &b, &blen), 0);
	assert_int_equal(alen, (size_t)(w - want));
	assert_memory_equal(a, want, alen);
	assert_int_equal(blen, alen);
	assert_memory_equal(b, want, blen);
	free(a);
	free(b);
	free(s);
	resource_put(r);
}

static void run_random(size_t batches, size_t max_spans, size_t max_resources,
		       uint64_t seed)
{
	struct sp_resource *res[8] = { NULL };
	struct sp_span *pool = calloc(max_spans, sizeof(*pool));
	struct sp_span **spans = calloc(max_spans, sizeof(*spans));

	assert_non_null(pool);
	assert_non_null(spans);
	rng_state = seed;
	for (size_t b = 0; b < batches; b++) {
		size_t nres = 1 + rnd_below(max_resources), count, r = 0;

		/* Slot 0 may stay NULL: spans without a resource. */
		for (size_t i = rnd_below(4) == 0; i < nres; i++)
			res[i] = rnd_resource();
		count = 1 + rnd_below(max_spans);
		for (size_t i = 0; i < count; i++) {
			if (i && rnd_below(5) == 0)
				r = rnd_below(nres); /* may revisit: a new run */
			rnd_span(&pool[i], res[r]);
			spans[i] = &pool[i];
		}
		check_batch(spans, count);
		for (size_t i = 0; i < nres; i++) {
			resource_put(res[i]);
			res[i] = NULL;
		}
	}
	free(pool);
	free(spans);
}

static void test_random_small_batches(void **state)
{
	run_random(3000, 6, 3, 0x9e3779b97f4a7c15ULL);
}

static void test_random_large_batches(void **state)
{
	/* Above the fast encoder's stack of span sizes. */
	run_random(20, 1000, 8, 42);
}

/* Length prefixes of every width: names around 127/128 bytes, full arena. */
static void test_length_boundaries(void **state)
{
	static const size_t lens[] = { 0, 1, 126, 127, 128, 129, 1023, 1024 };
	char text[SP_SPAN_ARENA];
	struct sp_span *s = calloc(1, sizeof(*s));
	struct sp_span *spans[1] = { s };

	memset(text, 'x', sizeof(text));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		span_reset(s);
		s->span_id[0] = 1;
		assert_int_equal(span_set_name(s, text, lens[i]), 0);
		check_batch(spans, 1);
		/* Same length as a string attribute, the name empty. */
		span_reset(s);
		assert_int_equal(span_add_str(s, "v", text, lens[i]), 0);
		check_batch(spans, 1);
	}
	free(s);
}

/*
 * A NUL byte at every place of names and values of 0 to 40 bytes (the
 * fast encoder looks for it eight bytes at a time, the last word ending
 * at the string's end), and none: both encoders cut there.
 */
static void test_nul_everywhere(void **state)
{
	char text[48];
	struct sp_span *s = calloc(1, sizeof(*s));
	struct sp_span *spans[1] = { s };

	for (size_t len = 0; len <= 40; len++) {
		for (size_t nul = 0; nul <= len; nul++) {
			for (size_t i = 0; i < len; i++)
				text[i] = (char)('a' + i % 26);
			if (nul < len)
				text[nul] = '\0';
			span_reset(s);
			s->span_id[0] = 1;
			assert_int_equal(span_set_name(s, text, len), 0);
			assert_int_equal(span_add_str(s, "url.path", text, len), 0);
			assert_int_equal(span_add_str(s, keys[7], text, len), 0);
			assert_int_equal(span_add_str(s, "", text, len), 0);
			check_batch(spans, 1);
		}
	}
	free(s);
}

/*
 * More keys than the fast encoder keeps fields of (it looks keys up by
 * address): 600 keys of 1 to 60 bytes, in turn, several times.
 */
static void test_many_keys(void **state)
{
	static char many[600][64];
	struct sp_span *s = calloc(8, sizeof(*s));
	struct sp_span *spans[8];

	for (size_t i = 0; i < 600; i++) {
		size_t len = 1 + i % 60;

		for (size_t j = 0; j < len; j++)
			many[i][j] = (char)('a' + (i + j) % 26);
		many[i][len] = '\0';
	}
	for (size_t round = 0; round < 3; round++) {
		for (size_t i = 0; i < 600;) {
			for (size_t n = 0; n < 8; n++) {
				spans[n] = &s[n];
				span_reset(&s[n]);
				s[n].span_id[0] = 1;
				for (size_t a = 0; a < 10 && i < 600; a++, i++)
					span_add_int(&s[n], many[(i * 7 + round) % 600],
						     (int64_t)i);
			}
			check_batch(spans, 8);
		}
	}
	free(s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_batch),
		cmocka_unit_test(test_fixture_round_trip),
		cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_length_boundaries),
		cmocka_unit_test(test_nul_everywhere),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_random_small_batches),
		cmocka_unit_test(test_random_large_batches),
	};

	/* test_otlp_pb --write-fixture FILE [protobuf-c|fast] */
	if (argc >= 3 && strcmp(argv[1], "--write-fixture") == 0)
		return fixture_write(argv[2], argc >= 4 ? argv[3] : "protobuf-c");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
