/*
 * svg: an interactive SVG flame graph of a profile, a drop-in for flamegraph.pl's
 * output: click to zoom, search by regular expression, tooltips; readable with
 * scripts off. Same profile and options, same bytes. A differential profile
 * (profile.base set) is coloured by the change of each frame's share.
 * Never prints, never exits.
 */
#ifndef SCORCH_RENDER_SVG_H
#define SCORCH_RENDER_SVG_H

#include "render/profile.h"
#include "render/write.h"

#include <stdio.h>

/* Writes p as SVG to out with the svg fields of o (title, subtitle, width,
 * frame_height, minwidth, fontsize, fonttype, countname, nametype, colors, hash,
 * reverse, inverted, flamechart, negate, notes, sort_weight); o may be NULL or
 * zeroed for the defaults (fluid width, minwidth 0.1 px, the profile's own title
 * and count unit). A negative minwidth keeps every frame. 0 or -errno (-EINVAL
 * for a profile without samples). */
int svg_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	      size_t errsz);

#endif
