// SPDX-License-Identifier: MIT
/*
 * Redis behind the protocol interface (redis.h): commands read from one
 * direction, replies from the other, both with the RESP walk (resp.c);
 * each reply answers the oldest command waiting (what it means besides:
 * redis_reply.c), and the pair becomes an exchange in the database
 * semantic conventions (db_attrs.c).
 */
#include "protocol/redis.h"
#include "protocol/redis_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/conntable.h"
#include "protocol/db_attrs.h"
#include "protocol/protocol.h"

enum { REDIS_NEW = 0, REDIS_CLIENT, REDIS_SERVER, REDIS_SKIPPED };

/* Chunks read before a command decides the side, at most. */
#define REDIS_UNDECIDED_MAX 16

/* The queue's first allocation; it doubles from there. */
#define REDIS_QUEUE_FIRST 16

/* Losses of closed connections (reader thread only), for the report. */
static struct {
	uint64_t queue_full, no_memory, orphan_replies, lost_requests,
		lost_replies, ring_losses, cut_short, pushed, monitor_lines,
		malformed;
} redis_totals;

static const struct proto_opts redis_default_opts;

/* The digits at d[i] (at most 11), their value in *v: the index after
 * them (i: none). */
static size_t digits(const char *d, size_t len, size_t i, size_t *v)
{
	size_t start = i;

	*v = 0;
	while (i < len && i - start < 11 && d[i] >= '0' && d[i] <= '9')
		*v = *v * 10 + (size_t)(d[i++] - '0');
	return i;
}

/* "*N\r\n$": a RESP array whose first element is a bulk string; the
 * index of the '$' (0: not so). */
static size_t array_of_bulk(const char *d, size_t len)
{
	size_t n, i;

	if (len < 5 || d[0] != '*')
		return 0;
	i = digits(d, len, 1, &n);
	return i > 1 && i + 2 < len && d[i] == '\r' && d[i + 1] == '\n' &&
	       d[i + 2] == '$' ? i + 2 : 0;
}

/*
 * A command: an array of bulk strings, the first a command's name.  The
 * shape alone does not tell: MGET's, LRANGE's, HGETALL's, EXEC's replies
 * have it, and a server's reply read first would make the server the
 * client and its values the operations.  A name not all captured is
 * taken for none: its start ("GE") may as well start a value ("GEORGE"),
 * and a client's call is captured from its first byte, well past it.
 */
static bool starts_command(const char *d, size_t len)
{
	size_t at = array_of_bulk(d, len), i, n;

	if (!at)
		return false;
	i = digits(d, len, at + 1, &n);
	if (i == at + 1 || i + 2 > len || d[i] != '\r' || d[i + 1] != '\n' ||
	    n > len - i - 2)
		return false;
	return redis_command_known(d + i + 2, n);
}

/* A command, sure; a RESP array of bulk strings, maybe (a connection met
 * between a command and its reply: a command follows). */
static enum proto_guess redis_recognise(const void *data, size_t len,
					enum stream_dir dir)
{
	if (starts_command(data, len))
		return PROTO_YES;
	return array_of_bulk(data, len) ? PROTO_MAYBE : PROTO_NO;
}

static void redis_init(union proto_state *st)
{
	struct redis_conn *rc = &st->redis;

	/* No namespace: nothing tells whether the connection is seen from
	 * its start, and a pool may have run SELECT before. */
	memset(rc, 0, sizeof(*rc));
	rc->loss_epoch = proto_loss_epoch; /* losses before it are not its */
	resp_reset(&rc->req);
	resp_reset(&rc->resp);
}

/* --- the queue of commands waiting for a reply ---------------------------- */

struct redis_cmd *redis_q_at(struct redis_conn *rc, uint32_t i)
{
	return &rc->q[(rc->head + i) % rc->cap];
}

/* Room for one more: the ring doubles (its entries moved in order). */
static bool q_room(struct redis_conn *rc)
{
	uint32_t cap = rc->cap ? rc->cap * 2 : REDIS_QUEUE_FIRST;
	struct redis_cmd *q;

	if (rc->count < rc->cap)
		return true;
	q = malloc((size_t)cap * sizeof(*q));
	if (!q)
		return false;
	for (uint32_t i = 0; i < rc->count; i++)
		q[i] = *redis_q_at(rc, i);
	free(rc->q);
	rc->q = q;
	rc->head = 0;
	rc->cap = cap;
	return true;
}

void redis_q_pop(struct redis_conn *rc)
{
	rc->head = (rc->head + 1) % rc->cap;
	rc->count--;
}

/* A command not kept: its reply, when it comes, is skipped. */
static void skip_reply_of_next(struct redis_conn *rc)
{
	if (rc->count)
		redis_q_at(rc, rc->count - 1)->then_skip++;
	else
		rc->reply_skip++;
}

/* The command just read waits for its reply; announced while fewer than
 * REDIS_INFLIGHT announced ones wait. */
static void q_push(struct redis_conn *rc, const struct redis_cmd *cmd)
{
	struct redis_cmd *e;

	if (rc->count == REDIS_QUEUE_MAX) {
		rc->stats.queue_full++;
		skip_reply_of_next(rc);
		return;
	}
	if (!q_room(rc)) {
		rc->stats.no_memory++;
		skip_reply_of_next(rc);
		return;
	}
	e = redis_q_at(rc, rc->count++);
	*e = *cmd;
	e->unmatched = rc->req_lost;
	e->announced = rc->announced_open < REDIS_INFLIGHT;
	if (e->announced) {
		e->seq = rc->req_seq++;
		rc->announced_open++;
	}
}

/* --- exchanges --------------------------------------------------------- */

bool redis_is_error(const struct redis_reply *r)
{
	return r->type == '-' || r->type == '!';
}

/* Bytes that are no printable ASCII become '.' (a span's strings are
 * UTF-8, and a value cut short may end inside a character). */
char redis_printable(char ch)
{
	return ch >= 0x20 && ch < 0x7f ? ch : '.';
}

/* An error's text, printable (db_attrs.c hides what may be a value in
 * it unless raw: Redis quotes the arguments it complains of). */
static void error_text(const struct redis_reply *r, char *out, size_t cap)
{
	size_t n = 0;

	for (; n < r->text_len && n + 1 < cap; n++)
		out[n] = redis_printable(r->text[n]);
	out[n] = '\0';
}

/* The error's prefix ("ERR", "WRONGTYPE"...): its first word. */
static void error_code(const struct redis_reply *r, char *out, size_t cap)
{
	size_t n = 0;

	while (n < r->text_len && n + 1 < cap && r->text[n] != ' ')
		n++;
	for (size_t i = 0; i < n; i++)
		out[i] = redis_printable(r->text[i]);
	out[n] = '\0';
	if (!n)
		snprintf(out, cap, "ERR");
}

/* Command `cmd` ended at `end_ns`: with reply `r`, or cut short (NULL). */
void redis_emit_command(struct redis_feed *fc, const struct redis_cmd *cmd,
			 uint64_t end_ns, const struct redis_reply *r)
{
	struct redis_conn *rc = &fc->c->st.redis;
	const struct proto_opts *opts = fc->emit->opts ? fc->emit->opts
						       : &redis_default_opts;
	char op[REDIS_NAME_MAX + 1], code[32], message[RESP_LINE_MAX + 8];
	struct db_attrs_msg m = {
		.system = "redis", .query = cmd->text, .query_len = cmd->text_len,
		.sql = false, .argc = cmd->argc, .arg1 = cmd->arg1,
		.operation = op, .namespace_ = rc->ns,
		.cut_short = !r,
	};
	struct proto_exchange o;
	/* A name Redis does not know may be anything (a value): no
	 * operation then, and the span is named after the system. */
	size_t name = redis_command_known(cmd->text, cmd->name_len) ? cmd->name_len : 0;

	memcpy(op, cmd->text, name);
	op[name] = '\0';
	if (r && redis_is_error(r)) {
		error_code(r, code, sizeof(code));
		error_text(r, message, sizeof(message));
		m.status_code = code;
		m.error_message = message;
	}
	if (end_ns < cmd->start_ns)
		end_ns = cmd->start_ns;
	proto_exchange_begin(&o, rc->state == REDIS_SERVER, cmd->start_ns, end_ns);
	o.unordered = true;
	o.announced = cmd->announced;
	o.seq = cmd->seq;
	o.tid = cmd->tid;
	db_attrs_describe(&o, fc->c, &m, opts);
	if (cmd->announced)
		rc->announced_open--;
	if (!r)
		rc->stats.cut_short++;
	fc->emit->exchange(fc->emit->ctx, fc->c, &o);
}

/*
 * The commands from the `from`th on end without their reply: the place
 * was lost, or the connection closed.  They end with the last reply read
 * after them, else at `ts_ns`.
 */
static void flush_commands(struct redis_feed *fc, uint32_t from, uint64_t ts_ns)
{
	struct redis_conn *rc = &fc->c->st.redis;

	for (uint32_t i = from; i < rc->count; i++) {
		const struct redis_cmd *cmd = redis_q_at(rc, i);
		uint64_t end = rc->last_reply_ns > cmd->start_ns ? rc->last_reply_ns
								 : ts_ns;

		redis_emit_command(fc, cmd, end, NULL);
	}
	if (from < rc->count)
		rc->count = from;
	if (!from) {
		rc->reply_skip = 0;
		rc->confirms = 0;
	}
}

/* The first of the commands read after a place lost in the commands (the
 * queue's tail from there). */
static uint32_t first_unmatched(struct redis_conn *rc)
{
	uint32_t i = rc->count;

	while (i && redis_q_at(rc, i - 1)->unmatched)
		i--;
	return i;
}

/* --- commands ------------------------------------------------------------ */

static const struct {
	const char *name;
	uint8_t kind;
} redis_kinds[] = {
	{ "SELECT", REDIS_K_SELECT },	     { "MULTI", REDIS_K_MULTI },
	{ "EXEC", REDIS_K_EXEC },	     { "DISCARD", REDIS_K_DISCARD },
	{ "HELLO", REDIS_K_HELLO },	     { "SUBSCRIBE", REDIS_K_SUBSCRIBE },
	{ "PSUBSCRIBE", REDIS_K_SUBSCRIBE }, { "SSUBSCRIBE", REDIS_K_SUBSCRIBE },
	{ "UNSUBSCRIBE", REDIS_K_UNSUBSCRIBE },
	{ "PUNSUBSCRIBE", REDIS_K_UNSUBSCRIBE },
	{ "SUNSUBSCRIBE", REDIS_K_UNSUBSCRIBE },
	{ "MONITOR", REDIS_K_MONITOR },	     { "RESET", REDIS_K_RESET },
	{ "AUTH", REDIS_K_AUTH },	     { "CLIENT", REDIS_K_CLIENT },
	{ "CONFIG", REDIS_K_CONFIG },	     { "ACL", REDIS_K_ACL },
	{ "MIGRATE", REDIS_K_MIGRATE },
};

static uint8_t command_kind(const struct redis_cmd *cmd)
{
	for (size_t i = 0; i < sizeof(redis_kinds) / sizeof(redis_kinds[0]); i++)
		if (strlen(redis_kinds[i].name) == cmd->name_len &&
		    !memcmp(redis_kinds[i].name, cmd->text, cmd->name_len))
			return redis_kinds[i].kind;
	return REDIS_K_OTHER;
}

static bool word_is(const char *w, size_t len, const char *s)
{
	return len == strlen(s) && !strncasecmp(w, s, len);
}

/* `len` bytes at `w` hold `s`, any case. */
static bool word_has(const char *w, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= len; i++)
		if (!strncasecmp(w + i, s, n))
			return true;
	return false;
}

/* Parameters whose value is a credential: CONFIG SET's requirepass,
 * masterauth, masteruser, tls-key-file-pass...; SENTINEL's auth-pass,
 * auth-user, sentinel-pass, sentinel-user. */
static bool secret_param(const char *w, size_t len)
{
	return word_has(w, len, "pass") || word_has(w, len, "auth") ||
	       word_is(w, len, "masteruser") || word_has(w, len, "-user");
}

/*
 * A password never leaves, even raw: word `word` of `cmd` is one when it
 * is AUTH's argument, HELLO's past its protocol version, the value of
 * CONFIG SET requirepass/masterauth/masteruser, ACL SETUSER's rules
 * (">password", "#hash"), what follows MIGRATE's AUTH (a password) or
 * AUTH2 (a user and a password).  Told as the word starts, from the
 * word before it (its text, complete then) and the first argument.
 */
static bool masked(struct redis_cmd *cmd, uint32_t word)
{
	const char *prev = cmd->text + cmd->word_at;
	size_t len = cmd->text_len - cmd->word_at;
	size_t sub = strlen(cmd->arg1);

	if (cmd->mask_next) {
		cmd->mask_next--;
		return true;
	}
	switch (cmd->kind) {
	case REDIS_K_AUTH:
		return word >= 1;
	case REDIS_K_HELLO:
		return word >= 2;
	case REDIS_K_CONFIG: /* CONFIG SET name value [name value...] */
		return word >= 3 && word % 2 && word_is(cmd->arg1, sub, "SET") &&
		       secret_param(prev, len);
	case REDIS_K_ACL:
		return word >= 3 && word_is(cmd->arg1, sub, "SETUSER");
	case REDIS_K_MIGRATE: /* its options from the 6th argument on */
		if (word >= 6 && word_is(prev, len, "AUTH2"))
			cmd->mask_next = 1;
		return word >= 6 && (word_is(prev, len, "AUTH") || cmd->mask_next);
	default:
		/* SENTINEL SET master auth-pass pw, SENTINEL CONFIG SET
		 * sentinel-pass pw: the value after such a name. */
		return word >= 3 && word_is(cmd->text, cmd->name_len, "SENTINEL") &&
		       secret_param(prev, len);
	}
}

static void text_put(struct redis_cmd *cmd, char ch)
{
	if (cmd->text_len < REDIS_TEXT_MAX)
		cmd->text[cmd->text_len++] = ch;
}

/* An element of the command array starts: a new word. */
static void cmd_elem(void *ctx, unsigned depth, char type, int64_t n)
{
	struct redis_feed *fc = ctx;
	struct redis_conn *rc = &fc->c->st.redis;
	struct redis_cmd *cmd = &rc->cur;

	if (depth == 0) {
		memset(cmd, 0, offsetof(struct redis_cmd, text));
		cmd->start_ns = fc->ts_ns;
		cmd->tid = fc->tid;
		rc->cmd_ok = type == '*' && n > 0;
		return;
	}
	if (depth > 1 || (type != '$' && type != '+' && type != ':')) {
		rc->cmd_ok = 0; /* commands are flat arrays of strings */
		return;
	}
	if (!rc->cmd_ok)
		return;
	if (cmd->argc == 1)
		cmd->kind = command_kind(cmd);
	cmd->mask = masked(cmd, cmd->argc);
	if (cmd->argc)
		text_put(cmd, ' ');
	cmd->word_at = cmd->text_len;
	if (cmd->mask)
		text_put(cmd, '?');
	cmd->argc++;
}

/* A part of the current word. */
static void cmd_text(void *ctx, unsigned depth, const char *p, size_t len)
{
	struct redis_feed *fc = ctx;
	struct redis_conn *rc = &fc->c->st.redis;
	struct redis_cmd *cmd = &rc->cur;
	uint32_t word = cmd->argc - 1;

	if (depth != 1 || !rc->cmd_ok)
		return;
	if (word == 1) {
		size_t have = strnlen(cmd->arg1, sizeof(cmd->arg1));

		for (size_t i = 0; i < len && have + 1 < sizeof(cmd->arg1); i++)
			cmd->arg1[have++] = redis_printable(p[i]);
	}
	if (cmd->mask)
		return;
	for (size_t i = 0; i < len && cmd->text_len < REDIS_TEXT_MAX; i++) {
		char ch = redis_printable(p[i]);

		/* The name is a keyword: upper case, as the operation. */
		if (word == 0) {
			if (ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 'a' + 'A');
			cmd->name_len++;
		}
		text_put(cmd, ch);
	}
}

/* The word after `n` spaces of the command's text, its length. */
static size_t text_word(const struct redis_cmd *cmd, unsigned n, const char **w)
{
	size_t i = 0, end;

	for (; n && i < cmd->text_len; i++)
		n -= cmd->text[i] == ' ';
	for (end = i; end < cmd->text_len && cmd->text[end] != ' '; end++)
		;
	*w = cmd->text + i;
	return end - i;
}

/*
 * Whether the server answers `cmd`: not while CLIENT REPLY OFF holds (until
 * CLIENT REPLY ON or RESET), nor the command after CLIENT REPLY SKIP, nor
 * those two themselves.
 */
static bool expects_reply(struct redis_conn *rc, const struct redis_cmd *cmd)
{
	const char *w;
	size_t len;

	if (cmd->kind == REDIS_K_CLIENT && cmd->argc == 3 &&
	    word_is(cmd->arg1, strlen(cmd->arg1), "REPLY")) {
		len = text_word(cmd, 2, &w);
		if (word_is(w, len, "ON")) {
			rc->replies = REDIS_REPLIES_ON;
			return true;
		}
		if (word_is(w, len, "OFF")) {
			rc->replies = REDIS_REPLIES_OFF;
			return false;
		}
		if (word_is(w, len, "SKIP")) {
			if (rc->replies == REDIS_REPLIES_ON)
				rc->replies = REDIS_REPLIES_SKIP;
			return false;
		}
	}
	if (rc->replies == REDIS_REPLIES_SKIP) {
		rc->replies = REDIS_REPLIES_ON;
		return false;
	}
	/* RESET turns replies on, and answers (+RESET) even after OFF;
	 * after SKIP (above), the server skips its reply as any other. */
	if (cmd->kind == REDIS_K_RESET)
		rc->replies = REDIS_REPLIES_ON;
	return rc->replies == REDIS_REPLIES_ON;
}

/* A command is complete: it waits for its reply. */
static void cmd_done(void *ctx)
{
	struct redis_feed *fc = ctx;
	struct redis_conn *rc = &fc->c->st.redis;
	struct redis_cmd *cmd = &rc->cur;

	rc->stats.commands++;
	if (!rc->cmd_ok || !cmd->name_len) {
		/* The server answers what it refuses with an error. */
		rc->stats.malformed++;
		memset(cmd, 0, offsetof(struct redis_cmd, text));
		cmd->start_ns = fc->ts_ns;
		cmd->tid = fc->tid;
		memcpy(cmd->text, "?", 1);
		cmd->text_len = cmd->name_len = 1;
	} else if (cmd->argc == 1) {
		cmd->kind = command_kind(cmd);
	}
	cmd->first = rc->stats.commands == 1;
	if (expects_reply(rc, cmd)) {
		q_push(rc, cmd);
	} else {
		/* Done as sent: what it does, Redis does without a word. */
		redis_apply_reply(rc, cmd, &redis_no_reply);
		redis_emit_command(fc, cmd, cmd->start_ns, &redis_no_reply);
	}
	rc->cmd_ok = 0;
}

/* An inline command ("PING", as typed in telnet): words apart by spaces. */
static void cmd_inline(void *ctx, const char *line, size_t len)
{
	size_t i = 0;

	cmd_elem(ctx, 0, '*', 1);
	while (i < len) {
		size_t w;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		for (w = i; w < len && line[w] != ' ' && line[w] != '\t'; w++)
			;
		if (w > i) {
			cmd_elem(ctx, 1, '$', (int64_t)(w - i));
			cmd_text(ctx, 1, line + i, w - i);
		}
		i = w;
	}
	cmd_done(ctx);
}

/* --- the protocol interface ------------------------------------------------ */

/*
 * A command is coming.  After a place lost in the replies, every command
 * in flight ends now; after one lost in the commands, those read since
 * end once replies came (the replies to the commands not seen are over,
 * or nothing tells which is which).  The walk of the commands starts
 * again at this call, if it starts with a command.
 */
static void before_command(struct redis_feed *fc, const struct stream_chunk *ch)
{
	uint64_t ts_ns = ch->ts_ns;
	struct redis_conn *rc = &fc->c->st.redis;

	if (rc->lost) {
		flush_commands(fc, 0, ts_ns);
		resp_reset(&rc->resp);
		rc->lost = 0;
		rc->req_lost = rc->ring_lost;
		rc->ring_lost = 0;
	} else if (rc->req_lost && rc->read_since_write) {
		flush_commands(fc, first_unmatched(rc), ts_ns);
		rc->req_lost = 0;
	}
	/* Only a call that starts as a command does: another may start
	 * inside one (a value's bytes taken for an inline command). */
	if (rc->req.state == RESP_LOST && array_of_bulk(ch->data, ch->captured)) {
		resp_reset(&rc->req);
		rc->cmd_ok = 0;
	}
	rc->read_since_write = 0;
}

/*
 * The first command says which side this process is: the one that sends
 * it is the client.  Until one comes, on a connection met between a
 * command and its reply, the replies say nothing (their shape may be a
 * command's); REDIS_UNDECIDED_MAX chunks without one, it is no Redis.
 */
static void choose_side(struct redis_conn *rc, const struct stream_chunk *ch,
			const struct proto_opts *opts)
{
	if (!starts_command(ch->data, ch->captured)) {
		if (!rc->undecided && !array_of_bulk(ch->data, ch->captured))
			rc->state = REDIS_SKIPPED;
		else if (++rc->undecided >= REDIS_UNDECIDED_MAX)
			rc->state = REDIS_SKIPPED;
		return;
	}
	rc->state = ch->dir == STREAM_OUT ? REDIS_CLIENT : REDIS_SERVER;
	rc->server_spans = rc->state == REDIS_SERVER && opts && opts->db_server_spans;
}

/*
 * Records were lost in the kernel since this connection was last fed
 * (protocol.h), whose is not known: the reply of a command in flight may
 * be among them (the next reply is not its), or a command (its reply
 * would go to the one after).  As after a gap both ways: the commands in
 * flight end at the next command, cut short; those from it on take no
 * reply until replies came and a command follows; both walks start
 * again at a message's start.  That costs each connection a span or two
 * at most.  The namespace is kept: the loss is anywhere on the host, a
 * pool's connections rarely SELECT again, and forgetting it would leave
 * every later span of every connection without it.
 */
static void after_ring_loss(struct redis_conn *rc)
{
	rc->loss_epoch = proto_loss_epoch;
	rc->stats.ring_losses++;
	rc->lost = 1;
	rc->ring_lost = 1;
	rc->req.state = RESP_LOST;
	rc->resp.state = RESP_LOST;
}

static int redis_feed(struct proto_conn *c, const struct stream_chunk *ch,
		      const struct proto_emit *emit)
{
	struct redis_conn *rc = &c->st.redis;
	struct redis_feed fc = { .c = c, .emit = emit, .ts_ns = ch->ts_ns,
				 .tid = ch->tid };
	const struct resp_hooks cmd_hooks = {
		.elem = cmd_elem, .text = cmd_text, .done = cmd_done,
		.inline_line = cmd_inline, .ctx = &fc,
	};
	const struct resp_hooks rep_hooks = {
		.elem = redis_rep_elem, .text = redis_rep_text, .done = redis_rep_done, .ctx = &fc,
	};
	enum stream_dir req_dir;

	if (ch->captured > ch->total_len || (ch->captured && !ch->data))
		return -EINVAL;
	if (rc->state == REDIS_NEW)
		choose_side(rc, ch, emit->opts);
	if (rc->state == REDIS_NEW || rc->state == REDIS_SKIPPED ||
	    (rc->state == REDIS_SERVER && !rc->server_spans))
		return 0;
	if (rc->loss_epoch != proto_loss_epoch)
		after_ring_loss(rc);
	req_dir = rc->state == REDIS_CLIENT ? STREAM_OUT : STREAM_IN;
	if (ch->dir == req_dir) {
		/* Its first command, the kernel says: database 0 until a
		 * SELECT says otherwise. */
		if (ch->start && !rc->stats.commands)
			strcpy(rc->ns, "0");
		rc->tls |= ch->tls;
		before_command(&fc, ch);
		if (rc->req.state != RESP_LOST &&
		    resp_feed(&rc->req, ch->data, ch->captured, ch->total_len,
			      &cmd_hooks) == RESP_LOST) {
			rc->stats.lost_requests++;
			rc->req_lost = 1;
			rc->ns[0] = '\0'; /* a SELECT may be in the gap */
		}
		return 0;
	}
	rc->read_since_write = 1;
	if (rc->resp.state == RESP_LOST) {
		rc->last_reply_ns = ch->ts_ns; /* replies to the commands in flight */
	} else {
		if (resp_feed(&rc->resp, ch->data, ch->captured, ch->total_len,
			      &rep_hooks) == RESP_LOST) {
			rc->stats.lost_replies++;
			rc->lost = 1;
		}
	}
	return 0;
}

static void redis_close(struct proto_conn *c, uint64_t ts_ns,
			const struct proto_emit *emit)
{
	struct redis_feed fc = { .c = c, .emit = emit, .ts_ns = ts_ns };
	struct redis_conn *rc = &c->st.redis;

	/* A command without its reply ends with the connection. */
	rc->last_reply_ns = 0;
	flush_commands(&fc, 0, ts_ns);
}

static void add_totals(const struct redis_stats *s)
{
	redis_totals.queue_full += s->queue_full;
	redis_totals.no_memory += s->no_memory;
	redis_totals.orphan_replies += s->orphan_replies;
	redis_totals.lost_requests += s->lost_requests;
	redis_totals.lost_replies += s->lost_replies;
	redis_totals.ring_losses += s->ring_losses;
	redis_totals.cut_short += s->cut_short;
	redis_totals.pushed += s->pushed;
	redis_totals.monitor_lines += s->monitor_lines;
	redis_totals.malformed += s->malformed;
}

static void redis_release(union proto_state *st)
{
	struct redis_conn *rc = &st->redis;

	add_totals(&rc->stats);
	free(rc->q);
	redis_init(st);
}

static uint32_t redis_requests_started(const union proto_state *st)
{
	return st->redis.req_seq;
}

static enum proto_role redis_role(const union proto_state *st)
{
	switch (st->redis.state) {
	case REDIS_CLIENT:
		return PROTO_ROLE_CLIENT;
	case REDIS_SERVER:
		return PROTO_ROLE_SERVER;
	default:
		return PROTO_ROLE_UNKNOWN;
	}
}

/* A client's commands and replies whole (a pipeline's every command and
 * reply); a server's commands whole when its spans are asked for. */
static enum stream_verdict redis_verdict(const union proto_state *st)
{
	switch (st->redis.state) {
	case REDIS_CLIENT:
		return STREAM_VERDICT_WHOLE_BOTH;
	case REDIS_SERVER:
		return st->redis.server_spans ? STREAM_VERDICT_WHOLE_IN
					      : STREAM_VERDICT_IGNORE;
	case REDIS_SKIPPED:
		return STREAM_VERDICT_IGNORE;
	default:
		return STREAM_VERDICT_NONE;
	}
}

static const char *redis_request_traceparent(const union proto_state *st,
					     uint32_t seq)
{
	return NULL; /* RESP carries no trace context */
}

static uint64_t redis_request_start_ns(const union proto_state *st, uint32_t seq)
{
	const struct redis_conn *rc = &st->redis;

	for (uint32_t i = 0; i < rc->count; i++) {
		const struct redis_cmd *cmd = &rc->q[(rc->head + i) % rc->cap];

		if (cmd->announced && cmd->seq == seq)
			return cmd->start_ns;
	}
	return 0;
}

static void redis_report(FILE *out)
{
	fprintf(out, "redis: %llu commands past the queue (%u), %llu not kept "
		"for want of memory, %llu replies to no command, %llu places "
		"lost in commands, %llu in replies, %llu to records lost in the "
		"kernel, %llu commands cut short; "
		"%llu pub/sub messages and pushes, %llu MONITOR lines, "
		"%llu requests that were no command\n",
		(unsigned long long)redis_totals.queue_full, (unsigned)REDIS_QUEUE_MAX,
		(unsigned long long)redis_totals.no_memory,
		(unsigned long long)redis_totals.orphan_replies,
		(unsigned long long)redis_totals.lost_requests,
		(unsigned long long)redis_totals.lost_replies,
		(unsigned long long)redis_totals.ring_losses,
		(unsigned long long)redis_totals.cut_short,
		(unsigned long long)redis_totals.pushed,
		(unsigned long long)redis_totals.monitor_lines,
		(unsigned long long)redis_totals.malformed);
}

const struct proto_ops proto_redis = {
	.name = "redis",
	.inflight_max = REDIS_INFLIGHT,
	.recognise = redis_recognise,
	.init = redis_init,
	.release = redis_release,
	.feed = redis_feed,
	.close = redis_close,
	.requests_started = redis_requests_started,
	.role = redis_role,
	.verdict = redis_verdict,
	.request_traceparent = redis_request_traceparent,
	.request_start_ns = redis_request_start_ns,
	.report = redis_report,
};
