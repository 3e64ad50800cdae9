// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export/compress.h"

static void test_round_trip(void **state)
{
	size_t n = 300000, zlen, outlen;
	uint8_t *in = malloc(n), *z, *out;
	int err;

	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i % 251 < 200 ? 'a' + i % 7 : i * 31);
	/* 1 to 3: ISA-L where built in (level 1 twice: its stream is kept),
	 * 5 and 9: libdeflate. */
	for (int level = 1; level <= 9; level += level < 3 ? 1 : level < 5 ? 2 : 4) {
		assert_int_equal(compress_gzip(in, n, level, &z, &zlen), 0);
		assert_true(zlen < n / 2);
		assert_int_equal(z[0], 0x1f); /* gzip magic, not a zlib header */
		assert_int_equal(z[1], 0x8b);
		assert_int_equal(compress_gunzip(z, zlen, n, &out, &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, in, n);
		free(out);
		/* Output bounded: one byte short is refused. */
		assert_int_equal(compress_gunzip(z, zlen, n - 1, &out, &outlen), -EFBIG);
		/* Truncated or corrupt input. */
		assert_int_equal(compress_gunzip(z, zlen / 2, n, &out, &outlen), -EBADMSG);
		z[zlen / 2] ^= 0xff;
		/* A corrupt stream may also decode past the bound first. */
		err = compress_gunzip(z, zlen, n, &out, &outlen);
		assert_true(err == -EBADMSG || err == -EFBIG);
		free(z);
	}
	assert_int_equal(compress_gzip(in, n, 0, &z, &zlen), -EINVAL);
	free(in);
}

/* gzip at `level` round-trips `n` bytes at `in`. */
static void round_trip(const uint8_t *in, size_t n, int level)
{
	uint8_t *z, *out;
	size_t zlen, outlen;

	assert_int_equal(compress_gzip(in, n, level, &z, &zlen), 0);
	assert_int_equal(compress_gunzip(z, zlen, n, &out, &outlen), 0);
	assert_int_equal(outlen, n);
	assert_memory_equal(out, in, n);
	free(out);
	free(z);
}

/* Bytes that do not compress come out whole at every level (ISA-L's
 * stored blocks, or libdeflate's). */
static void test_incompressible(void **state)
{
	size_t n = 1 << 20;
	uint8_t *in = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		in[i] = (uint8_t)x;
	}
	for (int level = 1; level <= 9; level += 8)
		round_trip(in, n, level);
	free(in);
}

/*
 * Level 1's Huffman code is made from earlier input (where ISA-L is built
 * in): input unlike the one it was made from (other bytes, random bytes,
 * small inputs), and inputs past the point where it is made again, still
 * round-trip.
 */
static void test_trained_code_other_input(void **state)
{
	size_t n = 200000;
	uint8_t *text = malloc(n), *other = malloc(n);
	uint64_t x = 0x2545f4914f6cdd1dULL;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		text[i] = (uint8_t)("span.name=GET /"[i % 15]);
		other[i] = (uint8_t)(i % 3 ? x : 0xf0 + i % 5);
	}
	for (int i = 0; i < 70; i++)
		round_trip(text, n, 1);
	round_trip(other, n, 1);
	round_trip(other, 100, 1);
	round_trip(text, n, 1);
	free(text);
	free(other);
}

static void test_empty(void **state)
{
	uint8_t *z, *out;
	size_t zlen, outlen;

	assert_int_equal(compress_gzip((const uint8_t *)"", 0, 1, &z, &zlen), 0);
	assert_int_equal(compress_gunzip(z, zlen, 16, &out, &outlen), 0);
	assert_int_equal(outlen, 0);
	free(out);
	free(z);
	assert_int_equal(compress_gunzip((const uint8_t *)"nope", 4, 16, &out, &outlen),
			 -EBADMSG);
}

/* A bound of 0 bytes: an empty member is within it, a 1-byte one is not
 * (the 1-byte buffer taken for it filled without asking for more). */
static void test_bound_zero(void **state)
{
	uint8_t *z, *out = NULL;
	size_t zlen, outlen;

	assert_int_equal(compress_gzip((const uint8_t *)"x", 1, 1, &z, &zlen), 0);
	assert_int_equal(compress_gunzip(z, zlen, 0, &out, &outlen), -EFBIG);
	assert_int_equal(compress_gunzip(z, zlen, 1, &out, &outlen), 0);
	assert_int_equal(outlen, 1);
	assert_int_equal(out[0], 'x');
	free(out);
	free(z);
	assert_int_equal(compress_gzip((const uint8_t *)"", 0, 1, &z, &zlen), 0);
	assert_int_equal(compress_gunzip(z, zlen, 0, &out, &outlen), 0);
	assert_int_equal(outlen, 0);
	free(out);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_incompressible),
		cmocka_unit_test(test_trained_code_other_input),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bound_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
