// SPDX-License-Identifier: MIT
/*
 * SQL text for spans, on the lexer (protocol/sql_lex.c): the sanitiser
 * (literals -> "?") and the summary (operation and table).
 */
#include "protocol/sql.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "protocol/sql_lex.h"

/* ---- The sanitiser ---- */

#define SAN_DEPTH_MAX 32
#define SAN_NONE ((size_t)-1)

/* A "(" open in the output: where it is, and whether what followed is
 * literals only so far. */
struct san_frame {
	size_t open;   /* offset of the "(" in the output */
	size_t merge;  /* SAN_NONE, or where the ", " before it starts when
			  it follows a collapsed list: a row to drop */
	bool literals_only;
	bool any;
};

struct san {
	char *out;
	size_t cap, n;
	bool space, full;
	bool mysql;       /* "-- " starts a comment, "--x" does not */
	int depth;        /* open "(" */
	int frames;       /* of them with a frame (<= SAN_DEPTH_MAX) */
	bool after_group; /* the last token closed a collapsed list */
	size_t comma;     /* SAN_NONE, or the offset of "," after one */
	struct san_frame f[SAN_DEPTH_MAX];
};

/*
 * Is a space due before the next token?  Not at the start, and not after
 * "--" in MySQL, where "-- " would start a comment: "x--", a comment and
 * "1" are x minus minus one, and "x--?" says so again.
 */
static size_t space_due(const struct san *s)
{
	if (!s->space || !s->n)
		return 0;
	return !(s->mysql && s->n >= 2 && s->out[s->n - 1] == '-' &&
		 s->out[s->n - 2] == '-');
}

/* Append `n` bytes (and the pending space); false when they do not fit. */
static bool put(struct san *s, const char *p, size_t n)
{
	size_t sp = space_due(s);

	if (s->full || s->n + sp + n + 1 > s->cap) {
		s->full = true;
		return false;
	}
	if (sp)
		s->out[s->n++] = ' ';
	memcpy(s->out + s->n, p, n);
	s->n += n;
	s->space = false;
	return true;
}

static struct san_frame *top(struct san *s)
{
	return s->frames && s->frames == s->depth ? &s->f[s->frames - 1] : NULL;
}

/* A token other than a literal inside the innermost list. */
static void not_literal(struct san *s)
{
	struct san_frame *f = top(s);

	if (f)
		f->literals_only = false;
}

static void san_open(struct san *s)
{
	size_t at_open = s->n + space_due(s);
	size_t merge = s->comma;

	not_literal(s);
	if (!put(s, "(", 1))
		return;
	if (s->frames == s->depth && s->frames < SAN_DEPTH_MAX)
		s->f[s->frames++] = (struct san_frame){ at_open, merge, true, false };
	s->depth++;
}

static void san_close(struct san *s)
{
	struct san_frame *f = top(s);

	if (s->depth == 0) {
		put(s, ")", 1);
		return;
	}
	if (!f || !f->literals_only || !f->any) {
		if (!put(s, ")", 1))
			return;
		if (f)
			s->frames--;
		s->depth--;
		return;
	}
	/* A list of literals: "(?)", or nothing when it is one more row. */
	if (f->merge != SAN_NONE) {
		s->n = f->merge;
	} else {
		if (f->open + 4 > s->cap) {
			s->full = true;
			return;
		}
		memcpy(s->out + f->open, "(?)", 3);
		s->n = f->open + 3;
	}
	s->space = false;
	s->frames--;
	s->depth--;
	s->after_group = true;
}

static void san_token(struct san *s, const struct sql_lexer *l, const struct sql_token *t)
{
	const char *p = l->s + t->start;
	bool group = false;
	size_t comma = SAN_NONE;

	switch (t->kind) {
	case TK_END:
		return;
	case TK_SPACE:
		s->space = true;
		return;
	case TK_UNTERMINATED:
		put(s, "?", 1);
		s->full = true;
		return;
	case TK_LITERAL:
	case TK_PARAM:
		if (put(s, t->kind == TK_LITERAL ? "?" : p,
			t->kind == TK_LITERAL ? 1 : t->len) && top(s))
			top(s)->any = true;
		break;
	case TK_WORD:
		if ((t->len == 4 && (!strncasecmp(p, "NULL", 4) ||
				     !strncasecmp(p, "TRUE", 4))) ||
		    (t->len == 5 && !strncasecmp(p, "FALSE", 5))) {
			if (put(s, p, t->len) && top(s))
				top(s)->any = true;
			break;
		}
		not_literal(s);
		put(s, p, t->len);
		break;
	case TK_OPEN:
		san_open(s);
		break;
	case TK_CLOSE:
		group = top(s) && top(s)->literals_only && top(s)->any;
		san_close(s);
		break;
	case TK_COMMA:
		comma = s->n;
		put(s, ",", 1);
		break;
	case TK_NAME:
		not_literal(s);
		if (put(s, p, t->len))
			/* A name may hold any byte; a span, no control byte. */
			for (size_t i = s->n - t->len; i < s->n; i++)
				if ((unsigned char)s->out[i] < ' ' || s->out[i] == 0x7f)
					s->out[i] = '?';
		break;
	default:
		not_literal(s);
		put(s, p, t->len);
		break;
	}
	s->comma = s->after_group && t->kind == TK_COMMA ? comma : SAN_NONE;
	s->after_group = group;
}

size_t sql_sanitize_dialect(const char *in, size_t len, char *out, size_t cap,
			    enum sql_dialect dialect)
{
	struct sql_lexer l;
	struct sql_token t;
	struct san s = { .out = out, .cap = cap, .comma = SAN_NONE,
			 .mysql = dialect == SQL_DIALECT_MYSQL };

	if (!cap)
		return 0;
	sql_lex_init(&l, in, len, dialect);
	do {
		sql_lex(&l, &t);
		san_token(&s, &l, &t);
	} while (t.kind != TK_END && !s.full);
	out[s.n] = '\0';
	return s.n;
}

size_t sql_sanitize(const char *in, size_t len, char *out, size_t cap)
{
	return sql_sanitize_dialect(in, len, out, cap, SQL_DIALECT_STANDARD);
}

/* ---- The summary ---- */

#define SUM_DEPTH_MAX 32
#define SUM_CTE_MAX 8   /* common table expressions' names kept */
#define SUM_CTE_NAME 64

struct summ {
	struct sql_lexer l;
	struct sql_summary *out;
	char op[sizeof(((struct sql_summary *)0)->operation)];
	bool many;  /* several tables, or one it cannot name */
	bool named; /* out->collection holds the one so far */
	int depth;
	int from_list;           /* depth of an open FROM list, -1: none */
	bool distinct;           /* the last token was the word DISTINCT */
	bool cte_next;           /* a common table expression's name may come */
	int n_cte;
	char cte[SUM_CTE_MAX][SUM_CTE_NAME]; /* not tables: names of WITH's */
	bool first[SUM_DEPTH_MAX]; /* no token yet after this depth's "(" */
	bool query[SUM_DEPTH_MAX]; /* this depth is a query (its FROM counts) */
};

static bool word_is(const struct sql_lexer *l, const struct sql_token *t, const char *w)
{
	size_t n = strlen(w);

	return t->kind == TK_WORD && t->len == n &&
	       !strncasecmp(l->s + t->start, w, n);
}

static bool word_in(const struct sql_lexer *l, const struct sql_token *t,
		    const char *const *words)
{
	for (; *words; words++)
		if (word_is(l, t, *words))
			return true;
	return false;
}

/* Words that end a FROM list (its commas are the statement's after). */
static const char *const list_end_words[] = {
	"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "WINDOW", "UNION",
	"EXCEPT", "INTERSECT", "OFFSET", "FETCH", "FOR", "RETURNING", "SET",
	"VALUES", "SELECT", "INTO", NULL
};

/* Words no table is called unquoted: where a name should be, not one. */
static const char *const clause_words[] = {
	"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "WINDOW", "UNION",
	"EXCEPT", "INTERSECT", "OFFSET", "FETCH", "FOR", "ON", "USING",
	"RETURNING", "SET", "VALUES", "SELECT", "INTO", "LATERAL", "NATURAL",
	"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "STRAIGHT_JOIN",
	"DEFAULT", "AS", NULL
};

static void next(struct summ *s, struct sql_token *t)
{
	do
		sql_lex(&s->l, t);
	while (t->kind == TK_SPACE);
}

static void peek(struct summ *s, struct sql_token *t)
{
	struct sql_lexer save = s->l;

	next(s, t);
	s->l = save;
}

/* Skip the words of `words` at the current place. */
static void skip_words(struct summ *s, const char *const *words)
{
	struct sql_token t;

	for (peek(s, &t); word_in(&s->l, &t, words); peek(s, &t))
		next(s, &t);
}

static bool name_append(char *name, size_t *n, const char *p, size_t len)
{
	if (*n + len >= sizeof(((struct sql_summary *)0)->collection))
		return false;
	memcpy(name + *n, p, len);
	*n += len;
	name[*n] = '\0';
	return true;
}

/* One part of a name: a word, or a quoted name without its quotes. */
static bool name_part(struct summ *s, const struct sql_token *t, char *name, size_t *n)
{
	const char *p = s->l.s + t->start;

	if (t->kind == TK_NAME)
		return t->len >= 2 && name_append(name, n, p + 1, t->len - 2);
	if (t->kind != TK_WORD || word_in(&s->l, t, clause_words))
		return false;
	return name_append(name, n, p, t->len);
}

static bool is_cte(const struct summ *s, const char *name)
{
	for (int i = 0; i < s->n_cte; i++)
		if (!strcasecmp(s->cte[i], name))
			return true;
	return false;
}

/*
 * After WITH, WITH RECURSIVE or a "," between them: keep the name of a
 * common table expression, which FROM may name later.  Returns true when
 * `t` was taken so.
 */
static bool summ_cte(struct summ *s, const struct sql_token *t)
{
	const char *p = s->l.s + t->start;
	size_t len = t->len;

	if (!s->cte_next)
		return false;
	s->cte_next = false;
	if (word_is(&s->l, t, "RECURSIVE")) {
		s->cte_next = true;
		return true;
	}
	if (t->kind == TK_NAME && len >= 2) {
		p++;
		len -= 2;
	} else if (t->kind != TK_WORD) {
		return false;
	}
	if (s->n_cte == SUM_CTE_MAX || len >= SUM_CTE_NAME) {
		s->many = true; /* one it cannot recognise would count as a table */
		return true;
	}
	memcpy(s->cte[s->n_cte], p, len);
	s->cte[s->n_cte++][len] = '\0';
	return true;
}

/*
 * The table named next ("schema.table"), counted; `source` (FROM, JOIN,
 * USING): a subquery or a function there is a table it cannot name.
 */
static void table_ref(struct summ *s, bool source)
{
	static const char *const only[] = { "ONLY", NULL };
	char name[sizeof(s->out->collection)];
	struct sql_token t;
	size_t n = 0;
	bool qualified = false;

	skip_words(s, only);
	peek(s, &t);
	for (;;) {
		if (!name_part(s, &t, name, &n)) {
			s->many = true;
			return;
		}
		next(s, &t);
		peek(s, &t);
		if (t.kind != TK_OP || s->l.s[t.start] != '.')
			break;
		next(s, &t);
		peek(s, &t);
		qualified = true;
		if (!name_append(name, &n, ".", 1)) {
			s->many = true;
			return;
		}
	}
	if (source && t.kind == TK_OPEN)
		s->many = true;
	else if (!qualified && is_cte(s, name))
		return; /* its tables were counted where it was defined */
	else if (!s->named) {
		memcpy(s->out->collection, name, n + 1);
		s->named = true;
	} else if (strcmp(s->out->collection, name)) {
		s->many = true;
	}
}

/* CREATE/DROP/ALTER [modifiers] TABLE [IF [NOT] EXISTS] t; false: not a
 * table. */
static bool ddl_table(struct summ *s)
{
	static const char *const mods[] = { "OR", "REPLACE", "GLOBAL", "LOCAL",
					    "TEMP", "TEMPORARY", "UNLOGGED", NULL };
	static const char *const cond[] = { "IF", "NOT", "EXISTS", NULL };
	struct sql_token t;

	skip_words(s, mods);
	next(s, &t);
	if (!word_is(&s->l, &t, "TABLE"))
		return false;
	skip_words(s, cond);
	table_ref(s, false);
	return true;
}

/*
 * What statement `op` names right after its keyword.  Returns false
 * when it names no table the summary reports (the rest is not read).
 */
static bool statement_start(struct summ *s)
{
	static const char *const ins[] = { "LOW_PRIORITY", "DELAYED",
					   "HIGH_PRIORITY", "IGNORE", NULL };
	static const char *const upd[] = { "LOW_PRIORITY", "IGNORE", NULL };
	static const char *const trunc[] = { "TABLE", NULL };
	static const char *const plain[] = { "SELECT", "DELETE", "MERGE",
					     "WITH", "VALUES", NULL };
	const char *op = s->op;
	struct sql_token t;

	if (!strcmp(op, "INSERT") || !strcmp(op, "REPLACE")) {
		skip_words(s, ins);
		peek(s, &t);
		if (!word_is(&s->l, &t, "INTO"))
			table_ref(s, false);
		return true;
	}
	if (!strcmp(op, "UPDATE") || !strcmp(op, "TRUNCATE")) {
		skip_words(s, op[0] == 'U' ? upd : trunc);
		table_ref(s, false);
		s->from_list = s->depth; /* "UPDATE a, b": two */
		return true;
	}
	if (!strcmp(op, "CREATE") || !strcmp(op, "ALTER"))
		return ddl_table(s);
	if (!strcmp(op, "DROP")) {
		s->from_list = s->depth; /* "DROP TABLE a, b" */
		return ddl_table(s);
	}
	for (const char *const *w = plain; *w; w++)
		if (!strcmp(op, *w))
			return true;
	return false;
}

/* The statement's keyword, upper case; false when it is not a word. */
static bool set_op(struct summ *s, const struct sql_token *t)
{
	const char *p = s->l.s + t->start;

	if (t->kind != TK_WORD || t->len >= sizeof(s->op))
		return false;
	for (size_t i = 0; i < t->len; i++) {
		if (!isalpha((unsigned char)p[i]) && p[i] != '_')
			return false;
		s->op[i] = (char)toupper((unsigned char)p[i]);
	}
	s->op[t->len] = '\0';
	return true;
}

static void summ_open(struct summ *s)
{
	if (s->depth + 1 >= SUM_DEPTH_MAX) {
		s->many = true; /* too deep to follow: maybe tables unseen */
		s->depth++;
		return;
	}
	s->depth++;
	s->first[s->depth] = true;
	s->query[s->depth] = false;
}

/* A word inside the statement. */
static void summ_word(struct summ *s, const struct sql_token *t)
{
	static const char *const queries[] = { "SELECT", "WITH", "DELETE", NULL };
	static const char *const writes[] = { "INSERT", "UPDATE", "MERGE",
					      "REPLACE", NULL };
	static const char *const mains[] = { "SELECT", "INSERT", "UPDATE",
					     "DELETE", "MERGE", "VALUES", NULL };
	int d = s->depth < SUM_DEPTH_MAX ? s->depth : SUM_DEPTH_MAX - 1;
	bool distinct = s->distinct;

	s->distinct = word_is(&s->l, t, "DISTINCT");
	if (s->first[d] && word_in(&s->l, t, queries))
		s->query[d] = true;
	else if (s->first[d] && word_in(&s->l, t, writes))
		s->many = true; /* a statement inside whose tables are not read */
	s->first[d] = false;
	if (s->depth == s->from_list && word_in(&s->l, t, list_end_words))
		s->from_list = -1;
	if (!strcmp(s->op, "WITH") && s->depth == 0 && word_in(&s->l, t, mains)) {
		set_op(s, t);
		if (!statement_start(s))
			s->many = true;
	} else if (word_is(&s->l, t, "FROM") && s->query[d] && !distinct) {
		table_ref(s, true);
		s->from_list = s->depth;
	} else if (word_is(&s->l, t, "JOIN")) {
		table_ref(s, true);
	} else if (s->depth == 0 && word_is(&s->l, t, "INTO") &&
		   (!strcmp(s->op, "INSERT") || !strcmp(s->op, "REPLACE") ||
		    !strcmp(s->op, "MERGE"))) {
		table_ref(s, false);
	} else if (s->depth == 0 && word_is(&s->l, t, "USING") &&
		   (!strcmp(s->op, "DELETE") || !strcmp(s->op, "MERGE"))) {
		table_ref(s, true);
	}
}

/* Every table the statement names, to its end (";") or the text's. */
static void summ_walk(struct summ *s)
{
	struct sql_token t;

	for (next(s, &t); t.kind != TK_END && t.kind != TK_UNTERMINATED;
	     next(s, &t)) {
		if (summ_cte(s, &t))
			continue;
		if (t.kind == TK_COMMA && !s->depth && !strcmp(s->op, "WITH"))
			s->cte_next = true;
		if (t.kind == TK_WORD) {
			summ_word(s, &t);
			continue;
		}
		s->distinct = false;
		if (s->depth < SUM_DEPTH_MAX)
			s->first[s->depth] = false;
		if (t.kind == TK_OPEN) {
			summ_open(s);
		} else if (t.kind == TK_CLOSE && s->depth > 0) {
			if (s->depth == s->from_list)
				s->from_list = -1;
			s->depth--;
		} else if (t.kind == TK_COMMA && s->depth == s->from_list) {
			s->many = true;
		} else if (t.kind == TK_OP && s->l.s[t.start] == ';' && !s->depth) {
			return;
		}
	}
}

void sql_summarize_dialect(const char *in, size_t len, struct sql_summary *out,
			   enum sql_dialect dialect)
{
	struct summ s = { .out = out, .from_list = -1 };
	struct sql_token t;

	out->operation[0] = '\0';
	out->collection[0] = '\0';
	sql_lex_init(&s.l, in, len, dialect);
	s.query[0] = true;
	/* "(SELECT ...) UNION (SELECT ...)": the first keyword inside. */
	for (next(&s, &t); t.kind == TK_OPEN; next(&s, &t))
		summ_open(&s);
	if (!set_op(&s, &t))
		return;
	/* The statement's own FROM counts, whatever its keyword. */
	if (s.depth < SUM_DEPTH_MAX) {
		s.query[s.depth] = true;
		s.first[s.depth] = false;
	}
	s.cte_next = !strcmp(s.op, "WITH");
	if (statement_start(&s))
		summ_walk(&s);
	else
		s.many = true;
	memcpy(out->operation, s.op, sizeof(out->operation));
	if (s.many || !s.named)
		out->collection[0] = '\0';
}

void sql_summarize(const char *in, size_t len, struct sql_summary *out)
{
	sql_summarize_dialect(in, len, out, SQL_DIALECT_STANDARD);
}
