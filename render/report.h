/*
 * report: a text table of where the time goes (function, self and total samples and
 * shares, sorted by self or total, top N) or the call tree with shares cut at a
 * minimum share. Never prints except to the stream it is given.
 */
#ifndef SCORCH_RENDER_REPORT_H
#define SCORCH_RENDER_REPORT_H

#include "render/profile.h"
#include "render/write.h"

#include <stdio.h>

/* Writes the report of p with o's report fields (sort_total, top, tree, min_share).
 * 0 or -errno. */
int report_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
		 size_t errsz);

#endif
