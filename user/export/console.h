/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_CONSOLE_H
#define SPANPROBE_CONSOLE_H

#include "export/exporter.h"

/*
 * Console exporter writing to `path` (appending; NULL: stdout), as text or,
 * when `json` is set, as OTLP/JSON lines, one write() per batch.  A
 * regular file whose last line was cut short gets a newline first.
 * Returns NULL with a message logged when the file cannot be opened (or
 * that newline not written).
 */
struct sp_exporter *console_exporter_create(const char *path, int json);

#endif /* SPANPROBE_CONSOLE_H */
