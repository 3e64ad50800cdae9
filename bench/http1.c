/* SPDX-License-Identifier: MIT */
/*
 * Cost of the HTTP/1 parser per exchange, as the daemon feeds it: a
 * keep-alive connection whose reads are captured up to 256 bytes, a
 * pipelined burst, and the worst case of one byte per read.  Also the
 * cost of skipping a connection already known not to be HTTP.
 */
#include "protocol/http1.h"
#include "protocol/route.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CAPTURE 256

static const char REQ[] = "GET /api/users/12345/orders?limit=10 HTTP/1.1\r\n"
			  "Host: shop.example:8080\r\n"
			  "User-Agent: wrk/4.2\r\n"
			  "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
			  "00f067aa0ba902b7-01\r\n"
			  "Accept: application/json\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\n"
			   "Server: nginx/1.22.1\r\n"
			   "Date: Tue, 25 Nov 2026 10:00:00 GMT\r\n"
			   "Content-Type: application/json\r\n"
			   "Content-Length: 1024\r\n"
			   "Connection: keep-alive\r\n\r\n";

static unsigned long exchanges;
static unsigned long checksum;

static void count(const struct http1_exchange *x, void *user)
{
	(void)user;
	exchanges++;
	checksum += x->status;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void bench_keepalive(unsigned long n)
{
	static struct http1_conn c;
	size_t rl = strlen(REQ), hl = strlen(RESP);
	char resp[2048];
	double t0;

	memcpy(resp, RESP, hl);
	memset(resp + hl, 'x', 1024);
	http1_init(&c);
	exchanges = 0;
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		http1_feed(&c, HTTP1_INBOUND, REQ, min_sz(rl, CAPTURE), rl, i,
			   count, NULL);
		http1_feed(&c, HTTP1_OUTBOUND, resp, CAPTURE, hl + 1024, i,
			   count, NULL);
	}
	printf("http1: keep-alive, capture %d: %.0f ns/exchange (%lu exchanges)\n",
	       CAPTURE, (now_ns() - t0) / n, exchanges);
}

static void bench_one_byte(unsigned long n)
{
	static struct http1_conn c;
	size_t rl = strlen(REQ), hl = strlen(RESP);
	double t0;

	http1_init(&c);
	exchanges = 0;
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		for (size_t k = 0; k < rl; k++)
			http1_feed(&c, HTTP1_INBOUND, REQ + k, 1, 1, i, count,
				   NULL);
		for (size_t k = 0; k < hl; k++)
			http1_feed(&c, HTTP1_OUTBOUND, RESP + k, 1, 1, i,
				   count, NULL);
		http1_feed(&c, HTTP1_OUTBOUND, "", 0, 1024, i, count, NULL);
	}
	printf("http1: one byte per read: %.0f ns/exchange, %.1f ns/read "
	       "(%lu exchanges)\n",
	       (now_ns() - t0) / n, (now_ns() - t0) / n / (rl + hl + 1),
	       exchanges);
}

static void bench_not_http(unsigned long n)
{
	static struct http1_conn c;
	static const char tls[CAPTURE] = "\x17\x03\x03\x40\x00";
	double t0;

	http1_init(&c);
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		http1_feed(&c, i & 1, tls, CAPTURE, 16384, i, count, NULL);
	printf("http1: not-HTTP chunk skipped: %.1f ns/read (skipped=%d)\n",
	       (now_ns() - t0) / n, http1_is_skipped(&c));
}

static void bench_route(unsigned long n)
{
	char out[256];
	double t0 = now_ns();

	for (unsigned long i = 0; i < n; i++)
		checksum += route_template("/api/users/12345/orders/"
					   "9f86d081884c7d65",
					   out, sizeof(out));
	printf("route: template of a 5-segment path: %.0f ns (%s)\n",
	       (now_ns() - t0) / n, out);
}

int main(void)
{
	bench_keepalive(1000000);
	bench_one_byte(20000);
	bench_not_http(10000000);
	bench_route(1000000);
	return checksum == 0xdead ? 1 : 0;
}
