/*
 * folded: Brendan Gregg's folded stacks ("a;b;c 42", root first) to and from a
 * profile. The reader streams (memory bounded by the unique stacks, not the lines),
 * tolerates CRLF, trailing blanks, blank lines and duplicate stacks, and accepts the
 * two-count differential form ("a;b 10 12": BEFORE then AFTER). Malformed lines are
 * counted, not fatal, unless the caller says strict. The writer is deterministic
 * (stacks in sorted order) and round-trips the reader byte for byte.
 * Never prints, never exits.
 */
#ifndef SCORCH_RENDER_FOLDED_H
#define SCORCH_RENDER_FOLDED_H

#include "render/profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct folded_stats {
	uint64_t lines;           /* lines read, blank ones included */
	uint64_t skipped;         /* malformed lines skipped */
	uint64_t first_bad_line;  /* 1-based number of the first malformed line, 0 if none */
	char first_bad_reason[96]; /* why it was malformed ("no count", ...) */
	bool differential;        /* lines carried two counts */
};

struct folded_opts {
	bool strict;  /* a malformed line is an error (-EINVAL) instead of skipped */
	bool reverse; /* reverse each stack (leaf becomes root) before adding */
};

/* Reads folded stacks from in into p (which may already hold stacks: they add up).
 * 0, or -errno with err filled (-EINVAL for the first malformed line when strict,
 * -EIO on a read error, -ENOMEM, -EOVERFLOW when a total passes 2^64-1). */
int folded_read(struct profile *p, FILE *in, const struct folded_opts *o,
		struct folded_stats *stats, char *err, size_t errsz);

/* Writes p's stacks as folded lines, sorted by frame names (byte order), one line per
 * node with self samples. 0 or -errno (-EIO on a write error). */
int folded_write(const struct profile *p, FILE *out, char *err, size_t errsz);
/* The two-count form "stack BEFORE AFTER" of a differential profile. */
int folded_write_diff(const struct profile *p, FILE *out, char *err, size_t errsz);

#endif
