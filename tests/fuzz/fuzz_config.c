/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the exporter's settings and the values it parses
 * from a receiver's headers: endpoint URLs (url_parse), header lists
 * (OTEL_EXPORTER_OTLP_HEADERS), the whole input as a headers file
 * (--otlp-headers-file), Retry-After values, and the whole
 * OTEL_EXPORTER_OTLP_* environment through otlp_config_from_env() and
 * otlp_config_finish().  The input is lines; line k is the value of the
 * k-th variable of `vars` below, and every line is also given to each
 * parser on its own.
 *
 *   make fuzz && build/fuzz/fuzz_config -dict=tests/fuzz/config.dict \
 *     tests/fuzz/corpus_config
 */
#include "export/otlp_config.h"
#include "export/otlp_headers.h"
#include "export/retry.h"
#include "transport/url.h"
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

/* Messages are formatted (their arguments are checked) but not printed. */
void log_set_level(enum sp_log_level level)
{
}

enum sp_log_level log_get_level(void)
{
	return SP_LOG_ERROR;
}

void log_msg(enum sp_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

static const char *const vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT",  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_HEADERS",   "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_PROTOCOL",  "OTEL_EXPORTER_OTLP_TIMEOUT",
	"OTEL_EXPORTER_OTLP_INSECURE",  "OTEL_EXPORTER_OTLP_COMPRESSION",
};
#define N_VARS (sizeof(vars) / sizeof(vars[0]))

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A parsed URL is whole and parses again the same from its parts. */
static void fuzz_url(const char *s)
{
	struct net_url u, again;
	char *back;
	unsigned long port;

	if (url_parse(s, &u))
		return;
	CHECK(u.host[0] && u.authority[0] && u.path[0] == '/');
	port = strtoul(u.port, NULL, 10);
	CHECK(port >= 1 && port <= 65535);
	CHECK(u.has_path == (strcmp(u.path, "/") != 0));
	for (const char *p = u.path; *p; p++)
		CHECK((unsigned char)*p > ' ' && *p != 0x7f);
	if (asprintf(&back, "%s://%s%s", u.tls ? "https" : "http", u.authority,
		     u.path) < 0)
		abort();
	CHECK(url_parse(back, &again) == 0);
	CHECK(memcmp(&u, &again, sizeof(u)) == 0);
	free(back);
}

static void fuzz_headers(const char *s)
{
	struct sp_otlp_config cfg;
	const char *why = NULL;
	int ret;

	otlp_config_defaults(&cfg);
	ret = otlp_config_parse_headers(&cfg, s, &why);
	if (ret < 0) {
		CHECK(ret == -EINVAL || ret == -E2BIG || ret == -ENOMEM);
		CHECK(ret == -ENOMEM || why != NULL);
	} else {
		CHECK(cfg.n_headers <= (size_t)ret);
		CHECK(cfg.n_headers <= SP_OTLP_MAX_HEADERS);
	}
	for (size_t i = 0; i < cfg.n_headers; i++) {
		CHECK(cfg.headers[i].name[0]);
		CHECK(!strpbrk(cfg.headers[i].name, " \t=,:;\"()/<>?@[]{}\\"));
		CHECK(!has_control(cfg.headers[i].value));
	}
	otlp_config_free(&cfg);
}

/* A headers file: whole headers or a line number and a reason. */
static void fuzz_headers_file(const uint8_t *data, size_t size)
{
	struct sp_otlp_header h[SP_OTLP_MAX_HEADERS];
	const char *why = NULL;
	size_t line = 0;
	int ret = otlp_headers_parse_file((const char *)data, size, h,
					  SP_OTLP_MAX_HEADERS, &line, &why);

	if (ret < 0) {
		CHECK(ret == -EINVAL || ret == -E2BIG || ret == -ENOMEM);
		CHECK(ret == -ENOMEM || (why != NULL && line >= 1));
		return;
	}
	CHECK(line == 0 && ret <= SP_OTLP_MAX_HEADERS);
	for (int i = 0; i < ret; i++) {
		CHECK(h[i].name[0]);
		CHECK(!strpbrk(h[i].name, " \t=,:;\"()/<>?@[]{}\\"));
		for (const char *v = h[i].value; *v; v++)
			CHECK((unsigned char)*v >= 0x20 || *v == '\t');
		CHECK(!strchr(h[i].value, 0x7f));
		free(h[i].name);
		free(h[i].value);
	}
}

static void fuzz_retry_after(const char *s)
{
	int64_t ms = -1;

	/* 2026-01-01T00:00:00Z */
	if (retry_parse_after(s, (time_t)1767225600, &ms) == 0)
		CHECK(ms >= 0);
}

static void fuzz_env(char **values, size_t n)
{
	char *envp[N_VARS + 1];
	struct sp_otlp_config cfg;
	size_t k;
	int ret;

	for (k = 0; k < n && k < N_VARS; k++)
		if (asprintf(&envp[k], "%s=%s", vars[k], values[k]) < 0)
			abort();
	envp[k] = NULL;
	otlp_config_defaults(&cfg);
	ret = otlp_config_from_env(&cfg, envp);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret == 0 && otlp_config_finish(&cfg) == 0) {
		struct net_url u;
		char url[1400];

		/* The parsed endpoint is a URL that parses back the same. */
		CHECK(cfg.endpoint.host[0] && cfg.endpoint_in == NULL);
		CHECK(url_parse(url_format(&cfg.endpoint, url, sizeof(url)), &u) == 0);
		CHECK(strcmp(u.authority, cfg.endpoint.authority) == 0);
		CHECK(cfg.timeout_ms > 0);
	}
	otlp_config_free(&cfg);
	for (size_t i = 0; i < k; i++)
		free(envp[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *values[N_VARS], *line, *save = NULL;
	size_t n = 0;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_headers_file(data, size);
	for (line = strtok_r(text, "\n", &save); line && n < N_VARS;
	     line = strtok_r(NULL, "\n", &save)) {
		fuzz_url(line);
		fuzz_headers(line);
		fuzz_retry_after(line);
		values[n++] = line;
	}
	fuzz_env(values, n);
	free(text);
	return 0;
}
