/* SPDX-License-Identifier: MIT */
/*
 * The SQL lexer under the sanitiser and the summary (protocol/sql.c):
 * tokens as far as spans need them (literals, names, brackets), by
 * dialect.  Internal to protocol/.
 */
#ifndef SPANPROBE_SQL_LEX_H
#define SPANPROBE_SQL_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/sql.h"

enum sql_tok {
	TK_END = 0,
	TK_SPACE,        /* white space or a comment */
	TK_UNTERMINATED, /* a string, quoted name or comment cut short */
	TK_LITERAL,      /* a string or a number */
	TK_PARAM,        /* $1 or ? */
	TK_WORD,         /* a name or keyword */
	TK_NAME,         /* a quoted name: "..." or `...` */
	TK_OPEN,
	TK_CLOSE,
	TK_COMMA,
	TK_OP,           /* any other byte, one at a time */
};

struct sql_lexer {
	const char *s;
	size_t len, i;
	enum sql_dialect d;
	enum sql_tok prev; /* the last token but spaces, for a number's sign */
};

struct sql_token {
	enum sql_tok kind;
	size_t start, len;
};

/* Read `len` bytes of `s` (NULL: none) by the rules of `d`. */
void sql_lex_init(struct sql_lexer *l, const char *s, size_t len,
		  enum sql_dialect d);

/*
 * The next token into `t`: TK_END at the end of the text, and after
 * TK_UNTERMINATED.  Every byte belongs to one token; no byte past the
 * text is read.
 */
void sql_lex(struct sql_lexer *l, struct sql_token *t);

#endif /* SPANPROBE_SQL_LEX_H */
