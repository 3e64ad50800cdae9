// SPDX-License-Identifier: MIT
/*
 * What Redis replies mean (redis.h): each answers the oldest command
 * waiting, changes the connection (SELECT, MULTI/EXEC, HELLO, pub/sub,
 * MONITOR) or, pushed, answers none and is counted.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "protocol/conntable.h"
#include "protocol/redis.h"
#include "protocol/redis_internal.h"

const struct redis_reply redis_no_reply = { .type = '+', .text_len = 2, .text = "OK" };

void redis_rep_elem(void *ctx, unsigned depth, char type, int64_t n)
{
	struct redis_feed *fc = ctx;
	struct redis_reply *r = &fc->c->st.redis.reply;

	if (depth == 0) {
		r->type = (uint8_t)type;
		r->n = n;
		r->elems = 0;
		r->text_len = r->kind_len = r->num_len = 0;
	} else if (depth == 1) {
		r->elems++;
		r->elem_type = (uint8_t)type;
	}
}

/* `n` bytes of `p` after the `have` of `buf` (`cap`), as many as fit;
 * returns the length now. */
static size_t append(char *buf, size_t cap, size_t have, const char *p, size_t n)
{
	size_t take = n < cap - have ? n : cap - have;

	memcpy(buf + have, p, take);
	return have + take;
}

/* Kept: a simple string's or error's text; of an aggregate, its first
 * element (a pub/sub kind) and its third when an integer (the count of
 * subscriptions left). */
void redis_rep_text(void *ctx, unsigned depth, const char *p, size_t len)
{
	struct redis_feed *fc = ctx;
	struct redis_reply *r = &fc->c->st.redis.reply;

	if (depth == 0)
		r->text_len = (uint16_t)append(r->text, sizeof(r->text), r->text_len, p, len);
	else if (depth == 1 && r->elems == 1)
		r->kind_len = (uint8_t)append(r->kind, sizeof(r->kind), r->kind_len, p, len);
	else if (depth == 1 && r->elems == 3 && r->elem_type == ':')
		r->num_len = (uint8_t)append(r->num, sizeof(r->num), r->num_len, p, len);
}

static bool reply_is(const struct redis_reply *r, const char *s)
{
	return r->text_len == strlen(s) && !memcmp(r->text, s, r->text_len);
}

static bool kind_in(const struct redis_reply *r, const char *const *words)
{
	for (; *words; words++)
		if (r->kind_len == strlen(*words) &&
		    !strncasecmp(r->kind, *words, r->kind_len))
			return true;
	return false;
}

static const char *const redis_confirm_words[] = {
	"subscribe", "psubscribe", "ssubscribe", "unsubscribe",
	"punsubscribe", "sunsubscribe", NULL,
};
static const char *const redis_unsub_words[] = {
	"unsubscribe", "punsubscribe", "sunsubscribe", NULL,
};
static const char *const redis_message_words[] = {
	"message", "pmessage", "smessage", NULL,
};

/* An unsubscription that leaves none: RESP2's subscribed mode ends. */
static void maybe_unsubscribed(struct redis_conn *rc, const struct redis_reply *r)
{
	int64_t left;

	if (kind_in(r, redis_unsub_words) &&
	    !resp_parse_int(r->num, r->num_len, &left) && left == 0)
		rc->pubsub = 0;
}

static void set_word(char *dst, const char *src)
{
	snprintf(dst, REDIS_WORD_MAX, "%s", src);
}

/* A database index: digits. */
static bool is_index(const char *s)
{
	size_t n = strlen(s);

	return n && strspn(s, "0123456789") == n;
}

/* What the reply to `cmd` changes on the connection. */
void redis_apply_reply(struct redis_conn *rc, const struct redis_cmd *cmd,
			const struct redis_reply *r)
{
	bool aggregate = r->type == '*' && r->n >= 0;

	if (redis_is_error(r)) {
		if (cmd->kind == REDIS_K_EXEC || cmd->kind == REDIS_K_DISCARD) {
			rc->in_multi = 0;
			rc->multi_ns[0] = '\0';
		}
		return;
	}
	if (rc->in_multi && reply_is(r, "QUEUED")) {
		if (cmd->kind == REDIS_K_SELECT && is_index(cmd->arg1))
			set_word(rc->multi_ns, cmd->arg1);
		return;
	}
	switch (cmd->kind) {
	case REDIS_K_SELECT:
		if (is_index(cmd->arg1))
			set_word(rc->ns, cmd->arg1);
		break;
	case REDIS_K_MULTI:
		rc->in_multi = 1;
		rc->multi_ns[0] = '\0';
		break;
	case REDIS_K_EXEC:
		if ((aggregate || r->type == '%' || r->type == '~') && rc->multi_ns[0])
			set_word(rc->ns, rc->multi_ns);
		/* fall through */
	case REDIS_K_DISCARD:
		rc->in_multi = 0;
		rc->multi_ns[0] = '\0';
		break;
	case REDIS_K_HELLO:
		if (cmd->arg1[0])
			rc->resp3 = !strcmp(cmd->arg1, "3");
		/* The handshake a client opens a connection with: the first
		 * command seen on a TLS connection, whose start the kernel
		 * cannot tell, it says the connection is seen from its start,
		 * in database 0.  (On a plain one the kernel said so; a HELLO
		 * sent again mid-stream may follow a SELECT.) */
		if (cmd->first && rc->tls && !rc->ns[0])
			set_word(rc->ns, "0");
		break;
	case REDIS_K_SUBSCRIBE:
	case REDIS_K_UNSUBSCRIBE:
		rc->confirms = cmd->argc > 2 ? cmd->argc - 2 : 0;
		if (cmd->kind == REDIS_K_SUBSCRIBE && !rc->resp3)
			rc->pubsub = 1;
		maybe_unsubscribed(rc, r);
		break;
	case REDIS_K_MONITOR:
		rc->monitor = r->type == '+';
		break;
	case REDIS_K_RESET:
		set_word(rc->ns, "0");
		rc->multi_ns[0] = '\0';
		rc->resp3 = rc->pubsub = rc->monitor = rc->in_multi = 0;
		break;
	default:
		break;
	}
}

/*
 * A reply that answers no command: a pub/sub message, a RESP3 push, the
 * rest of a subscription's confirmations, a MONITOR line.  Counted.
 */
static bool out_of_band(struct redis_conn *rc, const struct redis_reply *r)
{
	bool confirm, head_subscribes;

	if (rc->monitor && r->type == '+' && r->text_len &&
	    r->text[0] >= '0' && r->text[0] <= '9') {
		rc->stats.monitor_lines++;
		return true;
	}
	if (r->type != '>' &&
	    !(rc->pubsub && r->type == '*' &&
	      (kind_in(r, redis_confirm_words) || kind_in(r, redis_message_words))))
		return false;
	confirm = kind_in(r, redis_confirm_words);
	if (confirm && rc->confirms) {
		rc->confirms--;
		maybe_unsubscribed(rc, r);
		rc->stats.pushed++;
		return true;
	}
	head_subscribes = rc->count && (redis_q_at(rc, 0)->kind == REDIS_K_SUBSCRIBE ||
					redis_q_at(rc, 0)->kind == REDIS_K_UNSUBSCRIBE);
	if (confirm && head_subscribes)
		return false;
	if (confirm)
		maybe_unsubscribed(rc, r);
	rc->stats.pushed++;
	return true;
}

/* A reply is complete: it answers the oldest command waiting. */
void redis_rep_done(void *ctx)
{
	struct redis_feed *fc = ctx;
	struct redis_conn *rc = &fc->c->st.redis;
	const struct redis_reply *r = &rc->reply;
	struct redis_cmd *cmd;
	uint32_t skip;

	rc->last_reply_ns = fc->ts_ns;
	if (rc->reply_skip) {
		rc->reply_skip--;
		return;
	}
	if (out_of_band(rc, r))
		return;
	if (!rc->count || redis_q_at(rc, 0)->unmatched) {
		rc->stats.orphan_replies++; /* to a command not seen */
		return;
	}
	cmd = redis_q_at(rc, 0);
	redis_apply_reply(rc, cmd, r);
	redis_emit_command(fc, cmd, fc->ts_ns, r);
	skip = cmd->then_skip;
	redis_q_pop(rc);
	rc->reply_skip += skip;
}
