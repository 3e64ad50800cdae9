/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_CONSOLE_H
#define SPANPROBE_CONSOLE_H

#include "export/exporter.h"

/*
 * Console exporter writing to `path` (appending; NULL: stdout), as text or,
 * when `json` is set, as OTLP/JSON lines.  Returns NULL with a message
 * logged when the file cannot be opened.
 */
struct sp_exporter *console_exporter_create(const char *path, int json);

#endif /* SPANPROBE_CONSOLE_H */
