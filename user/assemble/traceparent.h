/* SPDX-License-Identifier: MIT */
/*
 * W3C Trace Context "traceparent" header, version 00:
 *   "00-" 32 hex trace-id "-" 16 hex parent-id "-" 2 hex flags
 * (https://www.w3.org/TR/trace-context/#traceparent-header).
 */
#ifndef SPANPROBE_TRACEPARENT_H
#define SPANPROBE_TRACEPARENT_H

#include <stddef.h>
#include <stdint.h>

#define TRACEPARENT_LEN 55

struct traceparent {
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	uint8_t flags; /* bit 0: sampled */
};

/*
 * Parses the header value `s` of `len` bytes (surrounding whitespace is
 * the caller's to strip), lower-case hex as the spec requires; an
 * all-zero trace-id or parent-id is invalid.  Version 00 is exactly 55
 * characters.  A later version (not "ff") is read as the spec asks: its
 * first 55 characters as version 00's, then nothing or a '-' (what
 * follows is the later version's own).  Returns 0 and fills `out`, or
 * -EINVAL (out untouched).  Callers keep more than 55 characters of a
 * header, to tell a longer one.
 */
int traceparent_parse(const char *s, size_t len, struct traceparent *out);

#endif /* SPANPROBE_TRACEPARENT_H */
