/*
 * perfscript: a reader of `perf script` text (perf 5.x-6.x default fields, with or
 * without call graphs) into a profile of folded-style stacks, as FlameGraph's
 * stackcollapse-perf.pl does: the process name as the root frame (comm, comm-PID or
 * comm-PID/TID), then the call chain root first; kernel frames end in _[k], inlined
 * frames (perf prints "(inlined)" for them) in _[i]; "+0x.." offsets and C++
 * argument lists dropped; unknown symbols shown as their module "[libfoo.so]".
 * Streams the input line by line. Never prints, never exits.
 */
#ifndef SCORCH_RENDER_PERFSCRIPT_H
#define SCORCH_RENDER_PERFSCRIPT_H

#include "render/profile.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct perfscript_opts {
	bool pid;         /* root frame comm-PID */
	bool tid;         /* root frame comm-PID/TID (implies pid) */
	bool no_kernel;   /* drop kernel frames */
	bool addrs;       /* unknown symbols as [module]+0xADDR instead of [module] */
	bool period;      /* count each sample's period (e.g. ns for cpu-clock), not 1 */
	bool strict;      /* a malformed sample is an error (-EINVAL) instead of skipped */
	const char *event; /* only samples of this event; NULL: the first event seen */
};

struct perfscript_stats {
	uint64_t lines;          /* lines read */
	uint64_t samples;        /* samples added */
	uint64_t skipped;        /* malformed samples skipped */
	uint64_t first_bad_line; /* 1-based line of the first malformed sample, 0 if none */
	char first_bad_reason[96];
	uint64_t other_events;   /* samples of other events, left out */
	char event[64];          /* the event kept */
	bool no_pid;             /* --pid/--tid asked but perf printed no PID (-F+pid) */
	bool no_period;          /* --period asked but perf printed no period */
};

/* Reads perf script text from in and adds its stacks to p. 0, or -errno with err
 * filled: -EINVAL for the first malformed sample when strict, or when the input is
 * not perf script text at all (a perf.data file, say); -EIO on a read error;
 * -ENOMEM; -EOVERFLOW when a total passes 2^64-1. */
int perfscript_read(struct profile *p, FILE *in, const struct perfscript_opts *o,
		    struct perfscript_stats *st, char *err, size_t errsz);

#endif
