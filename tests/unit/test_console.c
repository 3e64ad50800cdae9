/* SPDX-License-Identifier: MIT */
/*
 * The text console's span lines, byte for byte against the format they
 * are specified by, written here with printf: "<start> <duration> <kind>
 * <name> status=... trace=... span=... [parent=...] attrs".  The exporter
 * writes them without printf and caches the last second it formatted,
 * so times are taken within a second, across seconds and backwards,
 * durations at every width and past the exact range.  A file whose last
 * line was cut short (the disk filled mid-line) is not joined to the next
 * run's first line, in text or OTLP/JSON, to a file or to stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/console.h"
#include "export/otlp_encode.h"
#include "util/hex.h"
#include "util/strbuf.h"
#include "unit/unit_helpers.h"

#define N_SPANS 2000
#define T0 1764000000000000000ULL /* 2025-11-24T16:00:00Z */

static const char *const kinds[] = { "UNSPECIFIED", "INTERNAL", "SERVER",
				     "CLIENT", "PRODUCER", "CONSUMER" };
static const char *const statuses[] = { "UNSET", "OK", "ERROR" };

/* The line of one span as printf writes it. */
static void reference_line(struct sp_strbuf *b, const struct sp_span *s)
{
	time_t secs = (time_t)(s->start_unix_ns / 1000000000ULL);
	uint64_t dur = s->end_unix_ns - s->start_unix_ns;
	char when[32], hex[33];
	size_t name_len;
	const char *name = span_name(s, &name_len);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	strbuf_addf(b, "%s.%06uZ", when,
		    (unsigned)(s->start_unix_ns % 1000000000ULL / 1000));
	strbuf_addf(b, " %10.3fus %-8s ", (double)dur / 1000.0,
		    s->kind < 6 ? kinds[s->kind] : "UNSPECIFIED");
	strbuf_add_text_str(b, name, name_len);
	strbuf_addf(b, " status=%s", statuses[s->status_code]);
	if (s->status_msg_len) {
		strbuf_addc(b, '(');
		strbuf_add_text_str(b, span_str(s, s->status_msg_off), s->status_msg_len);
		strbuf_addc(b, ')');
	}
	hex_encode_scalar(hex, s->trace_id, 16);
	strbuf_addf(b, " trace=%.32s", hex);
	hex_encode_scalar(hex, s->span_id, 8);
	strbuf_addf(b, " span=%.16s", hex);
	if (span_has_parent(s)) {
		hex_encode_scalar(hex, s->parent_span_id, 8);
		strbuf_addf(b, " parent=%.16s", hex);
	}
	for (unsigned i = 0; i < s->n_attrs; i++) {
		const struct sp_attr *a = &s->attrs[i];

		strbuf_addf(b, " %s=", a->key);
		if (a->type == SP_ATTR_STRING) {
			strbuf_addc(b, '"');
			strbuf_add_text_str(b, span_str(s, a->v.str.off), a->v.str.len);
			strbuf_addc(b, '"');
		} else if (a->type == SP_ATTR_INT) {
			strbuf_addf(b, "%lld", (long long)a->v.i);
		} else if (a->type == SP_ATTR_BOOL) {
			strbuf_adds(b, a->v.b ? "true" : "false");
		} else {
			strbuf_addf(b, "%g", a->v.d);
		}
	}
	strbuf_addc(b, '\n');
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A duration in ns: each width of the field, its edges, and past 1e14. */
static uint64_t pick_duration(uint64_t *x, size_t i)
{
	static const uint64_t edges[] = {
		0, 1, 999, 1000, 1001, 999999, 1000000, 9999999999ULL,
		10000000000ULL, 99999999999999ULL, 100000000000000ULL,
		123456789012345678ULL,
	};
	uint64_t digits = rnd(x) % 15;
	uint64_t top = 1;

	if (i < sizeof(edges) / sizeof(edges[0]))
		return edges[i];
	while (digits--)
		top *= 10;
	return rnd(x) % (top * 9) + 1;
}

static void make_span(struct sp_span *s, uint64_t *x, size_t i, uint64_t *t)
{
	static const char *const names[] = { "GET /users/{id}", "SELECT shop",
					     "tab\there", "\xe2\x80\xae rlo", "" };
	char val[40];

	span_reset(s);
	for (int k = 0; k < 16; k++)
		s->trace_id[k] = (uint8_t)rnd(x);
	for (int k = 0; k < 8; k++)
		s->span_id[k] = (uint8_t)rnd(x);
	if (i % 3)
		for (int k = 0; k < 8; k++)
			s->parent_span_id[k] = (uint8_t)(rnd(x) | 1);
	span_set_name(s, names[i % 5], strlen(names[i % 5]));
	s->kind = (uint8_t)(i % 7); /* 6: no such kind */
	if (i % 4 == 1)
		span_set_status(s, SP_STATUS_ERROR, i % 8 == 1 ? "boom \"x\"" : NULL);
	else if (i % 4 == 2)
		span_set_status(s, SP_STATUS_OK, NULL);
	/* Mostly within one second, now and then to the next or back. */
	switch (rnd(x) % 8) {
	case 0:
		*t += 1000000000ULL + rnd(x) % 3000000000ULL;
		break;
	case 1:
		*t -= rnd(x) % 2000000000ULL;
		break;
	default:
		*t += rnd(x) % 200000;
	}
	s->start_unix_ns = *t;
	s->end_unix_ns = i == 11 ? *t - 1 : *t + pick_duration(x, i);
	snprintf(val, sizeof(val), "/p/%" PRIu64, rnd(x) % 100000);
	span_add_cstr(s, "url.path", val);
	span_add_int(s, "http.response.status_code", (int64_t)(rnd(x) % 600));
	if (i % 2)
		span_add_int(s, "n", i % 4 == 1 ? INT64_MIN : -(int64_t)(rnd(x) % 1000));
	if (i % 5 == 0)
		span_add_bool(s, "b", i % 10 == 0);
	if (i % 7 == 0)
		span_add_double(s, "d", (double)(rnd(x) % 100000) / 7.0);
}

/* The whole file at path, NUL-ended; *len its size. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *got;
	long size;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	got = malloc((size_t)size + 1);
	assert_non_null(got);
	assert_int_equal(fread(got, 1, (size_t)size, f), (size_t)size);
	got[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return got;
}

static void test_text_lines_match_printf(void **state)
{
	static struct sp_span spans[N_SPANS];
	struct sp_span *batch[N_SPANS];
	char path[] = "/tmp/sp-console-XXXXXX";
	struct sp_strbuf want;
	struct sp_exporter *exp;
	uint64_t x = 0x9e3779b97f4a7c15ULL, t = T0;
	char *got;
	size_t size;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	exp = console_exporter_create(path, 0);
	assert_non_null(exp);
	strbuf_init(&want, 64u << 20);
	for (size_t i = 0; i < N_SPANS; i++) {
		make_span(&spans[i], &x, i, &t);
		batch[i] = &spans[i];
		reference_line(&want, &spans[i]);
	}
	/* In batches of uneven sizes: the cached second outlives a batch. */
	for (size_t i = 0, n; i < N_SPANS; i += n) {
		n = 1 + i % 97;
		if (n > N_SPANS - i)
			n = N_SPANS - i;
		assert_int_equal(exp->ops->export_spans(exp, batch + i, n), 0);
	}
	exp->ops->destroy(exp);
	got = read_file(path, &size);
	unlink(path);
	assert_int_equal(want.err, 0);
	assert_int_equal(size, want.len);
	for (size_t i = 0; i < want.len; i++)
		if (got[i] != want.data[i]) {
			size_t line = i;

			while (line && want.data[line - 1] != '\n')
				line--;
			print_error("first difference at byte %zu of the line:\n"
				    "want %.200s\ngot  %.200s\n", i - line,
				    want.data + line, got + line);
			fail();
		}
	free(got);
	strbuf_free(&want);
}

/* What one batch of span `s` writes: its line(s), newline included. */
static void batch_text(struct sp_strbuf *b, struct sp_span *s, int json)
{
	uint8_t *out;
	size_t len;

	if (!json) {
		reference_line(b, s);
		return;
	}
	assert_int_equal(otlp_encode_json(&s, 1, &out, &len), 0);
	strbuf_add(b, out, len);
	strbuf_addc(b, '\n');
	free(out);
}

/* One run of the console: one batch of s to path (NULL: stdout). */
static void one_run(const char *path, int json, struct sp_span *s)
{
	struct sp_exporter *exp = console_exporter_create(path, json);

	assert_non_null(exp);
	assert_int_equal(exp->ops->export_spans(exp, &s, 1), 0);
	exp->ops->destroy(exp);
}

/*
 * A run, a line cut short (as a full disk leaves it), two more runs: the
 * cut line is ended before the second run's line, and a whole last line
 * gets no empty line after it.  To a file, or to stdout appended to one.
 */
static void cut_line_then_runs(int json, int to_stdout)
{
	static const char cut[] = "{\"resourceSpans\":[{\"resou";
	char path[] = "/tmp/sp-console-XXXXXX";
	struct sp_span spans[3];
	struct sp_strbuf want;
	uint64_t x = 42, t = T0;
	int fd, saved = -1;
	size_t len;
	char *got;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	if (to_stdout) { /* O_APPEND, write only: as `>>` or systemd's append: */
		fd = open(path, O_WRONLY | O_APPEND);
		assert_true(fd >= 0);
		fflush(stdout);
		saved = dup(STDOUT_FILENO);
		assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
		close(fd);
	}
	strbuf_init(&want, 1u << 20);
	for (size_t i = 0; i < 3; i++)
		make_span(&spans[i], &x, i + 3, &t);
	one_run(to_stdout ? NULL : path, json, &spans[0]);
	batch_text(&want, &spans[0], json);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, cut, sizeof(cut) - 1), (ssize_t)sizeof(cut) - 1);
	close(fd);
	strbuf_adds(&want, cut);
	strbuf_addc(&want, '\n');
	for (size_t i = 1; i < 3; i++) {
		one_run(to_stdout ? NULL : path, json, &spans[i]);
		batch_text(&want, &spans[i], json);
	}
	if (to_stdout) {
		assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
		close(saved);
	}
	got = read_file(path, &len);
	unlink(path);
	assert_int_equal(want.err, 0);
	if (len != want.len || memcmp(got, want.data, len)) {
		print_error("json %d, stdout %d:\nwant %.*s\ngot  %s\n", json, to_stdout,
			    (int)want.len, want.data, got);
		fail();
	}
	free(got);
	strbuf_free(&want);
}

static void test_cut_line_ended(void **state)
{
	(void)state;
	for (int json = 0; json <= 1; json++)
		for (int to_stdout = 0; to_stdout <= 1; to_stdout++)
			cut_line_then_runs(json, to_stdout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_lines_match_printf),
		cmocka_unit_test(test_cut_line_ended),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
