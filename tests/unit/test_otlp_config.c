// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/otlp_config.h"
#include "transport/url.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
