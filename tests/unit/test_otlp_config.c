// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "export/otlp_config.h"
#include "export/otlp_headers.h"
#include "transport/tlsctx.h"
#include "transport/url.h"

static char dir[64]; /* a temporary directory per run (setup) */

static const char *path_in(const char *name)
{
	static char bufs[8][128];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path_in(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* "NAME=VALUE" with VALUE a file of the temporary directory. */
static char *env_path(const char *var, const char *name)
{
	static char bufs[64][192];
	static unsigned next;
	char *b = bufs[next++ % 64];

	snprintf(b, sizeof(bufs[0]), "%s=%s", var, path_in(name));
	return b;
}

/* The parsed endpoint, written back as a URL. */
static const char *endpoint(const struct sp_otlp_config *cfg)
{
	static char buf[1400];

	return url_format(&cfg->endpoint, buf, sizeof(buf));
}

static int load(struct sp_otlp_config *cfg, char *const *env)
{
	otlp_config_defaults(cfg);
	if (otlp_config_from_env(cfg, env))
		return -EINVAL;
	return otlp_config_finish(cfg);
}

static void test_defaults(void **state)
{
	char *env[] = { NULL };
	struct sp_otlp_config cfg;

	assert_int_equal(load(&cfg, env), 0);
	assert_int_equal(cfg.enabled, 0);
	assert_string_equal(endpoint(&cfg), "http://localhost:4318/v1/traces");
	assert_int_equal(cfg.timeout_ms, 10000);
	assert_int_equal(cfg.compression_gzip, 1);
	assert_int_equal(cfg.protocol, SP_OTLP_HTTP_PROTOBUF);
	assert_int_equal(cfg.connections, 2);
	otlp_config_free(&cfg);

	char *grpc[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", NULL };
	assert_int_equal(load(&cfg, grpc), 0);
	assert_string_equal(endpoint(&cfg), "http://localhost:4317");
	otlp_config_free(&cfg);
}

static void test_endpoint_rules(void **state)
{
	struct sp_otlp_config cfg;
	char *generic[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", NULL };
	char *slash[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=https://c/base/", NULL };
	char *traces[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://generic:1",
			   "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:9/custom", NULL };
	char *grpc[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317",
			 "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", NULL };
	char *bare[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=c:4317",
			 "OTEL_EXPORTER_OTLP_INSECURE=true",
			 "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", NULL };
	char *bad[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=ftp://c", NULL };
	char *query[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/?tenant=a", NULL };
	char *query_base[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://c/base?t=a/b", NULL };
	char *cased[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317",
			  "OTEL_EXPORTER_OTLP_PROTOCOL=gRPC", NULL };

	/* The signal path goes before a query, which stays. */
	assert_int_equal(load(&cfg, query), 0);
	assert_string_equal(endpoint(&cfg), "http://c:4318/v1/traces?tenant=a");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, query_base), 0);
	assert_string_equal(endpoint(&cfg), "http://c/base/v1/traces?t=a/b");
	otlp_config_free(&cfg);
	/* Enumerated values in any case (the SDK specification). */
	assert_int_equal(load(&cfg, cased), 0);
	assert_int_equal(cfg.protocol, SP_OTLP_GRPC);
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, generic), 0);
	assert_int_equal(cfg.enabled, 1);
	assert_string_equal(endpoint(&cfg), "http://c:4318/v1/traces");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, slash), 0);
	assert_string_equal(endpoint(&cfg), "https://c/base/v1/traces");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, traces), 0);
	assert_string_equal(endpoint(&cfg), "http://t:9/custom");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, grpc), 0);
	assert_string_equal(endpoint(&cfg), "http://c:4317");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, bare), 0);
	assert_string_equal(endpoint(&cfg), "http://c:4317");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, bad), -EINVAL);
	otlp_config_free(&cfg);
}

static void test_traces_variants_win(void **state)
{
	struct sp_otlp_config cfg;
	char *env[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json",
			"OTEL_EXPORTER_OTLP_TIMEOUT=5000",
			"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=700",
			"OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
			"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none",
			"OTEL_EXPORTER_OTLP_HEADERS=a=1",
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS=b=2", NULL };

	assert_int_equal(load(&cfg, env), 0);
	assert_int_equal(cfg.protocol, SP_OTLP_HTTP_JSON);
	assert_int_equal(cfg.timeout_ms, 700);
	assert_int_equal(cfg.compression_gzip, 0);
	assert_int_equal(cfg.n_headers, 1);
	assert_string_equal(cfg.headers[0].name, "b");
	otlp_config_free(&cfg);
}

static void test_bad_values(void **state)
{
	struct sp_otlp_config cfg;
	char *proto[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=http", NULL };
	char *timeout[] = { "OTEL_EXPORTER_OTLP_TIMEOUT=10s", NULL };
	char *zero[] = { "OTEL_EXPORTER_OTLP_TIMEOUT=0", NULL };
	char *comp[] = { "OTEL_EXPORTER_OTLP_COMPRESSION=zstd", NULL };
	char *insecure[] = { "OTEL_EXPORTER_OTLP_INSECURE=yes", NULL };
	char *cert[] = { "OTEL_EXPORTER_OTLP_CERTIFICATE=/nonexistent/ca.pem", NULL };

	assert_int_equal(load(&cfg, proto), -EINVAL);
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, timeout), -EINVAL);
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, zero), -EINVAL);
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, comp), -EINVAL);
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, insecure), -EINVAL);
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, cert), -EINVAL);
	otlp_config_free(&cfg);
}

static void test_headers(void **state)
{
	struct sp_otlp_config cfg;
	const char *why;

	otlp_config_defaults(&cfg);
	assert_int_equal(otlp_config_parse_headers(
				 &cfg, " api-key = s3cr%3Dt%2C ,x-Tenant=a%20b,,", &why),
			 2);
	assert_string_equal(cfg.headers[0].name, "api-key");
	assert_string_equal(cfg.headers[0].value, "s3cr=t,");
	assert_string_equal(cfg.headers[1].name, "x-Tenant");
	assert_string_equal(cfg.headers[1].value, "a b");
	/* Same name (any case) replaces. */
	assert_int_equal(otlp_config_parse_headers(&cfg, "X-TENANT=c", &why), 1);
	assert_int_equal(cfg.n_headers, 2);
	assert_string_equal(cfg.headers[1].value, "c");
	/* A bad list adds nothing. */
	assert_int_equal(otlp_config_parse_headers(&cfg, "ok=1,broken", &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(cfg.n_headers, 2);
	assert_int_equal(otlp_config_parse_headers(&cfg, "=v", &why), -EINVAL);
	assert_int_equal(otlp_config_parse_headers(&cfg, "a b=v", &why), -EINVAL);
	assert_int_equal(otlp_config_parse_headers(&cfg, "k=%zz", &why), -EINVAL);
	assert_int_equal(otlp_config_parse_headers(&cfg, "k=%4", &why), -EINVAL);
	assert_int_equal(otlp_config_parse_headers(&cfg, "k=a%0Db", &why), -EINVAL);
	assert_int_equal(otlp_config_parse_headers(&cfg, "k=v;prop", &why), -EINVAL);
	assert_int_equal(otlp_config_parse_headers(&cfg, "k=", &why), 1);
	assert_string_equal(cfg.headers[2].value, "");
	otlp_config_free(&cfg);

	char *env[] = { "OTEL_EXPORTER_OTLP_HEADERS=novalue", NULL };
	assert_int_equal(load(&cfg, env), -EINVAL);
	otlp_config_free(&cfg);
}

static void test_flags_win(void **state)
{
	struct sp_otlp_config cfg;
	char *env[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://env:1",
			"OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
			"OTEL_EXPORTER_OTLP_HEADERS=k=env",
			"OTEL_EXPORTER_OTLP_TIMEOUT=100", NULL };

	otlp_config_defaults(&cfg);
	assert_int_equal(otlp_config_from_env(&cfg, env), 0);
	assert_int_equal(otlp_config_set_endpoint(&cfg, "http://flag:4318"), 0);
	assert_int_equal(otlp_config_set_protocol(&cfg, "http/protobuf"), 0);
	assert_int_equal(otlp_config_set_header(&cfg, "k=flag"), 0);
	assert_int_equal(otlp_config_set_timeout(&cfg, "2500"), 0);
	assert_int_equal(otlp_config_set_compression(&cfg, "none"), 0);
	assert_int_equal(otlp_config_set_http_version(&cfg, "1.1"), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	assert_string_equal(endpoint(&cfg), "http://flag:4318/v1/traces");
	assert_int_equal(cfg.protocol, SP_OTLP_HTTP_PROTOBUF);
	assert_string_equal(cfg.headers[0].value, "flag");
	assert_int_equal(cfg.timeout_ms, 2500);
	assert_int_equal(cfg.compression_gzip, 0);
	assert_int_equal(cfg.http_version, SP_HTTP_1_1);
	/* A flag URL with a path is used as is. */
	assert_int_equal(otlp_config_set_endpoint(&cfg, "http://flag/x/traces"), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	assert_string_equal(endpoint(&cfg), "http://flag/x/traces");
	/* One with a query and no path gets the signal path before it. */
	assert_int_equal(otlp_config_set_endpoint(&cfg, "http://flag:4318?tenant=a"), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	assert_string_equal(endpoint(&cfg), "http://flag:4318/v1/traces?tenant=a");
	assert_int_equal(otlp_config_set_endpoint(&cfg, "http://flag:4318/?t=a/b"), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	assert_string_equal(endpoint(&cfg), "http://flag:4318/v1/traces?t=a/b");
	assert_int_equal(otlp_config_set_endpoint(&cfg, "http://flag/x?t=1"), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	assert_string_equal(endpoint(&cfg), "http://flag/x?t=1");
	assert_int_equal(otlp_config_set_protocol(&cfg, "thrift"), -EINVAL);
	assert_int_equal(otlp_config_set_timeout(&cfg, "-1"), -EINVAL);
	assert_int_equal(otlp_config_set_http_version(&cfg, "3"), -EINVAL);
	assert_int_equal(otlp_config_set_header(&cfg, "a=1,b=2"), -EINVAL);
	/* gRPC cannot run on HTTP/1.1. */
	assert_int_equal(otlp_config_set_protocol(&cfg, "grpc"), 0);
	assert_int_equal(otlp_config_finish(&cfg), -EINVAL);
	otlp_config_free(&cfg);
}

static void test_url_parse(void **state)
{
	struct net_url u;

	assert_int_equal(url_parse("http://example.com", &u), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "example.com");
	assert_string_equal(u.port, "80");
	assert_string_equal(u.path, "/");
	assert_false(u.has_path);
	assert_int_equal(url_parse("HTTPS://[::1]:4318/v1/traces?x=1", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "4318");
	assert_string_equal(u.authority, "[::1]:4318");
	assert_string_equal(u.path, "/v1/traces?x=1");
	assert_int_equal(url_parse("https://h", &u), 0);
	assert_string_equal(u.port, "443");
	assert_int_equal(url_parse("http://h?q", &u), 0);
	assert_string_equal(u.path, "/?q");
	assert_int_equal(url_parse("grpc://h", &u), -EINVAL);
	assert_int_equal(url_parse("http://", &u), -EINVAL);
	assert_int_equal(url_parse("http://h:0", &u), -EINVAL);
	assert_int_equal(url_parse("http://h:65536", &u), -EINVAL);
	assert_int_equal(url_parse("http://h:12a", &u), -EINVAL);
	assert_int_equal(url_parse("http://u:p@h/", &u), -EINVAL);
	assert_int_equal(url_parse("http://h/a#frag", &u), -EINVAL);
	assert_int_equal(url_parse("http://h/a b", &u), -EINVAL);
	assert_int_equal(url_parse("http://[::1/", &u), -EINVAL);
}

/* Each _TRACES_ form wins over the generic one; an empty one is unset. */
static void test_each_traces_form(void **state)
{
	struct sp_otlp_config cfg;
	char *generic_only[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
				 "OTEL_EXPORTER_OTLP_COMPRESSION=none",
				 "OTEL_EXPORTER_OTLP_TIMEOUT=1234",
				 "OTEL_EXPORTER_OTLP_HEADERS=g=1",
				 env_path("OTEL_EXPORTER_OTLP_CERTIFICATE", "a"),
				 env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "a"),
				 env_path("OTEL_EXPORTER_OTLP_CLIENT_KEY", "a"), NULL };
	char *traces_only[] = { "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc",
				"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=gzip",
				"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=77",
				"OTEL_EXPORTER_OTLP_TRACES_HEADERS=t=2",
				"OTEL_EXPORTER_OTLP_TRACES_INSECURE=true",
				"OTEL_EXPORTER_OTLP_ENDPOINT=c:4317",
				env_path("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "b"),
				env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "b"),
				env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "b"), NULL };
	char *both[] = { "OTEL_EXPORTER_OTLP_INSECURE=false",
			 "OTEL_EXPORTER_OTLP_TRACES_INSECURE=true",
			 "OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
			 "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc",
			 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=c:4317",
			 env_path("OTEL_EXPORTER_OTLP_CERTIFICATE", "a"),
			 env_path("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "b"),
			 env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "a"),
			 env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "b"),
			 env_path("OTEL_EXPORTER_OTLP_CLIENT_KEY", "a"),
			 env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "b"), NULL };
	char *empty[] = { "OTEL_EXPORTER_OTLP_TIMEOUT=900",
			  "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=",
			  "OTEL_EXPORTER_OTLP_HEADERS=g=1",
			  "OTEL_EXPORTER_OTLP_TRACES_HEADERS=", NULL };

	write_file("a", "not a certificate\n");
	write_file("b", "not a certificate either\n");
	/* http:// endpoints (the default): the TLS files are not loaded. */
	assert_int_equal(load(&cfg, generic_only), 0);
	assert_int_equal(cfg.protocol, SP_OTLP_HTTP_JSON);
	assert_int_equal(cfg.compression_gzip, 0);
	assert_int_equal(cfg.timeout_ms, 1234);
	assert_int_equal(cfg.n_headers, 1);
	assert_string_equal(cfg.headers[0].name, "g");
	assert_string_equal(cfg.ca_file, path_in("a"));
	assert_string_equal(cfg.client_cert_file, path_in("a"));
	assert_string_equal(cfg.client_key_file, path_in("a"));
	otlp_config_free(&cfg);

	assert_int_equal(load(&cfg, traces_only), 0);
	assert_int_equal(cfg.protocol, SP_OTLP_GRPC);
	assert_int_equal(cfg.compression_gzip, 1);
	assert_int_equal(cfg.timeout_ms, 77);
	assert_string_equal(cfg.headers[0].name, "t");
	assert_int_equal(cfg.insecure, 1);
	assert_string_equal(endpoint(&cfg), "http://c:4317");
	assert_string_equal(cfg.ca_file, path_in("b"));
	assert_string_equal(cfg.client_cert_file, path_in("b"));
	assert_string_equal(cfg.client_key_file, path_in("b"));
	otlp_config_free(&cfg);

	assert_int_equal(load(&cfg, both), 0);
	assert_int_equal(cfg.insecure, 1);
	assert_int_equal(cfg.protocol, SP_OTLP_GRPC);
	assert_string_equal(endpoint(&cfg), "http://c:4317");
	assert_string_equal(cfg.ca_file, path_in("b"));
	assert_string_equal(cfg.client_cert_file, path_in("b"));
	assert_string_equal(cfg.client_key_file, path_in("b"));
	otlp_config_free(&cfg);

	assert_int_equal(load(&cfg, empty), 0);
	assert_int_equal(cfg.timeout_ms, 900);
	assert_int_equal(cfg.n_headers, 1);
	assert_string_equal(cfg.headers[0].name, "g");
	otlp_config_free(&cfg);
}

/* Insecure is for gRPC "host:port" only (the spec): not otherwise. */
static void test_insecure(void **state)
{
	struct sp_otlp_config cfg;
	char *secure[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=c:4317",
			   "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", NULL };
	char *scheme[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=https://c:4317",
			   "OTEL_EXPORTER_OTLP_INSECURE=true",
			   "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", NULL };
	char *http[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=https://c:4318",
			 "OTEL_EXPORTER_OTLP_INSECURE=true", NULL };

	assert_int_equal(load(&cfg, secure), 0);
	assert_string_equal(endpoint(&cfg), "https://c:4317");
	otlp_config_free(&cfg);
	otlp_config_defaults(&cfg);
	assert_int_equal(otlp_config_from_env(&cfg, secure), 0);
	assert_int_equal(otlp_config_set_insecure(&cfg), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	assert_string_equal(endpoint(&cfg), "http://c:4317");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, scheme), 0);
	assert_string_equal(endpoint(&cfg), "https://c:4317");
	otlp_config_free(&cfg);
	assert_int_equal(load(&cfg, http), 0);
	assert_string_equal(endpoint(&cfg), "https://c:4318/v1/traces");
	otlp_config_free(&cfg);
}

/* A self-signed certificate for `key`, written as PEM to `name`. */
static void write_cert(const char *name, EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *subj = X509_get_subject_name(x);
	FILE *f;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, subj);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	f = fopen(path_in(name), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	X509_free(x);
}

static void write_key(const char *name, EVP_PKEY *key)
{
	FILE *f = fopen(path_in(name), "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static int finish_with(char **env, const char *cert_flag)
{
	struct sp_otlp_config cfg;
	int ret;

	otlp_config_defaults(&cfg);
	ret = otlp_config_from_env(&cfg, env);
	if (!ret && cert_flag)
		ret = otlp_config_set_client_certificate(&cfg, path_in(cert_flag));
	if (!ret)
		ret = otlp_config_finish(&cfg);
	otlp_config_free(&cfg);
	return ret;
}

/* Client certificate and key: both or neither, loadable, a matching pair. */
static void test_tls_files(void **state)
{
	EVP_PKEY *k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	char *ep = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://c:4318/v1/traces";
	char *good[] = { ep, env_path("OTEL_EXPORTER_OTLP_CERTIFICATE", "ca.pem"),
			 env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "c1.pem"),
			 env_path("OTEL_EXPORTER_OTLP_CLIENT_KEY", "k1.pem"), NULL };
	char *mismatch[] = { ep, env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "c1.pem"),
			     env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "k2.pem"), NULL };
	char *cert_only[] = { ep, env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "c1.pem"), NULL };
	char *key_only[] = { ep, env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "k1.pem"), NULL };
	char *bad_ca[] = { ep, env_path("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "junk"), NULL };
	char *bad_key[] = { ep, env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "c1.pem"),
			    env_path("OTEL_EXPORTER_OTLP_CLIENT_KEY", "junk"), NULL };
	char *missing[] = { ep, env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "nothere"), NULL };
	/* A key for c2 given by the environment, its certificate by flag. */
	char *flag_pair[] = { ep, env_path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "c1.pem"),
			      env_path("OTEL_EXPORTER_OTLP_CLIENT_KEY", "k2.pem"), NULL };
	struct sp_otlp_config cfg;

	assert_non_null(k1);
	assert_non_null(k2);
	write_key("k1.pem", k1);
	write_key("k2.pem", k2);
	write_cert("c1.pem", k1, "client-1");
	write_cert("c2.pem", k2, "client-2");
	write_cert("ca.pem", k1, "ca");
	write_file("junk", "-----BEGIN CERTIFICATE-----\nnot base64\n");

	assert_int_equal(finish_with(good, NULL), 0);
	assert_int_equal(finish_with(mismatch, NULL), -EINVAL);
	assert_int_equal(finish_with(flag_pair, NULL), -EINVAL);
	assert_int_equal(finish_with(flag_pair, "c2.pem"), 0); /* the flag wins */
	assert_int_equal(finish_with(cert_only, NULL), -EINVAL);
	assert_int_equal(finish_with(key_only, NULL), -EINVAL);
	assert_int_equal(finish_with(bad_ca, NULL), -EINVAL);
	assert_int_equal(finish_with(bad_key, NULL), -EINVAL);
	assert_int_equal(finish_with(missing, NULL), -EINVAL);

	otlp_config_defaults(&cfg);
	assert_int_equal(otlp_config_set_certificate(&cfg, path_in("nothere")), -EINVAL);
	assert_int_equal(otlp_config_set_client_key(&cfg, ""), -EINVAL);
	assert_int_equal(otlp_config_set_client_key(&cfg, path_in("k1.pem")), 0);
	assert_int_equal(otlp_config_set_headers_file(&cfg, path_in("nothere")), -EINVAL);
	otlp_config_free(&cfg);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

/* Write `name` whole under a temporary name, then rename it in place. */
static void replace_with(const char *name, const char *from)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp %s %s.new && mv %s.new %s", path_in(from),
		 path_in(name), path_in(name), path_in(name));
	assert_int_equal(system(cmd), 0);
}

/* A bad rotation keeps the context, counted once; a good one replaces it. */
static void test_tls_reload(void **state)
{
	EVP_PKEY *k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	struct tls_files f = { path_in("r-ca.pem"), path_in("r-cert.pem"),
			       path_in("r-key.pem") };
	struct tlsctx t;
	SSL_CTX *first;

	write_key("r-key.pem", k1);
	write_key("r-k2.pem", k2);
	write_cert("r-cert.pem", k1, "client-1");
	write_cert("r-c2.pem", k2, "client-2");
	write_cert("r-ca.pem", k1, "ca");
	assert_int_equal(tlsctx_open(&t, &f, 1000), 0);
	first = t.ctx;
	assert_false(tlsctx_refresh(&t, 5000)); /* nothing changed */

	/* The new certificate is there, its key not yet: kept, said once. */
	replace_with("r-cert.pem", "r-c2.pem");
	assert_false(tlsctx_refresh(&t, 5500)); /* not time yet */
	assert_false(tlsctx_refresh(&t, 6000));
	assert_ptr_equal(t.ctx, first);
	assert_int_equal(t.reload_failures, 1);
	assert_false(tlsctx_refresh(&t, 7000));
	assert_int_equal(t.reload_failures, 1);

	/* The key follows: a new context, a new generation. */
	replace_with("r-key.pem", "r-k2.pem");
	assert_true(tlsctx_refresh(&t, 8000));
	assert_ptr_not_equal(t.ctx, first);
	assert_int_equal(t.generation, 1);
	assert_int_equal(t.reloads, 1);

	/* A half-written CA file: kept, and tried again when it changes. */
	write_file("r-half", "-----BEGIN CERTIFICATE-----\nMIIB\n");
	replace_with("r-ca.pem", "r-half");
	assert_false(tlsctx_refresh(&t, 9000));
	assert_int_equal(t.reload_failures, 2);
	write_cert("r-ca2.pem", k2, "ca-2");
	replace_with("r-ca.pem", "r-ca2.pem");
	assert_true(tlsctx_refresh(&t, 10000));
	assert_int_equal(t.generation, 2);
	tlsctx_close(&t);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static int parse_file(const char *text, struct sp_otlp_header *h, size_t *line,
		      const char **why)
{
	return otlp_headers_parse_file(text, strlen(text), h, SP_OTLP_MAX_HEADERS,
				       line, why);
}

static void test_headers_file_syntax(void **state)
{
	struct sp_otlp_header h[SP_OTLP_MAX_HEADERS];
	const char *why;
	size_t line;
	char many[64 * 40] = "";

	assert_int_equal(parse_file("# tenant and key\n\n  Api-Key = abc=def%20 \r\n"
				    "\tx-tenant=a b\tc\n#x=1\nempty=\nlast=no-newline",
				    h, &line, &why), 4);
	assert_string_equal(h[0].name, "Api-Key");
	assert_string_equal(h[0].value, "abc=def%20"); /* as written */
	assert_string_equal(h[1].name, "x-tenant");
	assert_string_equal(h[1].value, "a b\tc");
	assert_string_equal(h[2].value, "");
	assert_string_equal(h[3].name, "last");
	assert_int_equal(line, 0);
	for (int i = 0; i < 4; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	assert_int_equal(parse_file("", h, &line, &why), 0);
	assert_int_equal(parse_file("\n# only a comment\n", h, &line, &why), 0);

	assert_int_equal(parse_file("a=1\nno equals sign\n", h, &line, &why), -EINVAL);
	assert_int_equal(line, 2);
	assert_string_equal(why, "has no '='");
	assert_int_equal(parse_file("a=1\n\n = v\n", h, &line, &why), -EINVAL);
	assert_int_equal(line, 3);
	assert_string_equal(why, "has an empty name");
	assert_int_equal(parse_file("bad name=v\n", h, &line, &why), -EINVAL);
	assert_int_equal(line, 1);
	assert_string_equal(why, "has a name that is not an HTTP token");
	assert_int_equal(parse_file("name: v=1\n", h, &line, &why), -EINVAL);
	assert_int_equal(parse_file("a=1\nk=x\x01y\n", h, &line, &why), -EINVAL);
	assert_int_equal(line, 2);
	assert_string_equal(why, "has a control character in its value");
	assert_int_equal(otlp_headers_parse_file("k=a\0b\n", 6, h, 4, &line, &why),
			 -EINVAL);
	for (int i = 0; i < SP_OTLP_MAX_HEADERS + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "h%d=v\n", i);
	assert_int_equal(parse_file(many, h, &line, &why), -E2BIG);
	assert_int_equal(line, SP_OTLP_MAX_HEADERS + 1);
}

static const char *header(const struct otlp_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->list[i].name, name) == 0)
			return h->list[i].value;
	return NULL;
}

/* Environment, then the file, then flags; re-read when the file changes. */
static void test_headers_file_merge_reload(void **state)
{
	char *env[] = { "OTEL_EXPORTER_OTLP_HEADERS=A=env,b=env,e=env",
			env_path("SPANPROBE_OTLP_HEADERS_FILE", "h-env"), NULL };
	char *bad_env[] = { env_path("SPANPROBE_OTLP_HEADERS_FILE", "h-bad"), NULL };
	struct sp_otlp_config cfg;
	struct otlp_headers h;

	write_file("h-env", "a=not used: the flag's file wins\n");
	write_file("h1", "# mounted secret\na=file\nc=file\n");
	write_file("h-bad", "ok=1\nbroken\n");
	assert_int_equal(load(&cfg, bad_env), -EINVAL);
	otlp_config_free(&cfg);

	otlp_config_defaults(&cfg);
	assert_int_equal(otlp_config_from_env(&cfg, env), 0);
	assert_int_equal(otlp_config_set_header(&cfg, "B=flag"), 0);
	assert_int_equal(otlp_config_set_header(&cfg, "c=flag"), 0);
	assert_int_equal(otlp_config_set_headers_file(&cfg, path_in("h1")), 0);
	assert_int_equal(otlp_config_finish(&cfg), 0);
	cfg.reload_check_ms = 1000;
	assert_int_equal(otlp_headers_open(&h, &cfg), 0);
	assert_int_equal(h.n, 4);
	assert_string_equal(header(&h, "a"), "file");
	assert_string_equal(header(&h, "b"), "flag");
	assert_string_equal(header(&h, "c"), "flag");
	assert_string_equal(header(&h, "e"), "env");

	/* Unchanged: nothing read.  Replaced (a rename): the new one. */
	assert_false(otlp_headers_refresh(&h, 10000));
	write_file("h2", "a=rotated\nd=new\n");
	assert_int_equal(rename(path_in("h2"), path_in("h1")), 0);
	assert_false(otlp_headers_refresh(&h, 10500)); /* not yet time */
	assert_true(otlp_headers_refresh(&h, 11000));
	assert_string_equal(header(&h, "a"), "rotated");
	assert_string_equal(header(&h, "d"), "new");
	assert_string_equal(header(&h, "b"), "flag");
	assert_string_equal(header(&h, "c"), "flag"); /* the flag's stays */
	assert_int_equal(h.reloads, 1);

	/* A bad file keeps the old headers, counted once, until it changes. */
	write_file("h2", "a=half\nd");
	assert_int_equal(rename(path_in("h2"), path_in("h1")), 0);
	assert_false(otlp_headers_refresh(&h, 12000));
	assert_false(otlp_headers_refresh(&h, 13000));
	assert_int_equal(h.reload_failures, 1);
	assert_string_equal(header(&h, "a"), "rotated");
	write_file("h2", "a=whole\n");
	assert_int_equal(rename(path_in("h2"), path_in("h1")), 0);
	assert_true(otlp_headers_refresh(&h, 14000));
	assert_string_equal(header(&h, "a"), "whole");
	assert_null(header(&h, "d"));
	/* Gone: the same. */
	assert_int_equal(unlink(path_in("h1")), 0);
	assert_false(otlp_headers_refresh(&h, 15000));
	assert_int_equal(h.reload_failures, 2);
	assert_string_equal(header(&h, "a"), "whole");
	otlp_headers_close(&h);
	otlp_config_free(&cfg);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/otlp-config-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_endpoint_rules),
		cmocka_unit_test(test_traces_variants_win),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_flags_win),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_each_traces_form),
		cmocka_unit_test(test_insecure),
		cmocka_unit_test(test_tls_files),
		cmocka_unit_test(test_tls_reload),
		cmocka_unit_test(test_headers_file_syntax),
		cmocka_unit_test(test_headers_file_merge_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
