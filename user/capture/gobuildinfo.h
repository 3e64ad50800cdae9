/* SPDX-License-Identifier: MIT */
/*
 * Which Go toolchain built an executable: the version string the Go
 * linker records in the .go.buildinfo section (Go 1.13 and later), or in
 * the runtime.buildVersion variable found through the symbol table.
 */
#ifndef SPANPROBE_GOBUILDINFO_H
#define SPANPROBE_GOBUILDINFO_H

#include <libelf.h>
#include <stddef.h>

/*
 * The Go version `elf` was built by ("go1.19.8") into `out`.  Returns 0;
 * -ENOENT when the file has neither a .go.buildinfo section nor a
 * runtime.buildVersion symbol (not a Go executable); -EBADMSG when what
 * it has cannot be read as a version; -ENOSPC when `out` is too small.
 */
int gobuildinfo_version(Elf *elf, char *out, size_t size);

/*
 * The release of a version string: "go1.19.8" and "go1.21rc2" give
 * *major 1 and *minor 19 or 21; "devel go1.22-abcdef ..." gives 1 and
 * 22.  Returns 0, or -EINVAL when `version` names no release.
 */
int gobuildinfo_release(const char *version, int *major, int *minor);

#endif /* SPANPROBE_GOBUILDINFO_H */
