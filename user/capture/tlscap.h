/* SPDX-License-Identifier: MIT */
/*
 * TLS plaintext capture (bpf/tls.bpf.c): uprobes on OpenSSL's
 * SSL_read/SSL_write/SSL_read_ex/SSL_write_ex (entry and return) and
 * SSL_free, in every file that carries them: libssl, or an executable
 * with its own OpenSSL that exports them (Node.js).  Each file is probed
 * once, for every process that maps it (a uprobe on a file fires in all of
 * them; the BPF side keeps only the wanted processes), so discovery is
 * about files: the ones mapped by the processes running at start, by each
 * new program (its maps read a moment after exec, once the dynamic loader
 * has mapped its libraries) and after a dlopen (a uretprobe on libc's
 * dlopen asks for the process's maps to be read again).
 *
 * The plaintext comes back as stream data of the socket's TLS stream
 * (sock_id | 1, SP_SOCK_F_TLS) through sockcap, which needs the socket
 * hooks loaded first: they tie a library call to its socket.
 */
#ifndef SPANPROBE_TLSCAP_H
#define SPANPROBE_TLSCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct sp_loader;
struct sockhooks;
struct tlscap;

struct tlscap_opts {
	uint32_t capture_bytes;  /* as the socket capture's */
	bool all_processes;      /* node-wide */
	uint32_t max_files;      /* files remembered (probed or not TLS); 0: 4096 */
};

/*
 * Load the TLS programs on the shared maps of `l` and of the socket hooks
 * `h` (its verdict map and the call-to-socket link).  NULL with errno
 * set and one message logged.
 */
struct tlscap *tlscap_open(struct sp_loader *l, const struct sockhooks *h,
			   const struct tlscap_opts *opts);

/* Probe the TLS files process `pid` maps, each file once.  0 or -ESRCH. */
int tlscap_scan_process(struct tlscap *t, pid_t pid);

/* tlscap_scan_process() for every process on the host. */
void tlscap_scan_all(struct tlscap *t);

/*
 * The host's libssl and libc files in the usual library folders, mapped
 * by no process yet (a short-lived client started later is done before
 * its maps could be read).
 */
void tlscap_scan_system(struct tlscap *t);

/* Process `pid` called exec (or dlopen): read its maps again soon. */
void tlscap_rescan_later(struct tlscap *t, pid_t pid, uint64_t now_ms);

/* Do the rescans that are due (call from the poll loop). */
void tlscap_tick(struct tlscap *t, uint64_t now_ms);

/* Process `pid` exited (its TLS will be judged again if the PID comes back). */
void tlscap_process_exit(struct tlscap *t, pid_t pid);

/*
 * Does record type `type` belong to tlscap_handle()?  SP_EV_LIB_LOADED
 * (rescan), SP_EV_TLS_SEEN (a TLS connection: counted per executable
 * when the process has no probed TLS library, "TLS traffic not
 * decrypted: EXE, N connections" in the report).
 */
bool tlscap_owns(uint16_t type);
void tlscap_handle(struct tlscap *t, const void *record, uint64_t now_ms);

/* Files probed, files found without TLS, rescans, failures. */
void tlscap_report(const struct tlscap *t, FILE *out);

/* TLS connections seen in processes with no probed TLS library (the
 * report's "TLS traffic not decrypted" lines, summed). */
uint64_t tlscap_not_decrypted(const struct tlscap *t);

/* Accepts NULL.  The links stay with the loader. */
void tlscap_close(struct tlscap *t);

#endif /* SPANPROBE_TLSCAP_H */
