/* SPDX-License-Identifier: MIT */
/*
 * The ID table against a reference model (random operation sequences),
 * its limits, and backward-shift deletion on runs of colliding keys, with
 * the SIMD lookup and the scalar one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/ids.h"
#include "util/u32map.h"

#define N_OPS 100000

/* Home slot of `key` in a table sized for `max`: where it lands alone. */
static uint32_t home_of(uint32_t max, uint32_t key)
{
	struct sp_u32map m;
	uint32_t slot = UINT32_MAX;

	assert_int_equal(u32map_init(&m, max, false), 0);
	assert_int_equal(u32map_put(&m, key, &m), 0);
	for (uint32_t i = 0; i <= m.mask; i++)
		if (m.keys[i] == key)
			slot = i;
	u32map_destroy(&m);
	assert_int_not_equal(slot, UINT32_MAX);
	return slot;
}

struct model {
	uint32_t *keys;  /* sorted, distinct, non-zero */
	uint32_t *homes; /* home slot of keys[i] */
	void **values;   /* NULL: absent */
	uint32_t n_keys;
	uint32_t count;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t model_index(const struct model *md, uint32_t key)
{
	const uint32_t *k = bsearch(&key, md->keys, md->n_keys, sizeof(key), cmp_u32);

	assert_non_null(k);
	return (uint32_t)(k - md->keys);
}

/* Every entry lies after its home slot with no empty slot in between. */
static void check_table(const struct sp_u32map *m, const struct model *md)
{
	uint32_t seen = 0;

	for (uint32_t j = 0; j <= m->mask; j++) {
		uint32_t idx, h;

		if (!m->keys[j]) {
			assert_null(m->values[j]);
			continue;
		}
		idx = model_index(md, m->keys[j]);
		assert_ptr_equal(m->values[j], md->values[idx]);
		for (h = md->homes[idx]; h != j; h = (h + 1) & m->mask)
			assert_int_not_equal(m->keys[h], 0);
		seen++;
	}
	assert_int_equal(seen, md->count);
	assert_int_equal(m->count, md->count);
}

enum key_set {
	KEYS_SEQUENTIAL, /* 1, 2, 3...: how TIDs come */
	KEYS_RANDOM,
	KEYS_CLUSTERED,  /* multiples of 4096: one long run of collisions */
};

static uint32_t make_key(enum key_set set, uint32_t i, struct sp_idgen *g)
{
	switch (set) {
	case KEYS_RANDOM:
		return (uint32_t)idgen_next(g) | 1u;
	case KEYS_CLUSTERED:
		return (i + 1) * 4096u;
	default:
		return i + 1;
	}
}

static void run_model(bool simd, uint32_t max, uint32_t n_keys,
		      enum key_set set, uint64_t seed)
{
	struct sp_u32map m;
	struct model md = { .n_keys = n_keys };
	struct sp_idgen g;
	uint32_t enospc = 0, dels = 0;

	idgen_seed(&g, seed);
	md.keys = calloc(n_keys, sizeof(*md.keys));
	md.homes = calloc(n_keys, sizeof(*md.homes));
	md.values = calloc(n_keys, sizeof(*md.values));
	assert_true(md.keys && md.homes && md.values);
	for (uint32_t i = 0; i < n_keys; i++)
		md.keys[i] = make_key(set, i, &g);
	qsort(md.keys, n_keys, sizeof(*md.keys), cmp_u32);
	for (uint32_t i = 1; i < n_keys; i++)
		assert_int_not_equal(md.keys[i], md.keys[i - 1]);
	for (uint32_t i = 0; i < n_keys; i++)
		md.homes[i] = home_of(max, md.keys[i]);

	assert_int_equal(u32map_init(&m, max, simd), 0);
	__builtin_cpu_init();
	assert_int_equal(m.simd, simd && __builtin_cpu_supports("avx2"));
	for (uint32_t op = 0; op < N_OPS; op++) {
		uint64_t r = idgen_next(&g);
		uint32_t idx = (uint32_t)(r >> 32) % n_keys;
		uint32_t key = md.keys[idx];
		void *val = (void *)(uintptr_t)(16 * (op + 1));
		unsigned kind = (unsigned)(r % 100);

		if (kind < 45) {
			int want = md.values[idx] ? 0 : md.count >= max ? -ENOSPC : 0;

			assert_int_equal(u32map_put(&m, key, val), want);
			if (want == 0) {
				md.count += md.values[idx] == NULL;
				md.values[idx] = val;
			} else {
				enospc++;
			}
		} else if (kind < 80) {
			assert_ptr_equal(u32map_get(&m, key), md.values[idx]);
		} else {
			assert_ptr_equal(u32map_del(&m, key), md.values[idx]);
			md.count -= md.values[idx] != NULL;
			dels += md.values[idx] != NULL;
			md.values[idx] = NULL;
		}
		if (op % 997 == 0)
			check_table(&m, &md);
	}
	check_table(&m, &md);
	for (uint32_t i = 0; i < n_keys; i++)
		assert_ptr_equal(u32map_get(&m, md.keys[i]), md.values[i]);
	/* The sequences did reach the limit and delete from full runs. */
	if (n_keys > max)
		assert_int_not_equal(enospc, 0);
	assert_int_not_equal(dels, 0);
	u32map_destroy(&m);
	free(md.keys);
	free(md.homes);
	free(md.values);
}

static void test_model_simd(void **state)
{
	(void)state;
	run_model(true, 1024, 2000, KEYS_SEQUENTIAL, 11);
	run_model(true, 1024, 2000, KEYS_RANDOM, 12);
	run_model(true, 5, 12, KEYS_SEQUENTIAL, 13);
	run_model(true, 100, 230, KEYS_RANDOM, 14);
	run_model(true, 300, 500, KEYS_CLUSTERED, 15);
}

static void test_model_scalar(void **state)
{
	(void)state;
	run_model(false, 1024, 2000, KEYS_SEQUENTIAL, 11);
	run_model(false, 1024, 2000, KEYS_RANDOM, 12);
	run_model(false, 5, 12, KEYS_SEQUENTIAL, 13);
	run_model(false, 100, 230, KEYS_RANDOM, 14);
	run_model(false, 300, 500, KEYS_CLUSTERED, 15);
}

static void test_limits(void **state)
{
	struct sp_u32map m;
	int x;

	(void)state;
	assert_int_equal(u32map_init(&m, 0, true), -EINVAL);
	assert_int_equal(u32map_init(&m, 3, true), 0);
	assert_int_equal(m.mask + 1, 8);
	assert_int_equal(u32map_put(&m, 0, &x), -EINVAL);
	assert_null(u32map_get(&m, 0));
	assert_null(u32map_del(&m, 0));
	assert_int_equal(m.count, 0);
	assert_int_equal(u32map_put(&m, 7, &x), 0);
	assert_int_equal(u32map_put(&m, 8, &x), 0);
	assert_int_equal(u32map_put(&m, 9, &x), 0);
	assert_int_equal(u32map_put(&m, 10, &x), -ENOSPC);
	assert_null(u32map_get(&m, 10));
	/* Replacing an existing key is not an insertion. */
	assert_int_equal(u32map_put(&m, 9, &m), 0);
	assert_ptr_equal(u32map_get(&m, 9), &m);
	assert_ptr_equal(u32map_del(&m, 8), &x);
	assert_null(u32map_del(&m, 8));
	assert_int_equal(u32map_put(&m, 10, &x), 0);
	assert_int_equal(m.count, 3);
	/* The largest key is an ID like any other. */
	assert_ptr_equal(u32map_del(&m, 7), &x);
	assert_int_equal(u32map_put(&m, UINT32_MAX, &m), 0);
	assert_ptr_equal(u32map_get(&m, UINT32_MAX), &m);
	u32map_destroy(&m);
	/* 2 * max slots at least, a power of two. */
	assert_int_equal(u32map_init(&m, 1000, false), 0);
	assert_int_equal(m.mask + 1, 2048);
	u32map_destroy(&m);
}

struct each_ctx {
	uint32_t sum;
	uint32_t n;
};

static void each_fn(uint32_t key, void *value, void *arg)
{
	struct each_ctx *c = arg;

	assert_ptr_equal(value, (void *)(uintptr_t)(key * 8));
	c->sum += key;
	c->n++;
}

static void test_each(void **state)
{
	struct sp_u32map m;
	struct each_ctx c = { 0 };

	(void)state;
	assert_int_equal(u32map_init(&m, 100, true), 0);
	for (uint32_t k = 1; k <= 100; k++)
		assert_int_equal(u32map_put(&m, k, (void *)(uintptr_t)(k * 8)), 0);
	for (uint32_t k = 2; k <= 100; k += 2)
		u32map_del(&m, k);
	u32map_each(&m, each_fn, &c);
	assert_int_equal(c.n, 50);
	assert_int_equal(c.sum, 2500); /* 1 + 3 + ... + 99 */
	u32map_destroy(&m);
}

/* `n` keys (>= start) whose home slot in a table for `max` is `home`. */
static void keys_with_home(uint32_t max, uint32_t home, uint32_t *out,
			   int n, uint32_t *start)
{
	for (uint32_t k = *start; n > 0; k++) {
		if (home_of(max, k) == home) {
			*out++ = k;
			n--;
		}
		*start = k + 1;
	}
}

static void *v(uint32_t key)
{
	return (void *)(uintptr_t)(key * 8);
}

static void put_all(struct sp_u32map *m, const uint32_t *keys, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(u32map_put(m, keys[i], v(keys[i])), 0);
}

static void expect_slots(const struct sp_u32map *m, const uint32_t want[16])
{
	for (int i = 0; i < 16; i++)
		assert_int_equal(m->keys[i], want[i]);
	for (int i = 0; i < 16; i++)
		if (want[i])
			assert_ptr_equal(u32map_get(m, want[i]), v(want[i]));
}

/*
 * A table of 16 slots (max 8).  Keys A* have home 15, B* home 0, C home 2:
 * their runs wrap around the end of the table.
 */
static void run_collisions(bool simd)
{
	uint32_t a[3], b[2], c[1], start = 1;
	struct sp_u32map m;

	keys_with_home(8, 15, a, 3, &start);
	start = 1;
	keys_with_home(8, 0, b, 2, &start);
	start = 1;
	keys_with_home(8, 2, c, 1, &start);

	assert_int_equal(u32map_init(&m, 8, simd), 0);
	put_all(&m, (uint32_t[]){ a[0], a[1], b[0], a[2], b[1] }, 5);
	expect_slots(&m, (uint32_t[16]){ [15] = a[0], [0] = a[1], [1] = b[0],
					 [2] = a[2], [3] = b[1] });
	/* Deleting the head of the run pulls every later entry back. */
	assert_ptr_equal(u32map_del(&m, a[0]), v(a[0]));
	expect_slots(&m, (uint32_t[16]){ [15] = a[1], [0] = b[0], [1] = a[2],
					 [2] = b[1] });
	assert_ptr_equal(u32map_del(&m, b[0]), v(b[0]));
	expect_slots(&m, (uint32_t[16]){ [15] = a[1], [0] = a[2], [1] = b[1] });
	assert_null(u32map_get(&m, a[0]));
	assert_null(u32map_get(&m, b[0]));
	u32map_destroy(&m);

	/* An entry already at its home slot stays when a hole opens before it. */
	assert_int_equal(u32map_init(&m, 8, simd), 0);
	put_all(&m, (uint32_t[]){ b[0], b[1], c[0] }, 3);
	expect_slots(&m, (uint32_t[16]){ [0] = b[0], [1] = b[1], [2] = c[0] });
	assert_ptr_equal(u32map_del(&m, b[0]), v(b[0]));
	expect_slots(&m, (uint32_t[16]){ [0] = b[1], [2] = c[0] });
	/* ...and moves back into its home when pushed off it before. */
	put_all(&m, (uint32_t[]){ a[0], a[1], a[2] }, 3);
	/* a[0] at 15, a[1] at 1 (0 taken), a[2] at 3 (2 taken). */
	expect_slots(&m, (uint32_t[16]){ [15] = a[0], [0] = b[1], [1] = a[1],
					 [2] = c[0], [3] = a[2] });
	assert_ptr_equal(u32map_del(&m, b[1]), v(b[1]));
	/* c stays at its home; a[2] (home 15) jumps over it into slot 1. */
	expect_slots(&m, (uint32_t[16]){ [15] = a[0], [0] = a[1], [1] = a[2],
					 [2] = c[0] });
	u32map_destroy(&m);
}

static void test_collisions_simd(void **state)
{
	(void)state;
	run_collisions(true);
}

static void test_collisions_scalar(void **state)
{
	(void)state;
	run_collisions(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_simd),
		cmocka_unit_test(test_model_scalar),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_collisions_simd),
		cmocka_unit_test(test_collisions_scalar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
