/* SPDX-License-Identifier: MIT */
/*
 * Noticing that a file changed, and reading a small file whole.
 *
 * A stamp is what stat() says of a path (following symlinks): device,
 * inode, size and modification time.  A file replaced by a rename or
 * through a swapped symlink (how Kubernetes updates a mounted secret)
 * gets a new inode; one written in place a new size or time.
 */
#ifndef SPANPROBE_FILES_H
#define SPANPROBE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct file_stamp {
	int error;        /* 0, or the -errno of stat() (a missing file) */
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};

/* Take the stamp of `path` (never fails: a failure is in out->error). */
void file_stamp_take(const char *path, struct file_stamp *out);

/* Whether two stamps describe the same file in the same state. */
bool file_stamp_same(const struct file_stamp *a, const struct file_stamp *b);

/*
 * Read the whole of `path` (at most `max` bytes) into a new NUL-terminated
 * buffer *out (*len bytes, NULs inside possible).  Returns 0, -EFBIG when
 * the file is longer than `max`, -ENOMEM or the -errno of open()/read().
 */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

#endif /* SPANPROBE_FILES_H */
