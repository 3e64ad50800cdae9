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
 * Where the dialects differ in what is a literal.  STANDARD: a backslash
 * before a quote inside '...' could be an escape (MySQL) or the string's
 * last byte (PostgreSQL); as it cannot tell, the rest of the text becomes
 * "?".  POSTGRESQL: backslashes are plain in '...' (standard conforming
 * strings) and escape only in E'...'; '#' is an operator.  MYSQL:
 * backslashes escape in every string, "..." is a string, '#' and "-- "
 * start comments, block comments do not nest.
 */
enum sql_dialect {
	SQL_DIALECT_STANDARD = 0,
	SQL_DIALECT_POSTGRESQL,
	SQL_DIALECT_MYSQL,
};

/*
 * `len` bytes of `in` into `out` (`cap` bytes, NUL-terminated when cap >
 * 0, cut before the first token that does not fit) with literals
 * replaced by "?": strings ('...' with '' inside, E'...', N'...', X'...',
 * B'...', U&'...', $$...$$ and $tag$...$tag$), numbers (integers,
 * decimals, exponents, 0x/0b/0o, with a leading sign after an operator,
 * "(" or ","; not the digits of a name) and MySQL's _charset'...'.  Names
 * stay ("..." and `...` included), and so do the placeholders $1 and ?
 * and TRUE/FALSE/NULL.  A parenthesised list of literals and
 * placeholders only, as after IN or VALUES, collapses to "(?)", and rows
 * of such lists separated by commas to one "(?)" (VALUES (1,'a'),(2,'b')
 * -> "VALUES (?)").  Comments go; runs of white space (and comments)
 * become one space; no space at either end.  An unterminated string,
 * quoted name or comment (text cut short) ends the output as "?".
 * Reads no byte past `len`; sanitising the output again changes nothing.
 * Returns the length written.  sql_sanitize() is the STANDARD dialect.
 */
size_t sql_sanitize(const char *in, size_t len, char *out, size_t cap);
size_t sql_sanitize_dialect(const char *in, size_t len, char *out, size_t cap,
			    enum sql_dialect dialect);

/* What a statement does and to which table. */
struct sql_summary {
	char operation[32];   /* first keyword, upper case: "SELECT", "INSERT"...;
				 "" when none */
	char collection[128]; /* the one table it names (SELECT ... FROM t,
				 INSERT INTO t, UPDATE t, DELETE FROM t...),
				 as written without quotes; "" for none or
				 several (a join) */
};

/*
 * Fill `out` from `len` bytes of `in`.  The operation is the statement's
 * first keyword (after leading "("), or for WITH the statement after its
 * common table expressions ("WITH" when cut before it); words of letters
 * and "_" only.  The collection is set for SELECT, INSERT, REPLACE,
 * UPDATE, DELETE, MERGE, TRUNCATE and CREATE/DROP/ALTER TABLE when every
 * table the statement names (FROM, JOIN, INTO, USING, subqueries and
 * common table expressions included; a common table expression's own
 * name is no table) is one: schema-qualified as written
 * ("public.orders"), quotes removed.  A FROM list, a subquery or function
 * in FROM, a writing statement inside another, or two different names
 * leave it "".
 */
void sql_summarize(const char *in, size_t len, struct sql_summary *out);
/* The same, reading strings and comments by the rules of `dialect`
 * (sql_summarize() is the STANDARD dialect: text past a string it cannot
 * read is not looked at). */
void sql_summarize_dialect(const char *in, size_t len, struct sql_summary *out,
			   enum sql_dialect dialect);

#endif /* SPANPROBE_SQL_H */
