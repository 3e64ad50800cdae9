/* SPDX-License-Identifier: MIT */
/*
 * SQL text as spans show it: every literal replaced by "?", so no value a
 * user stored reaches the collector, and the statement's operation and
 * table for its summary ("SELECT orders").  Shared by the PostgreSQL and
 * MySQL decoders.  Text may be cut short (a statement longer than what
 * was captured): both work as far as it goes.
 */
#ifndef SPANPROBE_SQL_H
#define SPANPROBE_SQL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * `len` bytes of `in` into `out` (`cap` bytes, NUL-terminated, cut at a
 * token when full) with literals replaced by "?": strings ('...', E'...',
 * "..." where MySQL quotes strings so, $$...$$ and $tag$...$tag$), numbers
 * (not the digits inside a name), hex and bit literals, TRUE/FALSE/NULL
 * stay; a list of literals only, as after IN or VALUES, collapses to
 * "(?)"; comments go; runs of white space become one space.  An
 * unterminated string or comment (text cut short) ends as "?".  Returns
 * the length written.
 */
size_t sql_sanitize(const char *in, size_t len, char *out, size_t cap);

/* What a statement does and to which table. */
struct sql_summary {
	char operation[32];   /* first keyword, upper case: "SELECT", "INSERT"...;
				 "" when none */
	char collection[128]; /* the one table it names (SELECT ... FROM t,
				 INSERT INTO t, UPDATE t, DELETE FROM t...),
				 as written without quotes; "" for none or
				 several (a join) */
};

/* Fill `out` from `len` bytes of `in`. */
void sql_summarize(const char *in, size_t len, struct sql_summary *out);

#endif /* SPANPROBE_SQL_H */
