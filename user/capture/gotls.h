/* SPDX-License-Identifier: MIT */
/*
 * What probing TLS plaintext in a Go executable needs to know about it:
 * that it is Go, built with the register ABI, with its symbol table; the
 * uprobe offsets of crypto/tls.(*Conn).Read and Write and of every return
 * instruction in them (a uretprobe must not be used on Go code: it
 * rewrites a return address on a goroutine stack, which the runtime
 * copies when it grows); and the layout that leads from a *tls.Conn to
 * the socket's file descriptor.
 */
#ifndef SPANPROBE_GOTLS_H
#define SPANPROBE_GOTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * From a *tls.Conn (RAX at entry of Read and Write, register ABI) to the
 * fd, for a connection over TCP:
 *   iface = *(tls.Conn + GOTLS_TLSCONN_CONN)     net.Conn, an interface
 *   tcp   = *(iface + GOTLS_IFACE_DATA)          *net.TCPConn (the itab
 *                                                 at 0 says which type)
 *   nfd   = *(tcp + GOTLS_TCPCONN_FD)            *net.netFD
 *   fd    = *(int64 *)(nfd + GOTLS_NETFD_PFD + GOTLS_POLLFD_SYSFD)
 * Checked in the DWARF of a Go 1.19 build (go1.19.8, linux/amd64:
 * readelf --debug-dump=info; tests/integration/test_gotls.py compares
 * these with the DWARF of the test program): crypto/tls.Conn.conn at 0,
 * runtime.iface {tab 0, data 8}, net.TCPConn.conn at 0, net.conn.fd at 0,
 * net.netFD.pfd at 0, internal/poll.FD.Sysfd at 16 (after fdMutex
 * {state uint64, rsema, wsema uint32}).  The Go sources declare the same
 * field order from Go 1.9 (internal/poll) through at least Go 1.21;
 * another release is to be checked against its DWARF before use.
 */
#define GOTLS_TLSCONN_CONN 0   /* crypto/tls.Conn.conn, a net.Conn */
#define GOTLS_IFACE_DATA 8     /* an interface's data word, after its itab */
#define GOTLS_TCPCONN_FD 0     /* net.TCPConn.conn.fd, a *net.netFD */
#define GOTLS_NETFD_PFD 0      /* net.netFD.pfd, an internal/poll.FD */
#define GOTLS_POLLFD_SYSFD 16  /* internal/poll.FD.Sysfd, an int */

/* More return instructions than this in Read or Write: not probed. */
#define GOTLS_MAX_RETURNS 64

enum gotls_verdict {
	GOTLS_PROBEABLE,   /* everything in struct gotls_facts is filled in */
	GOTLS_NOT_ELF,
	GOTLS_OTHER_ARCH,  /* ELF, but not x86-64 */
	GOTLS_NOT_GO,
	GOTLS_NO_VERSION,  /* Go, but its version string names no release */
	GOTLS_NO_SYMBOLS,  /* Go, stripped of .symtab: nothing to find by name */
	GOTLS_OLD_ABI,     /* before Go 1.17: arguments on the stack */
	GOTLS_NO_TLS,      /* does not link crypto/tls's Read and Write */
	GOTLS_UNDECODABLE, /* x86insn cannot walk Read or Write to its end */
};

struct gotls_func {
	uint64_t entry;                       /* uprobe offset of the entry */
	uint64_t size;                        /* bytes, from the symbol */
	uint64_t returns[GOTLS_MAX_RETURNS];  /* uprobe offsets of each RET */
	size_t n_returns;
};

struct gotls_facts {
	enum gotls_verdict verdict;
	bool is_go;
	bool has_symbols;      /* a .symtab with entries (looked for in Go only) */
	bool regabi;           /* Go 1.17 or later: arguments in registers */
	char version[64];      /* "go1.19.8"; "" when not Go */
	int major, minor;      /* 1 and 19; 0 when unknown */
	struct gotls_func read, write;
};

/*
 * Fills `f` for the executable at `path`.  Returns 0 when the file was
 * read, whatever f->verdict says (only GOTLS_PROBEABLE may be probed;
 * what was learnt before the verdict was reached is filled in, such as
 * the version of a Go executable without symbols, the rest is zero); a
 * negative errno when it could not be (open failed, -ENOMEM).
 */
int gotls_inspect(const char *path, struct gotls_facts *f);

/*
 * One line for a user about `f` and `path`, such as "Go executable
 * without symbols: PATH", into `buf`.  Returns what snprintf returns.
 */
int gotls_describe(const char *path, const struct gotls_facts *f, char *buf,
		   size_t size);

#endif /* SPANPROBE_GOTLS_H */
