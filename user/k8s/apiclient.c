// SPDX-License-Identifier: MIT
#include "k8s/apiclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "transport/conn.h"
#include "util/clock.h"
#include "util/log.h"

#define TOKEN_MAX (16 << 10)
#define READ_CHUNK (16 << 10)

static void tls_error(const char *what)
{
	char buf[200] = "";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	sp_err("k8s: %s: %s", what, *buf ? buf : "failed");
	ERR_clear_error();
}

/* PEM certificates in `pem` added to the context's trust store. */
static int add_ca_pem(SSL_CTX *ctx, const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x);
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error(); /* the end of the PEM text */
	return n ? 0 : -EINVAL;
}

static int use_client_pem(SSL_CTX *ctx, const char *cert, const char *key)
{
	BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int ok = x && k && SSL_CTX_use_certificate(ctx, x) == 1 &&
		 SSL_CTX_use_PrivateKey(ctx, k) == 1;

	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return ok ? 0 : -EINVAL;
}

static int setup_trust(SSL_CTX *ctx, const struct k8s_api_config *c)
{
	if (c->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (c->ca_data && add_ca_pem(ctx, c->ca_data)) {
		tls_error("the kubeconfig's certificate-authority-data holds no certificate");
		return -EPROTO;
	}
	if (c->ca_file[0] && SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
		tls_error(c->ca_file);
		return -EPROTO;
	}
	if (!c->ca_data && !c->ca_file[0] && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_error("the system's CA certificates");
		return -EPROTO;
	}
	return 0;
}

static int setup_client_cert(SSL_CTX *ctx, const struct k8s_api_config *c)
{
	if (c->auth != K8S_AUTH_CLIENT_CERT)
		return 0;
	if (c->cert_data || c->key_data) {
		const char *what = "the kubeconfig's client certificate or key data";

		if (!c->cert_data || !c->key_data) {
			sp_err("k8s: give the client certificate and its key both as files "
			       "or both as data");
			return -EPROTO;
		}
		if (use_client_pem(ctx, c->cert_data, c->key_data)) {
			tls_error(what);
			return -EPROTO;
		}
	} else if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1 ||
		   SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1) {
		tls_error(c->cert_file);
		return -EPROTO;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error("the client key does not match its certificate");
		return -EPROTO;
	}
	return 0;
}

static SSL_CTX *tls_create(const struct k8s_api_config *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* As transport/conn.c's writes expect. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (setup_trust(ctx, c) || setup_client_cert(ctx, c)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int k8s_api_init(struct k8s_api *a, struct k8s_api_config *cfg, int wake_fd)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	a->wake_fd = wake_fd;
	a->connect_timeout_ms = 3000;
	if (url_parse(a->cfg.server, &a->url)) {
		sp_err("k8s: API server '%s' is not an http:// or https:// URL", a->cfg.server);
		return -EINVAL;
	}
	if (a->url.tls) {
		a->tls = tls_create(&a->cfg);
		if (!a->tls)
			return -EPROTO;
	}
	if (a->cfg.auth == K8S_AUTH_TOKEN) {
		a->token = strdup(a->cfg.token);
		if (!a->token)
			return -ENOMEM;
	}
	return 0;
}

void k8s_api_destroy(struct k8s_api *a)
{
	SSL_CTX_free(a->tls);
	a->tls = NULL;
	free(a->token);
	a->token = NULL;
	k8s_api_config_free(&a->cfg);
}

void k8s_api_token_stale(struct k8s_api *a)
{
	if (a->cfg.auth == K8S_AUTH_TOKEN_FILE)
		memset(&a->token_stat, 0, sizeof(a->token_stat));
}

/* The token file again, when it is not the one read last time. */
static void refresh_token(struct k8s_api *a)
{
	struct stat st;
	char *buf;
	FILE *f;
	size_t n;

	if (a->cfg.auth != K8S_AUTH_TOKEN_FILE || stat(a->cfg.token_file, &st))
		return;
	if (a->token && st.st_ino == a->token_stat.st_ino && st.st_size == a->token_stat.st_size &&
	    st.st_mtim.tv_sec == a->token_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->token_stat.st_mtim.tv_nsec)
		return;
	f = fopen(a->cfg.token_file, "r");
	buf = f ? malloc(TOKEN_MAX) : NULL;
	n = buf ? fread(buf, 1, TOKEN_MAX - 1, f) : 0;
	if (f)
		fclose(f);
	if (!buf)
		return;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	free(a->token);
	a->token = buf;
	a->token_stat = st;
	sp_debug("k8s: token read from %s", a->cfg.token_file);
}

/* Wait for the connection (or wake_fd) until `deadline`. */
static int wait_conn(struct k8s_api *a, struct net_conn *c, int64_t deadline)
{
	struct pollfd p[2] = { { .fd = c->fd, .events = c->wants ? c->wants : POLLIN },
			       { .fd = a->wake_fd, .events = POLLIN } };
	int64_t left = deadline - clock_mono_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(p, a->wake_fd >= 0 ? 2 : 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ETIMEDOUT;
	return p[1].revents ? -ECANCELED : 0;
}

static int send_request(struct k8s_api *a, struct net_conn *c, const char *path)
{
	size_t size = strlen(path) + (a->token ? strlen(a->token) : 0) + 512;
	char *req = malloc(size);
	int len, err = 0;
	size_t off = 0;

	if (!req)
		return -ENOMEM;
	len = snprintf(req, size,
		       "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: spanprobe/%s\r\n"
		       "Accept: application/json\r\n%s%s%sConnection: close\r\n\r\n",
		       path, a->url.authority, SP_VERSION, a->token ? "Authorization: Bearer " : "",
		       a->token ? a->token : "", a->token ? "\r\n" : "");
	while (!err && off < (size_t)len) {
		ssize_t n = conn_write(c, req + off, (size_t)len - off);

		if (n > 0)
			off += (size_t)n;
		else if (n == -EAGAIN)
			err = wait_conn(a, c, clock_mono_ms() + a->connect_timeout_ms);
		else
			err = n ? (int)n : -EPIPE;
	}
	free(req);
	return err;
}

struct reading {
	struct k8s_http h;
	k8s_body_fn body;
	void *ctx;
};

/* Only a 200's body is the caller's: another status's (a Status object)
 * is not what it parses. */
static int body_if_ok(void *arg, const char *buf, size_t len)
{
	struct reading *r = arg;

	return r->h.status == 200 ? r->body(r->ctx, buf, len) : 0;
}

/* Read the response; the return of k8s_api_get(). */
static int read_response(struct k8s_api *a, struct net_conn *c, int idle_ms,
			 k8s_body_fn body, void *ctx)
{
	struct reading *r = malloc(sizeof(*r));
	struct k8s_http *h = r ? &r->h : NULL;
	char *buf = malloc(READ_CHUNK);
	int err = 0;

	if (!r || !buf) {
		err = -ENOMEM;
		goto out;
	}
	k8s_http_init(h);
	r->body = body;
	r->ctx = ctx;
	while (!err) {
		ssize_t n = conn_read(c, buf, READ_CHUNK);

		if (n == -EAGAIN) {
			err = wait_conn(a, c, clock_mono_ms() + idle_ms);
			continue;
		}
		if (n <= 0) {
			err = n == 0 ? k8s_http_eof(h) : (int)n;
			if (!err)
				err = h->status;
			break;
		}
		err = k8s_http_feed(h, buf, (size_t)n, body_if_ok, r);
		if (err)
			break;
		if (h->state > K8S_HTTP_HEADERS && h->status != 200)
			err = h->status;
		else if (h->state == K8S_HTTP_DONE)
			err = h->status;
	}
out:
	free(r);
	free(buf);
	return err;
}

int k8s_api_get(struct k8s_api *a, const char *path, int idle_ms,
		k8s_body_fn body, void *ctx)
{
	struct net_conn c;
	int err;

	refresh_token(a);
	err = conn_open(&c, &a->url, a->tls, NULL, 0, a->connect_timeout_ms);
	if (err)
		return err;
	err = send_request(a, &c, path);
	if (!err)
		err = read_response(a, &c, idle_ms, body, ctx);
	conn_close(&c);
	return err;
}
