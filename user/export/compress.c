// SPDX-License-Identifier: MIT
#include "export/compress.h"

#include <errno.h>
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
 * gzip with ISA-L's igzip (levels 1 to 3): about 4x faster than libdeflate
 * level 1 on OTLP batches, for a ratio 4 % lower (bench/encode: 0.27 ms
 * against 1.07 ms per 1000 spans, ratio 5.08 against 5.31).  One stream,
 * its level buffer and its output room per thread, kept: the output room
 * must hold the worst case, several times what a batch compresses to, and
 * a fresh buffer that size each time is fresh pages each time (the
 * allocator gives large blocks back to the kernel).  The result is copied
 * out at its size.  0: done; -EAGAIN: the output did not fit its bound
 * (libdeflate then does it); -ENOMEM.
 */
static int gzip_isal(const uint8_t *in, size_t len, int level, uint8_t **out,
		     size_t *out_len)
{
	static __thread struct isal_zstream *st;
	static __thread uint8_t *room;
	static __thread size_t room_cap;
	size_t cap = len + len / 8 + 1024;
	int ret = 0;

	if (len > UINT32_MAX / 2)
		return -EAGAIN;
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		isal_deflate_init(st);
		st->level_buf = malloc(ISAL_DEF_LVL3_DEFAULT);
		if (!st->level_buf) {
			free(st);
			st = NULL;
			return -ENOMEM;
		}
	}
	if (cap > room_cap) {
		free(room);
		room_cap = 0;
		room = malloc(cap);
		if (!room)
			return -ENOMEM;
		room_cap = cap;
	}
	isal_deflate_reset(st);
	st->level_buf_size = ISAL_DEF_LVL3_DEFAULT;
	st->gzip_flag = IGZIP_GZIP;
	st->level = (uint32_t)level;
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
	if (ret != Z_STREAM_END) {
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
}
