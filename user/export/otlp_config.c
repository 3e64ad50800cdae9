// SPDX-License-Identifier: MIT
/*
 * OTEL_EXPORTER_OTLP_* settings, following the OpenTelemetry specification
 * "OTLP Exporter Configuration": signal-specific variables win over the
 * generic ones, the generic endpoint gets the signal path appended for
 * OTLP/HTTP, and headers use the W3C Baggage list syntax without
 * properties.
 */
#include "export/otlp_config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "transport/url.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/env.h"

extern char **environ;

void otlp_config_defaults(struct sp_otlp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->protocol = SP_OTLP_HTTP_PROTOBUF;
	cfg->http_version = SP_HTTP_AUTO;
	cfg->compression_gzip = 1;
	cfg->gzip_min_bytes = SP_OTLP_DEFAULT_GZIP_MIN;
	cfg->gzip_level = 1;
	cfg->timeout_ms = SP_OTLP_DEFAULT_TIMEOUT_MS;
	cfg->connections = 2;
	cfg->connect_timeout_ms = 5000;
	cfg->retry_initial_ms = 1000;
	cfg->retry_max_ms = 5000;
	cfg->max_body_bytes = SP_OTLP_MAX_BODY;
	cfg->queue_max_bytes = SP_OTLP_DEFAULT_QUEUE_BYTES;
}

/* The _TRACES_ variant when set (even empty is "set"), else the generic one. */
static const char *env_pick(char *const *envp, const char *suffix,
			    const char **which)
{
	static char name[96];
	const char *v;

	snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_TRACES_%s", suffix);
	v = env_get(envp, name);
	if (!v || !*v) {
		snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_%s", suffix);
		v = env_get(envp, name);
	}
	*which = name;
	return v && *v ? v : NULL;
}

static int set_string(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static int parse_protocol(const char *s, enum sp_otlp_protocol *out)
{
	if (strcmp(s, "grpc") == 0)
		*out = SP_OTLP_GRPC;
	else if (strcmp(s, "http/protobuf") == 0)
		*out = SP_OTLP_HTTP_PROTOBUF;
	else if (strcmp(s, "http/json") == 0)
		*out = SP_OTLP_HTTP_JSON;
	else
		return -EINVAL;
	return 0;
}

static int parse_compression(const char *s, int *gzip)
{
	if (strcasecmp(s, "gzip") == 0)
		*gzip = 1;
	else if (strcasecmp(s, "none") == 0)
		*gzip = 0;
	else
		return -EINVAL;
	return 0;
}

static int parse_ms(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "true") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0)
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

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
				*why = "bad percent-encoding";
				free(v);
				return -EINVAL;
			}
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "control character in a value";
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

/* Parse one "name=value" item at [s, e) into name/value (malloc'd). */
static int parse_item(const char *s, const char *e, char **name, char **value,
		      const char **why)
{
	const char *eq;
	const char *ns, *ne, *vs, *ve;

	trim(&s, &e);
	eq = memchr(s, '=', (size_t)(e - s));
	if (!eq) {
		*why = "an item has no '='";
		return -EINVAL;
	}
	ns = s, ne = eq, vs = eq + 1, ve = e;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if (ns == ne) {
		*why = "an item has an empty name";
		return -EINVAL;
	}
	for (const char *p = ns; p < ne; p++) {
		if (!is_tchar((unsigned char)*p)) {
			*why = "a name holds a character not allowed in a header name";
			return -EINVAL;
		}
	}
	if (memchr(vs, ';', (size_t)(ve - vs))) {
		*why = "properties (';') are not supported";
		return -EINVAL;
	}
	*name = strndup(ns, (size_t)(ne - ns));
	if (!*name)
		return -ENOMEM;
	if (decode_value(vs, (size_t)(ve - vs), value, why)) {
		free(*name);
		return *why ? -EINVAL : -ENOMEM;
	}
	return 0;
}

static int header_put(struct sp_otlp_config *cfg, char *name, char *value)
{
	for (size_t i = 0; i < cfg->n_headers; i++) {
		if (strcasecmp(cfg->headers[i].name, name) == 0) {
			free(cfg->headers[i].value);
			free(name);
			cfg->headers[i].value = value;
			return 0;
		}
	}
	if (cfg->n_headers == SP_OTLP_MAX_HEADERS) {
		free(name);
		free(value);
		return -E2BIG;
	}
	cfg->headers[cfg->n_headers].name = name;
	cfg->headers[cfg->n_headers++].value = value;
	return 0;
}

int otlp_config_parse_headers(struct sp_otlp_config *cfg, const char *list,
			      const char **why)
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
				*why = "too many headers";
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
		} else if (header_put(cfg, items[i].name, items[i].value)) {
			*why = "too many headers";
			ret = -E2BIG;
		}
	}
	return ret ? ret : (int)n;
}

int otlp_config_from_env(struct sp_otlp_config *cfg, char *const *envp)
{
	const char *which, *v, *why;
	int ret;

	v = env_get(envp, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	if (v && *v) {
		cfg->endpoint_source = SP_OTLP_EP_TRACES;
	} else {
		v = env_get(envp, "OTEL_EXPORTER_OTLP_ENDPOINT");
		if (v && *v)
			cfg->endpoint_source = SP_OTLP_EP_GENERIC;
	}
	if (v && *v) {
		if (set_string(&cfg->endpoint_in, v))
			return -ENOMEM;
		cfg->enabled = 1;
	}
	v = env_pick(envp, "PROTOCOL", &which);
	if (v && parse_protocol(v, &cfg->protocol))
		goto bad;
	v = env_pick(envp, "COMPRESSION", &which);
	if (v && parse_compression(v, &cfg->compression_gzip))
		goto bad;
	v = env_pick(envp, "TIMEOUT", &which);
	if (v && parse_ms(v, &cfg->timeout_ms))
		goto bad;
	v = env_pick(envp, "INSECURE", &which);
	if (v && parse_bool(v, &cfg->insecure))
		goto bad;
	v = env_pick(envp, "CERTIFICATE", &which);
	if (v) {
		if (access(v, R_OK) != 0) {
			sp_err("export: %s=%s: cannot read the CA file: %s", which,
			       v, strerror(errno));
			return -EINVAL;
		}
		if (set_string(&cfg->ca_file, v))
			return -ENOMEM;
	}
	v = env_pick(envp, "HEADERS", &which);
	if (v) {
		ret = otlp_config_parse_headers(cfg, v, &why);
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0) {
			/* The value may hold a secret: name the reason, not the text. */
			sp_err("export: %s is malformed: %s (expected name=value,name=value"
			       " with values percent-encoded)", which, why);
			return -EINVAL;
		}
	}
	return 0;
bad:
	sp_err("export: %s=\"%s\" is not a valid value", which, v);
	return -EINVAL;
}

int otlp_config_set_endpoint(struct sp_otlp_config *cfg, const char *arg)
{
	if (!arg || !*arg) {
		sp_err("export: --otlp-endpoint needs a URL");
		return -EINVAL;
	}
	if (set_string(&cfg->endpoint_in, arg))
		return -ENOMEM;
	cfg->endpoint_source = SP_OTLP_EP_FLAG;
	cfg->enabled = 1;
	return 0;
}

int otlp_config_set_protocol(struct sp_otlp_config *cfg, const char *arg)
{
	if (parse_protocol(arg, &cfg->protocol)) {
		sp_err("export: --otlp-protocol %s: expected grpc, http/protobuf"
		       " or http/json", arg);
		return -EINVAL;
	}
	return 0;
}

int otlp_config_set_header(struct sp_otlp_config *cfg, const char *arg)
{
	const char *why;
	int ret = otlp_config_parse_headers(cfg, arg, &why);

	if (ret == -ENOMEM)
		return ret;
	if (ret != 1) {
		sp_err("export: --otlp-header: %s (expected name=value)",
		       ret < 0 ? why : "expected exactly one header");
		return -EINVAL;
	}
	return 0;
}

int otlp_config_set_compression(struct sp_otlp_config *cfg, const char *arg)
{
	if (parse_compression(arg, &cfg->compression_gzip)) {
		sp_err("export: --otlp-compression %s: expected gzip or none", arg);
		return -EINVAL;
	}
	return 0;
}

int otlp_config_set_timeout(struct sp_otlp_config *cfg, const char *arg)
{
	if (parse_ms(arg, &cfg->timeout_ms)) {
		sp_err("export: --otlp-timeout %s: expected milliseconds > 0", arg);
		return -EINVAL;
	}
	return 0;
}

int otlp_config_set_http_version(struct sp_otlp_config *cfg, const char *arg)
{
	if (strcmp(arg, "auto") == 0)
		cfg->http_version = SP_HTTP_AUTO;
	else if (strcmp(arg, "2") == 0 || strcmp(arg, "h2") == 0)
		cfg->http_version = SP_HTTP_2;
	else if (strcmp(arg, "1.1") == 0)
		cfg->http_version = SP_HTTP_1_1;
	else {
		sp_err("export: --otlp-http-version %s: expected auto, 2 or 1.1",
		       arg);
		return -EINVAL;
	}
	return 0;
}

int otlp_config_set_queue_max_bytes(struct sp_otlp_config *cfg, const char *arg)
{
	static const char units[] = "KMG";
	unsigned long long v;
	const char *u;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end && end[1] == '\0' && (u = strchr(units, *end)) && *end) {
		for (long shift = 10 * (u - units + 1); shift; shift -= 10)
			v = v > (ULLONG_MAX >> 10) ? ULLONG_MAX : v << 10;
		end++;
	}
	if (errno || end == arg || *end || arg[0] == '-' || v < (64u << 10) ||
	    v == ULLONG_MAX) {
		sp_err("export: --queue-max-bytes %s: expected bytes (K, M, G"
		       " suffixes), at least 64K", arg);
		return -EINVAL;
	}
	cfg->queue_max_bytes = v;
	return 0;
}

/* A bare "host:port" is accepted for gRPC; INSECURE picks the scheme. */
static int grpc_add_scheme(struct sp_otlp_config *cfg, char **url)
{
	const char *in = cfg->endpoint_in;

	if (strstr(in, "://"))
		return set_string(url, in);
	if (asprintf(url, "%s://%s", cfg->insecure ? "http" : "https", in) < 0)
		return -ENOMEM;
	return 0;
}

/* The URL as set, or the default, before any signal path is added. */
static int endpoint_base(struct sp_otlp_config *cfg, char **url)
{
	if (cfg->endpoint_source == SP_OTLP_EP_DEFAULT || !cfg->endpoint_in)
		return set_string(url, cfg->protocol == SP_OTLP_GRPC ?
				  "http://localhost:4317" :
				  "http://localhost:4318/v1/traces");
	if (cfg->protocol == SP_OTLP_GRPC)
		return grpc_add_scheme(cfg, url);
	return set_string(url, cfg->endpoint_in);
}

/*
 * The generic endpoint gets "v1/traces" appended to its base path (the
 * spec); so does a flag's URL without a path.  A traces endpoint, a
 * default and a gRPC endpoint are used as they are.
 */
static bool wants_signal_path(const struct sp_otlp_config *cfg,
			      const struct net_url *u)
{
	if (cfg->protocol == SP_OTLP_GRPC || !cfg->endpoint_in)
		return false;
	if (cfg->endpoint_source == SP_OTLP_EP_GENERIC)
		return true;
	return cfg->endpoint_source == SP_OTLP_EP_FLAG && !u->has_path;
}

static int add_signal_path(struct net_url *u)
{
	size_t len = strlen(u->path);
	const char *sep = len && u->path[len - 1] == '/' ? "" : "/";

	if (snprintf(u->path + len, sizeof(u->path) - len, "%sv1/traces", sep) >=
	    (int)(sizeof(u->path) - len))
		return -EINVAL;
	u->has_path = true;
	return 0;
}

/* Parse the endpoint once, into cfg->endpoint. */
static int resolve_endpoint(struct sp_otlp_config *cfg)
{
	struct net_url u;
	char *url = NULL;
	int ret = endpoint_base(cfg, &url);

	if (ret)
		return ret;
	if (url_parse(url, &u) ||
	    (wants_signal_path(cfg, &u) && add_signal_path(&u))) {
		sp_err("export: endpoint \"%s\" is not a valid http:// or https://"
		       " URL", url);
		free(url);
		return -EINVAL;
	}
	free(url);
	cfg->endpoint = u;
	return 0;
}

int otlp_config_finish(struct sp_otlp_config *cfg)
{
	int ret = resolve_endpoint(cfg);

	if (ret)
		return ret;
	if (cfg->protocol == SP_OTLP_GRPC && cfg->http_version == SP_HTTP_1_1) {
		sp_err("export: OTLP/gRPC needs HTTP/2; --otlp-http-version 1.1"
		       " only applies to http/protobuf and http/json");
		return -EINVAL;
	}
	if (cfg->connections == 0)
		cfg->connections = 1;
	/* From here on the parsed URL is the only copy of the setting. */
	free(cfg->endpoint_in);
	cfg->endpoint_in = NULL;
	cfg->endpoint_source = SP_OTLP_EP_DEFAULT;
	return 0;
}

void otlp_config_free(struct sp_otlp_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->endpoint_in);
	free(cfg->ca_file);
	for (size_t i = 0; i < cfg->n_headers; i++) {
		free(cfg->headers[i].name);
		free(cfg->headers[i].value);
	}
	cfg->endpoint_in = cfg->ca_file = NULL;
	cfg->n_headers = 0;
}
