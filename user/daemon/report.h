/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_REPORT_H
#define SPANPROBE_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct sp_pipeline;
struct sp_batch;
struct sp_exporter;
struct sp_loader;

/*
 * The self-report: what was traced, exported, dropped and why, including
 * the drops the BPF programs counted.  Printed on exit and with -v.
 */
void report_print(FILE *out, const struct sp_pipeline *p,
		  const struct sp_batch *bsp, const struct sp_exporter *exp,
		  struct sp_loader *loader, uint64_t unknown_probe);

#endif /* SPANPROBE_REPORT_H */
