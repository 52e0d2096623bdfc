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

#include <stdbool.h>
#include <stdio.h>

/* Per-function attributes of the frames (flamegraph.pl's --nameattr file). */
struct svg_nameattr;
/* Colours kept per function name across graphs (flamegraph.pl's palette.map). */
struct svg_palette;

/* flamegraph.pl's rarer options, given through write_opts.svg (NULL: none). */
struct svg_opts {
	double total;	      /* > samples: the total of the full width (--total);
			       * at or below the samples it is ignored */
	double factor;	      /* counts shown (tooltips, data-n) times this; 0: 1 */
	const char *encoding; /* encoding="..." of the XML declaration; NULL: UTF-8 */
	const struct svg_nameattr *nameattr;
	struct svg_palette *palette; /* colours looked up here; new names added */
};

/* Writes p as SVG to out with the svg fields of o (title, subtitle, width,
 * frame_height, minwidth, fontsize, fonttype, countname, nametype, colors, hash,
 * reverse, inverted, flamechart, negate, notes, sort_weight, svg); o may be NULL or
 * zeroed for the defaults (fluid width, minwidth 0.1 px, the profile's own title
 * and count unit). A negative minwidth keeps every frame. 0 or -errno (-EINVAL
 * for a profile without samples or a bad encoding name). */
int svg_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	      size_t errsz);

/* Whether name may stand in the XML declaration's encoding attribute: a letter,
 * then letters, digits, '.', '_' or '-' (XML 1.0's EncName), at most 64 bytes. */
bool svg_encoding_ok(const char *name);

/* Reads a --nameattr file: one line per function, "NAME<TAB>KEY=VALUE<TAB>...".
 * Keys: title (the tooltip), id, class, href and target (the frame becomes a link),
 * g_extra and a_extra (more attributes, written NAME="VALUE" ...), or any other
 * plain attribute name. Names must be [A-Za-z_][A-Za-z0-9._-]*; event handlers
 * (on*), style, xml*, the graph's own data-* attributes and duplicates are refused,
 * and href only takes http, https, ftp, mailto or a relative URL. Values are text,
 * escaped when written. 0, or -errno with "PATH:LINE: why" in err. */
int svg_nameattr_read(struct svg_nameattr **out, const char *path, char *err, size_t errsz);
void svg_nameattr_free(struct svg_nameattr *na); /* NULL is fine */

/* Reads a palette file, lines "NAME->rgb(R,G,B)"; a missing file is an empty
 * palette. Also checks that path can be written back (its folder is writable), so
 * that a palette that cannot be kept fails before any output. 0, or -errno with
 * "PATH:LINE: why" (or the reason it cannot be written) in err. */
int svg_palette_read(struct svg_palette **out, const char *path, char *err, size_t errsz);
/* Writes it back sorted by name, through a temporary file renamed over path. */
int svg_palette_write(const struct svg_palette *pal, const char *path, char *err, size_t errsz);
void svg_palette_free(struct svg_palette *pal); /* NULL is fine */

#endif
