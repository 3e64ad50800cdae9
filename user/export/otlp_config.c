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

#include "export/otlp_headers.h"
#include "transport/tlsctx.h"
#include "transport/url.h"
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
	cfg->reload_check_ms = SP_OTLP_RELOAD_CHECK_MS;
}

/*
 * The _TRACES_ variant when set, else the generic one; an empty value is
 * unset (the specification's rule for every variable).
 */
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

/* A file setting: `what` names it in the message when it cannot be read. */
static int set_file(char **dst, const char *path, const char *what)
{
	if (!path || !*path) {
		sp_err("export: %s needs a file name", what);
		return -EINVAL;
	}
	if (access(path, R_OK) != 0) {
		sp_err("export: %s %s: cannot read it: %s", what, path,
		       strerror(errno));
		return -EINVAL;
	}
	return set_string(dst, path);
}

/* OTEL_EXPORTER_OTLP_[TRACES_]<suffix>, a file, into *dst when set. */
static int env_file(char *const *envp, const char *suffix, char **dst)
{
	const char *which, *v = env_pick(envp, suffix, &which);
	char what[96];

	if (!v)
		return 0;
	snprintf(what, sizeof(what), "%s:", which);
	return set_file(dst, v, what);
}

static int parse_protocol(const char *s, enum sp_otlp_protocol *out)
{
	if (strcasecmp(s, "grpc") == 0)
		*out = SP_OTLP_GRPC;
	else if (strcasecmp(s, "http/protobuf") == 0)
		*out = SP_OTLP_HTTP_PROTOBUF;
	else if (strcasecmp(s, "http/json") == 0)
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
	ret = env_file(envp, "CERTIFICATE", &cfg->ca_file);
	if (!ret)
		ret = env_file(envp, "CLIENT_CERTIFICATE", &cfg->client_cert_file);
	if (!ret)
		ret = env_file(envp, "CLIENT_KEY", &cfg->client_key_file);
	v = env_get(envp, "SPANPROBE_OTLP_HEADERS_FILE");
	if (!ret && v && *v)
		ret = set_file(&cfg->headers_file, v, "SPANPROBE_OTLP_HEADERS_FILE:");
	if (ret)
		return ret;
	v = env_pick(envp, "HEADERS", &which);
	if (v) {
		ret = otlp_config_parse_headers(cfg, v, &why);
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0) {
			/* The value may hold a secret: name the reason, not the text. */
			sp_err("export: %s is malformed: an item %s (expected"
			       " name=value,name=value with values percent-encoded)",
			       which, why);
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
	int ret = otlp_headers_parse_list(cfg, arg, true, &why);

	if (ret == -ENOMEM)
		return ret;
	if (ret != 1) {
		if (ret < 0)
			sp_err("export: --otlp-header: the header %s (expected"
			       " name=value)", why);
		else
			sp_err("export: --otlp-header: one name=value a flag");
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

int otlp_config_set_certificate(struct sp_otlp_config *cfg, const char *arg)
{
	return set_file(&cfg->ca_file, arg, "--otlp-certificate");
}

int otlp_config_set_client_certificate(struct sp_otlp_config *cfg,
				       const char *arg)
{
	return set_file(&cfg->client_cert_file, arg, "--otlp-client-certificate");
}

int otlp_config_set_client_key(struct sp_otlp_config *cfg, const char *arg)
{
	return set_file(&cfg->client_key_file, arg, "--otlp-client-key");
}

int otlp_config_set_headers_file(struct sp_otlp_config *cfg, const char *arg)
{
	return set_file(&cfg->headers_file, arg, "--otlp-headers-file");
}

int otlp_config_set_insecure(struct sp_otlp_config *cfg)
{
	cfg->insecure = 1;
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
	/* A flag's URL whose path is "/" or none, a query after it or not. */
	return cfg->endpoint_source == SP_OTLP_EP_FLAG &&
	       (!u->has_path || strcspn(u->path, "?") <= 1);
}

/* "v1/traces" after the base path, before a query the URL keeps. */
static int add_signal_path(struct net_url *u)
{
	char query[sizeof(u->path)];
	size_t len = strcspn(u->path, "?");
	const char *sep = len && u->path[len - 1] == '/' ? "" : "/";

	snprintf(query, sizeof(query), "%s", u->path + len);
	if (snprintf(u->path + len, sizeof(u->path) - len, "%sv1/traces%s", sep,
		     query) >= (int)(sizeof(u->path) - len))
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

/*
 * The TLS files: a client certificate needs its key; what an https://
 * endpoint will use must load (a key that does not match is found here,
 * at start, not at the first export).
 */
static int check_tls_files(const struct sp_otlp_config *cfg)
{
	const struct tls_files f = { cfg->ca_file, cfg->client_cert_file,
				     cfg->client_key_file };

	if (!cfg->client_cert_file != !cfg->client_key_file) {
		sp_err("export: a client certificate needs its key: give both"
		       " OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and"
		       " OTEL_EXPORTER_OTLP_CLIENT_KEY (or --otlp-client-certificate"
		       " and --otlp-client-key), not only the %s",
		       cfg->client_cert_file ? "certificate" : "key");
		return -EINVAL;
	}
	if (!cfg->ca_file && !cfg->client_cert_file)
		return 0; /* the system store: loaded when the client is made */
	if (!cfg->endpoint.tls) {
		sp_info("export: %s is not https://: the certificate settings are"
			" not used", cfg->endpoint.authority);
		return 0;
	}
	return tls_files_check(&f);
}

int otlp_config_finish(struct sp_otlp_config *cfg)
{
	/* Insecure only applies to a gRPC endpoint without a scheme (spec). */
	bool bare = cfg->protocol == SP_OTLP_GRPC && cfg->endpoint_in &&
		    !strstr(cfg->endpoint_in, "://");
	int ret = resolve_endpoint(cfg);

	if (ret)
		return ret;
	if (cfg->insecure && !bare)
		sp_info("export: the insecure setting is not used: it applies to"
			" gRPC endpoints given without http:// or https://");
	ret = check_tls_files(cfg);
	if (!ret && cfg->headers_file)
		ret = otlp_headers_check_file(cfg->headers_file);
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
	free(cfg->client_cert_file);
	free(cfg->client_key_file);
	free(cfg->headers_file);
	for (size_t i = 0; i < cfg->n_headers; i++) {
		free(cfg->headers[i].name);
		free(cfg->headers[i].value);
	}
	cfg->endpoint_in = cfg->ca_file = NULL;
	cfg->client_cert_file = cfg->client_key_file = cfg->headers_file = NULL;
	cfg->n_headers = 0;
}
