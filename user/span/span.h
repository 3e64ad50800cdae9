/* SPDX-License-Identifier: MIT */
/*
 * span/: the span model shared by assemble/ (which builds spans) and
 * export/ (which sends them): the span and its attributes, the process
 * resource, the span pool, and the sink through which finished spans leave
 * assembly.  It may include util/ only, so that neither stage needs the
 * other.
 *
 * The span as the daemon assembles it: fixed size, no pointers into
 * anything that may go away (strings live in the span's own arena), so a
 * span can be preallocated, queued and exported without malloc.
 */
#ifndef SPANPROBE_SPAN_H
#define SPANPROBE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_SPAN_MAX_ATTRS 24
#define SP_SPAN_ARENA 1024

/* Values of OTLP's Span.SpanKind (trace.proto). */
enum sp_span_kind {
	SP_KIND_UNSPECIFIED = 0,
	SP_KIND_INTERNAL = 1,
	SP_KIND_SERVER = 2,
	SP_KIND_CLIENT = 3,
	SP_KIND_PRODUCER = 4,
	SP_KIND_CONSUMER = 5,
};

/* Values of OTLP's Status.StatusCode. */
enum sp_status_code {
	SP_STATUS_UNSET = 0,
	SP_STATUS_OK = 1,
	SP_STATUS_ERROR = 2,
};

enum sp_attr_type {
	SP_ATTR_STRING = 1,
	SP_ATTR_INT = 2,
	SP_ATTR_BOOL = 3,
	SP_ATTR_DOUBLE = 4,
};

/*
 * One attribute.  `key` points to a string with static storage (semantic
 * convention names are compile-time constants): the protobuf encoder
 * keeps each key's encoded field by the key's address, so an address
 * must never name another text.  String values live in the owning span's
 * arena at [str.off, str.off + str.len).
 */
struct sp_attr {
	const char *key;
	uint8_t type; /* enum sp_attr_type */
	union {
		struct {
			uint16_t off;
			uint16_t len;
		} str;
		int64_t i;
		double d;
		bool b;
	} v;
};

struct sp_resource;

struct sp_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8]; /* all zero for a root span */
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;
	uint32_t pid;
	uint32_t tid;
	uint8_t kind;        /* enum sp_span_kind */
	uint8_t status_code; /* enum sp_status_code */
	uint8_t sampled;     /* 0: assembled for context only, not exported */
	uint8_t filtered;    /* outside the user's filters: context only */
	uint8_t has_children; /* a span took it as parent: its trace ID is given */
	uint8_t n_attrs;
	uint16_t name_off, name_len;
	uint16_t status_msg_off, status_msg_len;
	uint16_t arena_used;
	struct sp_resource *resource; /* reference held by the span */
	struct sp_attr attrs[SP_SPAN_MAX_ATTRS];
	char arena[SP_SPAN_ARENA];
};

/* Reset `span` to an empty span (IDs zero, no attributes). */
void span_reset(struct sp_span *span);

/*
 * Set the span's name / status message.  Values longer than the room left
 * in the arena are truncated (never dropped): returns 0, or -ENOSPC when
 * truncated.
 */
int span_set_name(struct sp_span *span, const char *name, size_t len);
int span_set_status(struct sp_span *span, enum sp_status_code code,
		    const char *msg);

/*
 * Append an attribute.  Returns 0; -ENOSPC when the span already has
 * SP_SPAN_MAX_ATTRS attributes (attribute dropped) or a string value was
 * truncated to fit the arena.
 */
int span_add_str(struct sp_span *span, const char *key, const char *val,
		 size_t len);
int span_add_cstr(struct sp_span *span, const char *key, const char *val);
int span_add_int(struct sp_span *span, const char *key, int64_t val);
int span_add_bool(struct sp_span *span, const char *key, bool val);
int span_add_double(struct sp_span *span, const char *key, double val);
/* A string attribute whose value is the span's name as set now: its bytes
 * are the name's own in the arena, not a copy. */
int span_add_name_attr(struct sp_span *span, const char *key);
/* A string attribute whose value is bytes already in the arena, at
 * [off, off + len) (another attribute's value): not copied again. */
int span_add_arena_str(struct sp_span *span, const char *key, uint16_t off,
		       uint16_t len);

/*
 * Up to `n` attribute slots after the last, for the caller to fill (key,
 * type, value; a string's by span_put_str()): counted at once, not one
 * by one.  Returns how many were taken (fewer when the span is full) and
 * the first in *first.
 */
static inline unsigned span_attrs_take(struct sp_span *span, unsigned n,
				       struct sp_attr **first)
{
	unsigned room = SP_SPAN_MAX_ATTRS - span->n_attrs;

	if (n > room)
		n = room;
	*first = &span->attrs[span->n_attrs];
	span->n_attrs = (uint8_t)(span->n_attrs + n);
	return n;
}

/* The string value of slot `a` (taken by span_attrs_take()): what
 * span_add_str() copies and returns. */
int span_put_str(struct sp_span *span, struct sp_attr *a, const char *val,
		 size_t len);

/* Read helpers: pointer into the arena (not NUL-terminated) and length. */
static inline const char *span_str(const struct sp_span *span, uint16_t off)
{
	return span->arena + off;
}
static inline const char *span_name(const struct sp_span *span, size_t *len)
{
	*len = span->name_len;
	return span->arena + span->name_off;
}

/* Look up an attribute by key; NULL when absent. */
const struct sp_attr *span_find_attr(const struct sp_span *span,
				     const char *key);

/*
 * Where finished spans go (the batch span processor; a test's recorder).
 * Both functions take over `span`: they return 0, or -ENOSPC when the span
 * was dropped (given back to its pool; the sink counts it).  push never
 * blocks; push_wait waits for room, for when nothing upstream can be lost
 * by waiting (the final drain).  push_many (optional) takes spans[0..n)
 * at once, as push (or push_wait when `wait`) would one by one, and
 * returns how many were dropped: one lock for many spans.
 */
struct sp_span_sink {
	int (*push)(void *ctx, struct sp_span *span);
	int (*push_wait)(void *ctx, struct sp_span *span);
	uint32_t (*push_many)(void *ctx, struct sp_span *const *spans, uint32_t n,
			      bool wait);
	void *ctx;
};

static inline bool span_has_parent(const struct sp_span *span)
{
	static const uint8_t zero[8];

	return __builtin_memcmp(span->parent_span_id, zero, 8) != 0;
}

#endif /* SPANPROBE_SPAN_H */
