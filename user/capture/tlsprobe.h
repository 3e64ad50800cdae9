/* SPDX-License-Identifier: MIT */
/*
 * The TLS probes put into one file (bpf/tls.bpf.c's programs): OpenSSL's
 * SSL_read/SSL_write/SSL_read_ex/SSL_write_ex (entry and return) and
 * SSL_free in libssl or an executable that exports them; Go's
 * crypto/tls Read (entry and every return instruction) and Write (entry);
 * libc's dlopen (return).  The loader keeps the links.
 */
#ifndef SPANPROBE_TLSPROBE_H
#define SPANPROBE_TLSPROBE_H

#include <stdbool.h>
#include <stdint.h>

struct sp_loader;
struct tls_bpf;

struct tlsprobe {
	struct tls_bpf *skel;      /* loaded */
	struct sp_loader *loader;
	uint64_t go_probed;        /* Go executables probed */
	uint64_t go_unprobeable;   /* Go executables whose TLS cannot be (said once each) */
};

/*
 * Probe `path` (`shown`: its name for messages): its dlopen with `libc`,
 * else OpenSSL's functions, else (`exe`) Go's crypto/tls.  Returns 0,
 * -ENOENT when the file has none of them, -ESTALE when it went away while
 * being looked at (a path through the /proc of a process that ended), or
 * what attaching returned.
 */
int tlsprobe_file(struct tlsprobe *t, const char *path, const char *shown, bool libc,
		  bool exe);

#endif /* SPANPROBE_TLSPROBE_H */
