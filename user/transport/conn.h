/* SPDX-License-Identifier: MIT */
/*
 * One non-blocking TCP connection, optionally under TLS (OpenSSL, peer
 * verification always on; the context comes from transport/tlsctx.h).
 * Opening blocks up to a timeout; reads and writes never block and say
 * what they wait for in `wants`.
 */
#ifndef SPANPROBE_NET_CONN_H
#define SPANPROBE_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "transport/url.h"

struct net_conn {
	int fd;            /* -1 when closed */
	SSL *ssl;          /* NULL for cleartext */
	short wants;       /* POLLIN/POLLOUT the last -EAGAIN waits for */
	char alpn[16];     /* protocol the TLS server chose, "" if none */
	struct sockaddr_storage local, peer; /* set once connected */
	bool observed;     /* the observer was told of the opening */
	uint64_t *written; /* NULL, or counts bytes accepted by the socket
			    * (by TLS before encryption) */
};

/*
 * Told of every TCP connection this process opens: once connected, before
 * its first byte is sent (TLS included), and when it is closed, with its
 * local and peer address.  Called from the thread opening/closing it.
 */
struct conn_observer {
	void (*opened)(void *ctx, const struct sockaddr *local,
		       const struct sockaddr *peer);
	void (*closed)(void *ctx, const struct sockaddr *local,
		       const struct sockaddr *peer);
	void *ctx;
};

/*
 * Set the process's observer (copied; NULL: none).  Call before any
 * connection is opened: it is read without a lock.
 */
void conn_set_observer(const struct conn_observer *o);

/*
 * Connect to u->host:u->port within `timeout_ms`, then (ctx non-NULL) run
 * the TLS handshake offering `alpn` (wire format, NULL: none) and
 * checking the host name.  Returns 0, -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH (name not resolved), -EPROTO (TLS failed, logged at
 * debug level with OpenSSL's reason), or another negative errno.
 */
int conn_open(struct net_conn *c, const struct net_url *u, SSL_CTX *ctx,
	      const uint8_t *alpn, size_t alpn_len, int timeout_ms);

/*
 * > 0 bytes, 0 at end of stream, -EAGAIN (see wants), or -errno.  A write
 * adds what it wrote to *c->written.
 */
ssize_t conn_read(struct net_conn *c, void *buf, size_t len);
ssize_t conn_write(struct net_conn *c, const void *buf, size_t len);

/* Close; safe on a closed connection. */
void conn_close(struct net_conn *c);

/* Reason of the last TLS failure (static buffer), for messages. */
const char *conn_tls_error(void);

#endif /* SPANPROBE_NET_CONN_H */
