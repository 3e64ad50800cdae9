// SPDX-License-Identifier: MIT
/*
 * Field numbers: ExportTraceServiceResponse { ExportTracePartialSuccess
 * partial_success = 1; } with { int64 rejected_spans = 1; string
 * error_message = 2; }; google.rpc.Status { int32 code = 1; string
 * message = 2; }.  JSON bodies use the lowerCamelCase names.
 */
#include "export/otlp_response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/pbwire.h"

static void copy_printable(char *dst, size_t size, const uint8_t *s, size_t len)
{
	size_t n = 0;

	if (!size)
		return;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		dst[n++] = s[i] < 0x20 || s[i] == 0x7f ? ' ' : (char)s[i];
	while (n && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

/* Value of "key": string or number after `from` in a JSON text; NULL if absent. */
static const char *json_value(const char *from, const char *end,
			      const char *key, size_t *len, bool *is_string)
{
	size_t kl = strlen(key);
	const char *p = from;

	while ((p = memmem(p, (size_t)(end - p), key, kl))) {
		const char *q = p + kl;
		bool quoted = p > from && p[-1] == '"';

		p = q;
		if (!quoted || q >= end || *q != '"')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == ':'))
			q++;
		if (q >= end)
			return NULL;
		*is_string = *q == '"';
		if (*is_string) {
			const char *e = ++q;

			while (e < end && *e != '"')
				e += *e == '\\' ? 2 : 1;
			*len = (size_t)((e < end ? e : end) - q);
			return q;
		}
		*len = 0;
		while (q + *len < end && strchr("-0123456789", q[*len]) && q[*len])
			(*len)++;
		return q;
	}
	return NULL;
}

static int partial_json(const uint8_t *body, size_t len, int64_t *rejected,
			char *msg, size_t msg_size)
{
	const char *s = (const char *)body, *end = s + len, *v;
	size_t vl;
	bool str;

	v = json_value(s, end, "partialSuccess", &vl, &str);
	if (!v)
		return 0;
	s = v;
	v = json_value(s, end, "rejectedSpans", &vl, &str);
	if (v && vl < 24) {
		char num[24];

		memcpy(num, v, vl);
		num[vl] = '\0';
		*rejected = strtoll(num, NULL, 10);
	}
	v = json_value(s, end, "errorMessage", &vl, &str);
	if (v && str)
		copy_printable(msg, msg_size, (const uint8_t *)v, vl);
	return 0;
}

int otlp_response_partial(const uint8_t *body, size_t len, bool json,
			  int64_t *rejected, char *msg, size_t msg_size)
{
	struct pb_reader r, ps;
	struct pb_field f, g;
	int ret;

	*rejected = 0;
	if (msg_size)
		msg[0] = '\0';
	if (!len)
		return 0; /* no body (maybe NULL): nothing rejected */
	if (json)
		return partial_json(body, len, rejected, msg, msg_size);
	pb_reader_init(&r, body, len);
	while ((ret = pb_next(&r, &f)) == 1) {
		if (f.number != 1 || f.wire_type != 2)
			continue;
		pb_reader_init(&ps, f.bytes, f.len);
		while ((ret = pb_next(&ps, &g)) == 1) {
			if (g.number == 1 && g.wire_type == 0)
				*rejected = (int64_t)g.varint;
			else if (g.number == 2 && g.wire_type == 2)
				copy_printable(msg, msg_size, g.bytes, g.len);
		}
		if (ret < 0)
			return -EBADMSG;
	}
	return ret < 0 ? -EBADMSG : 0;
}

void otlp_response_error_message(const uint8_t *body, size_t len,
				 const char *content_type, char *msg,
				 size_t msg_size)
{
	struct pb_reader r;
	struct pb_field f;
	const char *v;
	size_t vl;
	bool str;

	if (msg_size)
		msg[0] = '\0';
	if (!body || !len)
		return;
	if (content_type && strstr(content_type, "protobuf")) {
		pb_reader_init(&r, body, len);
		while (pb_next(&r, &f) == 1) {
			if (f.number == 2 && f.wire_type == 2) {
				copy_printable(msg, msg_size, f.bytes, f.len);
				return;
			}
		}
		return;
	}
	if (content_type && strstr(content_type, "json")) {
		v = json_value((const char *)body, (const char *)body + len,
			       "message", &vl, &str);
		if (v && str) {
			copy_printable(msg, msg_size, (const uint8_t *)v, vl);
			return;
		}
	}
	copy_printable(msg, msg_size, body, len);
}
