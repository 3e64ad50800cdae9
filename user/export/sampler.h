/* SPDX-License-Identifier: MIT */
/*
 * Head sampling from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG:
 * always_on, always_off, traceidratio and their parentbased_ forms.  The
 * ratio decision depends on the trace ID only, so every agent that sees a
 * trace keeps or drops it alike.
 */
#ifndef SPANPROBE_SAMPLER_H
#define SPANPROBE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

enum sp_sampler_root {
	SP_SAMPLE_ALWAYS_ON = 0,
	SP_SAMPLE_ALWAYS_OFF,
	SP_SAMPLE_RATIO,
};

struct sp_sampler {
	enum sp_sampler_root root; /* decision for spans without a parent */
	bool parent_based;         /* follow the parent's sampled flag */
	double ratio;              /* SP_SAMPLE_RATIO: 0..1 */
	uint64_t threshold;        /* keep when the 56 random bits >= this */
};

/* The specification's default: parentbased_always_on. */
void sampler_defaults(struct sp_sampler *s);

/*
 * Set `s` from a sampler name and its argument (NULL: none), each read
 * without the spaces and tabs around it.  An unknown
 * name or a bad ratio is warned about and replaced by the default
 * (parentbased_always_on / ratio 1.0), as the specification asks.
 * Returns 0, or -EINVAL when something was replaced.
 */
int sampler_parse(struct sp_sampler *s, const char *name, const char *arg);

/* sampler_parse() on OTEL_TRACES_SAMPLER[_ARG] of `envp` (NULL: environ). */
int sampler_from_env(struct sp_sampler *s, char *const *envp);

/*
 * Keep a span?  With a parent and a parent-based sampler, the parent's
 * decision; otherwise the root decision.  traceidratio compares the
 * trace ID's last 7 bytes (56 bits, the W3C Trace Context level 2 random
 * part) with a threshold of (1 - ratio) * 2^56.
 */
bool sampler_keep(const struct sp_sampler *s, const uint8_t trace_id[16],
		  bool parent_sampled, bool has_parent);

#endif /* SPANPROBE_SAMPLER_H */
