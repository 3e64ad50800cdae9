// SPDX-License-Identifier: MIT
/* The decoders, and what every decoder shares: recognition, attributes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/protocol.h"

extern const struct proto_ops proto_http1;
extern const struct proto_ops proto_http2;
extern const struct proto_ops proto_pgsql;
extern const struct proto_ops proto_redis;
extern const struct proto_ops proto_mysql;

/* A new protocol: its file, and one line here.  HTTP/2 first: its
 * preface has the shape of an HTTP/1.x request line ("PRI * ..."). */
const struct proto_ops *const proto_registry[] = {
	&proto_http2,
	&proto_http1,
	&proto_pgsql, /* a startup's first byte is 0: never HTTP's */
	&proto_redis, /* "*N\r\n$": no HTTP message starts so */
	&proto_mysql, /* the server's greeting: binary, no HTTP start */
	NULL,
};

uint32_t proto_loss_epoch;

void proto_records_lost(void)
{
	proto_loss_epoch++;
}

const struct proto_ops *proto_recognise(const void *data, size_t len,
					enum stream_dir dir)
{
	const struct proto_ops *maybe = NULL;

	for (const struct proto_ops *const *p = proto_registry; *p; p++) {
		enum proto_guess g = (*p)->recognise(data, len, dir);

		if (g == PROTO_YES)
			return *p;
		if (g == PROTO_MAYBE && !maybe)
			maybe = *p;
	}
	return maybe;
}

const struct proto_ops *proto_find(const char *name)
{
	for (const struct proto_ops *const *p = proto_registry; *p; p++)
		if (strcmp((*p)->name, name) == 0)
			return *p;
	return NULL;
}

void proto_exchange_begin(struct proto_exchange *x, bool server,
			  uint64_t req_start_ns, uint64_t end_ns)
{
	/* Not the whole struct: the attribute slots and text are written
	 * before they are read. */
	x->req_start_ns = req_start_ns;
	x->end_ns = end_ns;
	x->unordered = false;
	x->announced = false;
	x->seq = 0;
	x->tid = 0;
	x->server = server;
	x->error = false;
	x->status_message = NULL;
	x->traceparent = NULL;
	x->name = "";
	x->name_len = 0;
	x->n_attrs = 0;
	x->text_used = 0;
}

/* The next attribute, its fields written one by one rather than the
 * slot cleared first (decoders add several to every exchange); past
 * PROTO_ATTRS_MAX, left out. */
static void attr_put(struct proto_exchange *x, const char *key, const char *str,
		     uint32_t len, bool is_int, int64_t i)
{
	struct proto_attr *a;

	if (x->n_attrs == PROTO_ATTRS_MAX)
		return;
	a = &x->attrs[x->n_attrs++];
	a->key = key;
	a->str = str;
	a->len = len;
	a->is_int = is_int;
	a->i = i;
}

char *proto_text_alloc(struct proto_exchange *x, size_t size)
{
	char *out = x->text + x->text_used;

	if (size > sizeof(x->text) - x->text_used)
		return NULL;
	x->text_used += (uint32_t)size;
	return out;
}

const char *proto_text(struct proto_exchange *x, const char *fmt, ...)
{
	size_t room = sizeof(x->text) - x->text_used;
	char *out = x->text + x->text_used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return "";
	x->text_used += (uint32_t)n + 1;
	return out;
}

const char *proto_text_join(struct proto_exchange *x, const char *a, char sep,
			    const char *b)
{
	const char between[2] = { sep, '\0' };
	const char *parts[] = { a, between, b };
	const char *out;

	proto_text_cat(x, parts, 3, &out);
	return out;
}

size_t proto_text_cat(struct proto_exchange *x, const char *const *parts,
		      size_t n, const char **out)
{
	size_t lens[PROTO_CAT_MAX], total = 0;
	char *p;

	*out = "";
	if (n > PROTO_CAT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i] = strlen(parts[i]);
	p = proto_text_alloc(x, total + 1);
	if (!p)
		return 0;
	*out = p;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, parts[i], lens[i]);
		p += lens[i];
	}
	*p = '\0';
	return total;
}

/* A copy of `len` bytes of `str` (cut at a NUL, as "%.*s" would) in x->text. */
static const char *text_copy(struct proto_exchange *x, const char *str, size_t len)
{
	char *out;

	len = strnlen(str, len);
	out = proto_text_alloc(x, len + 1);
	if (!out)
		return "";
	memcpy(out, str, len);
	out[len] = '\0';
	return out;
}

void proto_attr_str(struct proto_exchange *x, const char *key, const char *str,
		    size_t len, bool copy)
{
	if (copy)
		str = text_copy(x, str, len);
	attr_put(x, key, str, (uint32_t)strnlen(str, len), false, 0);
}

void proto_attr_cstr(struct proto_exchange *x, const char *key, const char *str)
{
	proto_attr_str(x, key, str, strlen(str), false);
}

void proto_attr_int(struct proto_exchange *x, const char *key, int64_t value)
{
	attr_put(x, key, NULL, 0, true, value);
}
