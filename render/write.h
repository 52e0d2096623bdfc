/*
 * write: a profile to a file in the format its name asks for, written to a
 * temporary file beside it and renamed into place, so that an interrupted or failed
 * write leaves the previous file untouched. "-" writes to stdout.
 * Formats: svg, folded, txt (report), pprof (.pb.gz, .pprof), speedscope
 * (.speedscope.json). Never prints, never exits.
 */
#ifndef SCORCH_RENDER_WRITE_H
#define SCORCH_RENDER_WRITE_H

#include "render/profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct svg_opts;

enum write_format {
	WRITE_FORMAT_NONE = 0,
	WRITE_FORMAT_SVG,
	WRITE_FORMAT_FOLDED,
	WRITE_FORMAT_TXT,
	WRITE_FORMAT_PPROF,
	WRITE_FORMAT_SPEEDSCOPE,
};

/* Options of every writer; zero means the writer's default. Each writer documents
 * the fields it reads (render/svg.h and friends). */
struct write_opts {
	const char *title, *subtitle;
	const char *countname, *nametype, *notes;
	const char *colors;  /* palette name */
	const char *fonttype;
	double fontsize;
	uint32_t width;      /* 0: fluid */
	uint32_t frame_height;
	double minwidth;     /* pixels, or percent when minwidth_percent */
	bool minwidth_percent;
	bool hash, reverse, inverted, flamechart, negate;
	bool sort_weight;    /* heaviest child first instead of name order */
	bool normalize;      /* diff: scale BEFORE counts to AFTER's total */
	const struct svg_opts *svg; /* svg: --total, --factor, ... (render/svg.h) */
	/* report */
	bool sort_total;
	size_t top;
	bool tree;
	double min_share;
};

/* The format of a file name by its extension; WRITE_FORMAT_NONE if unknown. */
enum write_format write_format_of_path(const char *path);
/* The format by name (svg, folded, txt, pprof, speedscope); NONE if unknown. */
enum write_format write_format_named(const char *name);

/* Writes p to path ("-" = stdout) in format (NONE: by the extension, and an unknown
 * extension is an error). Returns 0, or -errno with err filled; on failure nothing
 * is left at path but what was there before. */
int write_profile(const struct profile *p, const char *path, enum write_format format,
		  const struct write_opts *o, char *err, size_t errsz);

/* Fills out with what is to be written; 0, or -errno with err filled (-EIO for a
 * failed write: write_file then tells why from errno). */
typedef int (*write_body_fn)(FILE *out, void *arg, char *err, size_t errsz);
/* The way every output file is written: body fills a temporary file beside path
 * (beside a symlink's target: the link stays), which is synced and renamed over it;
 * a file replaced keeps its permission bits; a directory or device is refused; "-"
 * is stdout. 0, or -errno with err filled, and nothing but the old file at path. */
int write_file(const char *path, write_body_fn body, void *arg, char *err, size_t errsz);

/* The same, to an open stream (no rename); used by write_profile. */
int write_profile_stream(const struct profile *p, FILE *out, enum write_format format,
			 const struct write_opts *o, char *err, size_t errsz);

#endif
