/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_ENV_H
#define SPANPROBE_ENV_H

/*
 * Value of variable `name` in `envp` (NULL: this process's environment),
 * or NULL when it is not set.  Taking envp lets tests pass their own.
 */
const char *env_get(char *const *envp, const char *name);

#endif /* SPANPROBE_ENV_H */
