// SPDX-License-Identifier: MIT
#include "export/compress.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <libdeflate.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#ifdef SP_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* windowBits 15 + 16 selects the gzip wrapper instead of zlib's. */
#define GZIP_WINDOW (15 + 16)

/*
 * gzip with libdeflate: whole-buffer compression, about 1.5x faster than
 * zlib at level 1 on OTLP batches, with a slightly better ratio
 * (bench/encode).  One compressor per thread and level, kept.
 */
static int gzip_libdeflate(const uint8_t *in, size_t len, int level, uint8_t **out,
			   size_t *out_len)
{
	static __thread struct libdeflate_compressor *comp;
	static __thread int comp_level;
	size_t cap, n;
	uint8_t *buf;

	if (!comp || comp_level != level) {
		libdeflate_free_compressor(comp);
		comp = libdeflate_alloc_compressor(level);
		comp_level = level;
		if (!comp)
			return -ENOMEM;
	}
	cap = libdeflate_gzip_compress_bound(comp, len);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = libdeflate_gzip_compress(comp, in, len, buf, cap);
	if (n == 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

#ifdef SP_HAVE_ISAL
/* Output room kept between calls up to this size; a larger one is freed. */
#define ISAL_KEEP_OUT (4u << 20)

/*
 * Level 1's Huffman code, made from the thread's own input.  igzip's
 * level 1 counts the symbols of each block and builds a code for it.  Its
 * level 0 matches with one hash and writes with a code given beforehand:
 * on bench/throughput's batches, with igzip's generic code the ratio
 * falls from 6.42 to 5.51, with a code made from an earlier batch it
 * stays at 6.41, and the time is 17 % less than level 1's.  The code is made
 * from TRAIN_SLICES slices spread over an input of at least TRAIN_MIN
 * bytes, and made again every TRAIN_EVERY inputs, or at the next input
 * when one compressed a quarter worse than the input it was made from
 * (the traffic changed).  Every symbol keeps a code
 * (isal_create_hufftables(), not its _subset), so any input can be
 * written with it: a stale code costs ratio, never correctness.  Until a
 * large enough input came, level 1 is igzip's own.
 */
#define TRAIN_MIN COMPRESS_TRAIN_MIN
#define TRAIN_SLICES 8
#define TRAIN_SLICE (32u << 10)
#define TRAIN_EVERY COMPRESS_TRAIN_EVERY

struct isal_trained {
	struct isal_hufftables tables;
	struct isal_huff_histogram hist;
	uint32_t since;        /* inputs compressed with these tables */
	uint32_t ratio_x16;    /* 16 x (input / output) when they were made */
	bool ready;
};

static void isal_train(struct isal_trained *t, const uint8_t *in, size_t len)
{
	size_t step = len / TRAIN_SLICES;
	size_t slice = step < TRAIN_SLICE ? step : TRAIN_SLICE;

	memset(&t->hist, 0, sizeof(t->hist));
	for (size_t i = 0; i < TRAIN_SLICES; i++)
		isal_update_histogram((uint8_t *)in + i * step, (int)slice, &t->hist);
	t->ready = isal_create_hufftables(&t->tables, &t->hist) == 0;
	t->since = 0;
	t->ratio_x16 = 0;
}

/*
 * The trained tables for this input, training them first when due;
 * NULL: igzip's own level 1 (not trained yet, or no memory).
 */
static struct isal_trained *isal_trained_for(const uint8_t *in, size_t len)
{
	static __thread struct isal_trained *t;

	if (!t && len >= TRAIN_MIN)
		t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (len >= TRAIN_MIN && (!t->ready || t->since >= TRAIN_EVERY))
		isal_train(t, in, len);
	if (!t->ready)
		return NULL;
	t->since++;
	return t;
}

/* How the trained tables did on an input of `len` bytes. */
static void isal_trained_result(struct isal_trained *t, size_t len, size_t out)
{
	uint64_t ratio_x16 = out ? (uint64_t)len * 16 / out : 0;

	if (len < TRAIN_MIN)
		return;
	if (!t->ratio_x16)
		t->ratio_x16 = (uint32_t)ratio_x16;
	else if (ratio_x16 * 4 < (uint64_t)t->ratio_x16 * 3)
		t->since = TRAIN_EVERY; /* a quarter worse: train again */
}

/* The stream kept per thread, with its level buffer; NULL: no memory. */
static struct isal_zstream *isal_stream(void)
{
	static __thread struct isal_zstream *st;

	if (st)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	isal_deflate_init(st);
	st->level_buf = malloc(ISAL_DEF_LVL3_DEFAULT);
	if (!st->level_buf) {
		free(st);
		st = NULL;
	}
	return st;
}

/*
 * gzip with ISA-L's igzip (levels 1 to 3): about 4x faster than libdeflate
 * level 1 on OTLP batches, for a ratio 4 % lower (bench/encode: 0.27 ms
 * against 1.07 ms per 1000 spans, ratio 5.08 against 5.31).  Level 1 is
 * igzip's level 0 with trained tables (above), 2 and 3 its own.  One
 * stream, its level buffer and its output room per thread, kept: the
 * output room must hold the worst case, several times what a batch
 * compresses to, and a fresh buffer that size each time is fresh pages
 * each time (the allocator gives large blocks back to the kernel).  The
 * result is copied out at its size.  0: done; -EAGAIN: the output did not
 * fit its bound (libdeflate then does it); -ENOMEM.
 */
static int gzip_isal(const uint8_t *in, size_t len, int level, uint8_t **out,
		     size_t *out_len)
{
	static __thread uint8_t *room;
	static __thread size_t room_cap;
	struct isal_trained *trained = NULL;
	size_t cap = len + len / 8 + 1024;
	struct isal_zstream *st;
	int ret = 0;

	if (len > UINT32_MAX / 2)
		return -EAGAIN;
	st = isal_stream();
	if (!st)
		return -ENOMEM;
	if (cap > room_cap) {
		free(room);
		room_cap = 0;
		room = malloc(cap);
		if (!room)
			return -ENOMEM;
		room_cap = cap;
	}
	if (level == 1)
		trained = isal_trained_for(in, len);
	isal_deflate_reset(st);
	st->level_buf_size = ISAL_DEF_LVL3_DEFAULT;
	st->gzip_flag = IGZIP_GZIP;
	if (trained && isal_deflate_set_hufftables(st, &trained->tables,
						   IGZIP_HUFFTABLE_CUSTOM) != COMP_OK)
		trained = NULL; /* igzip's own level 1, then */
	if (!trained) /* not the last call's trained code */
		isal_deflate_set_hufftables(st, NULL, IGZIP_HUFFTABLE_DEFAULT);
	st->level = trained ? 0 : (uint32_t)level;
	st->end_of_stream = 1;
	st->flush = NO_FLUSH;
	st->next_in = (uint8_t *)in;
	st->avail_in = (uint32_t)len;
	st->next_out = room;
	st->avail_out = (uint32_t)cap;
	if (isal_deflate(st) != COMP_OK || st->internal_state.state != ZSTATE_END)
		ret = -EAGAIN;
	else if (!(*out = malloc(st->total_out ? st->total_out : 1)))
		ret = -ENOMEM;
	if (!ret) {
		memcpy(*out, room, st->total_out);
		*out_len = st->total_out;
		if (trained)
			isal_trained_result(trained, len, st->total_out);
	}
	if (room_cap > ISAL_KEEP_OUT) {
		free(room);
		room = NULL;
		room_cap = 0;
	}
	return ret;
}
#endif

/* Levels 1 to 3 by ISA-L where it is built in, the others by libdeflate. */
int compress_gzip(const uint8_t *in, size_t len, int level, uint8_t **out,
		  size_t *out_len)
{
	if (level < 1 || level > 9)
		return -EINVAL;
#ifdef SP_HAVE_ISAL
	if (level <= 3) {
		int err = gzip_isal(in, len, level, out, out_len);

		if (err != -EAGAIN)
			return err;
	}
#endif
	return gzip_libdeflate(in, len, level, out, out_len);
}

int compress_gunzip(const uint8_t *in, size_t len, size_t max_out,
		    uint8_t **out, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = len * 4 + 64;
	uint8_t *buf = NULL, *grown;
	int ret = Z_OK;

	if (cap > max_out)
		cap = max_out ? max_out : 1;
	if (inflateInit2(&zs, GZIP_WINDOW) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	while (ret != Z_STREAM_END) {
		if (!buf || zs.avail_out == 0) {
			if (buf && cap >= max_out) {
				ret = -EFBIG;
				break;
			}
			if (buf)
				cap = cap * 2 > max_out ? max_out : cap * 2;
			grown = realloc(buf, cap);
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			buf = grown;
			zs.next_out = buf + zs.total_out;
			zs.avail_out = (uInt)(cap - zs.total_out);
		}
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END) {
			ret = ret == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			break;
		}
		if (ret == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
			ret = -EBADMSG; /* truncated */
			break;
		}
	}
	inflateEnd(&zs);
	/* A bound of 0 still takes a 1-byte buffer, which a 1-byte member
	 * fills without asking for more. */
	if (ret == Z_STREAM_END && zs.total_out > max_out)
		ret = -EFBIG;
	if (ret != Z_STREAM_END) {
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
}
