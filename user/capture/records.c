// SPDX-License-Identifier: MIT
#include "capture/records.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "spanprobe/events.h"

/* The rule for what follows a record's fixed part; NULL: nothing does. */
typedef enum records_verdict (*records_tail_fn)(const void *data, size_t size);

struct records_rule {
	uint16_t fixed; /* sizeof the record's struct; 0: no such type */
	records_tail_fn tail;
};

int records_piece_next(const uint8_t *p, size_t n, size_t *off,
		       struct records_piece *out)
{
	struct sp_sock_piece h;

	if (*off == n)
		return 0;
	if (n - *off < sizeof(h))
		return -EINVAL;
	memcpy(&h, p + *off, sizeof(h));
	if (n - *off - sizeof(h) < h.kept)
		return -EINVAL;
	out->kept = p + *off + sizeof(h);
	out->n_kept = h.kept;
	out->skip = (uint32_t)h.skip_hi << 16 | h.skip_lo;
	*off += sizeof(h) + h.kept;
	return 1;
}

/* The pieces of a frame-walked record: whole, and the call's length. */
static bool pieces_fit(const struct sp_sock_data_event *ev)
{
	const uint8_t *p = (const uint8_t *)(ev + 1);
	struct records_piece pc;
	uint64_t sum = 0;
	size_t off = 0;
	int r;

	while ((r = records_piece_next(p, ev->captured, &off, &pc)) > 0)
		sum += (uint64_t)pc.n_kept + pc.skip;
	return r == 0 && sum == ev->total_len;
}

/*
 * SP_EV_SOCK_DATA: `captured` payload bytes follow, out of the call's
 * `total_len`, never more than the BPF side may capture (frame-walked
 * pieces: up to SP_SOCK_FRAMES_MAX, the call's length in all); the
 * direction is one of two.
 */
static enum records_verdict check_sock_data(const void *data, size_t size)
{
	const struct sp_sock_data_event *ev = data;

	if (size != sizeof(*ev) + ev->captured)
		return RECORDS_BAD_TAIL;
	if (ev->sock_flags & SP_SOCK_F_FRAMES) {
		if (ev->captured > SP_SOCK_FRAMES_MAX || !pieces_fit(ev))
			return RECORDS_BAD_TAIL;
	} else if (ev->captured > ev->total_len || ev->captured > SP_SOCK_CAPTURE_MAX) {
		return RECORDS_BAD_TAIL;
	}
	if (ev->direction != SP_SOCK_SEND && ev->direction != SP_SOCK_RECV)
		return RECORDS_BAD_FIELD;
	return RECORDS_OK;
}

static const struct records_rule rules[SP_EV_TYPE_MAX] = {
	[SP_EV_FUNC_ENTRY] = { sizeof(struct sp_func_event), NULL },
	[SP_EV_FUNC_RETURN] = { sizeof(struct sp_func_event), NULL },
	[SP_EV_THREAD_EXIT] = { sizeof(struct sp_task_event), NULL },
	[SP_EV_PROC_EXEC] = { sizeof(struct sp_exec_event), NULL },
	[SP_EV_SOCK_DATA] = { sizeof(struct sp_sock_data_event), check_sock_data },
	[SP_EV_SOCK_CLOSE] = { sizeof(struct sp_sock_close_event), NULL },
	[SP_EV_LIB_LOADED] = { sizeof(struct sp_lib_event), NULL },
	[SP_EV_TLS_SEEN] = { sizeof(struct sp_tls_seen_event), NULL },
	[SP_EV_PROC_FORK] = { sizeof(struct sp_fork_event), NULL },
};

/* A new record type needs its rule: the table must grow with the enum. */
_Static_assert(SP_EV_TYPE_MAX == 10, "records: a record type has no rule");

enum records_verdict records_check(const void *data, size_t size)
{
	const struct sp_event_header *hdr = data;
	const struct records_rule *rule;

	if (size < sizeof(*hdr) || hdr->size != size)
		return RECORDS_BAD_HEADER;
	if (hdr->type == 0 || hdr->type >= SP_EV_TYPE_MAX || !rules[hdr->type].fixed)
		return RECORDS_BAD_TYPE;
	if (hdr->version != SP_EVENT_VERSION)
		return RECORDS_BAD_VERSION;
	rule = &rules[hdr->type];
	if (rule->tail ? size < rule->fixed : size != rule->fixed)
		return RECORDS_BAD_SIZE;
	return rule->tail ? rule->tail(data, size) : RECORDS_OK;
}

int records_validate(struct records_stats *st, const void *data, size_t size)
{
	enum records_verdict v = records_check(data, size);

	if (v == RECORDS_OK)
		return 0;
	st->refused[v]++;
	return -EINVAL;
}

uint64_t records_refused(const struct records_stats *st)
{
	uint64_t sum = 0;

	for (int v = RECORDS_OK + 1; v < RECORDS_VERDICT_MAX; v++)
		sum += st->refused[v];
	return sum;
}

const char *records_verdict_name(enum records_verdict v)
{
	static const char *const names[RECORDS_VERDICT_MAX] = {
		[RECORDS_OK] = "ok",
		[RECORDS_BAD_HEADER] = "header",
		[RECORDS_BAD_TYPE] = "type",
		[RECORDS_BAD_VERSION] = "version",
		[RECORDS_BAD_SIZE] = "size",
		[RECORDS_BAD_TAIL] = "tail",
		[RECORDS_BAD_FIELD] = "field",
	};

	return (unsigned)v < RECORDS_VERDICT_MAX ? names[v] : "?";
}
