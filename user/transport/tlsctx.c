// SPDX-License-Identifier: MIT
#include "transport/tlsctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "util/log.h"

#define WHY_MAX 512

/* An encrypted key would make OpenSSL ask for its passphrase on the tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* NULL after writing "what: OpenSSL's reason" into why. */
static SSL_CTX *fail(SSL_CTX *ctx, char *why, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(why, WHY_MAX, fmt, ap);
	va_end(ap);
	if (reason && n > 0 && n < WHY_MAX)
		snprintf(why + n, WHY_MAX - (size_t)n, " (OpenSSL: %s)", reason);
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static bool key_mismatch(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_X509 &&
	       ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
}

static SSL_CTX *build(const struct tls_files *f, char *why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return fail(NULL, why, "cannot create a TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Writes resume from wherever the last partial write stopped. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (f->ca_file ? SSL_CTX_load_verify_locations(ctx, f->ca_file, NULL) != 1 :
			 SSL_CTX_set_default_verify_paths(ctx) != 1)
		return fail(ctx, why, "cannot load CA certificates from %s",
			    f->ca_file ? f->ca_file : "the system store");
	if (!f->cert_file != !f->key_file)
		return fail(ctx, why, "a client certificate needs its key and a key"
			    " its certificate: %s given alone",
			    f->cert_file ? f->cert_file : f->key_file);
	if (!f->cert_file)
		return ctx;
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert_file) != 1)
		return fail(ctx, why, "cannot load the client certificate from %s"
			    " (PEM)", f->cert_file);
	/* OpenSSL checks the key against the certificate as it loads it. */
	if (SSL_CTX_use_PrivateKey_file(ctx, f->key_file, SSL_FILETYPE_PEM) != 1)
		return key_mismatch() ?
			fail(ctx, why, "the client key %s does not match the"
			     " certificate %s", f->key_file, f->cert_file) :
			fail(ctx, why, "cannot load the client key from %s: a"
			     " PEM key, not encrypted, is needed", f->key_file);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(ctx, why, "the client key %s does not match the"
			    " certificate %s", f->key_file, f->cert_file);
	return ctx;
}

static void files_of(const struct tlsctx *t, struct tls_files *f)
{
	*f = (struct tls_files){ t->paths[TLS_FILE_CA], t->paths[TLS_FILE_CERT],
				 t->paths[TLS_FILE_KEY] };
}

static void stamps_take(const struct tlsctx *t, struct file_stamp *out)
{
	for (int i = 0; i < TLS_FILES; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (t->paths[i])
			file_stamp_take(t->paths[i], &out[i]);
	}
}

static bool stamps_same(const struct file_stamp *a, const struct file_stamp *b)
{
	for (int i = 0; i < TLS_FILES; i++)
		if (!file_stamp_same(&a[i], &b[i]))
			return false;
	return true;
}

int tls_files_check(const struct tls_files *f)
{
	char why[WHY_MAX];
	SSL_CTX *ctx = build(f, why);

	if (!ctx) {
		sp_err("export: %s", why);
		return -EINVAL;
	}
	SSL_CTX_free(ctx);
	return 0;
}

int tlsctx_open(struct tlsctx *t, const struct tls_files *f, uint32_t check_ms)
{
	const char *in[TLS_FILES] = { f->ca_file, f->cert_file, f->key_file };
	char why[WHY_MAX];

	memset(t, 0, sizeof(*t));
	t->check_ms = check_ms;
	for (int i = 0; i < TLS_FILES; i++) {
		if (in[i] && !(t->paths[i] = strdup(in[i]))) {
			tlsctx_close(t);
			return -ENOMEM;
		}
	}
	stamps_take(t, t->stamps);
	t->ctx = build(f, why);
	if (!t->ctx) {
		sp_err("export: %s", why);
		tlsctx_close(t);
		return -EINVAL;
	}
	return 0;
}

bool tlsctx_refresh(struct tlsctx *t, int64_t now_ms)
{
	struct file_stamp now[TLS_FILES], after[TLS_FILES];
	struct tls_files f;
	char why[WHY_MAX];
	SSL_CTX *ctx;

	if (!t->check_ms || now_ms < t->next_check_ms)
		return false;
	t->next_check_ms = now_ms + t->check_ms;
	stamps_take(t, now);
	if (stamps_same(now, t->stamps) ||
	    (t->has_refused && stamps_same(now, t->refused)))
		return false;
	files_of(t, &f);
	ctx = build(&f, why);
	stamps_take(t, after);
	if (!stamps_same(now, after)) {
		/* Written to while we read: look again at the next check. */
		SSL_CTX_free(ctx);
		return false;
	}
	if (!ctx) {
		memcpy(t->refused, now, sizeof(now));
		t->has_refused = true;
		t->reload_failures++;
		sp_warn("export: the TLS files changed, but %s; the previous ones"
			" stay in use until the files change again", why);
		return false;
	}
	SSL_CTX_free(t->ctx); /* open connections hold their own reference */
	t->ctx = ctx;
	memcpy(t->stamps, now, sizeof(now));
	t->has_refused = false;
	t->generation++;
	t->reloads++;
	sp_info("export: TLS files changed on disk; new connections use them");
	return true;
}

void tlsctx_close(struct tlsctx *t)
{
	SSL_CTX_free(t->ctx);
	for (int i = 0; i < TLS_FILES; i++)
		free(t->paths[i]);
	memset(t, 0, sizeof(*t));
}
