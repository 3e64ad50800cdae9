/* SPDX-License-Identifier: MIT */
/*
 * The 64-bit-key table against a reference model (random operation
 * sequences), its limits, and backward-shift deletion on runs of colliding
 * keys, as test_u32map.c tests the 32-bit one.
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
#include "util/u64map.h"

#define N_OPS 100000

/* Home slot of `key` in a table sized for `max`: where it lands alone. */
static uint32_t home_of(uint32_t max, uint64_t key)
{
	struct sp_u64map m;
	uint32_t slot = UINT32_MAX;

	assert_int_equal(u64map_init(&m, max), 0);
	assert_int_equal(u64map_put(&m, key, &m), 0);
	for (uint32_t i = 0; i <= m.mask; i++)
		if (m.keys[i] == key)
			slot = i;
	u64map_destroy(&m);
	assert_int_not_equal(slot, UINT32_MAX);
	return slot;
}

struct model {
	uint64_t *keys;  /* sorted, distinct, non-zero */
	uint32_t *homes; /* home slot of keys[i] */
	void **values;   /* NULL: absent */
	uint32_t n_keys;
	uint32_t count;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t model_index(const struct model *md, uint64_t key)
{
	const uint64_t *k = bsearch(&key, md->keys, md->n_keys, sizeof(key), cmp_u64);

	assert_non_null(k);
	return (uint32_t)(k - md->keys);
}

/* Every entry lies after its home slot with no empty slot in between. */
static void check_table(const struct sp_u64map *m, const struct model *md)
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
	KEYS_SEQUENTIAL, /* 1, 2, 3... */
	KEYS_RANDOM,     /* hashes of address pairs */
	KEYS_POINTERS,   /* kernel socket addresses: aligned, high bits set */
	KEYS_HIGH,       /* differing only above bit 32 */
};

static uint64_t make_key(enum key_set set, uint32_t i, struct sp_idgen *g)
{
	switch (set) {
	case KEYS_RANDOM:
		return idgen_next(g) | 1u;
	case KEYS_POINTERS:
		return 0xffff888100000000ull + (uint64_t)(i + 1) * 2048u;
	case KEYS_HIGH:
		return (uint64_t)(i + 1) << 32 | 7u;
	default:
		return i + 1;
	}
}

static void run_model(uint32_t max, uint32_t n_keys,
		      enum key_set set, uint64_t seed)
{
	struct sp_u64map m;
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
	qsort(md.keys, n_keys, sizeof(*md.keys), cmp_u64);
	for (uint32_t i = 1; i < n_keys; i++)
		assert_int_not_equal(md.keys[i], md.keys[i - 1]);
	for (uint32_t i = 0; i < n_keys; i++)
		md.homes[i] = home_of(max, md.keys[i]);

	assert_int_equal(u64map_init(&m, max), 0);
	for (uint32_t op = 0; op < N_OPS; op++) {
		uint64_t r = idgen_next(&g);
		uint32_t idx = (uint32_t)(r >> 32) % n_keys;
		uint64_t key = md.keys[idx];
		void *val = (void *)(uintptr_t)(16 * (op + 1));
		unsigned kind = (unsigned)(r % 100);

		if (kind < 45) {
			int want = md.values[idx] ? 0 : md.count >= max ? -ENOSPC : 0;

			assert_int_equal(u64map_put(&m, key, val), want);
			if (want == 0) {
				md.count += md.values[idx] == NULL;
				md.values[idx] = val;
			} else {
				enospc++;
			}
		} else if (kind < 80) {
			assert_ptr_equal(u64map_get(&m, key), md.values[idx]);
		} else {
			assert_ptr_equal(u64map_del(&m, key), md.values[idx]);
			md.count -= md.values[idx] != NULL;
			dels += md.values[idx] != NULL;
			md.values[idx] = NULL;
		}
		if (op % 997 == 0)
			check_table(&m, &md);
	}
	check_table(&m, &md);
	for (uint32_t i = 0; i < n_keys; i++)
		assert_ptr_equal(u64map_get(&m, md.keys[i]), md.values[i]);
	/* The sequences did reach the limit and delete from full runs. */
	if (n_keys > max)
		assert_int_not_equal(enospc, 0);
	assert_int_not_equal(dels, 0);
	u64map_destroy(&m);
	free(md.keys);
	free(md.homes);
	free(md.values);
}

static void test_model(void **state)
{
	(void)state;
	run_model(1024, 2000, KEYS_SEQUENTIAL, 11);
	run_model(1024, 2000, KEYS_RANDOM, 12);
	run_model(5, 12, KEYS_SEQUENTIAL, 13);
	run_model(100, 230, KEYS_RANDOM, 14);
	run_model(300, 500, KEYS_POINTERS, 15);
	run_model(300, 500, KEYS_HIGH, 16);
}

static void test_limits(void **state)
{
	struct sp_u64map m;
	int x;

	(void)state;
	assert_int_equal(u64map_init(&m, 0), -EINVAL);
	assert_int_equal(u64map_init(&m, 3), 0);
	assert_int_equal(m.mask + 1, 8);
	assert_int_equal(u64map_put(&m, 0, &x), -EINVAL);
	assert_null(u64map_get(&m, 0));
	assert_null(u64map_del(&m, 0));
	assert_int_equal(m.count, 0);
	assert_int_equal(u64map_put(&m, 7, &x), 0);
	assert_int_equal(u64map_put(&m, 8, &x), 0);
	assert_int_equal(u64map_put(&m, 9, &x), 0);
	assert_int_equal(u64map_put(&m, 10, &x), -ENOSPC);
	assert_null(u64map_get(&m, 10));
	/* Replacing an existing key is not an insertion. */
	assert_int_equal(u64map_put(&m, 9, &m), 0);
	assert_ptr_equal(u64map_get(&m, 9), &m);
	assert_ptr_equal(u64map_del(&m, 8), &x);
	assert_null(u64map_del(&m, 8));
	assert_int_equal(u64map_put(&m, 10, &x), 0);
	assert_int_equal(m.count, 3);
	/* The largest key is a key like any other; one equal to another in
	 * its low 32 bits is a different key. */
	assert_ptr_equal(u64map_del(&m, 7), &x);
	assert_int_equal(u64map_put(&m, UINT64_MAX, &m), 0);
	assert_ptr_equal(u64map_get(&m, UINT64_MAX), &m);
	assert_null(u64map_get(&m, UINT32_MAX));
	assert_null(u64map_get(&m, (1ull << 32) | 10));
	u64map_destroy(&m);
	/* 2 * max slots at least, a power of two. */
	assert_int_equal(u64map_init(&m, 1000), 0);
	assert_int_equal(m.mask + 1, 2048);
	u64map_destroy(&m);
}

struct each_ctx {
	uint64_t sum;
	uint32_t n;
};

static void each_fn(uint64_t key, void *value, void *arg)
{
	struct each_ctx *c = arg;

	assert_ptr_equal(value, (void *)(uintptr_t)(key * 8));
	c->sum += key;
	c->n++;
}

static void test_each(void **state)
{
	struct sp_u64map m;
	struct each_ctx c = { 0 };

	(void)state;
	assert_int_equal(u64map_init(&m, 100), 0);
	for (uint64_t k = 1; k <= 100; k++)
		assert_int_equal(u64map_put(&m, k, (void *)(uintptr_t)(k * 8)), 0);
	for (uint64_t k = 2; k <= 100; k += 2)
		u64map_del(&m, k);
	u64map_each(&m, each_fn, &c);
	assert_int_equal(c.n, 50);
	assert_int_equal(c.sum, 2500); /* 1 + 3 + ... + 99 */
	u64map_destroy(&m);
}

/* `n` keys (>= start) whose home slot in a table for `max` is `home`. */
static void keys_with_home(uint32_t max, uint32_t home, uint64_t *out,
			   int n, uint64_t *start)
{
	for (uint64_t k = *start; n > 0; k++) {
		if (home_of(max, k) == home) {
			*out++ = k;
			n--;
		}
		*start = k + 1;
	}
}

static void *v(uint64_t key)
{
	return (void *)(uintptr_t)(key * 8);
}

static void put_all(struct sp_u64map *m, const uint64_t *keys, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(u64map_put(m, keys[i], v(keys[i])), 0);
}

static void expect_slots(const struct sp_u64map *m, const uint64_t want[16])
{
	for (int i = 0; i < 16; i++)
		assert_int_equal(m->keys[i], want[i]);
	for (int i = 0; i < 16; i++)
		if (want[i])
			assert_ptr_equal(u64map_get(m, want[i]), v(want[i]));
}

/*
 * A table of 16 slots (max 8).  Keys A* have home 15, B* home 0, C home 2:
 * their runs wrap around the end of the table.
 */
static void test_collisions(void **state)
{
	uint64_t a[3], b[2], c[1], start = 1;
	struct sp_u64map m;

	(void)state;
	keys_with_home(8, 15, a, 3, &start);
	start = 1;
	keys_with_home(8, 0, b, 2, &start);
	start = 1;
	keys_with_home(8, 2, c, 1, &start);

	assert_int_equal(u64map_init(&m, 8), 0);
	put_all(&m, (uint64_t[]){ a[0], a[1], b[0], a[2], b[1] }, 5);
	expect_slots(&m, (uint64_t[16]){ [15] = a[0], [0] = a[1], [1] = b[0],
					 [2] = a[2], [3] = b[1] });
	/* Deleting the head of the run pulls every later entry back. */
	assert_ptr_equal(u64map_del(&m, a[0]), v(a[0]));
	expect_slots(&m, (uint64_t[16]){ [15] = a[1], [0] = b[0], [1] = a[2],
					 [2] = b[1] });
	assert_ptr_equal(u64map_del(&m, b[0]), v(b[0]));
	expect_slots(&m, (uint64_t[16]){ [15] = a[1], [0] = a[2], [1] = b[1] });
	assert_null(u64map_get(&m, a[0]));
	assert_null(u64map_get(&m, b[0]));
	u64map_destroy(&m);

	/* An entry already at its home slot stays when a hole opens before it. */
	assert_int_equal(u64map_init(&m, 8), 0);
	put_all(&m, (uint64_t[]){ b[0], b[1], c[0] }, 3);
	expect_slots(&m, (uint64_t[16]){ [0] = b[0], [1] = b[1], [2] = c[0] });
	assert_ptr_equal(u64map_del(&m, b[0]), v(b[0]));
	expect_slots(&m, (uint64_t[16]){ [0] = b[1], [2] = c[0] });
	/* ...and moves back into its home when pushed off it before. */
	put_all(&m, (uint64_t[]){ a[0], a[1], a[2] }, 3);
	/* a[0] at 15, a[1] at 1 (0 taken), a[2] at 3 (2 taken). */
	expect_slots(&m, (uint64_t[16]){ [15] = a[0], [0] = b[1], [1] = a[1],
					 [2] = c[0], [3] = a[2] });
	assert_ptr_equal(u64map_del(&m, b[1]), v(b[1]));
	/* c stays at its home; a[2] (home 15) jumps over it into slot 1. */
	expect_slots(&m, (uint64_t[16]){ [15] = a[0], [0] = a[1], [1] = a[2],
					 [2] = c[0] });
	u64map_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_collisions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
