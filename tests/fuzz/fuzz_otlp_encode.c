/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the exporter's protobuf encoder
 * (export/otlp_pb_fast.c): a batch of spans built from the input is
 * encoded by it and by the protobuf-c reference (export/otlp_pb.c), and
 * the two must give the same bytes, which protobuf-c must read back as
 * that many spans with that many attributes each.  The batch is encoded
 * whole, then cut in two where the input says (the resources' encoded
 * attributes, kept at the first batch, are then reused; the fast
 * encoder's guess of a span's size differs).
 *
 * Input: one byte, the number of resources (0 to 3), each one byte of
 * attribute count and per attribute a key, a type and a value (strings
 * up to 2 MiB: lengths of every varint size up the tree); one byte, the
 * number of spans (1 to MAX_SPANS); then each span: an op byte (0xc0 and
 * above: the previous span again, up to 64 times; else its resource or
 * none), a byte of kind, status code, sampled flag and parent, a byte of
 * IDs, a byte of times, its name, its status message, and its
 * attributes; a last byte, where to cut.  Strings are a length (a table
 * of varint and SSE2 boundaries, or raw), a fill and where a NUL byte
 * goes.  Keys are static texts: named ones (the empty key, lengths
 * around the key table's 46 bytes and the 127/128 varint boundary, up to
 * 1000 bytes) and MANY_KEYS others, three times the key table's slots,
 * which a span may sweep through so that slots are taken over.  Input
 * that runs out reads as zero bytes.
 *
 *   make fuzz && build/fuzz/fuzz_otlp_encode -dict=tests/fuzz/otlp_encode.dict \
 *     tests/fuzz/corpus_otlp_encode
 */
#include "export/otlp_encode.h"
#include "export/otlp_pb_fast.h"
#include "span/resource.h"
#include "span/span.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include <float.h>
#include <malloc.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

#define MAX_SPANS 128
#define MAX_RESOURCES 3
#define MANY_KEYS (3 * OTLP_PB_KEY_SLOTS)
#define MANY_KEY_MAX (OTLP_PB_KEY_FIELD_MAX - 2) /* the longest key a slot holds */
#define RES_TEXT_MAX ((2u << 20) + 256)

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	pb_request;

_Static_assert(offsetof(struct sp_span, arena) + SP_SPAN_ARENA == sizeof(struct sp_span),
	       "the arena ends the span");

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t take16(struct input *in)
{
	return (uint16_t)(take(in) | take(in) << 8);
}

static uint64_t take64(struct input *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)take(in) << (8 * i);
	return v;
}

/* --- keys: static storage, as span/span.h asks ----------------------------- */

#define S10 "abcdefghij"
#define S50 S10 S10 S10 S10 S10
#define S100 S50 S50
static const char key46[] = S10 S10 S10 S10 "abcdef";
static const char key47[] = S10 S10 S10 S10 "abcdefg";
static const char key127[] = S100 S10 S10 "abcdefg";
static const char key128[] = S100 S10 S10 "abcdefgh";
static const char key129[] = S100 S10 S10 "abcdefghi";
static const char key300[] = S100 S100 S100;
static const char key1000[] = S100 S100 S100 S100 S100 S100 S100 S100 S100 S100;
_Static_assert(sizeof(key46) - 1 == MANY_KEY_MAX && sizeof(key47) - 1 == MANY_KEY_MAX + 1,
	       "key46 and key47: the longest key a slot holds, and one byte more");
_Static_assert(sizeof(key127) == 128 && sizeof(key129) == 130, "key lengths");
_Static_assert(sizeof(key1000) == 1001, "key lengths");
/* Texts equal to others' at other addresses: an address names one key. */
static const char url_path_again[] = "url.path";
static const char method_base[] = "http.request.method";

static const char *const named_keys[] = {
	"", "k", "http.request.method", "url.path", url_path_again,
	method_base + 5, "http.response.status_code", "server.port",
	"db.query.text", "error", "ratio", key46, key47, key127, key128,
	key129, key300, key1000,
};
#define NAMED_KEYS (sizeof(named_keys) / sizeof(named_keys[0]))

/* Written once, before the first input, and never again. */
static char many_keys[MANY_KEYS][MANY_KEY_MAX + 1];

static void many_keys_init(void)
{
	for (size_t i = 0; i < MANY_KEYS; i++) {
		size_t len = 1 + (i * 7) % MANY_KEY_MAX;

		for (size_t j = 0; j < len; j++)
			many_keys[i][j] = (char)('a' + (i + j) % 26);
		many_keys[i][len] = '\0';
	}
}

static const char *key_at(size_t i)
{
	i %= NAMED_KEYS + MANY_KEYS;
	return i < NAMED_KEYS ? named_keys[i] : many_keys[i - NAMED_KEYS];
}

/* --- strings ---------------------------------------------------------------- */

/* Varint boundaries (127/128), the fast encoder's 8- and 16-byte pieces,
 * the arena's size and past it (truncated by the span). */
static const uint16_t text_lens[] = {
	0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65,
	126, 127, 128, 129, 255, 256, 1000, 1022, 1023, 1024, 1100,
};
#define TEXT_LENS (sizeof(text_lens) / sizeof(text_lens[0]))
#define TEXT_MAX (SP_SPAN_ARENA + 128)

static void fill_text(struct input *in, char *out, size_t len, uint8_t fill)
{
	static const char utf8[] = "\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80";
	size_t n = 0;

	switch (fill & 3) {
	case 1: /* the input's own bytes (NULs among them), then letters */
		n = len < in->left ? len : in->left;
		memcpy(out, in->p, n);
		in->p += n;
		in->left -= n;
		break;
	case 2:
		memset(out, 0x20 + (fill >> 2), len);
		return;
	case 3:
		for (; n < len; n++)
			out[n] = utf8[(n + (fill >> 2)) % (sizeof(utf8) - 1)];
		return;
	}
	for (; n < len; n++)
		out[n] = (char)('a' + (n + (fill >> 2)) % 26);
}

/* A NUL byte where the input says: none, first, last, middle, anywhere. */
static void place_nul(struct input *in, char *out, size_t len, uint8_t nul)
{
	size_t at;

	if (!nul || !len)
		return;
	switch (nul) {
	case 1:
		at = 0;
		break;
	case 2:
		at = len - 1;
		break;
	case 3:
		at = len / 2;
		break;
	default:
		at = (nul < 0x80 ? (size_t)nul - 4 : take16(in)) % len;
		break;
	}
	out[at] = '\0';
}

/* A string of the input's choosing in out[TEXT_MAX]; returns its length.
 * `room` is what the arena has left (one choice ends the text there). */
static size_t take_text(struct input *in, char *out, size_t room)
{
	uint8_t sel = take(in), fill = take(in), nul = take(in);
	size_t len;

	if (sel == 0x7f)
		len = room;
	else if (sel & 0x80)
		len = take16(in) % TEXT_MAX;
	else
		len = text_lens[sel % TEXT_LENS];
	fill_text(in, out, len, fill);
	place_nul(in, out, len, nul);
	return len;
}

static size_t arena_room(const struct sp_span *s)
{
	return SP_SPAN_ARENA - s->arena_used;
}

/* --- attributes --------------------------------------------------------------- */

static int64_t take_special_int(struct input *in)
{
	static const int64_t v[] = {
		0, 1, -1, 63, 64, 127, 128, -128, 16383, 16384, 2097151,
		2097152, INT32_MAX, INT32_MIN, (int64_t)1 << 35, INT64_MAX,
		INT64_MIN, INT64_MIN + 1,
	};

	return v[take(in) % (sizeof(v) / sizeof(v[0]))];
}

static double take_special_double(struct input *in)
{
	static const double v[] = {
		0.0, -0.0, 1.5, -1e300, 1e-310, DBL_MIN, DBL_MAX, INFINITY,
		-INFINITY, NAN, -NAN,
	};

	return v[take(in) % (sizeof(v) / sizeof(v[0]))];
}

static void add_attr(struct input *in, struct sp_span *s, const char *key)
{
	char text[TEXT_MAX];
	uint64_t bits;
	double d;
	size_t n;
	uint16_t off, len;

	switch (take(in) % 9) {
	case 0:
	case 1:
		n = take_text(in, text, arena_room(s));
		span_add_str(s, key, text, n); /* -ENOSPC: truncated or dropped */
		break;
	case 2:
		span_add_int(s, key, (int64_t)take64(in));
		break;
	case 3:
		span_add_int(s, key, take_special_int(in));
		break;
	case 4:
		span_add_bool(s, key, take(in) & 1);
		break;
	case 5: /* any bits: NaNs with payloads, subnormals */
		bits = take64(in);
		memcpy(&d, &bits, 8);
		span_add_double(s, key, d);
		break;
	case 6:
		span_add_double(s, key, take_special_double(in));
		break;
	case 7:
		span_add_name_attr(s, key);
		break;
	default: /* bytes another string already holds, overlapping it */
		off = (uint16_t)(take16(in) % (s->arena_used + 1u));
		len = (uint16_t)(take16(in) % (s->arena_used - off + 1u));
		span_add_arena_str(s, key, off, len);
		break;
	}
}

/* Keys one by one, or a sweep through many_keys from span to span. */
static void add_attrs(struct input *in, struct sp_span *s, size_t index)
{
	size_t n = take(in) % (SP_SPAN_MAX_ATTRS + 3), mode = take(in);

	for (size_t i = 0; i < n; i++) {
		const char *key;

		if (mode & 1)
			key = many_keys[((mode >> 1) * 7 + index * SP_SPAN_MAX_ATTRS + i) %
					MANY_KEYS];
		else
			key = key_at(take(in));
		add_attr(in, s, key);
	}
}

/* --- spans ------------------------------------------------------------------- */

static void set_ids(struct input *in, struct sp_span *s, unsigned parent)
{
	uint8_t seed = take(in);

	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(seed + i * 37);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(seed * 3 + i * 11);
	/* none, all bytes set, only the last, only the first */
	for (int i = 0; i < 8; i++)
		s->parent_span_id[i] = parent == 1 ? (uint8_t)((seed ^ 0x5a) + i * 13 + 1) : 0;
	if (parent == 2)
		s->parent_span_id[7] = 1;
	if (parent == 3)
		s->parent_span_id[0] = 0x80;
}

static uint64_t take_time(struct input *in, unsigned mode)
{
	switch (mode & 3) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return UINT64_MAX;
	default:
		return take64(in);
	}
}

/* The status message: none, through span_set_status() (a C string), or
 * put in the arena as it would be, a NUL byte inside possible. */
static void set_status(struct input *in, struct sp_span *s, uint8_t code)
{
	char text[TEXT_MAX + 1];
	uint8_t mode = take(in) % 3;
	size_t n;

	span_set_status(s, (enum sp_status_code)code, NULL);
	if (!mode)
		return;
	n = take_text(in, text, arena_room(s));
	if (mode == 1) {
		text[n] = '\0';
		span_set_status(s, (enum sp_status_code)code, text);
		return;
	}
	if (n > arena_room(s))
		n = arena_room(s);
	memcpy(s->arena + s->arena_used, text, n);
	s->status_msg_off = s->arena_used;
	s->status_msg_len = (uint16_t)n;
	s->arena_used = (uint16_t)(s->arena_used + n);
}

static void build_span(struct input *in, struct sp_span *s, size_t index)
{
	uint8_t flags = take(in), times;
	char text[TEXT_MAX];
	size_t n;

	span_reset(s);
	s->kind = (uint8_t)((flags & 0x1f) % 6);
	s->sampled = (flags >> 5) & 1;
	set_ids(in, s, flags >> 6);
	times = take(in);
	s->start_unix_ns = take_time(in, times);
	s->end_unix_ns = take_time(in, times >> 2);
	n = take_text(in, text, arena_room(s));
	span_set_name(s, text, n);
	set_status(in, s, (uint8_t)((flags & 0x1f) / 6 % 3));
	add_attrs(in, s, index);
}

/* --- resources ---------------------------------------------------------------- */

static char res_text[RES_TEXT_MAX + 1];

/* Around every varint size: 1, 2, 3 bytes and 4 (a ResourceSpans past
 * 2 MiB, whose reserved 3-byte prefix then grows). */
static size_t take_res_len(struct input *in)
{
	static const uint32_t lens[] = { 0, 1, 127, 128, 16383, 16384, 16385 };
	uint8_t sel = take(in);

	if (sel == 0xff)
		return (2u << 20) - 200 + take(in);
	if (sel & 0x80)
		return take16(in);
	return lens[sel % (sizeof(lens) / sizeof(lens[0]))];
}

static struct sp_resource *build_resource(struct input *in)
{
	static const char *const keys[] = { "service.name", "process.pid", "",
					    "k", key128, "host.name" };
	struct sp_resource *r = calloc(1, sizeof(*r));
	size_t n;

	CHECK(r != NULL);
	r->refs = 1;
	n = take(in) % 6;
	for (size_t i = 0; i < n; i++) {
		const char *key = keys[take(in) % (sizeof(keys) / sizeof(keys[0]))];
		uint8_t type = take(in);
		size_t len;

		if (type & 1) {
			CHECK(resource_set_int(r, key, type & 2 ? take_special_int(in)
							     : (int64_t)take64(in)) == 0);
			continue;
		}
		len = take_res_len(in);
		for (size_t j = 0; j < len; j++)
			res_text[j] = (char)('A' + (j + type) % 26);
		res_text[len] = '\0';
		CHECK(resource_set_str(r, key, res_text) == 0);
	}
	return r;
}

/* --- checking ------------------------------------------------------------------ */

static void report_mismatch(const uint8_t *want, size_t want_len,
			    const uint8_t *got, size_t got_len)
{
	size_t at = 0, min = want_len < got_len ? want_len : got_len;

	while (at < min && want[at] == got[at])
		at++;
	fprintf(stderr, "fuzz_otlp_encode: protobuf-c %zu bytes, fast %zu; first "
			"difference at %zu\n", want_len, got_len, at);
	for (size_t i = at > 8 ? at - 8 : 0; i < at + 16; i++)
		fprintf(stderr, "  [%zu] protobuf-c %02x fast %02x\n", i,
			i < want_len ? want[i] : 0, i < got_len ? got[i] : 0);
}

/* protobuf-c reads the bytes back as the batch's spans and attributes. */
static void check_decoded(const uint8_t *buf, size_t len,
			  struct sp_span *const *spans, size_t count)
{
	pb_request *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, len, buf);
	size_t i = 0;

	CHECK(req != NULL);
	for (size_t g = 0; g < req->n_resource_spans; g++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
			req->resource_spans[g];

		CHECK(rs->n_scope_spans == 1);
		CHECK((rs->resource != NULL) == (spans[i]->resource != NULL));
		for (size_t k = 0; k < rs->scope_spans[0]->n_spans; k++, i++) {
			CHECK(i < count);
			CHECK(rs->scope_spans[0]->spans[k]->n_attributes ==
			      spans[i]->n_attrs);
		}
	}
	CHECK(i == count);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
}

static void check_batch(struct sp_span *const *spans, size_t count)
{
	uint8_t *want = NULL, *got = NULL;
	size_t want_len = 0, got_len = 0;

	CHECK(otlp_encode_protobuf_fast(spans, count, &got, &got_len) == 0);
	CHECK(otlp_encode_protobuf(spans, count, &want, &want_len) == 0);
	/* The size it reports is inside what it allocated (ASan's size). */
	CHECK(malloc_usable_size(got) >= got_len);
	if (got_len != want_len || memcmp(got, want, got_len) != 0) {
		report_mismatch(want, want_len, got, got_len);
		__builtin_trap();
	}
	check_decoded(want, want_len, spans, count);
	free(want);
	free(got);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	many_keys_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct sp_resource *res[MAX_RESOURCES] = { NULL };
	struct sp_span *spans[MAX_SPANS];
	size_t nres, count, n = 0, cut;

	if (size == 0) {
		check_batch(NULL, 0);
		return 0;
	}
	nres = take(&in) % (MAX_RESOURCES + 1);
	for (size_t i = 0; i < nres; i++)
		res[i] = build_resource(&in);
	count = 1 + take(&in) % MAX_SPANS;
	while (n < count) {
		uint8_t op = take(&in);

		/* One exact allocation each: a read past the arena is past
		 * the span (the arena is its last member). */
		if (op >= 0xc0 && n > 0) {
			for (size_t k = op - 0xbf; k > 0 && n < count; k--, n++) {
				spans[n] = malloc(sizeof(struct sp_span));
				CHECK(spans[n] != NULL);
				memcpy(spans[n], spans[n - 1], sizeof(struct sp_span));
			}
			continue;
		}
		spans[n] = malloc(sizeof(struct sp_span));
		CHECK(spans[n] != NULL);
		build_span(&in, spans[n], n);
		spans[n]->resource = op % (nres + 1) < nres ? res[op % (nres + 1)] : NULL;
		n++;
	}
	check_batch(spans, count);
	cut = take(&in) % count;
	if (cut) {
		check_batch(spans, cut);
		check_batch(spans + cut, count - cut);
	}
	for (size_t i = 0; i < count; i++)
		free(spans[i]);
	for (size_t i = 0; i < nres; i++)
		resource_put(res[i]);
	return 0;
}
