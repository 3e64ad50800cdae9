// SPDX-License-Identifier: MIT
/*
 * The embedded default exporter: spans to stdout or a file, as readable
 * text (one line per span, a line per process resource the first time it
 * appears) or as OTLP/JSON lines (one ExportTraceServiceRequest per batch,
 * the format the Collector's otlpjsonfile receiver reads).
 */
#include "export/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "span/resource.h"
#include "export/otlp_encode.h"
#include "util/counter.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/strbuf.h"

struct console {
	FILE *out;
	int owns_out;
	int json;
	uint64_t bytes; /* written */
	int failed;     /* a write failed: said once, nothing written after */
	struct sp_strbuf line;
};

static const char *kind_name(uint8_t kind)
{
	static const char *const names[] = { "UNSPECIFIED", "INTERNAL", "SERVER",
					     "CLIENT", "PRODUCER", "CONSUMER" };

	return kind < 6 ? names[kind] : "UNSPECIFIED";
}

static const char *status_name(uint8_t code)
{
	return code == SP_STATUS_OK ? "OK" : code == SP_STATUS_ERROR ? "ERROR" : "UNSET";
}

static void add_time(struct sp_strbuf *b, uint64_t unix_ns)
{
	time_t secs = (time_t)(unix_ns / 1000000000ULL);
	struct tm tm;
	char when[32];

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	strbuf_addf(b, "%s.%06uZ", when,
		    (unsigned)(unix_ns % 1000000000ULL / 1000));
}

static void add_id(struct sp_strbuf *b, const char *label, const uint8_t *id,
		   size_t len)
{
	char hex[32];

	hex_encode(hex, id, len);
	strbuf_addf(b, " %s=%.*s", label, (int)(2 * len), hex);
}

static void add_text_attrs(struct sp_strbuf *b, const struct sp_span *span)
{
	for (size_t i = 0; i < span->n_attrs; i++) {
		const struct sp_attr *a = &span->attrs[i];

		strbuf_addf(b, " %s=", a->key);
		if (a->type == SP_ATTR_STRING) {
			strbuf_addc(b, '"');
			strbuf_add_text_str(b, span_str(span, a->v.str.off),
					    a->v.str.len);
			strbuf_addc(b, '"');
		} else if (a->type == SP_ATTR_INT) {
			strbuf_addf(b, "%lld", (long long)a->v.i);
		} else if (a->type == SP_ATTR_BOOL) {
			strbuf_adds(b, a->v.b ? "true" : "false");
		} else {
			strbuf_addf(b, "%g", a->v.d);
		}
	}
}

static void add_resource_line(struct sp_strbuf *b, const struct sp_resource *res)
{
	strbuf_addf(b, "resource pid=%u:", res->pid);
	for (size_t i = 0; i < res->count; i++) {
		const struct sp_resattr *a = &res->attrs[i];

		/* Keys too: OTEL_RESOURCE_ATTRIBUTES is the process's to set. */
		strbuf_addc(b, ' ');
		strbuf_add_text_str(b, a->key, strlen(a->key));
		if (a->type == SP_RES_INT) {
			strbuf_addf(b, "=%lld", (long long)a->i);
		} else {
			strbuf_adds(b, "=\"");
			strbuf_add_text_str(b, a->str, strlen(a->str));
			strbuf_addc(b, '"');
		}
	}
	strbuf_addc(b, '\n');
}

/* "<start> <duration> <kind> <name> status=... trace=... span=... parent=... attrs" */
static void add_text_span(struct sp_strbuf *b, const struct sp_span *span)
{
	size_t name_len;
	const char *name = span_name(span, &name_len);
	uint64_t dur = span->end_unix_ns - span->start_unix_ns;

	add_time(b, span->start_unix_ns);
	strbuf_addf(b, " %10.3fus %-8s ", (double)dur / 1000.0,
		    kind_name(span->kind));
	strbuf_add_text_str(b, name, name_len);
	strbuf_addf(b, " status=%s", status_name(span->status_code));
	if (span->status_msg_len) {
		strbuf_addc(b, '(');
		strbuf_add_text_str(b, span_str(span, span->status_msg_off),
				    span->status_msg_len);
		strbuf_addc(b, ')');
	}
	add_id(b, "trace", span->trace_id, 16);
	add_id(b, "span", span->span_id, 8);
	if (span_has_parent(span))
		add_id(b, "parent", span->parent_span_id, 8);
	add_text_attrs(b, span);
	strbuf_addc(b, '\n');
}

/*
 * Output that failed once (disk full, a closed pipe) is not tried again:
 * the spans have nowhere to go, and the daemon stops on write_errors.
 */
static int write_out(struct console *c, const void *data, size_t len)
{
	if (c->failed)
		return -EIO;
	if (fwrite(data, 1, len, c->out) != len || fflush(c->out)) {
		sp_err("export: writing spans failed: %s", strerror(errno));
		c->failed = 1;
		return -EIO;
	}
	c->bytes += len;
	return 0;
}

static int console_export_text(struct console *c, struct sp_span *const *spans,
			       size_t count)
{
	strbuf_reset(&c->line);
	for (size_t i = 0; i < count; i++) {
		struct sp_resource *res = spans[i]->resource;

		if (res && !res->announced) {
			res->announced = 1;
			add_resource_line(&c->line, res);
		}
		add_text_span(&c->line, spans[i]);
	}
	if (c->line.err)
		return c->line.err;
	return write_out(c, c->line.data, c->line.len);
}

static int console_export(struct sp_exporter *exp, struct sp_span *const *spans,
			  size_t count)
{
	struct console *c = exp->state;
	uint8_t *json;
	size_t len;
	int err;

	if (!c->json) {
		err = console_export_text(c, spans, count);
	} else {
		err = otlp_encode_json(spans, count, &json, &len);
		if (!err) {
			err = write_out(c, json, len);
			if (!err)
				err = write_out(c, "\n", 1);
			free(json);
		}
	}
	if (err == -EIO)
		counter_add(&exp->stats.write_errors, 1);
	if (err)
		counter_add(&exp->stats.spans_failed, count);
	else
		counter_add(&exp->stats.spans_exported, count);
	counter_set(&exp->stats.bytes_raw, c->bytes);
	counter_set(&exp->stats.bytes_sent, c->bytes);
	return err;
}

static int console_flush(struct sp_exporter *exp)
{
	struct console *c = exp->state;

	return fflush(c->out) ? -errno : 0;
}

static void console_destroy(struct sp_exporter *exp)
{
	struct console *c = exp->state;

	if (c->owns_out)
		fclose(c->out);
	strbuf_free(&c->line);
	free(c);
	free(exp);
}

static const struct sp_exporter_ops console_ops = {
	.name = "console",
	.export_spans = console_export,
	.flush = console_flush,
	.destroy = console_destroy,
};

struct sp_exporter *console_exporter_create(const char *path, int json)
{
	struct sp_exporter *exp = calloc(1, sizeof(*exp));
	struct console *c = calloc(1, sizeof(*c));

	if (!exp || !c)
		goto fail;
	c->json = json;
	c->out = stdout;
	if (path) {
		c->out = fopen(path, "ae"); /* not inherited by a traced command */
		if (!c->out) {
			sp_err("export: cannot open output file %s: %s", path,
			       strerror(errno));
			goto fail;
		}
		c->owns_out = 1;
	}
	strbuf_init(&c->line, 64u << 20);
	exp->ops = &console_ops;
	exp->state = c;
	return exp;
fail:
	free(c);
	free(exp);
	return NULL;
}
