/* SPDX-License-Identifier: MIT */
/*
 * GET requests to the Kubernetes API over HTTP/1.1 (TLS by OpenSSL, the
 * connection code of transport/), one connection per request: a list or
 * an owner lookup is short, a watch is one long response.  Bearer tokens
 * read from a file are read again when the file changes (bound service
 * account tokens rotate).  Used by the watch thread alone.
 */
#ifndef SPANPROBE_K8S_APICLIENT_H
#define SPANPROBE_K8S_APICLIENT_H

#include <openssl/ssl.h>
#include <sys/stat.h>

#include "k8s/apiconfig.h"
#include "k8s/httpresp.h"
#include "transport/url.h"

struct k8s_api {
	struct k8s_api_config cfg;
	struct net_url url;
	SSL_CTX *tls;            /* NULL for http:// */
	char *token;             /* the bearer token sent, or NULL */
	struct stat token_stat;  /* of token_file when it was read */
	int wake_fd;             /* readable: give up the request now */
	int connect_timeout_ms;
};

/*
 * Take `cfg` (moved: the caller's copy is cleared), parse its server URL
 * and build its TLS context.  Returns 0, or -EINVAL / -EPROTO with a
 * message logged.
 */
int k8s_api_init(struct k8s_api *a, struct k8s_api_config *cfg, int wake_fd);
void k8s_api_destroy(struct k8s_api *a);

/*
 * GET `path` (with its query): the body, its framing removed, goes to
 * body() piece by piece.  A silence of `idle_ms` ends it.  Returns the
 * HTTP status once the whole body of a 200 has been read, the status of
 * another answer as soon as it is known (its body unread), or -ECANCELED
 * (wake_fd), -ETIMEDOUT, -ECONNREFUSED, -EPIPE (the connection ended
 * early), -EPROTO (TLS), -EBADMSG, or body()'s negative return.
 */
int k8s_api_get(struct k8s_api *a, const char *path, int idle_ms,
		k8s_body_fn body, void *ctx);

/* A 401: read the token file again before the next request. */
void k8s_api_token_stale(struct k8s_api *a);

#endif /* SPANPROBE_K8S_APICLIENT_H */
