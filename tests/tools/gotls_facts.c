// SPDX-License-Identifier: MIT
/*
 * Test driver: prints what capture/gotls learns of an executable.
 *   gotls_facts PATH
 * One "key value" line each: verdict (the enum's name without GOTLS_),
 * message, is_go, has_symbols, regabi, version, release (1.19),
 * read_entry, read_size, read_returns, write_entry, write_size,
 * write_returns (offsets in decimal, returns comma-separated, "-" when
 * none), then the *tls.Conn-to-fd constants as "field NAME OFFSET".
 * Exit status 0, or 1 when the file could not be read (the errno printed).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capture/gotls.h"

static const char *const verdicts[] = {
	[GOTLS_PROBEABLE] = "PROBEABLE",     [GOTLS_NOT_ELF] = "NOT_ELF",
	[GOTLS_OTHER_ARCH] = "OTHER_ARCH",   [GOTLS_NOT_GO] = "NOT_GO",
	[GOTLS_NO_VERSION] = "NO_VERSION",   [GOTLS_NO_SYMBOLS] = "NO_SYMBOLS",
	[GOTLS_OLD_ABI] = "OLD_ABI",         [GOTLS_NO_TLS] = "NO_TLS",
	[GOTLS_UNDECODABLE] = "UNDECODABLE",
};

static void print_func(const char *name, const struct gotls_func *fn)
{
	printf("%s_entry %" PRIu64 "\n%s_size %" PRIu64 "\n%s_returns ", name,
	       fn->entry, name, fn->size, name);
	if (!fn->n_returns)
		putchar('-');
	for (size_t i = 0; i < fn->n_returns; i++)
		printf(i ? ",%" PRIu64 : "%" PRIu64, fn->returns[i]);
	putchar('\n');
}

int main(int argc, char **argv)
{
	struct gotls_facts f;
	char msg[512];
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: gotls_facts PATH\n");
		return 1;
	}
	err = gotls_inspect(argv[1], &f);
	if (err) {
		fprintf(stderr, "gotls_facts: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	gotls_describe(argv[1], &f, msg, sizeof(msg));
	printf("verdict %s\nmessage %s\n", verdicts[f.verdict], msg);
	printf("is_go %d\nhas_symbols %d\nregabi %d\n", f.is_go, f.has_symbols, f.regabi);
	printf("version %s\nrelease %d.%d\n", f.version[0] ? f.version : "-", f.major,
	       f.minor);
	print_func("read", &f.read);
	print_func("write", &f.write);
	printf("field crypto/tls.Conn.conn %d\n", GOTLS_TLSCONN_CONN);
	printf("field runtime.iface.data %d\n", GOTLS_IFACE_DATA);
	printf("field net.TCPConn.conn %d\n", GOTLS_TCPCONN_FD);
	printf("field net.conn.fd %d\n", GOTLS_TCPCONN_FD);
	printf("field net.netFD.pfd %d\n", GOTLS_NETFD_PFD);
	printf("field internal/poll.FD.Sysfd %d\n", GOTLS_POLLFD_SYSFD);
	return 0;
}
