// SPDX-License-Identifier: MIT
#include "util/ring.h"

#include <stdlib.h>
#include <string.h>

void *ring_regrow(const void *slots, unsigned cap, unsigned head, unsigned count,
		  size_t size, unsigned new_cap)
{
	unsigned first = head & (cap - 1u);
	unsigned run = cap - first < count ? cap - first : count;
	char *ring = malloc((size_t)new_cap * size);

	if (!ring)
		return NULL;
	/* From `first` to the end of the array, then what wrapped. */
	memcpy(ring, (const char *)slots + (size_t)first * size, (size_t)run * size);
	memcpy(ring + (size_t)run * size, slots, (size_t)(count - run) * size);
	return ring;
}
