// SPDX-License-Identifier: MIT
/*
 * An HTTPS server whose OpenSSL is loaded late, by dlopen:
 * tls_dlopen LIBSSL PORT CERT KEY.  It starts without libssl mapped,
 * prints "waiting", and only after it reads a line on stdin dlopen()s
 * LIBSSL (a soname or a path), listens on 127.0.0.1:PORT and prints
 * "ready".  Each connection gets one answer, 200 "tls-dlopen <target>\n",
 * then is closed (SSL_read and SSL_write, the calls the probes watch).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The library's functions, found by name once it is loaded. */
static struct {
	__typeof__(TLS_server_method) *server_method;
	__typeof__(SSL_CTX_new) *ctx_new;
	__typeof__(SSL_CTX_use_certificate_chain_file) *use_cert;
	__typeof__(SSL_CTX_use_PrivateKey_file) *use_key;
	__typeof__(SSL_new) *new_ssl;
	__typeof__(SSL_set_fd) *set_fd;
	__typeof__(SSL_accept) *accept;
	__typeof__(SSL_read) *read;
	__typeof__(SSL_write) *write;
	__typeof__(SSL_shutdown) *shutdown;
	__typeof__(SSL_free) *free;
} ssl;

static int load(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "tls_dlopen: %s\n", dlerror());
		return -1;
	}
#define FIND(field, name)                                                    \
	do {                                                                 \
		*(void **)&ssl.field = dlsym(h, name);                       \
		if (!ssl.field) {                                            \
			fprintf(stderr, "tls_dlopen: no %s in %s\n", name, lib); \
			return -1;                                           \
		}                                                            \
	} while (0)
	FIND(server_method, "TLS_server_method");
	FIND(ctx_new, "SSL_CTX_new");
	FIND(use_cert, "SSL_CTX_use_certificate_chain_file");
	FIND(use_key, "SSL_CTX_use_PrivateKey_file");
	FIND(new_ssl, "SSL_new");
	FIND(set_fd, "SSL_set_fd");
	FIND(accept, "SSL_accept");
	FIND(read, "SSL_read");
	FIND(write, "SSL_write");
	FIND(shutdown, "SSL_shutdown");
	FIND(free, "SSL_free");
#undef FIND
	return 0;
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
		perror("tls_dlopen: listen");
		return -1;
	}
	return fd;
}

/* Read one request's head (up to its empty line) and answer it. */
static void serve(SSL *s)
{
	char req[4096], target[256] = "?", body[300], resp[512];
	int got = 0, n;

	while (got < (int)sizeof(req) - 1) {
		n = ssl.read(s, req + got, (int)sizeof(req) - 1 - got);
		if (n <= 0)
			return;
		got += n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	sscanf(req, "%*s %255s", target);
	n = snprintf(body, sizeof(body), "tls-dlopen %s\n", target);
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		     n, body);
	ssl.write(s, resp, n);
}

int main(int argc, char **argv)
{
	char line[64];
	SSL_CTX *ctx;
	int lfd;

	if (argc != 5) {
		fprintf(stderr, "usage: tls_dlopen LIBSSL PORT CERT KEY\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("waiting\n");
	if (!fgets(line, sizeof(line), stdin) || load(argv[1]))
		return 1;
	ctx = ssl.ctx_new(ssl.server_method());
	if (!ctx || ssl.use_cert(ctx, argv[3]) != 1 ||
	    ssl.use_key(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "tls_dlopen: certificate or key refused\n");
		return 1;
	}
	lfd = listen_on(atoi(argv[2]));
	if (lfd < 0)
		return 1;
	printf("ready\n");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		SSL *s;

		if (fd < 0)
			continue;
		s = ssl.new_ssl(ctx);
		if (s && ssl.set_fd(s, fd) == 1 && ssl.accept(s) == 1) {
			serve(s);
			ssl.shutdown(s);
		}
		if (s)
			ssl.free(s);
		close(fd);
	}
}
