/* SPDX-License-Identifier: MIT */
/*
 * Rings of slots that grow: a ring keeps `count` items from slot `head`
 * of `cap` slots (a power of two, so a slot is found by a mask); when it
 * is full its owner moves the items into a bigger array, in order.
 */
#ifndef SPANPROBE_UTIL_RING_H
#define SPANPROBE_UTIL_RING_H

#include <stddef.h>

/*
 * A new array of `new_cap` slots of `size` bytes from the heap, holding
 * the `count` items of the ring `slots` (`cap` slots, the first at `head`,
 * masked) in its first slots, in order; the other slots are not set.
 * NULL: no memory.  The old array is the caller's to free.
 */
void *ring_regrow(const void *slots, unsigned cap, unsigned head, unsigned count,
		  size_t size, unsigned new_cap);

#endif
