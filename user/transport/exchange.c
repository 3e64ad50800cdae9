// SPDX-License-Identifier: MIT
/*
 * Requests in flight and their answers: the helpers both protocol parts
 * fill a response with, and the ones callers read it with.
 */
#include "transport/exchange.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_response_reset(struct http_response *r)
{
	free(r->body);
	free(r->fields);
	memset(r, 0, sizeof(*r));
}

void http_response_append(struct http_response *r, const uint8_t *p, size_t n)
{
	size_t room = HTTP_BODY_MAX - r->body_len;
	uint8_t *grown;

	if (n > room) {
		r->body_truncated = true;
		n = room;
	}
	if (!n)
		return;
	grown = realloc(r->body, r->body_len + n);
	if (!grown) {
		r->body_truncated = true;
		return;
	}
	r->body = grown;
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
}

/* Fields are kept as "name\0value\0" pairs: a C reader stops at a NUL. */
static size_t until_nul(const char *s, size_t len)
{
	const char *nul = memchr(s, '\0', len);

	return nul ? (size_t)(nul - s) : len;
}

void http_response_add_field(struct http_response *r, const char *name,
			     size_t name_len, const char *value,
			     size_t value_len)
{
	size_t need, off = r->fields_len;
	char *grown;

	name_len = until_nul(name, name_len);
	value_len = until_nul(value, value_len);
	need = name_len + value_len + 2;
	if (need > HTTP_FIELDS_MAX - r->fields_len)
		return;
	grown = realloc(r->fields, r->fields_len + need);
	if (!grown)
		return;
	r->fields = grown;
	for (size_t i = 0; i < name_len; i++)
		grown[off + i] = (char)tolower((unsigned char)name[i]);
	grown[off + name_len] = '\0';
	memcpy(grown + off + name_len + 1, value, value_len);
	grown[off + need - 1] = '\0';
	r->fields_len += need;
}

const char *http_response_field(const struct http_response *r,
				const char *name)
{
	const char *found = NULL, *p = r->fields, *end;

	if (!p)
		return NULL;
	end = p + r->fields_len;
	/* The last one wins: a trailer overrides the same-named header. */
	while (p < end) {
		const char *value = p + strlen(p) + 1;

		if (strcasecmp(p, name) == 0)
			found = value;
		p = value + strlen(value) + 1;
	}
	return found;
}

void http_exchange_finish(struct http_exchange *x, int error)
{
	if (x->done)
		return;
	x->done = true;
	x->resp->error = error;
	if (error == 0 && x->conn && x->conn->ops)
		x->resp->version = x->conn->ops->version;
	if (x->started && x->conn && x->conn->active)
		x->conn->active--;
}
