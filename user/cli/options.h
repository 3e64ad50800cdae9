/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_OPTIONS_H
#define SPANPROBE_OPTIONS_H

#include <stdio.h>

#include "cli/config.h"

/*
 * Fill `cfg` from the command line and the OTEL_* environment (flags win).
 * Returns 0, or -EINVAL with one line on stderr saying what is wrong.
 */
int options_parse(struct sp_config *cfg, int argc, char **argv);

void options_usage(FILE *out);

#endif /* SPANPROBE_OPTIONS_H */
