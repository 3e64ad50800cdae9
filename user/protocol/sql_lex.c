// SPDX-License-Identifier: MIT
/*
 * The SQL lexer: white space and comments, strings of every quoting,
 * numbers, placeholders, names, one byte for anything else.  Cut or
 * binary text only ends early: every byte is some token.
 */
#include "protocol/sql_lex.h"

#include <ctype.h>
#include <string.h>

static bool is_space(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static bool is_ident_char(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

static unsigned char at(const struct sql_lexer *l, size_t i)
{
	return i < l->len ? (unsigned char)l->s[i] : 0;
}

/*
 * The string whose opening quote `q` is at l->i, `bs` the backslash rule:
 * 0 plain, 1 escape, 2 unknown (an odd run of backslashes before a quote
 * makes the rest unreadable).  Doubled quotes are the quote itself.
 * Returns false when it does not end (or cannot be read).
 */
static bool skip_quoted(struct sql_lexer *l, char q, int bs)
{
	size_t i = l->i + 1, slashes = 0;

	for (; i < l->len; i++) {
		char c = l->s[i];

		if (c == '\\') {
			if (bs == 1) {
				i++;
				continue;
			}
			slashes++;
			continue;
		}
		if (c == q) {
			if (bs == 2 && slashes % 2)
				return false;
			if (i + 1 < l->len && l->s[i + 1] == q) {
				i++;
				slashes = 0;
				continue;
			}
			l->i = i + 1;
			return true;
		}
		slashes = 0;
	}
	l->i = l->len;
	return false;
}

/* Backslashes in an ordinary '...' string, by dialect. */
static int string_backslash(const struct sql_lexer *l)
{
	return l->d == SQL_DIALECT_MYSQL ? 1 : l->d == SQL_DIALECT_POSTGRESQL ? 0 : 2;
}

/* A comment at l->i: skipped; 0 none, 1 skipped, -1 unterminated. */
static int skip_comment(struct sql_lexer *l)
{
	unsigned char c = at(l, l->i), n = at(l, l->i + 1);
	bool line = false;

	if (c == '-' && n == '-')
		/* MySQL wants white space after "--": x--1 is x - -1 (and
		 * "--" at the very end is two minus signs, as in a text cut
		 * there). */
		line = l->d != SQL_DIALECT_MYSQL ||
		       (l->i + 2 < l->len && is_space(at(l, l->i + 2)));
	else if (c == '#')
		/* PostgreSQL's # is an operator; elsewhere it may be a
		 * MySQL comment, and hiding more is the safe side. */
		line = l->d != SQL_DIALECT_POSTGRESQL;
	if (line) {
		const char *nl = memchr(l->s + l->i, '\n', l->len - l->i);

		l->i = nl ? (size_t)(nl - l->s) + 1 : l->len;
		return 1;
	}
	if (c != '/' || n != '*')
		return 0;
	/* PostgreSQL nests block comments, MySQL does not. */
	size_t depth = 1, i = l->i + 2;
	bool nest = l->d != SQL_DIALECT_MYSQL;

	while (i < l->len && depth) {
		if (l->s[i] == '*' && at(l, i + 1) == '/') {
			depth--;
			i += 2;
		} else if (nest && l->s[i] == '/' && at(l, i + 1) == '*') {
			depth++;
			i += 2;
		} else {
			i++;
		}
	}
	l->i = i;
	return depth ? -1 : 1;
}

/* A number at l->i (digits, or '.' and a digit): skipped. */
static void skip_number(struct sql_lexer *l)
{
	size_t i = l->i;
	unsigned char n = at(l, i + 1);

	if (at(l, i) == '0' && (n == 'x' || n == 'X' || n == 'b' || n == 'B' ||
				n == 'o' || n == 'O') &&
	    i + 2 < l->len && isxdigit((unsigned char)l->s[i + 2])) {
		for (i += 2; i < l->len && (isxdigit((unsigned char)l->s[i]) ||
					    l->s[i] == '_'); i++)
			;
		l->i = i;
		return;
	}
	while (i < l->len && (is_digit(l->s[i]) || l->s[i] == '_'))
		i++;
	if (at(l, i) == '.' && at(l, i + 1) != '.')
		for (i++; i < l->len && (is_digit(l->s[i]) || l->s[i] == '_'); i++)
			;
	if ((at(l, i) == 'e' || at(l, i) == 'E') &&
	    (is_digit(at(l, i + 1)) ||
	     ((at(l, i + 1) == '+' || at(l, i + 1) == '-') && is_digit(at(l, i + 2)))))
		for (i += 2; i < l->len && is_digit(l->s[i]); i++)
			;
	l->i = i;
}

/* $1, or a dollar-quoted string $$...$$ / $tag$...$tag$, at l->i. */
static enum sql_tok lex_dollar(struct sql_lexer *l)
{
	size_t i = l->i + 1, tag;
	const char *end;

	if (is_digit(at(l, i))) {
		while (i < l->len && is_digit(l->s[i]))
			i++;
		l->i = i;
		return TK_PARAM;
	}
	if (at(l, i) != '$' && !(is_ident_start(at(l, i)) && !is_digit(at(l, i)))) {
		l->i = i;
		return TK_OP;
	}
	while (i < l->len && is_ident_char(l->s[i]) && l->s[i] != '$')
		i++;
	if (at(l, i) != '$') { /* not a tag: "$" and a word */
		l->i++;
		return TK_OP;
	}
	tag = i + 1 - l->i; /* "$tag$" */
	end = memmem(l->s + l->i + tag, l->len - l->i - tag, l->s + l->i, tag);
	if (!end) {
		l->i = l->len;
		return TK_UNTERMINATED;
	}
	l->i = (size_t)(end - l->s) + tag;
	return TK_LITERAL;
}

/* A word at l->i; with a prefix that makes it a string (E'', N'', X'',
 * B'', U&'', _charset''), the string. */
static enum sql_tok lex_word(struct sql_lexer *l)
{
	size_t start = l->i, i = l->i;
	int bs = -1;

	while (i < l->len && is_ident_char(l->s[i]))
		i++;
	l->i = i;
	if (at(l, i) == '\'') {
		char c = l->s[start];

		if (i - start == 1 && (c == 'e' || c == 'E'))
			bs = 1;
		else if (i - start == 1 && strchr("nNxXbB", c))
			bs = string_backslash(l);
		else if (c == '_' && l->d != SQL_DIALECT_POSTGRESQL)
			bs = string_backslash(l);
	} else if (i - start == 1 && (l->s[start] == 'u' || l->s[start] == 'U') &&
		   at(l, i) == '&' && at(l, i + 1) == '\'') {
		l->i = i + 1;
		bs = 0;
	}
	if (bs < 0)
		return TK_WORD;
	return skip_quoted(l, '\'', bs) ? TK_LITERAL : TK_UNTERMINATED;
}

/* May a '-' or '+' here be a number's sign? */
static bool sign_here(const struct sql_lexer *l)
{
	unsigned char n = at(l, l->i + 1);

	if (!is_digit(n) && !(n == '.' && is_digit(at(l, l->i + 2))))
		return false;
	return l->prev == TK_END || l->prev == TK_OP || l->prev == TK_OPEN ||
	       l->prev == TK_COMMA;
}

static enum sql_tok lex_one(struct sql_lexer *l)
{
	unsigned char c = (unsigned char)l->s[l->i];
	int comment;

	if (is_space(c)) {
		while (l->i < l->len && is_space(l->s[l->i]))
			l->i++;
		return TK_SPACE;
	}
	comment = skip_comment(l);
	if (comment)
		return comment > 0 ? TK_SPACE : TK_UNTERMINATED;
	if (is_digit(c) || (c == '.' && is_digit(at(l, l->i + 1)) &&
			    !(l->i && is_ident_char(l->s[l->i - 1])))) {
		skip_number(l);
		return TK_LITERAL;
	}
	if ((c == '-' || c == '+') && sign_here(l)) {
		l->i++;
		skip_number(l);
		return TK_LITERAL;
	}
	if (is_ident_start(c))
		return lex_word(l);
	switch (c) {
	case '\'':
		return skip_quoted(l, '\'', string_backslash(l)) ? TK_LITERAL
								 : TK_UNTERMINATED;
	case '"':
		if (l->d == SQL_DIALECT_MYSQL)
			return skip_quoted(l, '"', 1) ? TK_LITERAL : TK_UNTERMINATED;
		return skip_quoted(l, '"', 0) ? TK_NAME : TK_UNTERMINATED;
	case '`':
		return skip_quoted(l, '`', 0) ? TK_NAME : TK_UNTERMINATED;
	case '$':
		return lex_dollar(l);
	}
	l->i++;
	switch (c) {
	case '?':
		return TK_PARAM;
	case '(':
		return TK_OPEN;
	case ')':
		return TK_CLOSE;
	case ',':
		return TK_COMMA;
	}
	return TK_OP;
}

void sql_lex(struct sql_lexer *l, struct sql_token *t)
{
	t->start = l->i;
	if (l->i >= l->len) {
		t->kind = TK_END;
		t->len = 0;
		return;
	}
	t->kind = lex_one(l);
	t->len = l->i - t->start;
	if (t->kind == TK_UNTERMINATED)
		l->i = l->len;
	if (t->kind != TK_SPACE)
		l->prev = t->kind;
}

void sql_lex_init(struct sql_lexer *l, const char *s, size_t len,
		  enum sql_dialect d)
{
	l->s = s ? s : "";
	l->len = s ? len : 0;
	l->i = 0;
	l->d = d;
	l->prev = TK_END;
}

