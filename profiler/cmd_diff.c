/*
 * scorch diff: a differential profile of two folded inputs, drawn in AFTER's shape with
 * each frame coloured by the change of its share (the SVG writer's differential mode),
 * or written as the two-column folded form ("stack BEFORE AFTER") that flamegraph.pl
 * and other diff tools read. BEFORE's counts are scaled to AFTER's total unless
 * --no-normalize, as difffolded.pl -n does.
 */
#include "profiler/cli.h"

#include "render/folded.h"
#include "render/profile.h"
#include "render/write.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct diff_opts {
	const char *before, *after; /* paths or "-" (one at most) */
	const char *output;         /* path or "-" */
	enum write_format format;
	bool normalize, strict;
	struct write_opts w;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scorch diff BEFORE AFTER [-o OUT] [--no-normalize] [--format svg|folded]\n"
		"                   [--title T] [--subtitle T] [--width PX] [--height PX]\n"
		"                   [--minwidth N[%%]] [--countname W] [--negate] [--inverted]\n\n"
		"Compare two profiles given as folded stacks (scorch record -o x.folded, scorch\n"
		"collapse, stackcollapse-*.pl). The flame graph has AFTER's shape; a frame is red\n"
		"when its share of all samples grew, blue when it shrank, the deeper the colour\n"
		"the larger the change; its tooltip gives both counts and the change of share.\n\n"
		"  -o, --output OUT    write OUT (default: SVG to stdout)\n"
		"  --format FMT        svg, or folded: lines 'stack BEFORE AFTER' as\n"
		"                      difffolded.pl writes them\n"
		"  --no-normalize      keep BEFORE's counts as they are (default: scale them to\n"
		"                      AFTER's total, so that longer runs compare fairly)\n"
		"  --negate            swap red and blue (\"what shrank\" in red)\n"
		"  --strict            a malformed input line is an error (default: skip, warn)\n"
		"  --title, --subtitle, --width, --height, --minwidth, --countname, --inverted\n"
		"                      as in scorch render\n"
		"  -h, --help          this text\n");
}

static struct profile *read_input(const char *path, bool strict)
{
	struct folded_opts fo = {.strict = strict};
	struct folded_stats st = {0};
	const char *what = strcmp(path, "-") ? path : "stdin";
	struct profile *p;
	char err[512];
	FILE *in;
	int rc;

	in = open_input(path);
	p = profile_new();
	if (!p)
		die("out of memory");
	rc = folded_read(p, in, &fo, &st, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (rc < 0)
		die("%s: %s", what, err);
	if (st.skipped)
		warn("%s: skipped %llu malformed line%s (first: line %llu, %s)", what,
		     (unsigned long long)st.skipped, st.skipped == 1 ? "" : "s",
		     (unsigned long long)st.first_bad_line, st.first_bad_reason);
	if (st.differential)
		warn("%s: has two counts per line; using the second (AFTER) count", what);
	if (p->nodes[0].total == 0)
		die("%s: no samples in the input", what);
	return p;
}

/* round(v * num / den) without overflow */
static uint64_t scale(uint64_t v, uint64_t num, uint64_t den)
{
	unsigned __int128 x = (unsigned __int128)v * num + den / 2;

	x /= den;
	return x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
}

/* Adds every stack of src (each node with self samples) to d, as BEFORE counts when
 * before, else as AFTER counts. */
static void add_all(struct profile *d, const struct profile *src, bool before, uint64_t num,
		    uint64_t den)
{
	uint32_t *path = malloc(((size_t)src->maxdepth + 1) * sizeof(*path));
	int64_t rc;

	if (!path)
		die("out of memory");
	for (size_t n = 1; n < src->nnodes; n++) {
		uint64_t count = src->nodes[n].self;
		size_t depth;
		if (!count)
			continue;
		depth = profile_path(src, (uint32_t)n, path, (size_t)src->maxdepth + 1);
		for (size_t i = 0; i < depth; i++) {
			size_t len;
			const char *s = profile_name(src, path[i], &len);
			path[i] = profile_intern_kind(d, s, len, src->names[path[i]].kind);
			if (path[i] == PROFILE_NONE)
				die("out of memory");
		}
		if (before)
			rc = profile_add_diff(d, path, depth, den ? scale(count, num, den) : count, 0);
		else
			rc = profile_add_diff(d, path, depth, 0, count);
		if (rc == -EOVERFLOW)
			die("a count passes 2^64-1");
		if (rc < 0)
			die("out of memory");
	}
	free(path);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"no-normalize", no_argument, NULL, 'N'},
		{"negate", no_argument, NULL, 'n'},
		{"strict", no_argument, NULL, 'S'},
		{"title", required_argument, NULL, 't'},
		{"subtitle", required_argument, NULL, 'u'},
		{"width", required_argument, NULL, 'w'},
		{"height", required_argument, NULL, 'H'},
		{"minwidth", required_argument, NULL, 'm'},
		{"countname", required_argument, NULL, 'c'},
		{"inverted", no_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct diff_opts o = {.output = "-", .normalize = true};
	struct profile *before, *after, *d;
	char err[512];
	uint64_t v;
	int c, rc;

	optind = 1;
	opterr = 0; /* getopt would print its own message, named after argv[0] */
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.output = optarg;
			break;
		case 'f':
			o.format = write_format_named(optarg);
			if (o.format != WRITE_FORMAT_SVG && o.format != WRITE_FORMAT_FOLDED)
				usage_error("diff", "--format takes svg or folded, not '%s'", optarg);
			break;
		case 'N':
			o.normalize = false;
			break;
		case 'n':
			o.w.negate = true;
			break;
		case 'S':
			o.strict = true;
			break;
		case 't':
			o.w.title = optarg;
			break;
		case 'u':
			o.w.subtitle = optarg;
			break;
		case 'w':
			if (!parse_u64(optarg, 10, 1000000, &v))
				usage_error("diff", "--width wants pixels from 10 to 1000000, not '%s'",
					    optarg);
			o.w.width = (uint32_t)v;
			break;
		case 'H':
			if (!parse_u64(optarg, 1, 1000, &v))
				usage_error("diff", "--height wants pixels from 1 to 1000, not '%s'",
					    optarg);
			o.w.frame_height = (uint32_t)v;
			break;
		case 'm': {
			size_t len = strlen(optarg);
			char num[64];
			o.w.minwidth_percent = len > 1 && optarg[len - 1] == '%';
			if (len >= sizeof(num))
				usage_error("diff", "--minwidth wants a number, not '%s'", optarg);
			memcpy(num, optarg, len + 1);
			if (o.w.minwidth_percent)
				num[len - 1] = 0;
			if (!parse_double(num, &o.w.minwidth) || o.w.minwidth < 0)
				usage_error("diff", "--minwidth wants a number of pixels or N%%, not '%s'",
					    optarg);
			break;
		}
		case 'c':
			o.w.countname = optarg;
			break;
		case 'i':
			o.w.inverted = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			bad_option("diff", c, argv);
		}
	}
	if (argc - optind != 2)
		usage_error("diff", "two inputs wanted: BEFORE and AFTER");
	o.before = argv[optind];
	o.after = argv[optind + 1];
	if (!strcmp(o.before, "-") && !strcmp(o.after, "-"))
		usage_error("diff", "only one of BEFORE and AFTER can be stdin");
	if (o.format == WRITE_FORMAT_NONE) {
		o.format = strcmp(o.output, "-") ? write_format_of_path(o.output) : WRITE_FORMAT_SVG;
		if (o.format == WRITE_FORMAT_NONE)
			o.format = WRITE_FORMAT_SVG;
		if (o.format != WRITE_FORMAT_SVG && o.format != WRITE_FORMAT_FOLDED)
			usage_error("diff", "'%s': a diff is written as .svg or .folded", o.output);
	}
	o.w.normalize = o.normalize;
	if (!o.w.title)
		o.w.title = "Differential Flame Graph";

	before = read_input(o.before, o.strict);
	after = read_input(o.after, o.strict);
	d = profile_new();
	if (!d)
		die("out of memory");
	/* AFTER first, so that the trie (and the graph) take its order */
	add_all(d, after, false, 0, 0);
	add_all(d, before, true, o.normalize ? after->nodes[0].total : 0,
		o.normalize ? before->nodes[0].total : 0);
	d->meta.version = SCORCH_VERSION;
	profile_free(before);
	profile_free(after);
	rc = write_profile(d, o.output, o.format, &o.w, err, sizeof(err));
	profile_free(d);
	if (rc < 0)
		die("%s", err);
	return EXIT_OK;
}
