/* SPDX-License-Identifier: MIT */
/*
 * A C benchmark's headline figures for the summary table `make bench`
 * ends with (bench/summary.py reads the file and prints the table).
 * Header only, as every benchmark is one .c file.
 */
#ifndef SPANPROBE_BENCH_SUMMARY_H
#define SPANPROBE_BENCH_SUMMARY_H

#include <stdio.h>
#include <stdlib.h>

/* met: 1 yes, 0 no, -1 a figure with no target.  No file named: nothing. */
static inline void summary_record(const char *figure, const char *measured,
				  const char *target, int met)
{
	const char *path = getenv("SP_BENCH_SUMMARY");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	fprintf(f, "%s\t%s\t%s\t%s\n", figure, measured, target && *target ? target : "-",
		met < 0 ? "-" : met ? "yes" : "no");
	fclose(f);
}

#endif /* SPANPROBE_BENCH_SUMMARY_H */
