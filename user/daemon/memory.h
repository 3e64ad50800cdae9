/* SPDX-License-Identifier: MIT */
/*
 * Where the daemon's memory goes.  memory_tune() sets glibc's allocator
 * up before the first large allocation; memory_account() says, with -v
 * at start, every large allocation: what, how big, which setting sizes
 * it, and whether it counts in spanprobe's RSS or in the kernel's
 * memory; memory_usage() prints, with the periodic counters, what is
 * resident now.
 */
#ifndef SPANPROBE_DAEMON_MEMORY_H
#define SPANPROBE_DAEMON_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/config.h"
#include "span/spanpool.h"

/* What only the running daemon knows. */
struct memory_facts {
	size_t conn_bytes;  /* one HTTP connection's entry (0: no HTTP capture) */
	size_t reqs_bytes;  /* its open requests' heap ring at the most */
	bool k8s;           /* the Kubernetes metadata thread runs */
	unsigned int rings; /* BPF ring buffers, one per CPU (0: one for all) */
	uint32_t ring_bytes; /* the size of each */
};

void memory_tune(void);

/* Give the heap's free pages back to the kernel: at once, and from the
 * reader's loop at most every MEMORY_TRIM_NS. */
#define MEMORY_TRIM_NS (10ULL * 1000000000ULL)
void memory_trim(void);
void memory_tick(uint64_t now_ns);
void memory_account(FILE *out, const struct sp_config *cfg, const struct memory_facts *f);
void memory_usage(FILE *out, struct sp_spanpool *pool);

#endif /* SPANPROBE_DAEMON_MEMORY_H */
