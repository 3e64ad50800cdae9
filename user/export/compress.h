/* SPDX-License-Identifier: MIT */
/* gzip (RFC 1952) of request bodies and of compressed gRPC replies, zlib. */
#ifndef SPANPROBE_COMPRESS_H
#define SPANPROBE_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Compress `len` bytes at `in` at zlib `level` (1 fastest .. 9).  On
 * success returns 0 and a malloc'd buffer in *out of *out_len bytes.
 * Returns -ENOMEM, or -EINVAL for a bad level.
 */
int compress_gzip(const uint8_t *in, size_t len, int level, uint8_t **out,
		  size_t *out_len);

/*
 * Level 1 with ISA-L writes with a Huffman code made from the thread's own
 * input: from an input of at least COMPRESS_TRAIN_MIN bytes, made again
 * every COMPRESS_TRAIN_EVERY inputs (compress.c says when else).
 */
#define COMPRESS_TRAIN_MIN (64u << 10)
#define COMPRESS_TRAIN_EVERY 64

/*
 * Decompress one gzip member.  The output is bounded by `max_out` bytes:
 * beyond, -EFBIG.  Returns 0 (and *out / *out_len as above), -EBADMSG for
 * corrupt or truncated input, or -ENOMEM.
 */
int compress_gunzip(const uint8_t *in, size_t len, size_t max_out,
		    uint8_t **out, size_t *out_len);

#endif /* SPANPROBE_COMPRESS_H */
