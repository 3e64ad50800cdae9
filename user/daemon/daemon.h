/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_DAEMON_H
#define SPANPROBE_DAEMON_H

#include "cli/config.h"

/*
 * Run `cfg->command` (run, attach or trace) until it ends: SIGINT/SIGTERM,
 * the attached process exiting, or the traced command exiting.  Returns
 * the process exit status: 0, the traced command's status, or 1 (or 127
 * when the command could not be started) after a message on stderr.
 */
int daemon_main(const struct sp_config *cfg);

#endif /* SPANPROBE_DAEMON_H */
