// SPDX-License-Identifier: MIT
#include "util/env.h"

#include <string.h>
#include <unistd.h>

const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	if (!envp)
		envp = environ;
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}
