/* SPDX-License-Identifier: MIT */
/*
 * Low-cardinality routes for span names: "/users/123/orders/9f86d081884c7d65"
 * becomes "/users/{id}/orders/{id}".  A path segment is replaced when it is
 *  - all decimal digits ("123");
 *  - a UUID, 8-4-4-4-12 hex digits of either case;
 *  - 16 or more hex digits ("9f86d081884c7d65", a SHA-1);
 *  - 20 or more letters and digits with at least one digit (opaque tokens:
 *    "a1B2c3D4e5F6g7H8i9J0").
 * Everything else is kept, including empty segments and a trailing slash.
 * A query ('?' and after) is dropped.  Segments with '-', '_', '.' and
 * other punctuation are kept unless they are UUIDs, so slugs survive.
 */
#ifndef SPANPROBE_ROUTE_H
#define SPANPROBE_ROUTE_H

#include <stddef.h>

#define ROUTE_ID "{id}"

/*
 * Writes the template of `path` to `out` (always NUL-terminated when
 * outsize > 0).  An empty or NULL path gives "/".
 * Returns 0, -ENOSPC when `out` was too small (the result is cut), or
 * -EINVAL when out is NULL or outsize is 0.
 */
int route_template(const char *path, char *out, size_t outsize);
/* The same, and the template's length (what strlen(out) would say). */
int route_template_len(const char *path, char *out, size_t outsize,
		       size_t *out_len);
/* The same for a path whose length is known: `path_len` bytes, none of
 * them NUL, and a NUL after them. */
int route_template_n(const char *path, size_t path_len, char *out,
		     size_t outsize, size_t *out_len);

/* Path parameters removed from every exported path: session IDs. */
#define ROUTE_REDACT_DEFAULT "jsessionid,phpsessid,sessionid,sid"

/*
 * Copies `path` to `out` (outsize > 0) without its path parameters
 * (";name" or ";name=value", up to the next ';' or '/') whose name,
 * compared without case, is in ROUTE_REDACT_DEFAULT or in `extra` (a
 * comma-separated list; NULL: none).  "/a;jsessionid=X/b" gives "/a/b".
 * The result is never longer than the path.  Returns its length.
 */
size_t route_redact_params(const char *path, const char *extra, char *out,
			   size_t outsize);

#endif /* SPANPROBE_ROUTE_H */
