/* SPDX-License-Identifier: MIT */
/*
 * malloc() that fails where a test chooses: the test is linked with
 * -Wl,--wrap=malloc (Makefile), so the library's calls come here; the
 * next `fail_left` calls for exactly `fail_size` bytes get NULL.
 */
#ifndef SPANPROBE_TEST_FAIL_MALLOC_H
#define SPANPROBE_TEST_FAIL_MALLOC_H

#include <stddef.h>

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static size_t fail_size;
static int fail_left;

void *__wrap_malloc(size_t size)
{
	if (fail_left && size == fail_size) {
		fail_left--;
		return NULL;
	}
	return __real_malloc(size);
}

#endif
