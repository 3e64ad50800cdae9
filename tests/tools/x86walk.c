// SPDX-License-Identifier: MIT
/*
 * Test driver: walks byte ranges of a file with the x86-64 length decoder
 * (capture/x86insn) so a test can compare against a disassembler.
 *   x86walk FILE      reads "OFFSET LENGTH" lines (file offsets, decimal
 *                     or 0x-hex) on stdin, one range per line
 * and prints one line per range:
 *   OFFSET STATUS STOP STARTS RETS
 * STATUS is ok, EILSEQ (unknown encoding) or ENODATA (the last instruction
 * runs past the range); STOP is where the walk stopped, relative to
 * OFFSET; STARTS the instruction starts and RETS the offsets
 * x86_find_returns gives, both relative and comma-separated ("-" when
 * none).  Exit status 0, or 1 on bad usage or an unreadable file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/x86insn.h"

#define MAX_RETS 4096

static const char *status_name(int err)
{
	return err == 0 ? "ok" : err == -EILSEQ ? "EILSEQ" : err == -ENODATA ? "ENODATA"
		: err == -ENOSPC ? "ENOSPC" : "error";
}

/* The instruction starts of code[0..len), comma-separated. */
static void print_starts(const uint8_t *code, size_t len)
{
	size_t off = 0;
	int ilen;

	if (!len) {
		fputs(" -", stdout);
		return;
	}
	putchar(' ');
	while (off < len && (ilen = x86_insn_len(code + off, len - off)) > 0) {
		printf(off ? ",%zu" : "%zu", off);
		off += (size_t)ilen;
	}
	if (off < len) /* the one that failed starts here too */
		printf(off ? ",%zu" : "%zu", off);
}

static void walk_range(const uint8_t *file, size_t size, uint64_t off, uint64_t len)
{
	static uint64_t rets[MAX_RETS];
	size_t n, stop;
	int err;

	if (off > size || len > size - off) {
		printf("%" PRIu64 " outside 0 -\n", off);
		return;
	}
	err = x86_find_returns(file + off, len, rets, MAX_RETS, &n, &stop);
	printf("%" PRIu64 " %s %zu", off, status_name(err), stop);
	print_starts(file + off, len);
	putchar(' ');
	if (!n)
		putchar('-');
	for (size_t i = 0; i < n; i++)
		printf(i ? ",%" PRIu64 : "%" PRIu64, rets[i]);
	putchar('\n');
}

/* All `size` bytes of `fd` from its start; 0, or -1 (errno set; EIO when
 * the file is shorter than its size said). */
static int read_all(int fd, uint8_t *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long long off, len;
	struct stat st;
	uint8_t *file;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: x86walk FILE < ranges\n");
		return 1;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		fprintf(stderr, "x86walk: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Read, not mapped: the kernel writes the breakpoints of every uprobe
	 * registered on the file (another tracer's on this host) into each
	 * new mapping that may execute, a read-only private one too, and the
	 * walk would decode those int3s.  The daemon reads with pread() too. */
	file = malloc((size_t)st.st_size);
	if (!file || read_all(fd, file, (size_t)st.st_size)) {
		fprintf(stderr, "x86walk: reading %s: %s\n", argv[1],
			file ? strerror(errno) : "out of memory");
		return 1;
	}
	while (scanf("%lli %lli", &off, &len) == 2 && off >= 0 && len >= 0)
		walk_range(file, (size_t)st.st_size, (uint64_t)off, (uint64_t)len);
	free(file);
	close(fd);
	return 0;
}
