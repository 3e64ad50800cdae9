/* SPDX-License-Identifier: MIT */
/*
 * What one OpenSSL call costs the program that makes it: nanoseconds per
 * SSL_write and per SSL_read of a small message over TLS 1.3 on a loopback
 * TCP connection, both ends in this process and on one thread.  A round
 * trip is four calls: the client's SSL_write, the server's SSL_read, the
 * server's SSL_write, the client's SSL_read.  Two payloads, each on a
 * connection of its own:
 *   http   a GET request and a two-byte response: every round trip is one
 *          HTTP exchange, so a tracer that reads TLS plaintext copies the
 *          bytes and makes a CLIENT and a SERVER span of it;
 *   other  a message that starts like a binary protocol ("ping ..."): a
 *          tracer that decides by the first bytes leaves the connection
 *          alone after its first call, and what remains is the cost of the
 *          probes themselves.
 * The sockets are real (not memory BIOs) because a tracer ties a TLS call
 * to its connection by the socket call the library makes inside it.  The
 * certificate is made here (P-256, self-signed); session tickets are off.
 * One measurement per payload: the best of three passes, so a preemption
 * does not count; bench/ssl_calls.py repeats runs with and without
 * spanprobe.
 *
 * Usage: ssl_calls [round_trips]   (default 20000 per pass)
 * Prints "KEY VALUE" lines: http_write_ns, http_read_ns, other_write_ns,
 * other_read_ns, and http_exchanges (HTTP round trips done, warm-up
 * included: the spans a tracer should have made of each kind).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcp_pair.h"

#define PASSES 3
#define WARMUP 100
#define HANDSHAKE_SPINS 1000

struct payload {
	const char *name;
	const char *request;
	const char *response;
};

static const struct payload payloads[] = {
	{ "http", "GET /ssl_calls HTTP/1.1\r\nHost: bench\r\n\r\n",
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
	{ "other", "ping 0123456789abcdef0123456789abcdef",
	  "pong 0123456789abcdef" },
};

/* ns spent in each kind of call over one pass. */
struct timing {
	double write_ns, read_ns;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A self-signed P-256 certificate for `key`, or NULL. */
static X509 *make_cert(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	X509_NAME *name;

	if (!cert)
		return NULL;
	name = X509_get_subject_name(cert);
	if (!X509_set_version(cert, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 86400) || !X509_set_pubkey(cert, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name) || !X509_sign(cert, key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* The server's context (with a fresh certificate) or the client's; NULL on
 * failure.  TLS 1.3 only, no session tickets: the same records each run. */
static SSL_CTX *make_ctx(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION))
		goto fail;
	if (!server)
		return ctx; /* no verification: the peer is this process */
	SSL_CTX_set_num_tickets(ctx, 0);
	key = EVP_EC_gen("P-256");
	cert = key ? make_cert(key) : NULL;
	if (!cert || !SSL_CTX_use_certificate(ctx, cert) || !SSL_CTX_use_PrivateKey(ctx, key))
		goto fail;
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
fail:
	X509_free(cert);
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return NULL;
}

static int set_blocking(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
}

/* A handshake step that waits for the peer (or for room to write). */
static bool handshake_waits(SSL *ssl, int rc)
{
	int err = SSL_get_error(ssl, rc);

	return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

/* Drive both ends' handshakes on non-blocking sockets, then make the
 * sockets blocking again.  Returns 0, or -1 when a side fails. */
static int handshake(SSL *client, SSL *server, const int fds[2])
{
	bool c_done = false, s_done = false;

	if (set_blocking(fds[0], false) || set_blocking(fds[1], false))
		return -1;
	for (int i = 0; i < HANDSHAKE_SPINS && !(c_done && s_done); i++) {
		int rc;

		if (!c_done) {
			rc = SSL_do_handshake(client);
			c_done = rc == 1;
			if (rc <= 0 && !handshake_waits(client, rc))
				return -1;
		}
		if (!s_done) {
			rc = SSL_do_handshake(server);
			s_done = rc == 1;
			if (rc <= 0 && !handshake_waits(server, rc))
				return -1;
		}
	}
	if (!c_done || !s_done)
		return -1;
	return set_blocking(fds[0], true) || set_blocking(fds[1], true) ? -1 : 0;
}

/* One timed SSL_write of all of `msg`; false when it fails or comes short. */
static bool timed_write(SSL *ssl, const char *msg, double *ns)
{
	int len = (int)strlen(msg);
	double t0 = now_ns();
	int n = SSL_write(ssl, msg, len);

	*ns += now_ns() - t0;
	return n == len;
}

/* One timed SSL_read of exactly `len` bytes (one record: the peer wrote
 * them in one call); false when it fails or comes short. */
static bool timed_read(SSL *ssl, int len, double *ns)
{
	char buf[256];
	double t0 = now_ns();
	int n = SSL_read(ssl, buf, sizeof(buf));

	*ns += now_ns() - t0;
	return n == len;
}

/* `n` round trips of `p`; the ns of the 2n writes and 2n reads in *t.
 * Returns 0, or -1 when a call fails. */
static int round_trips(SSL *client, SSL *server, const struct payload *p, long n,
		       struct timing *t)
{
	int req = (int)strlen(p->request), resp = (int)strlen(p->response);

	*t = (struct timing){ 0 };
	for (long i = 0; i < n; i++) {
		if (!timed_write(client, p->request, &t->write_ns) ||
		    !timed_read(server, req, &t->read_ns) ||
		    !timed_write(server, p->response, &t->write_ns) ||
		    !timed_read(client, resp, &t->read_ns))
			return -1;
	}
	return 0;
}

/* One connection of payload `p`: a warm-up, then the best of PASSES passes
 * of `n` round trips, in ns per call.  Returns 0 or -1. */
static int measure(SSL_CTX *cctx, SSL_CTX *sctx, const struct payload *p, long n,
		   struct timing *best)
{
	SSL *client = SSL_new(cctx), *server = SSL_new(sctx);
	int fds[2] = { -1, -1 }, err = -1;
	struct timing t;

	*best = (struct timing){ 1e18, 1e18 };
	if (!client || !server || tcp_pair(&fds[0], &fds[1]))
		goto out;
	SSL_set_fd(client, fds[0]);
	SSL_set_fd(server, fds[1]);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	if (handshake(client, server, fds) || round_trips(client, server, p, WARMUP, &t))
		goto out;
	for (int pass = 0; pass < PASSES; pass++) {
		if (round_trips(client, server, p, n, &t))
			goto out;
		if (t.write_ns / n < best->write_ns)
			best->write_ns = t.write_ns / n;
		if (t.read_ns / n < best->read_ns)
			best->read_ns = t.read_ns / n;
	}
	/* Two calls of each kind per round trip. */
	best->write_ns /= 2;
	best->read_ns /= 2;
	err = 0;
out:
	SSL_free(client);
	SSL_free(server);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return err;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	SSL_CTX *cctx = make_ctx(false), *sctx = make_ctx(true);
	int rc = 1;

	if (n < 10) {
		fprintf(stderr, "ssl_calls: round trips must be at least 10\n");
		return 2;
	}
	if (!cctx || !sctx) {
		fprintf(stderr, "ssl_calls: TLS setup failed\n");
		ERR_print_errors_fp(stderr);
		goto out;
	}
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		struct timing t;

		if (measure(cctx, sctx, &payloads[i], n, &t)) {
			fprintf(stderr, "ssl_calls: %s round trips failed: %s\n", payloads[i].name,
				errno ? strerror(errno) : "TLS error");
			ERR_print_errors_fp(stderr);
			goto out;
		}
		printf("%s_write_ns %.1f\n%s_read_ns %.1f\n", payloads[i].name, t.write_ns,
		       payloads[i].name, t.read_ns);
	}
	printf("http_exchanges %ld\n", WARMUP + PASSES * n);
	rc = 0;
out:
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return rc;
}
