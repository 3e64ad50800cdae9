// SPDX-License-Identifier: MIT
#include "export/compress.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

/* windowBits 15 + 16 selects the gzip wrapper instead of zlib's. */
#define GZIP_WINDOW (15 + 16)

int compress_gzip(const uint8_t *in, size_t len, int level, uint8_t **out,
		  size_t *out_len)
{
	z_stream zs = { 0 };
	uLong cap;
	uint8_t *buf;
	int ret;

	if (level < 1 || level > 9)
		return -EINVAL;
	if (deflateInit2(&zs, level, Z_DEFLATED, GZIP_WINDOW, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	/* deflateBound() is exact enough to finish in one call. */
	cap = deflateBound(&zs, (uLong)len);
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	ret = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
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
