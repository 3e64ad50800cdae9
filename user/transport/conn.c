// SPDX-License-Identifier: MIT
#include "transport/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/clock.h"
#include "util/log.h"

/* Per thread: the exporter's and the Kubernetes client's connections fail
 * apart, and each reads its own reason right after its own failure. */
static __thread char tls_reason[256];
static struct conn_observer observer;

void conn_set_observer(const struct conn_observer *o)
{
	observer = o ? *o : (struct conn_observer){ 0 };
}

/* Tell the observer before anything is sent, so it cannot race our bytes. */
static void observe_open(struct net_conn *c)
{
	socklen_t ll = sizeof(c->local), pl = sizeof(c->peer);

	if (!observer.opened ||
	    getsockname(c->fd, (struct sockaddr *)&c->local, &ll) ||
	    getpeername(c->fd, (struct sockaddr *)&c->peer, &pl))
		return;
	observer.opened(observer.ctx, (struct sockaddr *)&c->local,
			(struct sockaddr *)&c->peer);
	c->observed = true;
}

const char *conn_tls_error(void)
{
	return tls_reason;
}

static void tls_note_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(tls_reason, sizeof(tls_reason), "%s%s%s", what,
		 *buf ? ": " : "", buf);
	ERR_clear_error();
}

/* Wait for `events` on fd until `deadline`; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int left, n;

	for (;;) {
		left = (int)(deadline - clock_mono_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * A peer that is gone without a word (its host or pod lost: no reset ever
 * comes) must not keep a pooled connection: every request on it would
 * time out, for as long as TCP goes on retransmitting (some 15 minutes).
 * Data unacknowledged for TCP_GONE_MS closes it, and so do keep-alive
 * probes unanswered on an idle one; a peer that is only slow to answer
 * still acknowledges, and keeps it.
 */
#define TCP_GONE_MS 20000
#define TCP_PROBE_IDLE_S 30
#define TCP_PROBE_EVERY_S 10
#define TCP_PROBES 3

static void tcp_liveness(int fd)
{
	int one = 1, gone = TCP_GONE_MS, idle = TCP_PROBE_IDLE_S;
	int every = TCP_PROBE_EVERY_S, probes = TCP_PROBES;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &every, sizeof(every));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &gone, sizeof(gone));
}

static int tcp_try(const struct addrinfo *ai, int64_t deadline)
{
	int fd, err = 0, one = 1;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tcp_liveness(fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	err = wait_fd(fd, POLLOUT, deadline);
	if (err == 0) {
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		err = -err;
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int tcp_connect(const struct net_url *u, int64_t deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -EHOSTUNREACH;

	/* getaddrinfo() does not take a timeout; the resolver's own applies. */
	if (getaddrinfo(u->host, u->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = tcp_try(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

static int tls_verify_name(SSL *ssl, const char *host)
{
	unsigned char ip[16];
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -EINVAL;
	if (SSL_set_tlsext_host_name(ssl, host) != 1)
		return -EINVAL;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -EINVAL;
}

/*
 * The server closed or reset the connection during the handshake (a
 * collector restarting behind a TCP balancer does): a lost connection,
 * which a retry may get, not a TLS failure.
 */
static bool tls_peer_closed(int err)
{
	if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL)
		return true;
	return err == SSL_ERROR_SSL &&
	       ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

static int tls_handshake(struct net_conn *c, const struct net_url *u,
			 SSL_CTX *ctx, const uint8_t *alpn, size_t alpn_len,
			 int64_t deadline)
{
	const unsigned char *chosen = NULL;
	unsigned int chosen_len = 0;
	int ret, err;

	c->ssl = SSL_new(ctx);
	if (!c->ssl || tls_verify_name(c->ssl, u->host) ||
	    (alpn && SSL_set_alpn_protos(c->ssl, alpn, (unsigned)alpn_len)) ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		tls_note_error("setting up TLS");
		return -EPROTO;
	}
	while ((ret = SSL_connect(c->ssl)) != 1) {
		err = SSL_get_error(c->ssl, ret);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			ret = wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				      deadline);
			if (ret) {
				snprintf(tls_reason, sizeof(tls_reason),
					 "handshake not done in time: %s",
					 strerror(-ret));
				return ret;
			}
			continue;
		}
		if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
			snprintf(tls_reason, sizeof(tls_reason),
				 "certificate verification failed: %s",
				 X509_verify_cert_error_string(
					 SSL_get_verify_result(c->ssl)));
		} else if (tls_peer_closed(err)) {
			snprintf(tls_reason, sizeof(tls_reason),
				 "the server closed the connection in the handshake");
			ERR_clear_error();
			return -ECONNRESET;
		} else {
			tls_note_error("TLS handshake");
		}
		return -EPROTO;
	}
	SSL_get0_alpn_selected(c->ssl, &chosen, &chosen_len);
	if (chosen_len < sizeof(c->alpn)) {
		memcpy(c->alpn, chosen, chosen_len);
		c->alpn[chosen_len] = '\0';
	}
	return 0;
}

int conn_open(struct net_conn *c, const struct net_url *u, SSL_CTX *ctx,
	      const uint8_t *alpn, size_t alpn_len, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = tcp_connect(u, deadline);
	if (c->fd < 0) {
		ret = c->fd;
		c->fd = -1;
		return ret;
	}
	observe_open(c);
	if (ctx) {
		ret = tls_handshake(c, u, ctx, alpn, alpn_len, deadline);
		if (ret) {
			sp_debug("export: TLS with %s failed: %s", u->authority,
				 tls_reason);
			conn_close(c);
			return ret;
		}
	}
	return 0;
}

static ssize_t tls_result(struct net_conn *c, int ret)
{
	int err = SSL_get_error(c->ssl, ret);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		c->wants = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->wants = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		tls_note_error("TLS");
		return -EPROTO;
	}
}

ssize_t conn_read(struct net_conn *c, void *buf, size_t len)
{
	ssize_t n;

	c->wants = POLLIN;
	if (c->ssl) {
		errno = 0;
		n = SSL_read(c->ssl, buf, (int)len);
		return n > 0 ? n : tls_result(c, (int)n);
	}
	n = recv(c->fd, buf, len, 0);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

ssize_t conn_write(struct net_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	c->wants = POLLOUT;
	if (c->ssl) {
		errno = 0;
		n = SSL_write(c->ssl, buf, (int)len);
		if (n <= 0)
			return tls_result(c, (int)n);
	} else {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (c->written)
		*c->written += (uint64_t)n;
	return n;
}

void conn_close(struct net_conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->observed && observer.closed)
		observer.closed(observer.ctx, (struct sockaddr *)&c->local,
				(struct sockaddr *)&c->peer);
	c->observed = false;
	c->fd = -1;
	c->alpn[0] = '\0';
}
