/* SPDX-License-Identifier: MIT */
/*
 * OTLP exporter settings: the standard OTEL_EXPORTER_OTLP_* variables and
 * the command-line flags that override them.
 */
#ifndef SPANPROBE_OTLP_CONFIG_H
#define SPANPROBE_OTLP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SP_OTLP_MAX_HEADERS 32

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

struct sp_otlp_header {
	char *name;
	char *value;
};

struct sp_otlp_config {
	int enabled;                 /* an endpoint was configured */
	char *endpoint;              /* full URL of the traces endpoint */
	enum sp_otlp_protocol protocol;
	enum sp_http_version http_version;
	int compression_gzip;        /* OTEL_EXPORTER_OTLP_COMPRESSION */
	uint32_t gzip_min_bytes;     /* smaller bodies are sent uncompressed */
	uint32_t timeout_ms;         /* OTEL_EXPORTER_OTLP_TIMEOUT */
	int insecure;
	char *ca_file;               /* OTEL_EXPORTER_OTLP_CERTIFICATE */
	struct sp_otlp_header headers[SP_OTLP_MAX_HEADERS];
	size_t n_headers;
	uint32_t connections;        /* pool size */
};

#endif /* SPANPROBE_OTLP_CONFIG_H */
