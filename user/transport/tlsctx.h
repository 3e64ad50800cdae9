/* SPDX-License-Identifier: MIT */
/*
 * The exporter's TLS client context, built from files that may be
 * replaced on disk while spanprobe runs (rotated certificates): the CA
 * bundle the collector is verified with, and the client certificate and
 * key a collector asking for mutual TLS checks.
 *
 * tlsctx_refresh() looks at the files' stamps (util/files.h) at most once
 * per `check_ms` and builds a new SSL_CTX when one changed.  New
 * connections take the new context; connections already open keep the
 * one they were made with (each SSL holds a reference), and the caller
 * closes them when idle (`generation` says which are old).  A change that
 * does not give a working context (a file half-written, a certificate
 * whose key is not there yet) keeps the old one, is logged once and is
 * tried again at the next change.
 */
#ifndef SPANPROBE_TLSCTX_H
#define SPANPROBE_TLSCTX_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "util/files.h"

enum { TLS_FILE_CA = 0, TLS_FILE_CERT, TLS_FILE_KEY, TLS_FILES };

/* The files of a client context; NULL: not used. */
struct tls_files {
	const char *ca_file;   /* PEM CA bundle; NULL: the system store */
	const char *cert_file; /* PEM client certificate (chain); needs key_file */
	const char *key_file;  /* PEM private key, not encrypted */
};

struct tlsctx {
	SSL_CTX *ctx;         /* what new connections use */
	unsigned generation;  /* moves at each new context */
	char *paths[TLS_FILES];
	struct file_stamp stamps[TLS_FILES];  /* of the files ctx was built from */
	struct file_stamp refused[TLS_FILES]; /* of the last change that failed */
	bool has_refused;
	uint32_t check_ms;    /* 0: the files are read once */
	int64_t next_check_ms;
	uint64_t reloads, reload_failures;
};

/*
 * Build the first context from `f`, verifying peers (host name checked by
 * the connection).  Returns 0, -EINVAL after logging which file is wrong
 * and why (unreadable, not PEM, a key that does not match the
 * certificate, a certificate without its key), or -ENOMEM.
 */
int tlsctx_open(struct tlsctx *t, const struct tls_files *f, uint32_t check_ms);

/*
 * At most once per check_ms (clock_mono_ms() time `now_ms`): when a file
 * changed, build a new context.  Returns true when `ctx` was replaced.
 */
bool tlsctx_refresh(struct tlsctx *t, int64_t now_ms);

/* Free the context and the copies of the paths.  Safe on a zeroed one. */
void tlsctx_close(struct tlsctx *t);

/*
 * Whether `f` gives a working context, for checking settings at start:
 * 0, or -EINVAL after logging what is wrong.
 */
int tls_files_check(const struct tls_files *f);

#endif /* SPANPROBE_TLSCTX_H */
