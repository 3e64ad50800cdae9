/* SPDX-License-Identifier: MIT */
/*
 * Self-metrics: the exposition text for given counters (exact), label
 * escaping, /readyz and /healthz verdicts, the outcome counts of export
 * requests, the request and address parsers of the metrics server on
 * good and bad input, and the server itself on a port the kernel chose,
 * with every connection slot held by idle clients.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon/httpserve.h"
#include "daemon/metrics.h"
#include "export/export_health.h"
#include "util/clock.h"

static void assert_text(const struct sp_strbuf *b, const char *want)
{
	assert_int_equal(b->err, 0);
	if (b->len != strlen(want) || memcmp(b->data, want, b->len)) {
		print_error("got:\n%.*s\nwant:\n%s\n", (int)b->len, b->data, want);
		fail();
	}
}

/* Every counter a different number, so a swapped one shows. */
static void console_values(struct metrics_values *v)
{
	struct report_values *r = &v->report;

	memset(v, 0, sizeof(*v));
	r->pipe = (struct sp_pipeline_stats){
		.spans_started = 10, .spans_finished = 9, .spans_not_sampled = 1,
		.pool_empty = 3, .unmatched_returns = 11, .abandoned = 7,
		.depth_exceeded = 5, .threads_full = 4, .filtered = 2,
		.open_at_exit = 8, .discarded = 6,
	};
	r->exp = (struct sp_export_stats){
		.spans_exported = 7, .spans_failed = 1, .spans_timed_out = 14,
		.spans_cut_off = 2, .requests_retried = 12, .bytes_raw = 1000,
		.bytes_sent = 900, .spans_discarded = 15,
	};
	r->batch = (struct sp_batch_stats){ .dropped_queue_full = 13,
					    .dropped_at_shutdown = 3 };
	for (int i = 0; i < SP_DROP_REASON_MAX; i++)
		r->drops[i] = 20 + (uint64_t)i;
	r->bad_records = 30;
	v->queue_spans = 512;
	v->queue_capacity = 2048;
	v->processes = 5;
	v->http = true;
	v->connections = 6;
	v->tls_not_decrypted = 15;
}

#define FAMILY(name, type, help) "# HELP " name " " help "\n# TYPE " name " " type "\n"

static const char console_text[] =
	FAMILY("spanprobe_spans_started_total", "counter",
	       "Spans started (function calls, HTTP requests).")
	"spanprobe_spans_started_total 10\n"
	FAMILY("spanprobe_spans_finished_total", "counter",
	       "Spans finished and handed to the exporter's queue.")
	"spanprobe_spans_finished_total 9\n"
	FAMILY("spanprobe_spans_exported_total", "counter",
	       "Spans the collector accepted or the console wrote.")
	"spanprobe_spans_exported_total 7\n"
	FAMILY("spanprobe_spans_not_sampled_total", "counter", "Spans left out by the sampler.")
	"spanprobe_spans_not_sampled_total 1\n"
	FAMILY("spanprobe_spans_filtered_total", "counter",
	       "Spans outside --pid, --exe, --cgroup or --port.")
	"spanprobe_spans_filtered_total 2\n"
	FAMILY("spanprobe_spans_dropped_total", "counter",
	       "Spans not exported (or never started), by reason.")
	"spanprobe_spans_dropped_total{reason=\"export_failed\"} 1\n"
	"spanprobe_spans_dropped_total{reason=\"export_timed_out\"} 14\n"
	"spanprobe_spans_dropped_total{reason=\"queue_full\"} 13\n"
	"spanprobe_spans_dropped_total{reason=\"shutdown\"} 5\n"
	"spanprobe_spans_dropped_total{reason=\"pool_empty\"} 3\n"
	"spanprobe_spans_dropped_total{reason=\"thread_table_full\"} 4\n"
	"spanprobe_spans_dropped_total{reason=\"too_deep\"} 5\n"
	"spanprobe_spans_dropped_total{reason=\"unfinished\"} 6\n"
	"spanprobe_spans_dropped_total{reason=\"never_returned\"} 7\n"
	"spanprobe_spans_dropped_total{reason=\"open_at_exit\"} 8\n"
	"spanprobe_spans_dropped_total{reason=\"no_exporter\"} 15\n"
	FAMILY("spanprobe_ringbuf_lost_total", "counter",
	       "Ring-buffer records lost (the buffer was full).")
	"spanprobe_ringbuf_lost_total 20\n"
	FAMILY("spanprobe_bpf_drops_total", "counter",
	       "What the BPF programs could not capture, by reason.")
	"spanprobe_bpf_drops_total{reason=\"read_failed\"} 21\n"
	"spanprobe_bpf_drops_total{reason=\"map_full\"} 22\n"
	"spanprobe_bpf_drops_total{reason=\"sock_unknown_call\"} 23\n"
	"spanprobe_bpf_drops_total{reason=\"tls_no_socket\"} 24\n"
	"spanprobe_bpf_drops_total{reason=\"h2_frames_cut\"} 25\n"
	"spanprobe_bpf_drops_total{reason=\"h2_walk_lost\"} 26\n"
	FAMILY("spanprobe_records_bad_total", "counter", "Ring-buffer records refused as malformed.")
	"spanprobe_records_bad_total 30\n"
	FAMILY("spanprobe_returns_unmatched_total", "counter",
	       "Function returns whose entry was never seen.")
	"spanprobe_returns_unmatched_total 11\n"
	FAMILY("spanprobe_export_retries_total", "counter",
	       "Export requests sent again after a retryable failure.")
	"spanprobe_export_retries_total 12\n"
	FAMILY("spanprobe_export_encoded_bytes_total", "counter",
	       "Bytes of encoded spans, before compression.")
	"spanprobe_export_encoded_bytes_total 1000\n"
	FAMILY("spanprobe_export_sent_bytes_total", "counter",
	       "Bytes that reached a socket or the output file.")
	"spanprobe_export_sent_bytes_total 900\n"
	FAMILY("spanprobe_export_queue_spans", "gauge", "Spans waiting for export or being exported.")
	"spanprobe_export_queue_spans 512\n"
	FAMILY("spanprobe_export_queue_capacity_spans", "gauge",
	       "Spans the export queue holds (OTEL_BSP_MAX_QUEUE_SIZE).")
	"spanprobe_export_queue_capacity_spans 2048\n"
	FAMILY("spanprobe_export_queue_fill_ratio", "gauge", "Spans waiting over the queue's capacity.")
	"spanprobe_export_queue_fill_ratio 0.250000\n"
	FAMILY("spanprobe_processes", "gauge", "Processes whose resource spanprobe keeps.")
	"spanprobe_processes 5\n"
	FAMILY("spanprobe_connections", "gauge", "Connections HTTP capture tracks.")
	"spanprobe_connections 6\n"
	FAMILY("spanprobe_tls_connections_not_decrypted_total", "counter",
	       "TLS connections of processes whose TLS library is not probed.")
	"spanprobe_tls_connections_not_decrypted_total 15\n"
	FAMILY("spanprobe_bpf_stats_enabled", "gauge",
	       "1 when the kernel counts the run time of BPF programs.")
	"spanprobe_bpf_stats_enabled 0\n"
	FAMILY("spanprobe_build_info", "gauge", "The version and HTTP capture hooks.")
	"spanprobe_build_info{version=\"1.2.3\",hooks=\"sock\"} 1\n"
	FAMILY("process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch, in seconds.")
	"process_start_time_seconds 1700000000.045\n"
	FAMILY("spanprobe_metrics_requests_total", "counter",
	       "Requests this metrics server answered (this one not yet).")
	"spanprobe_metrics_requests_total 31\n"
	FAMILY("spanprobe_metrics_bad_requests_total", "counter",
	       "Requests it refused (4xx, 5xx) for what the client sent.")
	"spanprobe_metrics_bad_requests_total 32\n"
	FAMILY("spanprobe_metrics_timeouts_total", "counter",
	       "Connections closed without a whole request head: the time limit passed,"
	       " or a newer connection took the slot.")
	"spanprobe_metrics_timeouts_total 33\n";

static void test_format_console(void **state)
{
	struct metrics_values v;
	struct metrics_info info = { .version = "1.2.3", .hooks = "sock",
				     .start_time_ms = 1700000000045ULL };
	struct metrics_bpf bpf = { 0 };
	struct httpserve_stats served = { .requests = 31, .bad_requests = 32, .timeouts = 33 };
	struct sp_strbuf b;

	(void)state;
	console_values(&v);
	strbuf_init(&b, 1 << 20);
	metrics_format(&b, &v, &info, &bpf, &served);
	assert_text(&b, console_text);
	strbuf_free(&b);
}

/* The text between the line starting `from` and the next "# HELP". */
static void assert_family(const struct sp_strbuf *b, const char *from, const char *want)
{
	char *text = strndup(b->data, b->len);
	char *start, *end;

	assert_non_null(text);
	start = strstr(text, from);
	assert_non_null(start);
	end = strstr(start + 1, "# HELP");
	if (end)
		*end = '\0';
	if (strcmp(start, want)) {
		print_error("got:\n%s\nwant:\n%s\n", start, want);
		fail();
	}
	free(text);
}

/* OTLP: requests by outcome, the disk queue; BPF run time; escaping. */
static void test_format_otlp_bpf(void **state)
{
	struct metrics_values v;
	struct progstat progs[2] = {
		{ .name = "sp_sock_send", .run_time_ns = 1500000001ULL, .run_cnt = 42 },
		{ .name = "a\"b\\c", .run_time_ns = 7, .run_cnt = 1 },
	};
	struct metrics_info info = { .version = "0.1.0", .hooks = "x\"y\\z\nw",
				     .start_time_ms = 5 };
	struct metrics_bpf bpf = { .enabled = true, .progs = progs, .n_progs = 2 };
	struct httpserve_stats served = { 0 };
	struct sp_strbuf b;

	(void)state;
	console_values(&v);
	v.http = false;
	v.otlp = true;
	v.export.ok = 5;
	v.export.http[503 - EXPORT_HTTP_FIRST] = 2;
	v.export.http[400 - EXPORT_HTTP_FIRST] = 1;
	v.export.grpc[14] = 1;
	v.export.kinds[EXPORT_FAIL_CONNECTION] = 3;
	v.disk_queue = true;
	v.disk_queue_bytes = 4096;
	v.disk_queue_budget = 1 << 20;
	v.disk_queue_batches = 2;
	v.disk_queue_spans = 99;
	strbuf_init(&b, 1 << 20);
	metrics_format(&b, &v, &info, &bpf, &served);
	assert_int_equal(b.err, 0);
	assert_family(&b, "# HELP spanprobe_export_requests_total",
		      FAMILY("spanprobe_export_requests_total", "counter",
			     "Export requests by outcome: ok, the HTTP status or gRPC code, "
			     "timeout, connection_failed, protocol_error.")
		      "spanprobe_export_requests_total{status=\"ok\"} 5\n"
		      "spanprobe_export_requests_total{status=\"400\"} 1\n"
		      "spanprobe_export_requests_total{status=\"503\"} 2\n"
		      "spanprobe_export_requests_total{status=\"UNAVAILABLE\"} 1\n"
		      "spanprobe_export_requests_total{status=\"connection_failed\"} 3\n");
	assert_family(&b, "# HELP spanprobe_disk_queue_bytes",
		      FAMILY("spanprobe_disk_queue_bytes", "gauge",
			     "Bytes of batches waiting in --queue-dir.")
		      "spanprobe_disk_queue_bytes 4096\n");
	assert_family(&b, "# HELP spanprobe_disk_queue_spans",
		      FAMILY("spanprobe_disk_queue_spans", "gauge",
			     "Spans waiting in --queue-dir.")
		      "spanprobe_disk_queue_spans 99\n");
	assert_family(&b, "# HELP spanprobe_bpf_run_time_seconds_total",
		      FAMILY("spanprobe_bpf_run_time_seconds_total", "counter",
			     "Time spent in spanprobe's BPF programs, by program.")
		      "spanprobe_bpf_run_time_seconds_total{program=\"sp_sock_send\"} 1.500000001\n"
		      "spanprobe_bpf_run_time_seconds_total{program=\"a\\\"b\\\\c\"} 0.000000007\n");
	assert_family(&b, "# HELP spanprobe_bpf_runs_total",
		      FAMILY("spanprobe_bpf_runs_total", "counter",
			     "Runs of spanprobe's BPF programs, by program.")
		      "spanprobe_bpf_runs_total{program=\"sp_sock_send\"} 42\n"
		      "spanprobe_bpf_runs_total{program=\"a\\\"b\\\\c\"} 1\n");
	assert_family(&b, "# HELP spanprobe_build_info",
		      FAMILY("spanprobe_build_info", "gauge", "The version and HTTP capture hooks.")
		      "spanprobe_build_info{version=\"0.1.0\",hooks=\"x\\\"y\\\\z\\nw\"} 1\n");
	assert_null(strstr(b.data, "spanprobe_connections"));
	strbuf_free(&b);
}

static void test_label_escaping(void **state)
{
	struct sp_strbuf b;

	(void)state;
	strbuf_init(&b, 256);
	metrics_add_label_value(&b, "plain \xc3\xa9 \\ \" \n end");
	assert_text(&b, "plain \xc3\xa9 \\\\ \\\" \\n end");
	strbuf_free(&b);
}

static struct sp_attempt attempt(enum sp_attempt_kind kind, int http, int grpc)
{
	return (struct sp_attempt){ .kind = kind, .http_status = http, .grpc_status = grpc };
}

static void test_export_health(void **state)
{
	struct export_health h;
	struct export_health_snap s;
	struct sp_attempt a;

	(void)state;
	export_health_init(&h);
	a = attempt(SP_ATTEMPT_OK, 200, 0);
	export_health_note(&h, &a, NULL);
	a = attempt(SP_ATTEMPT_HTTP, 503, 0);
	export_health_note(&h, &a, "HTTP 503");
	a = attempt(SP_ATTEMPT_HTTP, 42, 0); /* no such status: protocol */
	export_health_note(&h, &a, "HTTP 42");
	a = attempt(SP_ATTEMPT_GRPC, 0, 99); /* no such code: UNKNOWN */
	export_health_note(&h, &a, "gRPC 99");
	a = attempt(SP_ATTEMPT_LOST, 0, 0);
	export_health_note(&h, &a, "connection failed: Connection refused");
	export_health_get(&h, &s);
	assert_int_equal(s.ok, 1);
	assert_int_equal(s.http[503 - EXPORT_HTTP_FIRST], 1);
	assert_int_equal(s.kinds[EXPORT_FAIL_PROTOCOL], 1);
	assert_int_equal(s.grpc[2], 1);
	assert_int_equal(s.kinds[EXPORT_FAIL_CONNECTION], 1);
	assert_int_equal(export_health_failures(&s), 4);
	assert_int_equal(s.failures_in_row, 4);
	assert_true(s.unreachable);
	assert_string_equal(s.last_error, "connection failed: Connection refused");
	a = attempt(SP_ATTEMPT_OK, 200, 0);
	export_health_note(&h, &a, NULL);
	export_health_get(&h, &s);
	assert_int_equal(s.failures_in_row, 0);
	assert_false(s.unreachable);
	export_health_destroy(&h);
}

static void test_readiness(void **state)
{
	struct metrics_values v;
	char why[300];

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(metrics_readiness(METRICS_STARTING, &v, why, sizeof(why)), 503);
	assert_string_equal(why, "starting: the probes are not attached yet");
	assert_int_equal(metrics_readiness(METRICS_STOPPING, &v, why, sizeof(why)), 503);
	assert_string_equal(why, "stopping");
	assert_int_equal(metrics_readiness(METRICS_RUNNING, &v, why, sizeof(why)), 200);
	assert_string_equal(why, "ok");
	/* The console never makes it unready; a collector's failures do. */
	v.export.failures_in_row = 9;
	assert_int_equal(metrics_readiness(METRICS_RUNNING, &v, why, sizeof(why)), 200);
	v.otlp = true;
	v.export.failures_in_row = 2;
	snprintf(v.export.last_error, sizeof(v.export.last_error), "HTTP 503");
	assert_int_equal(metrics_readiness(METRICS_RUNNING, &v, why, sizeof(why)), 200);
	v.export.failures_in_row = 3;
	assert_int_equal(metrics_readiness(METRICS_RUNNING, &v, why, sizeof(why)), 503);
	assert_string_equal(why, "export failing: 3 requests in a row; last: HTTP 503");
	v.export.failures_in_row = 1;
	v.export.unreachable = true;
	snprintf(v.export.last_error, sizeof(v.export.last_error),
		 "connection failed: Connection refused");
	assert_int_equal(metrics_readiness(METRICS_RUNNING, &v, why, sizeof(why)), 503);
	assert_string_equal(why, "collector unreachable: connection failed: Connection refused");
}

static void test_liveness(void **state)
{
	char why[200];

	(void)state;
	assert_int_equal(metrics_liveness(METRICS_RUNNING, 1000, 1000 + METRICS_STALL_MS,
					  why, sizeof(why)), 200);
	assert_int_equal(metrics_liveness(METRICS_RUNNING, 1000, 1001 + METRICS_STALL_MS,
					  why, sizeof(why)), 503);
	assert_string_equal(why, "the reader loop has not gone round for 10001 ms");
	/* Starting and stopping are bounded elsewhere: not judged here. */
	assert_int_equal(metrics_liveness(METRICS_STARTING, 0, 100000, why, sizeof(why)), 200);
	assert_int_equal(metrics_liveness(METRICS_STOPPING, 0, 100000, why, sizeof(why)), 200);
}

static int parse(const char *s, struct httpserve_request *req)
{
	return httpserve_parse(s, strlen(s), req);
}

static void test_parse_good(void **state)
{
	struct httpserve_request req;
	const char *r1 = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nrest";

	(void)state;
	assert_int_equal(parse(r1, &req), (int)(strlen(r1) - 4));
	assert_string_equal(req.method, "GET");
	assert_string_equal(req.path, "/metrics");
	assert_int_equal(req.minor, 1);
	/* Bare LF, leading empty lines, HTTP/1.0, an empty value. */
	assert_int_equal(parse("\r\n\nHEAD /readyz HTTP/1.0\nX-A:\n\n", &req), 31);
	assert_string_equal(req.method, "HEAD");
	assert_string_equal(req.path, "/readyz");
	assert_int_equal(req.minor, 0);
	/* Not whole yet. */
	assert_int_equal(parse("", &req), 0);
	assert_int_equal(parse("GET /metrics HTT", &req), 0);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n", &req), 0);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n\r", &req), 0);
}

static void test_parse_bad(void **state)
{
	static const struct { const char *in; int want; } cases[] = {
		{ "garbage\r\n\r\n", -400 },
		{ "GET\r\n\r\n", -400 },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", -400 },
		{ "GET metrics HTTP/1.1\r\n\r\n", -400 },
		{ "GET http://a/metrics HTTP/1.1\r\n\r\n", -400 },
		{ "GET /metrics\r\n\r\n", -400 },
		{ "GET /metrics FTP/1.1\r\n\r\n", -400 },
		{ "GET /metrics HTTP/2.0\r\n\r\n", -505 },
		{ "GET /metrics HTTP/1.10\r\n\r\n", -505 },
		{ "GET /metrics HTTP/1.x\r\n\r\n", -505 },
		{ "G@T /metrics HTTP/1.1\r\n\r\n", -400 },
		{ "VERYLONGMETHODNAME /m HTTP/1.1\r\n\r\n", -400 },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n", -400 },
		{ "GET /metrics HTTP/1.1\r\nA: b\x7f\r\n\r\n", -400 },
	};
	struct httpserve_request req;
	char big[HTTPSERVE_PATH_MAX + 64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = parse(cases[i].in, &req);

		if (got != cases[i].want) {
			print_error("case %zu: got %d, want %d\n", i, got, cases[i].want);
			fail();
		}
	}
	/* A NUL inside: refused, not read as the end of a string. */
	assert_int_equal(httpserve_parse("GET /a\0b HTTP/1.1\r\n\r\n", 21, &req), -400);
	/* A target one byte too long for the buffer. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	snprintf(big + 4 + HTTPSERVE_PATH_MAX, sizeof(big) - 4 - HTTPSERVE_PATH_MAX,
		 " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse(big, &req), -414);
	snprintf(big + 4 + HTTPSERVE_PATH_MAX - 1, sizeof(big) - 3 - HTTPSERVE_PATH_MAX,
		 " HTTP/1.1\r\n\r\n");
	assert_true(parse(big, &req) > 0);
	assert_int_equal(strlen(req.path), HTTPSERVE_PATH_MAX - 1);
}

static void test_parse_address(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char text[64];
	static const char *const bad[] = {
		"", "9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
		"127.0.0.1:+80", "127.0.0.1:80x", "localhost:9100", "::1:9100",
		"[::1:9100", "[]:9100", "[nothing]:9100", "1.2.3:9100",
		"[::1]x:9100",
	};

	(void)state;
	assert_int_equal(httpserve_parse_address("127.0.0.1:9464", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(*a4));
	assert_int_equal(ntohs(a4->sin_port), 9464);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(httpserve_parse_address("[::1]:65535", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 65535);
	inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
	assert_string_equal(text, "::1");
	assert_int_equal(httpserve_parse_address(":1", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_memory_equal(&a6->sin6_addr, &in6addr_any, sizeof(in6addr_any));
	/* Port 0: the kernel chooses. */
	assert_int_equal(httpserve_parse_address("127.0.0.1:0", &ss, &len), 0);
	assert_int_equal(ntohs(a4->sin_port), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (httpserve_parse_address(bad[i], &ss, &len) != -EINVAL) {
			print_error("'%s' was taken\n", bad[i]);
			fail();
		}
	}
}

static void answer_ok(void *ctx, const struct httpserve_request *req,
		      struct httpserve_response *r)
{
	(void)ctx;
	if (strcmp(req->path, "/healthz"))
		r->status = 404;
	strbuf_adds(&r->body, r->status == 200 ? "ok\n" : "no\n");
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* What the server sends on fd until it closes (or 5 s pass), NUL-ended. */
static size_t read_answer(int fd, char *out, size_t size)
{
	struct timeval tv = { .tv_sec = 5 };
	size_t len = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len + 1 < size && (n = recv(fd, out + len, size - 1 - len, 0)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return len;
}

/* GET /healthz on a new connection: the answer, and how long it took. */
static int64_t get_healthz(uint16_t port, char *out, size_t size)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int64_t t0 = clock_mono_ms();
	int fd = connect_to(port);

	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	read_answer(fd, out, size);
	close(fd);
	return clock_mono_ms() - t0;
}

/* A server on port 0 listens on the port the kernel chose, and answers. */
static void test_server_port_zero(void **state)
{
	struct httpserve *s = httpserve_start("127.0.0.1:0", answer_ok, NULL);
	char buf[1024];

	(void)state;
	assert_non_null(s);
	assert_true(httpserve_port(s) != 0);
	get_healthz(httpserve_port(s), buf, sizeof(buf));
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(buf, "\r\n\r\nok\n"));
	httpserve_stop(s);
}

/*
 * Every slot held by a client that sent nothing, or half a head: a probe
 * is still answered at once, not when the read timeout frees a slot; and
 * again each round while the idle clients reconnect.  The connection that
 * has waited longest gives its slot up (half a head gets its 408).
 */
static void test_server_slots_held(void **state)
{
	struct httpserve *s = httpserve_start("127.0.0.1:0", answer_ok, NULL);
	struct httpserve_stats st;
	int held[HTTPSERVE_CLIENTS];
	char buf[1024];
	uint16_t port;

	(void)state;
	assert_non_null(s);
	port = httpserve_port(s);
	for (int i = 0; i < HTTPSERVE_CLIENTS; i++)
		held[i] = connect_to(port);
	assert_int_equal(send(held[0], "G", 1, 0), 1);
	for (int round = 0; round < 3; round++) {
		int64_t took;

		usleep(100 * 1000); /* every held one accepted before the probe */
		took = get_healthz(port, buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) || took >= HTTPSERVE_READ_MS / 4) {
			print_error("round %d: after %lld ms: '%.40s'\n", round,
				    (long long)took, buf);
			fail();
		}
		/* Accept order: held[round] has waited longest. */
		read_answer(held[round], buf, sizeof(buf));
		if (round == 0)
			assert_true(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
		else
			assert_string_equal(buf, "");
		close(held[round]);
		held[round] = connect_to(port);
	}
	httpserve_get_stats(s, &st);
	assert_int_equal(st.timeouts, 3);
	assert_int_equal(st.requests, 4); /* the 408 and three 200s */
	for (int i = 0; i < HTTPSERVE_CLIENTS; i++)
		close(held[i]);
	httpserve_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_console),
		cmocka_unit_test(test_format_otlp_bpf),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_export_health),
		cmocka_unit_test(test_readiness),
		cmocka_unit_test(test_liveness),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_address),
		cmocka_unit_test(test_server_port_zero),
		cmocka_unit_test(test_server_slots_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
