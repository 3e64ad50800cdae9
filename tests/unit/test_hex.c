/* SPDX-License-Identifier: MIT */
/* Hex encoding: the vector version against the scalar reference; decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/hex.h"
#include "util/ids.h"

#define CANARY 0x5a

static void test_impl_matches_cpu(void **state)
{
	(void)state;
	__builtin_cpu_init();
	assert_string_equal(hex_impl(),
			    __builtin_cpu_supports("avx2") ? "avx2" : "scalar");
}

static void test_every_byte_value(void **state)
{
	uint8_t in[256];
	char out[512], want[513];

	(void)state;
	for (int i = 0; i < 256; i++) {
		in[i] = (uint8_t)i;
		snprintf(want + 2 * i, 3, "%02x", i);
	}
	hex_encode(out, in, 256);
	assert_memory_equal(out, want, 512);
	hex_encode_scalar(out, in, 256);
	assert_memory_equal(out, want, 512);
}

/* All lengths 0..100 at every alignment of 0..3, random bytes. */
static void test_lengths_against_scalar(void **state)
{
	struct sp_idgen g;
	uint8_t in[128];
	char fast[256 + 64], ref[256 + 64];

	(void)state;
	idgen_seed(&g, 3);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof(in); i += 8) {
			uint64_t v = idgen_next(&g);

			memcpy(in + i, &v, 8);
		}
		for (size_t off = 0; off < 4; off++) {
			for (size_t len = 0; len <= 100; len++) {
				memset(fast, CANARY, sizeof(fast));
				memset(ref, CANARY, sizeof(ref));
				hex_encode(fast + off, in + off, len);
				hex_encode_scalar(ref + off, in + off, len);
				/* Equal output, and nothing written past 2*len. */
				assert_memory_equal(fast, ref, sizeof(fast));
				assert_int_equal((uint8_t)fast[off + 2 * len], CANARY);
			}
		}
	}
}

static void test_decode_round_trip(void **state)
{
	struct sp_idgen g;
	uint8_t in[64], back[64];
	char hex[128];

	(void)state;
	idgen_seed(&g, 4);
	for (int round = 0; round < 100; round++) {
		for (size_t i = 0; i < sizeof(in); i += 8) {
			uint64_t v = idgen_next(&g);

			memcpy(in + i, &v, 8);
		}
		for (size_t len = 0; len <= sizeof(in); len++) {
			hex_encode(hex, in, len);
			memset(back, 0, sizeof(back));
			assert_int_equal(hex_decode(back, hex, len), 0);
			assert_memory_equal(back, in, len);
		}
	}
}

static void test_decode_upper_and_lower(void **state)
{
	uint8_t out[8];
	static const uint8_t want[8] = { 0x01, 0x23, 0x45, 0x67,
					 0x89, 0xab, 0xcd, 0xef };

	(void)state;
	assert_int_equal(hex_decode(out, "0123456789abcdef", 8), 0);
	assert_memory_equal(out, want, 8);
	assert_int_equal(hex_decode(out, "0123456789ABCDEF", 8), 0);
	assert_memory_equal(out, want, 8);
	assert_int_equal(hex_decode(out, "0123456789aBcDeF", 8), 0);
	assert_memory_equal(out, want, 8);
}

static void test_decode_rejects_non_hex(void **state)
{
	/* Neighbours of the digit ranges in ASCII, and a few others. */
	static const char bad[] = "/:@G`g -x\xff";
	char in[9];
	uint8_t out[4];

	(void)state;
	for (size_t b = 0; b < sizeof(bad) - 1; b++) {
		for (size_t pos = 0; pos < 8; pos++) {
			memcpy(in, "00112233", 9);
			in[pos] = bad[b];
			assert_int_equal(hex_decode(out, in, 4), -EINVAL);
		}
	}
	/* A NUL inside the 2*len digits is not a digit either. */
	assert_int_equal(hex_decode(out, "0011\0" "233", 4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_impl_matches_cpu),
		cmocka_unit_test(test_every_byte_value),
		cmocka_unit_test(test_lengths_against_scalar),
		cmocka_unit_test(test_decode_round_trip),
		cmocka_unit_test(test_decode_upper_and_lower),
		cmocka_unit_test(test_decode_rejects_non_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
