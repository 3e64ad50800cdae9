/* SPDX-License-Identifier: MIT */
/*
 * OTLP exporter settings: the standard OTEL_EXPORTER_OTLP_* variables and
 * the command-line flags that override them.
 *
 * Order of use: otlp_config_defaults(), otlp_config_from_env(), then the
 * otlp_config_set_*() setters for each flag given (so flags win), then
 * otlp_config_finish() once, which resolves and parses the endpoint URL:
 * from then on `endpoint` is the setting's only copy.  The config is
 * read-only afterwards and must outlive the exporter built from it.
 */
#ifndef SPANPROBE_OTLP_CONFIG_H
#define SPANPROBE_OTLP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/url.h"

#define SP_OTLP_MAX_HEADERS 32
#define SP_OTLP_DEFAULT_TIMEOUT_MS 10000
#define SP_OTLP_DEFAULT_GZIP_MIN 1024
#define SP_OTLP_MAX_BODY (64u << 20) /* split above, before compression */
#define SP_OTLP_DEFAULT_QUEUE_BYTES (256ull << 20)
#define SP_OTLP_RELOAD_CHECK_MS 2000 /* changed TLS and headers files */

enum sp_otlp_protocol {
	SP_OTLP_HTTP_PROTOBUF = 0,
	SP_OTLP_HTTP_JSON,
	SP_OTLP_GRPC,
};

enum sp_http_version {
	SP_HTTP_AUTO = 0, /* h2 (h2c prior knowledge / ALPN), HTTP/1.1 fallback */
	SP_HTTP_2,
	SP_HTTP_1_1,
};

/* Where the endpoint setting came from: decides whether /v1/traces is added. */
enum sp_otlp_endpoint_source {
	SP_OTLP_EP_DEFAULT = 0,
	SP_OTLP_EP_GENERIC, /* OTEL_EXPORTER_OTLP_ENDPOINT: path appended */
	SP_OTLP_EP_TRACES,  /* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: as is */
	SP_OTLP_EP_FLAG,    /* --otlp-endpoint: as is when it has a path */
};

struct sp_otlp_header {
	char *name;
	char *value;
	bool from_flag; /* --otlp-header: wins over the headers file */
};

struct sp_otlp_config {
	int enabled;                 /* an endpoint was configured */
	struct net_url endpoint;     /* the traces endpoint, parsed (finish) */
	enum sp_otlp_protocol protocol;
	enum sp_http_version http_version;
	int compression_gzip;        /* OTEL_EXPORTER_OTLP_COMPRESSION */
	uint32_t gzip_min_bytes;     /* smaller bodies are sent uncompressed */
	int gzip_level;              /* zlib level, 1 by default */
	uint32_t timeout_ms;         /* OTEL_EXPORTER_OTLP_TIMEOUT, per export */
	int insecure;                /* gRPC "host:port" endpoints: http:// */
	char *ca_file;               /* OTEL_EXPORTER_OTLP_CERTIFICATE */
	char *client_cert_file;      /* OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE */
	char *client_key_file;       /* OTEL_EXPORTER_OTLP_CLIENT_KEY */
	char *headers_file;          /* SPANPROBE_OTLP_HEADERS_FILE */
	uint32_t reload_check_ms;    /* look for changed files this often */
	struct sp_otlp_header headers[SP_OTLP_MAX_HEADERS];
	size_t n_headers;
	uint32_t connections;        /* pool size */
	uint32_t connect_timeout_ms; /* capped by what is left of timeout_ms */
	uint32_t retry_initial_ms;   /* first backoff */
	uint32_t retry_max_ms;       /* largest backoff */
	uint32_t max_body_bytes;     /* bodies above this are split */
	const char *queue_dir;       /* disk queue (export/diskq.h); NULL: off */
	uint64_t queue_max_bytes;    /* its budget: full, the oldest go */

	/* The endpoint as set, until otlp_config_finish() parses it. */
	char *endpoint_in;
	enum sp_otlp_endpoint_source endpoint_source;
};

/* Fill `cfg` with the defaults (no endpoint: disabled). */
void otlp_config_defaults(struct sp_otlp_config *cfg);

/*
 * Read the OTEL_EXPORTER_OTLP_* variables from `envp` (NULL: the process
 * environment); _TRACES_ variants win over the generic ones (an empty
 * value counts as unset), and SPANPROBE_OTLP_HEADERS_FILE.  Returns 0,
 * or -EINVAL after logging which variable is wrong and why (bad protocol,
 * header syntax, timeout, boolean, unreadable file), or -ENOMEM.
 */
int otlp_config_from_env(struct sp_otlp_config *cfg, char *const *envp);

/*
 * Command-line setters; each wins over the environment.  They return 0,
 * or -EINVAL after logging what is wrong with `arg`, or -ENOMEM.
 *  endpoint: a URL; /v1/traces is added for HTTP when it has no path.
 *  protocol: grpc | http/protobuf | http/json.
 *  header:   "name=value" (value percent-decoded); adds or replaces.
 *  compression: gzip | none.   timeout: milliseconds, > 0.
 *  http_version: auto | 2 | 1.1.
 *  queue_max_bytes: bytes, with an optional K, M or G suffix (powers of
 *  1024), at least 64K.
 *  certificate, client_certificate, client_key, headers_file: a readable
 *  file (checked again, with its contents, by otlp_config_finish()).
 *  insecure: no argument; gRPC endpoints given as "host:port" use h2c.
 */
int otlp_config_set_endpoint(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_protocol(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_header(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_compression(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_timeout(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_http_version(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_queue_max_bytes(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_certificate(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_client_certificate(struct sp_otlp_config *cfg,
				       const char *arg);
int otlp_config_set_client_key(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_headers_file(struct sp_otlp_config *cfg, const char *arg);
int otlp_config_set_insecure(struct sp_otlp_config *cfg);

/*
 * Parse a headers list ("k1=v1,k2=v2", W3C-baggage-like: blanks around
 * items trimmed, values percent-decoded, names HTTP tokens) and add the
 * pairs to `cfg`, replacing same-named ones.  Returns the number of pairs
 * added, -EINVAL (nothing added; *why points to a static reason) or
 * -ENOMEM / -E2BIG (more than SP_OTLP_MAX_HEADERS).  In otlp_headers.c.
 */
int otlp_config_parse_headers(struct sp_otlp_config *cfg, const char *list,
			      const char **why);

/*
 * Resolve the endpoint URL from what was set: the traces endpoint as is,
 * the generic one with "v1/traces" appended for HTTP, or the default
 * (http://localhost:4318/v1/traces, http://localhost:4317 for gRPC).
 * Parses the URL into cfg->endpoint, then drops the input, and checks the
 * protocol/HTTP-version pair, the client certificate and key (both or
 * neither; for https://, that they load and match, and the CA file) and
 * the headers file.  Returns 0 or -EINVAL (logged) or -ENOMEM.
 */
int otlp_config_finish(struct sp_otlp_config *cfg);

/* Free what the config owns (not `cfg` itself).  Accepts NULL. */
void otlp_config_free(struct sp_otlp_config *cfg);

#endif /* SPANPROBE_OTLP_CONFIG_H */
