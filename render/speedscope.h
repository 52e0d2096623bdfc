/*
 * speedscope: a profile as speedscope's JSON file format, one sampled profile per
 * thread (or one for imported stacks), with weights.
 */
#ifndef SCORCH_RENDER_SPEEDSCOPE_H
#define SCORCH_RENDER_SPEEDSCOPE_H

#include "render/profile.h"
#include "render/write.h"

#include <stdio.h>

int speedscope_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
		     size_t errsz);

#endif
