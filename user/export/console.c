// SPDX-License-Identifier: MIT
/*
 * The embedded default exporter: spans to stdout or a file, as readable
 * text (one line per span, a line per process resource the first time it
 * appears) or as OTLP/JSON lines (one ExportTraceServiceRequest per batch,
 * the format the Collector's otlpjsonfile receiver reads).  A batch is
 * one write() of whole lines, and a file that ends in a line cut short
 * (the disk filled, the daemon was killed) gets that line ended before
 * the first batch: a JSON-lines reader loses the cut line, not the next.
 */
#include "export/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	/* The last second formatted ("2026-12-06T14:25:23"): the spans of a
	 * batch mostly share it, and gmtime_r() with strftime() for each span
	 * showed in the daemon's profile at load. */
	uint64_t when_secs;
	size_t when_len; /* 0: none yet */
	char when[32];
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

/* Three digits of v (0..999). */
static char *put_3(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 100);
	p[1] = (char)('0' + v / 10 % 10);
	p[2] = (char)('0' + v % 10);
	return p + 3;
}

/* "<when>.<microseconds>Z"; the console's cache of its last second. */
static void add_time(struct console *c, struct sp_strbuf *b, uint64_t unix_ns)
{
	uint64_t secs = unix_ns / 1000000000ULL;
	unsigned us = (unsigned)(unix_ns % 1000000000ULL / 1000);
	char *p;

	if (!c->when_len || secs != c->when_secs) {
		time_t t = (time_t)secs;
		struct tm tm;

		gmtime_r(&t, &tm);
		c->when_len = strftime(c->when, sizeof(c->when), "%Y-%m-%dT%H:%M:%S", &tm);
		c->when_secs = secs;
	}
	p = strbuf_reserve(b, c->when_len + 8);
	if (!p)
		return;
	memcpy(p, c->when, c->when_len);
	p += c->when_len;
	*p++ = '.';
	p = put_3(put_3(p, us / 1000), us % 1000);
	*p = 'Z';
	b->len += c->when_len + 8;
}

/*
 * " %10.3fus" of a duration in ns, without printf: below 1e14 ns the
 * double's 3 decimals are exactly the integer's (its error is far below
 * half a nanosecond there); above, printf as before.
 */
static void add_duration(struct sp_strbuf *b, uint64_t ns)
{
	char tmp[32], *p = tmp + sizeof(tmp) - 2 - 3 - 1;

	if (ns >= 100000000000000ULL) {
		strbuf_addf(b, " %10.3fus", (double)ns / 1000.0);
		return;
	}
	memcpy(put_3(p + 1, (unsigned)(ns % 1000)), "us", 2);
	*p = '.';
	p = strbuf_u64_digits(p, ns / 1000);
	while (tmp + sizeof(tmp) - 2 - p < 10)
		*--p = ' ';
	*--p = ' ';
	strbuf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* " <label>=<hex>" */
static void add_id(struct sp_strbuf *b, const char *label, const uint8_t *id,
		   size_t len)
{
	size_t l = strlen(label);
	char *p = strbuf_reserve(b, 2 + l + 2 * len);

	if (!p)
		return;
	*p = ' ';
	memcpy(p + 1, label, l);
	p[1 + l] = '=';
	hex_encode(p + 2 + l, id, len);
	b->len += 2 + l + 2 * len;
}

static void add_text_attrs(struct sp_strbuf *b, const struct sp_span *span)
{
	for (size_t i = 0; i < span->n_attrs; i++) {
		const struct sp_attr *a = &span->attrs[i];

		strbuf_addc(b, ' ');
		strbuf_add(b, a->key, strlen(a->key));
		strbuf_addc(b, '=');
		if (a->type == SP_ATTR_STRING) {
			strbuf_addc(b, '"');
			strbuf_add_text_str(b, span_str(span, a->v.str.off),
					    a->v.str.len);
			strbuf_addc(b, '"');
		} else if (a->type == SP_ATTR_INT) {
			strbuf_add_i64(b, a->v.i);
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
static void add_text_span(struct console *c, struct sp_strbuf *b,
			  const struct sp_span *span)
{
	size_t name_len;
	const char *name = span_name(span, &name_len);
	const char *kind = kind_name(span->kind);
	size_t kl = strlen(kind);

	add_time(c, b, span->start_unix_ns);
	add_duration(b, span->end_unix_ns - span->start_unix_ns);
	/* " %-8s " */
	strbuf_addc(b, ' ');
	strbuf_add(b, kind, kl);
	strbuf_add(b, "         ", kl < 8 ? 9 - kl : 1);
	strbuf_add_text_str(b, name, name_len);
	strbuf_adds(b, " status=");
	strbuf_add(b, status_name(span->status_code),
		   strlen(status_name(span->status_code)));
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
 * The batch in one write(), not through stdio, which cuts a large one
 * into pieces: another process appending to the file cannot come between
 * them.  Output that failed once (disk full, a closed pipe) is not tried
 * again: the spans have nowhere to go, and the daemon stops on
 * write_errors.
 */
static int write_out(struct console *c, const void *data, size_t len)
{
	const char *p = data;
	size_t left = len;

	if (c->failed)
		return -EIO;
	while (left) {
		ssize_t n = write(fileno(c->out), p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sp_err("export: writing spans failed: %s",
			       strerror(n < 0 ? errno : EIO));
			c->failed = 1;
			return -EIO;
		}
		p += n;
		left -= (size_t)n;
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
		add_text_span(c, &c->line, spans[i]);
	}
	if (c->line.err)
		return c->line.err;
	return write_out(c, c->line.data, c->line.len);
}

/* The JSON and its newline in one buffer: one write, a whole line. */
static int console_export_json(struct console *c, struct sp_span *const *spans,
			       size_t count)
{
	uint8_t *json, *line;
	size_t len;
	int err;

	err = otlp_encode_json(spans, count, &json, &len);
	if (err)
		return err;
	line = realloc(json, len + 1);
	if (!line) {
		free(json);
		return -ENOMEM;
	}
	line[len] = '\n';
	err = write_out(c, line, len + 1);
	free(line);
	return err;
}

static int console_export(struct sp_exporter *exp, struct sp_span *const *spans,
			  size_t count)
{
	struct console *c = exp->state;
	int err;

	if (!c->json)
		err = console_export_text(c, spans, count);
	else
		err = console_export_json(c, spans, count);
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

/* The byte before the next write's place in the regular file fd, or -1. */
static int byte_before_next_write(int fd)
{
	struct stat st;
	char proc[32];
	off_t at;
	char last;
	int rfd;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return -1;
	at = fcntl(fd, F_GETFL) & O_APPEND ? st.st_size : lseek(fd, 0, SEEK_CUR);
	if (at <= 0)
		return -1;
	if (pread(fd, &last, 1, at - 1) == 1)
		return (unsigned char)last;
	/* Opened for writing only (stdout appended to by a shell or systemd). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return -1;
	if (pread(rfd, &last, 1, at - 1) != 1)
		last = '\n'; /* unknown: left as it is */
	close(rfd);
	return (unsigned char)last;
}

/*
 * A file that ends in a line cut short (the disk filled, or the daemon was
 * killed, mid-line) gets its newline: this run's first line would be
 * joined to it, and a JSON-lines reader refuse both.
 */
static int end_cut_line(struct console *c)
{
	int last = byte_before_next_write(fileno(c->out));

	if (last < 0 || last == '\n')
		return 0;
	if (write(fileno(c->out), "\n", 1) != 1) {
		sp_err("export: cannot end the last line of the output: %s",
		       strerror(errno));
		return -EIO;
	}
	return 0;
}

struct sp_exporter *console_exporter_create(const char *path, int json)
{
	struct sp_exporter *exp = calloc(1, sizeof(*exp));
	struct console *c = calloc(1, sizeof(*c));

	if (!exp || !c)
		goto fail;
	c->json = json;
	c->out = stdout;
	if (path) {
		/* Not inherited by a traced command; readable for end_cut_line(). */
		c->out = fopen(path, "a+e");
		if (!c->out) {
			sp_err("export: cannot open output file %s: %s", path,
			       strerror(errno));
			goto fail;
		}
		c->owns_out = 1;
	}
	if (end_cut_line(c))
		goto fail;
	strbuf_init(&c->line, 64u << 20);
	exp->ops = &console_ops;
	exp->state = c;
	return exp;
fail:
	if (c && c->owns_out)
		fclose(c->out);
	free(c);
	free(exp);
	return NULL;
}
