/* SPDX-License-Identifier: MIT */
/*
 * daemon/: the life cycle.  Builds the stages from the settings and wires
 * them (capture -> protocol -> assemble -> export), runs the reader loop,
 * drains and reports at the end.  The top of user/: may include every
 * stage below it, never the reverse.
 */
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
