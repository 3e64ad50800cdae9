/* SPDX-License-Identifier: MIT */
/*
 * The headers every export request carries, from three sources; for the
 * same name (any case) a later one wins: OTEL_EXPORTER_OTLP_HEADERS (or
 * its TRACES_ form), then the headers file, then --otlp-header.
 *
 * The headers file (--otlp-headers-file, SPANPROBE_OTLP_HEADERS_FILE),
 * for secrets mounted from a Kubernetes Secret: one "name=value" a line,
 * split at the first '=', blanks around name and value trimmed, the value
 * taken as written (no percent-decoding, unlike the variable); blank
 * lines and lines starting with '#' skipped; at most 64 KiB.  A line with
 * no '=', an empty name, a name that is not an HTTP token or a control
 * character in the value makes the file bad: refused at start, and when
 * it changes later, the previous headers stay.  Messages name the line,
 * never a value.
 *
 * The file is looked at (its stamp, util/files.h, following symlinks: a
 * Kubernetes update swaps a symlink) at most once per reload_check_ms,
 * before export requests are made, by the export thread.
 */
#ifndef SPANPROBE_OTLP_HEADERS_H
#define SPANPROBE_OTLP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/otlp_config.h"
#include "transport/http.h"
#include "util/files.h"

#define SP_OTLP_HEADERS_FILE_MAX (64u << 10)

/*
 * Parse a headers list ("k1=v1,k2=v2", W3C-baggage-like: blanks around
 * items trimmed, values percent-decoded, names HTTP tokens) and add the
 * pairs to `cfg`, replacing same-named ones and marking them as coming
 * from a flag or not.  Returns the number of pairs added, -EINVAL
 * (nothing added; *why points to a static reason) or -ENOMEM / -E2BIG
 * (more than SP_OTLP_MAX_HEADERS).  otlp_config_parse_headers() is this
 * with from_flag false.
 */
int otlp_headers_parse_list(struct sp_otlp_config *cfg, const char *list,
			    bool from_flag, const char **why);

/*
 * Parse the text of a headers file into out[] (at most `max`; names and
 * values malloc'd, the caller frees them).  Returns the number of headers,
 * or -EINVAL / -E2BIG with *line (from 1) and *why (a static phrase such
 * as "has no '='") saying what is wrong, nothing left allocated; -ENOMEM.
 */
int otlp_headers_parse_file(const char *text, size_t len,
			    struct sp_otlp_header *out, size_t max,
			    size_t *line, const char **why);

/* Whether the file at `path` reads and parses: 0, or -EINVAL (logged). */
int otlp_headers_check_file(const char *path);

/* The merged list requests carry, and the watch on the headers file. */
struct otlp_headers {
	struct http_header *list; /* names lower-cased; owned */
	size_t n;
	const struct sp_otlp_config *cfg;
	struct file_stamp stamp;   /* of the file the list was built from */
	struct file_stamp refused; /* of the last change that was bad */
	bool has_refused;
	int64_t next_check_ms;
	uint64_t reloads, reload_failures;
};

/* Build the list from `cfg` (which must outlive it) and its file.  0,
 * -EINVAL (logged) or -ENOMEM. */
int otlp_headers_open(struct otlp_headers *h, const struct sp_otlp_config *cfg);

/*
 * At most once per cfg->reload_check_ms (`now_ms`: clock_mono_ms()): when
 * the headers file changed, re-read it.  Returns true when the list was
 * replaced; a bad file is logged once and leaves the list as it was.
 */
bool otlp_headers_refresh(struct otlp_headers *h, int64_t now_ms);

void otlp_headers_close(struct otlp_headers *h); /* safe on a zeroed one */

#endif /* SPANPROBE_OTLP_HEADERS_H */
