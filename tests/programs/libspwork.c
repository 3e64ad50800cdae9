// SPDX-License-Identifier: MIT
/* A shared library whose function the tests trace by LIBRARY:NAME. */
__attribute__((noinline)) int lib_work(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2 + 1;
}
