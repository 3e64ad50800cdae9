/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the exporter's gzip (export/compress.c): inputs of
 * the fuzzer's choosing, one after another as the batches of one export
 * thread, compressed at the levels each asks for, every result inflated
 * by zlib (gzip wrapper: the trailer's CRC-32 and size are checked) and by
 * compress_gunzip(), which must give back the input exactly; then a byte
 * of the result is changed and compress_gunzip() must refuse it or stay
 * within its bound, as it must for the batch's bytes themselves.
 *
 * Level 1 is ISA-L's level 0 with a Huffman code made from an earlier
 * input of 64 KiB or more (where ISA-L is built in), made again every 64
 * inputs or after one that compressed a quarter worse.  That state is the
 * thread's and outlives a run, so each run first puts it in a known one
 * (reset_training()): the code is made from a fixed text, and a first
 * input of another kind makes the next large one train again.
 *
 * Input: up to MAX_BATCHES batches, each a header of four bytes and the
 * bytes it names:
 *   byte 0: bits 0-2 the generator that grows the bytes to the batch's
 *           size (repeated, changed every so often, noise, noise of the
 *           bytes' symbols, runs, the bytes then zeros, half and half),
 *           bits 3-6 the size (the bytes as they are, or around the
 *           training's 64 KiB, its slices' 256 KiB, the 4 MiB of output
 *           room kept), bit 7 level 1;
 *   byte 1: levels 2 to 9, one bit each;
 *   bytes 2-3: how many of the following bytes are the batch's (LE).
 *
 *   make fuzz && build/fuzz/fuzz_compress -dict=tests/fuzz/compress.dict \
 *     tests/fuzz/corpus_compress
 */
#include "export/compress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

#define TRAIN_MIN COMPRESS_TRAIN_MIN
#define TRAIN_EVERY COMPRESS_TRAIN_EVERY
#define MAX_BATCHES 12

static uint64_t next_noise(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* --- checks ------------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* zlib inflates `z` to exactly `in`, the member ending where `z` ends. */
static void check_inflate(const uint8_t *z, size_t zlen, const uint8_t *in,
			  size_t len)
{
	uint8_t *out = malloc(len + 1);
	z_stream zs = { 0 };

	CHECK(out != NULL);
	CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
	zs.next_in = (Bytef *)z;
	zs.avail_in = (uInt)zlen;
	zs.next_out = out;
	zs.avail_out = (uInt)(len + 1); /* one more: output past `len` shows */
	CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
	CHECK(zs.total_out == len && zs.avail_in == 0);
	CHECK(len == 0 || memcmp(out, in, len) == 0);
	inflateEnd(&zs);
	free(out);
	/* RFC 1952: magic, deflate; CRC-32 and size mod 2^32 at the end. */
	CHECK(zlen >= 18 && z[0] == 0x1f && z[1] == 0x8b && z[2] == 8);
	CHECK(le32(z + zlen - 8) == crc32(crc32(0, NULL, 0), in, (uInt)len));
	CHECK(le32(z + zlen - 4) == (uint32_t)len);
}

/* compress_gunzip() gives `in` back, and refuses it one byte short. */
static void check_gunzip(const uint8_t *z, size_t zlen, const uint8_t *in,
			 size_t len)
{
	uint8_t *out = NULL;
	size_t out_len = 0;

	CHECK(compress_gunzip(z, zlen, len, &out, &out_len) == 0);
	CHECK(out_len == len && (len == 0 || memcmp(out, in, len) == 0));
	free(out);
	if (len > 0)
		CHECK(compress_gunzip(z, zlen, len - 1, &out, &out_len) == -EFBIG);
}

/* A changed byte: refused, or output within the bound. */
static void check_corrupt(uint8_t *z, size_t zlen, size_t len, uint8_t at,
			  uint8_t xor)
{
	size_t i = (size_t)at * 257 % zlen;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	z[i] ^= xor | 1;
	ret = compress_gunzip(z, zlen, len + 16, &out, &out_len);
	CHECK(ret == 0 || ret == -EBADMSG || ret == -EFBIG);
	if (ret == 0) {
		CHECK(out_len <= len + 16);
		free(out);
	}
	z[i] ^= xor | 1;
}

static void check_level(const uint8_t *in, size_t len, int level, uint8_t at,
			uint8_t xor)
{
	uint8_t *z = NULL;
	size_t zlen = 0;

	CHECK(compress_gzip(in, len, level, &z, &zlen) == 0);
	check_inflate(z, zlen, in, len);
	check_gunzip(z, zlen, in, len);
	check_corrupt(z, zlen, len, at, xor);
	free(z);
}

/* --- batches ------------------------------------------------------------------- */

/* Around the training's minimum, its slices' 8 x 32 KiB, and the output
 * room compress.c keeps (len + len/8 + 1024 past 4 MiB: freed). */
static size_t batch_size(unsigned sel, size_t m, uint8_t vary)
{
	switch (sel) {
	case 0:
		return m;
	case 1:
		return 0;
	case 2:
		return 1;
	case 3:
		return TRAIN_MIN - 1;
	case 4:
		return TRAIN_MIN;
	case 5:
		return TRAIN_MIN + 1 + (size_t)vary * 97;
	case 6:
		return (256u << 10) - 128 + vary;
	case 7:
		return (512u << 10) + vary;
	case 8:
		return 3727360 - 128 + vary;
	default:
		return m + (size_t)vary * (sel - 8) * 16;
	}
}

/* Grow the batch's bytes `m[0..n)` to `len` bytes at `out`.  Not traced
 * for coverage: its loops over megabytes were a third of the time. */
__attribute__((noinline, no_sanitize("coverage"))) static void generate(uint8_t *out, size_t len, unsigned gen, const uint8_t *m,
		     size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL + n;
	size_t i = 0;

	for (size_t k = 0; k < n && k < 8; k++)
		x = x * 131 + m[k];
	if (n == 0 && gen != 2)
		gen = 4; /* nothing to repeat: runs */
	switch (gen) {
	case 0: /* repeated: matches all the way */
		for (; i < len; i++)
			out[i] = m[i % n];
		break;
	case 1: /* repeated, a counter every 61 bytes */
		for (; i < len; i++)
			out[i] = i % 61 ? m[i % n] : (uint8_t)(i / 61);
		break;
	case 2: /* noise: incompressible */
		for (; i < len; i++)
			out[i] = (uint8_t)(next_noise(&x) >> 24);
		break;
	case 3: /* the bytes' symbols at random: their histogram, few matches */
		for (; i < len; i++)
			out[i] = m[next_noise(&x) % n];
		break;
	case 4: /* runs of one byte */
		for (; i < len; i++)
			out[i] = (uint8_t)(i >> 12);
		break;
	case 5: /* the bytes, then zeros */
		for (; i < len; i++)
			out[i] = i < n ? m[i] : 0;
		break;
	default: /* repeated, then noise */
		for (; i < len; i++)
			out[i] = i < len / 2 ? m[i % n] : (uint8_t)(next_noise(&x) >> 24);
		break;
	}
}

/* The batch's bytes as a gzip member from outside (a collector's reply). */
static void check_gunzip_raw(const uint8_t *m, size_t n)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret = compress_gunzip(m, n, 1 << 16, &out, &out_len);

	CHECK(ret == 0 || ret == -EBADMSG || ret == -EFBIG);
	if (ret == 0) {
		CHECK(out_len <= 1 << 16);
		free(out);
	}
}

/* A batch at each level it asks for; its bytes 1 and 2 say which byte of
 * each result to change, and how. */
static void run_batch(const uint8_t *m, size_t n, uint8_t what, uint8_t levels)
{
	size_t len = batch_size((what >> 3) & 15, n, n ? m[0] : 0);
	uint8_t *in = malloc(len ? len : 1); /* exact: a read past it shows */
	uint8_t at = n > 1 ? m[1] : 0, xor = n > 2 ? m[2] : 0x55;

	CHECK(in != NULL);
	check_gunzip_raw(m, n);
	if (len == n)
		memcpy(in, m, n);
	else
		generate(in, len, what & 7, m, n);
	if (what & 0x80)
		check_level(in, len, 1, at, xor);
	for (int level = 2; level <= 9; level++)
		if (levels & (1u << (level - 2)))
			check_level(in, len, level, at, xor);
	free(in);
}

/*
 * Level 1's trained code as at the start of every run: TRAIN_EVERY inputs
 * make the next large one train (or it never did), and that one is a
 * fixed text; what compressed a quarter worse than it trains again.
 */
static void reset_training(void)
{
	static uint8_t text[TRAIN_MIN];
	uint8_t *z;
	size_t zlen;

	if (!text[0])
		for (size_t i = 0; i < sizeof(text); i++)
			text[i] = (uint8_t)("span.name=GET /api/v1/orders?id="[i % 32]);
	for (int i = 0; i < TRAIN_EVERY; i++) {
		CHECK(compress_gzip(text, 0, 1, &z, &zlen) == 0);
		free(z);
	}
	CHECK(compress_gzip(text, sizeof(text), 1, &z, &zlen) == 0);
	check_inflate(z, zlen, text, sizeof(text));
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *z = NULL;
	size_t zlen;

	CHECK(compress_gzip(data, size, 0, &z, &zlen) == -EINVAL);
	CHECK(compress_gzip(data, size, 10, &z, &zlen) == -EINVAL);
	reset_training();
	for (int b = 0; b < MAX_BATCHES && size >= 4; b++) {
		size_t n = (size_t)(data[2] | data[3] << 8);

		if (n > size - 4)
			n = size - 4;
		run_batch(data + 4, n, data[0], data[1]);
		data += 4 + n;
		size -= 4 + n;
	}
	return 0;
}
