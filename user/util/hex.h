/* SPDX-License-Identifier: MIT */
/*
 * Lower-case hex encoding of IDs, the hot spot of every text and JSON
 * export.  An AVX2 version is chosen at run time when the CPU has it; the
 * scalar one is the reference and the fallback.
 */
#ifndef SPANPROBE_HEX_H
#define SPANPROBE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write 2*len hex digits for `len` bytes of `in` (no NUL). */
void hex_encode(char *out, const uint8_t *in, size_t len);
void hex_encode_scalar(char *out, const uint8_t *in, size_t len);

/*
 * Parse exactly 2*len lower- or upper-case hex digits.  Returns 0 or
 * -EINVAL on a non-hex character.
 */
int hex_decode(uint8_t *out, const char *in, size_t len);

/* Value of one hex digit (either case), or -1. */
int hex_digit(char c);

/*
 * Percent-decode (RFC 3986 section 2.1) [s, s+len) into `out`, which has
 * room for len + 1 bytes; the result is NUL-terminated.  Returns the
 * decoded length, or -EINVAL on a '%' not followed by two hex digits.
 */
int percent_decode(const char *s, size_t len, char *out);

/* Name of the implementation in use: "avx2" or "scalar". */
const char *hex_impl(void);

#endif /* SPANPROBE_HEX_H */
