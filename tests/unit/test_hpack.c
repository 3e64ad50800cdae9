/* SPDX-License-Identifier: MIT */
/*
 * The HPACK decoder that learns a lost table again (protocol/hpack.h),
 * against nghttp2's deflater and inflater: from the first block it says
 * what nghttp2 says; picked up later, every field it gives is the one
 * the encoder sent (in order), those it cannot name are counted, and it
 * names more as the encoder adds entries.
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

#include "protocol/hpack.h"

#define MAX_FIELDS 16

struct fields {
	int n;
	char name[MAX_FIELDS][64], value[MAX_FIELDS][128];
};

static void keep(void *arg, const nghttp2_nv *nv)
{
	struct fields *f = arg;

	assert_true(f->n < MAX_FIELDS);
	snprintf(f->name[f->n], sizeof(f->name[0]), "%.*s", (int)nv->namelen, nv->name);
	snprintf(f->value[f->n], sizeof(f->value[0]), "%.*s", (int)nv->valuelen, nv->value);
	f->n++;
}

static nghttp2_nv field(const char *name, const char *value, uint8_t flags)
{
	return (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, strlen(name),
			     strlen(value), flags };
}

/* One block of `n` fields from `def`. */
static size_t deflate(nghttp2_hd_deflater *def, const nghttp2_nv *nv, size_t n,
		      uint8_t *out, size_t room)
{
	ssize_t len = nghttp2_hd_deflate_hd(def, out, room, (nghttp2_nv *)nv, n);

	assert_true(len > 0);
	return (size_t)len;
}

/* What nghttp2's inflater makes of a block (it sees every block). */
static void inflate_all(nghttp2_hd_inflater *inf, const uint8_t *p, size_t n,
			struct fields *out)
{
	out->n = 0;
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, n, 1);

		assert_true(rv >= 0);
		p += rv;
		n -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			keep(out, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
	}
	nghttp2_hd_inflate_end_headers(inf);
}

static void test_known_and_learned(void **state)
{
	nghttp2_hd_deflater *def;
	struct hpack_dec d;
	struct fields got = { 0 };
	uint8_t b[512];
	size_t n;
	const nghttp2_nv first[] = { field(":authority", "api.example", 0),
				     field("x-tenant", "blue", 0) };
	const nghttp2_nv again[] = { field(":method", "POST", 0),
				     field(":authority", "api.example", 0),
				     field("x-tenant", "blue", 0),
				     field("x-new", "n1", 0) };
	const nghttp2_nv later[] = { field("x-new", "n1", 0), field("x-tenant", "blue", 0) };

	(void)state;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	assert_int_equal(hpack_dec_init(&d, 4096), 0);
	deflate(def, first, 2, b, sizeof(b)); /* went by unseen */
	n = deflate(def, again, 4, b, sizeof(b));
	/* :method is static, x-new new; the other two are entries unseen. */
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 2);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.name[0], ":method");
	assert_string_equal(got.value[0], "POST");
	assert_string_equal(got.name[1], "x-new");
	assert_string_equal(got.value[1], "n1");
	/* x-new is an entry of ours now, by its index. */
	got.n = 0;
	n = deflate(def, later, 2, b, sizeof(b));
	assert_true(b[0] & 0x80); /* indexed */
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 1);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.name[0], "x-new");
	assert_string_equal(got.value[0], "n1");
	/* Lost again: nothing of ours is named any more. */
	hpack_dec_forget(&d);
	got.n = 0;
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 2);
	assert_int_equal(got.n, 0);
	hpack_dec_free(&d);
	nghttp2_hd_deflate_del(def);
}

/*
 * A table taken over from nghttp2's inflater (its blocks could go no
 * further) is the encoder's whole: every later field comes out as
 * nghttp2 gives it, with a small table that evicts as it goes.
 */
static void test_take_over(void **state)
{
	nghttp2_hd_deflater *def;
	nghttp2_hd_inflater *inf, *twin;
	struct hpack_dec d;
	struct fields want, got;
	uint8_t b[512];
	char v[32];

	(void)state;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 256), 0);
	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	assert_int_equal(nghttp2_hd_inflate_new(&twin), 0);
	assert_int_equal(hpack_dec_init(&d, 4096), 0);
	for (int i = 0; i < 40; i++) {
		nghttp2_nv nv[] = { field(":path", "/svc/Do", 0), field("x-seq", v, 0),
				    field(":authority", "api.example", 0) };
		size_t n;

		snprintf(v, sizeof(v), "value-%d", i % 7);
		n = deflate(def, nv, 3, b, sizeof(b));
		inflate_all(twin, b, n, &want);
		if (i < 20) {
			inflate_all(inf, b, n, &got);
			if (i == 19)
				assert_int_equal(hpack_dec_take(&d, inf), 0);
			continue;
		}
		got.n = 0;
		assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 0);
		assert_int_equal(got.n, want.n);
		for (int j = 0; j < got.n; j++) {
			assert_string_equal(got.name[j], want.name[j]);
			assert_string_equal(got.value[j], want.value[j]);
		}
	}
	hpack_dec_free(&d);
	nghttp2_hd_inflate_del(inf);
	nghttp2_hd_inflate_del(twin);
	nghttp2_hd_deflate_del(def);
}

/* A new value for a name whose entry went by unseen: left out, but its
 * entry is added (name unknown), so later indexes still line up. */
static void test_name_from_before(void **state)
{
	nghttp2_hd_deflater *def;
	struct hpack_dec d;
	struct fields got = { 0 };
	uint8_t b[512];
	size_t n;
	const nghttp2_nv v1[] = { field("grpc-timeout", "99m", 0) };
	const nghttp2_nv v2[] = { field("grpc-timeout", "98m", 0) };
	const nghttp2_nv y[] = { field("y", "1", 0) };
	const nghttp2_nv both[] = { field("y", "1", 0), field("grpc-timeout", "98m", 0) };

	(void)state;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	assert_int_equal(hpack_dec_init(&d, 4096), 0);
	deflate(def, v1, 1, b, sizeof(b)); /* unseen */
	n = deflate(def, v2, 1, b, sizeof(b));
	assert_int_equal(b[0] & 0xc0, 0x40); /* indexing, name by index */
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 1);
	n = deflate(def, y, 1, b, sizeof(b));
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 0);
	n = deflate(def, both, 2, b, sizeof(b));
	got.n = 0;
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 1);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.name[0], "y");
	assert_string_equal(got.value[0], "1");
	hpack_dec_free(&d);
	nghttp2_hd_deflate_del(def);
}

/*
 * Many blocks of fields from a small set (so entries are made, named and
 * evicted; a table of 256 bytes here), Huffman-coded as nghttp2 does:
 * from the first block, the same fields as nghttp2's inflater; picked up
 * at block `start`, each field it gives is the next of nghttp2's in
 * order, and what it leaves out is counted.
 */
static void differential(uint32_t table, int start, uint32_t seed)
{
	static const char *names[] = { ":authority", "x-a", "x-b", "user-agent",
				       "content-type", "grpc-timeout", "x-long-header-name" };
	static const char *values[] = { "1", "two", "application/grpc", "a-longer-value-0123456789",
					"h.example", "9m", "" };
	nghttp2_hd_deflater *def;
	nghttp2_hd_inflater *inf;
	struct hpack_dec d;
	int learned_late = 0;

	assert_int_equal(nghttp2_hd_deflate_new(&def, table), 0);
	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	assert_int_equal(nghttp2_hd_inflate_change_table_size(inf, table), 0);
	assert_int_equal(hpack_dec_init(&d, table), 0);
	for (int blk = 0; blk < 400; blk++) {
		nghttp2_nv nv[6];
		struct fields want, got = { 0 };
		uint8_t b[2048];
		size_t n, k = 1 + (seed >> 3) % 6;
		int unknown, w = 0;

		for (size_t i = 0; i < k; i++) {
			seed = seed * 1103515245u + 12345u;
			nv[i] = field(names[(seed >> 8) % 7], values[(seed >> 16) % 7],
				      (seed >> 24) % 11 == 0 ? NGHTTP2_NV_FLAG_NO_INDEX : 0);
		}
		n = deflate(def, nv, k, b, sizeof(b));
		inflate_all(inf, b, n, &want);
		if (blk < start)
			continue;
		unknown = hpack_dec_block(&d, b, n, keep, &got);
		assert_true(unknown >= 0);
		if (start == 0)
			assert_int_equal(unknown, 0);
		assert_int_equal(got.n + unknown, want.n);
		for (int i = 0; i < got.n; i++) {
			while (w < want.n && (strcmp(want.name[w], got.name[i]) ||
					      strcmp(want.value[w], got.value[i])))
				w++;
			assert_true(w < want.n); /* never a field not sent */
			w++;
		}
		if (blk > start + 200 && unknown == 0)
			learned_late++;
	}
	/* Picked up late, it names everything again once the table turned
	 * over (in 256 bytes it does; 4096 hold the whole set here, whose
	 * entries from before are named to the end). */
	if (table == 256)
		assert_true(learned_late > 50);
	hpack_dec_free(&d);
	nghttp2_hd_inflate_del(inf);
	nghttp2_hd_deflate_del(def);
}

static void test_differential(void **state)
{
	(void)state;
	for (uint32_t seed = 1; seed <= 20; seed++) {
		differential(4096, 0, seed);
		differential(4096, 37, seed);
		differential(256, 0, seed);
		differential(256, 5, seed);
	}
}

/* A size update in the block: entries evicted as the encoder's are. */
static void test_size_update(void **state)
{
	nghttp2_hd_deflater *def;
	struct hpack_dec d;
	struct fields got = { 0 };
	uint8_t b[512];
	size_t n;
	const nghttp2_nv a[] = { field("x-a", "0123456789012345678901234567890123456789", 0) };
	const nghttp2_nv bb[] = { field("x-b", "0123456789012345678901234567890123456789", 0) };

	(void)state;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	assert_int_equal(hpack_dec_init(&d, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_change_table_size(def, 100), 0);
	n = deflate(def, a, 1, b, sizeof(b));
	assert_int_equal(b[0] & 0xe0, 0x20); /* the update first */
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 0);
	n = deflate(def, bb, 1, b, sizeof(b)); /* x-a evicted: 75 + 75 > 100 */
	assert_int_equal(hpack_dec_block(&d, b, n, keep, &got), 0);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.size, 75);
	hpack_dec_free(&d);
	nghttp2_hd_deflate_del(def);
}

static void test_malformed(void **state)
{
	static const uint8_t index_zero[] = { 0x80 };
	static const uint8_t int_cut[] = { 0xff, 0xff };
	static const uint8_t int_huge[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t string_past[] = { 0x40, 0x05, 'a', 'b' };
	static const uint8_t update_over[] = { 0x3f, 0xe1, 0xff, 0x03 };
	static const uint8_t bad_huffman[] = { 0x00, 0x81, 0xff, 0x01, 'v' };
	const struct { const uint8_t *p; size_t n; } cases[] = {
		{ index_zero, sizeof(index_zero) }, { int_cut, sizeof(int_cut) },
		{ int_huge, sizeof(int_huge) }, { string_past, sizeof(string_past) },
		{ update_over, sizeof(update_over) }, { bad_huffman, sizeof(bad_huffman) },
	};
	struct hpack_dec d;
	struct fields got = { 0 };
	static const uint8_t learn[] = { 0x40, 0x01, 'k', 0x01, 'v' };

	static const uint8_t get_path[] = { 0x82, 0x84 }; /* static: GET, / */

	(void)state;
	assert_int_equal(hpack_dec_init(&d, 4096), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(hpack_dec_block(&d, learn, sizeof(learn), keep, &got), 0);
		assert_int_equal(d.count, 1);
		assert_int_equal(hpack_dec_block(&d, cases[i].p, cases[i].n, keep, &got),
				 -EPROTO);
		assert_int_equal(d.count, 0); /* what it knew is forgotten */
		/* And it decodes again (nghttp2's inflater, once failed,
		 * refuses everything after: it is made anew). */
		got.n = 0;
		assert_int_equal(hpack_dec_block(&d, get_path, sizeof(get_path), keep, &got), 0);
		assert_int_equal(got.n, 2);
		assert_string_equal(got.value[1], "/");
	}
	hpack_dec_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_and_learned),
		cmocka_unit_test(test_take_over),
		cmocka_unit_test(test_name_from_before),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_size_update),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
