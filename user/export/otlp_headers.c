// SPDX-License-Identifier: MIT
/*
 * The headers of export requests: the OTEL_EXPORTER_OTLP_HEADERS list
 * syntax, the headers file, and the merged list requests carry.
 */
#include "export/otlp_headers.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/hex.h"
#include "util/log.h"

/* RFC 9110 tchar: what a header name may hold. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Percent-decode [s, s+len) into a new string; control bytes refused. */
static int decode_value(const char *s, size_t len, char **out, const char **why)
{
	char *v = malloc(len + 1);
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				*why = "has a bad percent-encoding";
				free(v);
				return -EINVAL;
			}
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "has a control character in its value";
			free(v);
			return -EINVAL;
		}
		v[n++] = (char)c;
	}
	v[n] = '\0';
	*out = v;
	return 0;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* A "name=value" pair: its name and value, trimmed. */
struct pair {
	const char *ns, *ne, *vs, *ve;
};

/*
 * Split [s, e) at its first '=' into a name, which must be an HTTP
 * token, and a value.  The reasons read after "an item" or "line N".
 */
static int split_pair(const char *s, const char *e, struct pair *p,
		      const char **why)
{
	const char *eq;

	trim(&s, &e);
	eq = memchr(s, '=', (size_t)(e - s));
	if (!eq) {
		*why = "has no '='";
		return -EINVAL;
	}
	*p = (struct pair){ s, eq, eq + 1, e };
	trim(&p->ns, &p->ne);
	trim(&p->vs, &p->ve);
	if (p->ns == p->ne) {
		*why = "has an empty name";
		return -EINVAL;
	}
	for (const char *c = p->ns; c < p->ne; c++) {
		if (!is_tchar((unsigned char)*c)) {
			*why = "has a name that is not an HTTP token";
			return -EINVAL;
		}
	}
	return 0;
}

/* Parse one "name=value" item at [s, e) into name/value (malloc'd). */
static int parse_item(const char *s, const char *e, char **name, char **value,
		      const char **why)
{
	struct pair p;
	int ret = split_pair(s, e, &p, why);
	const char *vs = p.vs, *ve = p.ve;

	if (ret)
		return ret;
	if (memchr(vs, ';', (size_t)(ve - vs))) {
		*why = "has properties (';'), which are not supported";
		return -EINVAL;
	}
	*name = strndup(p.ns, (size_t)(p.ne - p.ns));
	if (!*name)
		return -ENOMEM;
	if (decode_value(vs, (size_t)(ve - vs), value, why)) {
		free(*name);
		return *why ? -EINVAL : -ENOMEM;
	}
	return 0;
}

static int header_put(struct sp_otlp_config *cfg, char *name, char *value,
		      bool from_flag)
{
	struct sp_otlp_header *h = NULL;

	for (size_t i = 0; i < cfg->n_headers && !h; i++)
		if (strcasecmp(cfg->headers[i].name, name) == 0)
			h = &cfg->headers[i];
	if (h) {
		free(h->value);
		free(name);
		h->value = value;
		h->from_flag = from_flag;
		return 0;
	}
	if (cfg->n_headers == SP_OTLP_MAX_HEADERS) {
		free(name);
		free(value);
		return -E2BIG;
	}
	cfg->headers[cfg->n_headers++] =
		(struct sp_otlp_header){ name, value, from_flag };
	return 0;
}

int otlp_headers_parse_list(struct sp_otlp_config *cfg, const char *list,
			    bool from_flag, const char **why)
{
	struct sp_otlp_header items[SP_OTLP_MAX_HEADERS];
	size_t n = 0;
	const char *s = list;
	int ret = 0;

	*why = NULL;
	/* Parse everything first so a bad list adds nothing. */
	while (*s) {
		const char *e = strchr(s, ',');
		const char *ts = s, *te = e ? e : s + strlen(s);

		if (!e)
			e = te;
		trim(&ts, &te);
		if (ts != te) {
			if (n == SP_OTLP_MAX_HEADERS) {
				*why = "is one header too many";
				ret = -E2BIG;
				break;
			}
			ret = parse_item(ts, te, &items[n].name, &items[n].value, why);
			if (ret)
				break;
			n++;
		}
		s = *e ? e + 1 : e;
	}
	for (size_t i = 0; i < n; i++) {
		if (ret) {
			free(items[i].name);
			free(items[i].value);
		} else if (header_put(cfg, items[i].name, items[i].value,
				      from_flag)) {
			*why = "is one header too many";
			ret = -E2BIG;
		}
	}
	return ret ? ret : (int)n;
}

int otlp_config_parse_headers(struct sp_otlp_config *cfg, const char *list,
			      const char **why)
{
	return otlp_headers_parse_list(cfg, list, false, why);
}


/* One "name=value" line of a headers file, [s, e); the value as is. */
static int file_line(const char *s, const char *e, struct sp_otlp_header *out,
		     const char **why)
{
	struct pair pr;
	int ret = split_pair(s, e, &pr, why);
	const char *vs = pr.vs, *ve = pr.ve;

	if (ret)
		return ret;
	for (const char *p = vs; p < ve; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*why = "has a control character in its value";
			return -EINVAL;
		}
	}
	out->name = strndup(pr.ns, (size_t)(pr.ne - pr.ns));
	out->value = strndup(vs, (size_t)(ve - vs));
	out->from_flag = false;
	if (!out->name || !out->value) {
		free(out->name);
		free(out->value);
		*why = "does not fit in memory";
		return -ENOMEM;
	}
	return 0;
}

int otlp_headers_parse_file(const char *text, size_t len,
			    struct sp_otlp_header *out, size_t max,
			    size_t *line, const char **why)
{
	const char *p = text, *end = text + len;
	size_t n = 0;
	int ret = 0;

	*line = 0;
	*why = NULL;
	while (p < end && !ret) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;

		(*line)++;
		p = nl ? nl + 1 : end;
		trim(&s, &e);
		if (e > s && e[-1] == '\r') /* written on Windows */
			e--;
		trim(&s, &e);
		if (s == e || *s == '#')
			continue;
		if (n == max) {
			*why = "is one header too many";
			ret = -E2BIG;
		} else if (!(ret = file_line(s, e, &out[n], why))) {
			n++;
		}
	}
	if (ret) {
		for (size_t i = 0; i < n; i++) {
			free(out[i].name);
			free(out[i].value);
		}
		return ret;
	}
	*line = 0;
	return (int)n;
}

static void items_free(struct sp_otlp_header *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].name);
		free(items[i].value);
	}
}

/* Read and parse `path`; on failure, what is wrong in msg (no values). */
static int file_load(const char *path, struct sp_otlp_header *items,
		     size_t *n, char *msg, size_t msg_len)
{
	const char *why;
	char *text = NULL; /* set when file_read_all() succeeds; LTO cannot tell */
	size_t len = 0, line;
	int ret = file_read_all(path, SP_OTLP_HEADERS_FILE_MAX, &text, &len);

	if (ret) {
		snprintf(msg, msg_len, "headers file %s: %s", path,
			 ret == -EFBIG ? "larger than 64 KiB" : strerror(-ret));
		return ret;
	}
	ret = otlp_headers_parse_file(text, len, items, SP_OTLP_MAX_HEADERS,
				      &line, &why);
	free(text);
	if (ret < 0) {
		/* The file holds secrets: say where, never what. */
		snprintf(msg, msg_len, "headers file %s: line %zu %s (expected"
			 " name=value, # comments)", path, line, why);
		return ret;
	}
	*n = (size_t)ret;
	return 0;
}

int otlp_headers_check_file(const char *path)
{
	struct sp_otlp_header items[SP_OTLP_MAX_HEADERS];
	char msg[PATH_MAX + 160];
	size_t n;
	int ret = file_load(path, items, &n, msg, sizeof(msg));

	if (ret) {
		sp_err("export: %s", msg);
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	items_free(items, n);
	return 0;
}

static void list_free(struct http_header *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free((char *)list[i].name);
		free((char *)list[i].value);
	}
	free(list);
}

/* Add or replace (same name in any case); names lower-cased for HTTP/2. */
static int list_put(struct http_header *list, size_t *n, const char *name,
		    const char *value)
{
	char *v = strdup(value), *k;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(list[i].name, name) == 0) {
			free((char *)list[i].value);
			list[i].value = v;
			return 0;
		}
	}
	k = *n < SP_OTLP_MAX_HEADERS ? strdup(name) : NULL;
	if (!k) {
		free(v);
		return *n < SP_OTLP_MAX_HEADERS ? -ENOMEM : -E2BIG;
	}
	for (char *c = k; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	list[(*n)++] = (struct http_header){ k, v };
	return 0;
}

/* The environment's headers, then the file's, then the flags'. */
static int merge(const struct sp_otlp_config *cfg,
		 const struct sp_otlp_header *file, size_t n_file,
		 struct http_header **out, size_t *n_out)
{
	struct http_header *list = calloc(SP_OTLP_MAX_HEADERS, sizeof(*list));
	size_t n = 0;
	int ret = list ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < cfg->n_headers; i++)
		if (!cfg->headers[i].from_flag)
			ret = list_put(list, &n, cfg->headers[i].name,
				       cfg->headers[i].value);
	for (size_t i = 0; !ret && i < n_file; i++)
		ret = list_put(list, &n, file[i].name, file[i].value);
	for (size_t i = 0; !ret && i < cfg->n_headers; i++)
		if (cfg->headers[i].from_flag)
			ret = list_put(list, &n, cfg->headers[i].name,
				       cfg->headers[i].value);
	if (ret) {
		list_free(list, n);
		return ret;
	}
	*out = list;
	*n_out = n;
	return 0;
}

int otlp_headers_open(struct otlp_headers *h, const struct sp_otlp_config *cfg)
{
	struct sp_otlp_header items[SP_OTLP_MAX_HEADERS] = { { 0 } };
	char msg[PATH_MAX + 160];
	size_t n = 0;
	int ret;

	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	if (cfg->headers_file) {
		file_stamp_take(cfg->headers_file, &h->stamp);
		ret = file_load(cfg->headers_file, items, &n, msg, sizeof(msg));
		if (ret) {
			sp_err("export: %s", msg);
			return ret == -ENOMEM ? ret : -EINVAL;
		}
	}
	ret = merge(cfg, items, n, &h->list, &h->n);
	items_free(items, n);
	if (ret == -E2BIG)
		sp_err("export: more than %d headers in all", SP_OTLP_MAX_HEADERS);
	return ret == -E2BIG ? -EINVAL : ret;
}

/* The file changed and reads well: its headers replace the old ones. */
static int refresh_from(struct otlp_headers *h, struct sp_otlp_header *items,
			size_t n, char *msg, size_t msg_len)
{
	struct http_header *list;
	size_t n_list;
	int ret = merge(h->cfg, items, n, &list, &n_list);

	if (ret) {
		snprintf(msg, msg_len, "headers file %s: %s", h->cfg->headers_file,
			 ret == -E2BIG ? "too many headers in all" : strerror(-ret));
		return ret;
	}
	list_free(h->list, h->n);
	h->list = list;
	h->n = n_list;
	return 0;
}

bool otlp_headers_refresh(struct otlp_headers *h, int64_t now_ms)
{
	struct sp_otlp_header items[SP_OTLP_MAX_HEADERS];
	struct file_stamp now, after;
	const char *path = h->cfg->headers_file;
	char msg[PATH_MAX + 160];
	size_t n = 0;
	int ret;

	if (!path || !h->cfg->reload_check_ms || now_ms < h->next_check_ms)
		return false;
	h->next_check_ms = now_ms + h->cfg->reload_check_ms;
	file_stamp_take(path, &now);
	if (file_stamp_same(&now, &h->stamp) ||
	    (h->has_refused && file_stamp_same(&now, &h->refused)))
		return false;
	ret = file_load(path, items, &n, msg, sizeof(msg));
	file_stamp_take(path, &after);
	if (!file_stamp_same(&now, &after)) {
		/* Written to while we read: look again at the next check. */
		if (!ret)
			items_free(items, n);
		return false;
	}
	if (!ret) {
		ret = refresh_from(h, items, n, msg, sizeof(msg));
		items_free(items, n);
	}
	if (ret) {
		h->refused = now;
		h->has_refused = true;
		h->reload_failures++;
		sp_warn("export: %s; the previous headers stay in use until the"
			" file changes again", msg);
		return false;
	}
	h->stamp = now;
	h->has_refused = false;
	h->reloads++;
	sp_info("export: headers file %s changed: %zu headers from it", path, n);
	return true;
}

void otlp_headers_close(struct otlp_headers *h)
{
	list_free(h->list, h->n);
	h->list = NULL;
	h->n = 0;
}
