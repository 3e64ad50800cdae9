/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SQL sanitiser and summary.  The input: one
 * byte for the dialect (value % 3), one for the output's size (0: the
 * largest), then the SQL text.  Checked: the output stays within its
 * size and is a string of its length; it has no control byte and no
 * space at either end; read again, it holds no literal and no cut
 * string (every one became "?"), and sanitising it again changes
 * nothing; the summary's fields are strings, the operation upper case.
 *
 *   make BUILD=build-dev build-dev/fuzz/fuzz_sql
 *   build-dev/fuzz/fuzz_sql -dict=tests/fuzz/sql.dict tests/fuzz/corpus_sql
 */
#include "protocol/sql.h"
#include "protocol/sql_lex.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX 4096

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

static void check_output(const char *out, size_t n, size_t cap,
			 enum sql_dialect d)
{
	struct sql_lexer l;
	struct sql_token t;

	CHECK(n < cap);
	CHECK(out[n] == '\0' && strlen(out) == n);
	if (n)
		CHECK(out[0] != ' ' && out[n - 1] != ' ');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];

		CHECK(c >= ' ' && c != 0x7f);
	}
	sql_lex_init(&l, out, n, d);
	do {
		sql_lex(&l, &t);
		CHECK(t.kind != TK_LITERAL && t.kind != TK_UNTERMINATED);
	} while (t.kind != TK_END);
}

static void check_summary(const char *in, size_t len, enum sql_dialect d)
{
	struct sql_summary s;

	memset(&s, 0x55, sizeof(s));
	sql_summarize_dialect(in, len, &s, d);
	CHECK(memchr(s.operation, '\0', sizeof(s.operation)));
	CHECK(memchr(s.collection, '\0', sizeof(s.collection)));
	for (const char *p = s.operation; *p; p++)
		CHECK((*p >= 'A' && *p <= 'Z') || *p == '_');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[OUT_MAX], again[OUT_MAX];
	enum sql_dialect d;
	size_t cap, n;

	if (size < 2)
		return 0;
	d = (enum sql_dialect)(data[0] % 3);
	cap = data[1] ? data[1] : OUT_MAX;
	data += 2;
	size -= 2;
	/* Exactly `size` bytes, so that a read past them shows. */
	char *in = malloc(size ? size : 1);

	if (!in)
		return 0;
	memcpy(in, data, size);
	n = sql_sanitize_dialect(in, size, out, cap, d);
	check_output(out, n, cap, d);
	CHECK(sql_sanitize_dialect(out, n, again, cap, d) == n);
	CHECK(!memcmp(out, again, n + 1));
	check_summary(in, size, d);
	free(in);
	return 0;
}
