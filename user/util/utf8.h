/* SPDX-License-Identifier: MIT */
/*
 * Text from the wire and from processes is bytes; OTLP's strings are
 * UTF-8, and a receiver that checks (protobuf's own libraries do) refuses
 * the whole request for one bad byte: every span batched with it is lost.
 * So what a span or a resource keeps is mended once, where it is copied.
 */
#ifndef SPANPROBE_UTF8_H
#define SPANPROBE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Make s[0, n) valid UTF-8 in place (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF): a byte that does not start a whole
 * valid sequence becomes '?', and a valid sequence cut short by the end
 * (a value cut to fit) is cut off.  Returns the length kept.
 */
size_t utf8_mend(char *s, size_t n);

/*
 * Copy s[0, n) to dst (not overlapping) and say whether it was all ASCII:
 * the copy a span makes of a value and the test in one pass, a word at a
 * time, the last word overlapping the one before (no byte outside either
 * range is touched).
 */
static inline bool utf8_copy_ascii(char *dst, const char *s, size_t n)
{
	uint64_t acc = 0, w;
	uint32_t a, b;

	if (n > 16) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&w, s + i, 8);
			memcpy(dst + i, &w, 8);
			acc |= w;
		}
		memcpy(&w, s + n - 8, 8);
		memcpy(dst + n - 8, &w, 8);
		acc |= w;
	} else if (n >= 8) {
		/* Most values: two words, the second overlapping the first. */
		uint64_t v;

		memcpy(&w, s, 8);
		memcpy(&v, s + n - 8, 8);
		memcpy(dst, &w, 8);
		memcpy(dst + n - 8, &v, 8);
		acc = w | v;
	} else if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &b, 4);
		acc = a | b;
	} else if (n) {
		/* One to three bytes: the first, the middle and the last. */
		uint8_t x = (uint8_t)s[0], y = (uint8_t)s[n / 2], z = (uint8_t)s[n - 1];

		dst[0] = (char)x;
		dst[n / 2] = (char)y;
		dst[n - 1] = (char)z;
		acc = x | y | z;
	}
	return !(acc & 0x8080808080808080ULL);
}

#endif /* SPANPROBE_UTF8_H */
