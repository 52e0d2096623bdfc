/*
 * scorch render [FILE|-] [-o OUT]: folded stacks (a file, or stdin) to an SVG flame
 * graph, or to another format (folded, txt, pprof, speedscope) chosen by --format or
 * by OUT's extension. The SVG options keep flamegraph.pl's names and meanings.
 */
#include "profiler/cli.h"

#include "render/folded.h"
#include "render/profile.h"
#include "render/svg.h"
#include "render/write.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct render_opts {
	const char *input;  /* path, or "-" for stdin */
	const char *output; /* path, or "-" for stdout */
	enum write_format format;
	bool strict;
	struct write_opts w;
	struct svg_opts svg;
	const char *nameattr_path, *palette_path; /* NULL: none */
	const char *total_arg;
};

enum {
	OPT_TITLE = 256,
	OPT_SUBTITLE,
	OPT_WIDTH,
	OPT_HEIGHT,
	OPT_MINWIDTH,
	OPT_FONTSIZE,
	OPT_FONTTYPE,
	OPT_COUNTNAME,
	OPT_NAMETYPE,
	OPT_COLORS,
	OPT_HASH,
	OPT_REVERSE,
	OPT_INVERTED,
	OPT_FLAMECHART,
	OPT_NEGATE,
	OPT_NOTES,
	OPT_SORT,
	OPT_STRICT,
	OPT_FORMAT,
	OPT_TOTAL,
	OPT_FACTOR,
	OPT_ENCODING,
	OPT_NAMEATTR,
	OPT_CP,
	OPT_PALETTE,
};

static const struct option longopts[] = {
	{"output", required_argument, NULL, 'o'},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"title", required_argument, NULL, OPT_TITLE},
	{"subtitle", required_argument, NULL, OPT_SUBTITLE},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"height", required_argument, NULL, OPT_HEIGHT},
	{"minwidth", required_argument, NULL, OPT_MINWIDTH},
	{"fontsize", required_argument, NULL, OPT_FONTSIZE},
	{"fonttype", required_argument, NULL, OPT_FONTTYPE},
	{"countname", required_argument, NULL, OPT_COUNTNAME},
	{"nametype", required_argument, NULL, OPT_NAMETYPE},
	{"colors", required_argument, NULL, OPT_COLORS},
	{"colours", required_argument, NULL, OPT_COLORS},
	{"hash", no_argument, NULL, OPT_HASH},
	{"reverse", no_argument, NULL, OPT_REVERSE},
	{"inverted", no_argument, NULL, OPT_INVERTED},
	{"flamechart", no_argument, NULL, OPT_FLAMECHART},
	{"negate", no_argument, NULL, OPT_NEGATE},
	{"notes", required_argument, NULL, OPT_NOTES},
	{"sort", required_argument, NULL, OPT_SORT},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"total", required_argument, NULL, OPT_TOTAL},
	{"factor", required_argument, NULL, OPT_FACTOR},
	{"encoding", required_argument, NULL, OPT_ENCODING},
	{"nameattr", required_argument, NULL, OPT_NAMEATTR},
	{"cp", no_argument, NULL, OPT_CP},
	{"palette", required_argument, NULL, OPT_PALETTE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char *const palettes[] = {
	"hot", "mem", "io", "wakeup", "red", "green", "blue", "aqua", "yellow",
	"purple", "orange", "java", "js", "perl", "python", "chain",
};

static void help(void)
{
	printf("usage: scorch render [FILE|-] [-o OUT] [options]\n\n"
	       "Draws a flame graph from folded stacks (\"a;b;c 42\", Brendan Gregg's format),\n"
	       "read from FILE or, without FILE or with '-', from stdin. Lines with two counts\n"
	       "(\"a;b 10 12\", BEFORE then AFTER) give a differential graph.\n\n"
	       "output:\n"
	       "  -o, --output OUT    write OUT (default: SVG to stdout); the format follows\n"
	       "                      the extension: .svg .folded .txt .pb.gz .pprof\n"
	       "                      .speedscope.json\n"
	       "  --format FMT        svg, folded, txt, pprof or speedscope, whatever OUT is\n"
	       "  --strict            a malformed input line is an error (exit 1), not skipped\n\n"
	       "flame graph (flamegraph.pl's options):\n"
	       "  --title TEXT        heading (default \"Flame Graph\")\n"
	       "  --subtitle TEXT     second heading line\n"
	       "  --width PX          fixed image width (default: fills the window)\n"
	       "  --height PX         height of one frame (default 16)\n"
	       "  --minwidth N[%%]     leave out frames narrower than N pixels, or N%% of the\n"
	       "                      total; their samples stay in their parents (default 0.1)\n"
	       "  --fontsize PX       (default 12)     --fonttype FONT  (default Verdana)\n"
	       "  --countname WORD    unit of the counts (default samples)\n"
	       "  --nametype TEXT     label of the details line (default \"Function:\")\n"
	       "  --colors PALETTE    hot (default), mem, io, wakeup, red, green, blue, aqua,\n"
	       "                      yellow, purple, orange, java, js, perl, python\n"
	       "  --hash              colour by a hash of the name (stable across graphs)\n"
	       "  --reverse           reverse each stack (leaf first) before merging\n"
	       "  --inverted          icicle graph: root at the top\n"
	       "  --flamechart        keep the input order, merge only neighbours\n"
	       "  --negate            differential: swap red and blue\n"
	       "  --notes TEXT        a note kept in the SVG (a <desc> element)\n"
	       "  --sort name|weight  siblings by name (default) or heaviest first\n"
	       "  --total N           N samples make the full width (a narrower graph to\n"
	       "                      compare with another); ignored below the input's total\n"
	       "  --factor F          show counts times F in tooltips (e.g. 0.001)\n"
	       "  --encoding NAME     encoding= of the XML declaration (default UTF-8)\n"
	       "  --nameattr FILE     per-function attributes: lines FUNCTION<TAB>KEY=VALUE...\n"
	       "                      (title, id, class, href, target, g_extra, a_extra)\n"
	       "  --cp                keep colours per function in ./palette.map (read, then\n"
	       "                      written back), the same across graphs\n"
	       "  --palette FILE      the same with FILE\n\n"
	       "Exit status: 0 written; 1 unreadable input, no stacks, a malformed line with\n"
	       "--strict, or a write error; 2 a wrong command line.\n");
}

static void parse_args(int argc, char **argv, struct render_opts *o)
{
	uint64_t u;
	double d;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			exit(EXIT_OK);
		case 'o':
			o->output = optarg;
			break;
		case OPT_FORMAT:
			o->format = write_format_named(optarg);
			if (o->format == WRITE_FORMAT_NONE)
				usage_error("render",
					    "unknown format '%s' (svg, folded, txt, pprof, speedscope)",
					    optarg);
			break;
		case OPT_TITLE:
			o->w.title = optarg;
			break;
		case OPT_SUBTITLE:
			o->w.subtitle = optarg;
			break;
		case OPT_WIDTH:
			if (!parse_u64(optarg, 10, 1000000, &u))
				usage_error("render", "--width wants pixels from 10 to 1000000, not '%s'",
					    optarg);
			o->w.width = (uint32_t)u;
			break;
		case OPT_HEIGHT:
			if (!parse_u64(optarg, 1, 1000, &u))
				usage_error("render", "--height wants pixels from 1 to 1000, not '%s'",
					    optarg);
			o->w.frame_height = (uint32_t)u;
			break;
		case OPT_MINWIDTH: {
			size_t len = strlen(optarg);
			char num[64];
			bool pct = len && optarg[len - 1] == '%';
			if (pct)
				len--;
			if (len >= sizeof(num))
				len = sizeof(num) - 1;
			memcpy(num, optarg, len);
			num[len] = 0;
			if (!parse_double(num, &d) || d < 0 || (pct && d > 100))
				usage_error("render",
					    "--minwidth wants pixels or a percentage (0.5, 1%%), not '%s'",
					    optarg);
			o->w.minwidth = d;
			o->w.minwidth_percent = pct;
			if (d == 0 && !pct)
				o->w.minwidth = -1; /* explicit 0: keep everything */
			break;
		}
		case OPT_FONTSIZE:
			if (!parse_double(optarg, &d) || d < 1 || d > 200)
				usage_error("render", "--fontsize wants 1 to 200, not '%s'", optarg);
			o->w.fontsize = d;
			break;
		case OPT_FONTTYPE:
			o->w.fonttype = optarg;
			break;
		case OPT_COUNTNAME:
			o->w.countname = optarg;
			break;
		case OPT_NAMETYPE:
			o->w.nametype = optarg;
			break;
		case OPT_COLORS: {
			bool ok = false;
			for (size_t i = 0; i < sizeof(palettes) / sizeof(palettes[0]); i++)
				ok |= !strcmp(palettes[i], optarg);
			if (!ok)
				usage_error("render",
					    "unknown palette '%s' (hot, mem, io, wakeup, red, green, "
					    "blue, aqua, yellow, purple, orange, java, js, perl, python)",
					    optarg);
			o->w.colors = optarg;
			break;
		}
		case OPT_HASH:
			o->w.hash = true;
			break;
		case OPT_REVERSE:
			o->w.reverse = true;
			break;
		case OPT_INVERTED:
			o->w.inverted = true;
			break;
		case OPT_FLAMECHART:
			o->w.flamechart = true;
			break;
		case OPT_NEGATE:
			o->w.negate = true;
			break;
		case OPT_NOTES:
			o->w.notes = optarg;
			break;
		case OPT_SORT:
			if (!strcmp(optarg, "weight"))
				o->w.sort_weight = true;
			else if (!strcmp(optarg, "name"))
				o->w.sort_weight = false;
			else
				usage_error("render", "--sort wants 'name' or 'weight', not '%s'",
					    optarg);
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case OPT_TOTAL:
			if (!parse_double(optarg, &d) || !(d > 0) || d > 1e19)
				usage_error("render", "--total wants a positive number of %s, not '%s'",
					    "samples", optarg);
			o->svg.total = d;
			o->total_arg = optarg;
			break;
		case OPT_FACTOR:
			if (!parse_double(optarg, &d) || !(d > 0) || d > 1e12)
				usage_error("render", "--factor wants a positive number (0.001, 2.5), "
						      "not '%s'",
					    optarg);
			o->svg.factor = d;
			break;
		case OPT_ENCODING:
			if (!svg_encoding_ok(optarg))
				usage_error("render",
					    "--encoding wants a name of letters, digits, '.', '_' and "
					    "'-' starting with a letter (UTF-8, ISO-8859-1), not '%s'",
					    optarg);
			o->svg.encoding = optarg;
			break;
		case OPT_NAMEATTR:
			o->nameattr_path = optarg;
			break;
		case OPT_CP:
			if (!o->palette_path)
				o->palette_path = "palette.map";
			break;
		case OPT_PALETTE:
			o->palette_path = optarg;
			break;
		default:
			bad_option("render", c, argv);
		}
	}
	o->input = input_operand("render", argc, argv, o->input ? o->input : "-");
	if (!o->output)
		o->output = "-";
	if (o->format == WRITE_FORMAT_NONE) {
		if (!strcmp(o->output, "-"))
			o->format = WRITE_FORMAT_SVG;
		else if ((o->format = write_format_of_path(o->output)) == WRITE_FORMAT_NONE)
			usage_error("render",
				    "cannot tell the format of '%s': use .svg, .folded, .txt, .pb.gz, "
				    ".pprof or .speedscope.json, or --format",
				    o->output);
	}
}

int cmd_render(int argc, char **argv)
{
	struct render_opts o = {0};
	struct folded_opts fo = {0};
	struct folded_stats st;
	struct profile *p;
	const char *shown;
	char err[512];
	struct svg_nameattr *na = NULL;
	struct svg_palette *pal = NULL;
	FILE *in = NULL;
	int rc, status = EXIT_FAIL;

	parse_args(argc, argv, &o);
	/* the option files first: a bad one stops before anything is read or written */
	if (o.nameattr_path && svg_nameattr_read(&na, o.nameattr_path, err, sizeof(err)) < 0) {
		error("--nameattr: %s", err);
		goto out_close;
	}
	if (o.palette_path && o.format == WRITE_FORMAT_SVG &&
	    svg_palette_read(&pal, o.palette_path, err, sizeof(err)) < 0) {
		error("palette: %s", err);
		goto out_close;
	}
	o.svg.nameattr = na;
	o.svg.palette = pal;
	o.w.svg = &o.svg;
	shown = strcmp(o.input, "-") ? o.input : "stdin";
	if (!strcmp(o.input, "-")) {
		in = stdin;
	} else {
		struct stat sb;
		in = fopen(o.input, "r");
		if (!in) {
			error("cannot open '%s': %s", o.input, strerror(errno));
			goto out_close;
		}
		if (fstat(fileno(in), &sb) == 0 && S_ISDIR(sb.st_mode)) {
			error("cannot read '%s': it is a directory", o.input);
			goto out_close;
		}
	}
	p = profile_new();
	if (!p) {
		error("out of memory");
		goto out_close;
	}
	fo.strict = o.strict;
	/* the reader reverses and keeps the order, so every output format sees it */
	fo.reverse = o.w.reverse;
	o.w.reverse = false;
	p->flamechart = o.w.flamechart;
	rc = folded_read(p, in, &fo, &st, err, sizeof(err));
	if (rc < 0) {
		error("%s: %s", shown, err);
		goto out_free;
	}
	if (st.skipped)
		warn("%s: skipped %llu malformed line%s (first: line %llu: %s)", shown,
		     (unsigned long long)st.skipped, st.skipped == 1 ? "" : "s",
		     (unsigned long long)st.first_bad_line, st.first_bad_reason);
	if (p->nodes[0].total == 0 && !(p->base && p->base_total)) {
		if (st.skipped)
			error("%s: no valid stacks (every line with data was malformed)", shown);
		else
			error("%s: no stacks to draw (the input is empty)", shown);
		goto out_free;
	}
	/* as flamegraph.pl: a --total below the samples is ignored, said when it is not
	 * just rounding */
	if (o.svg.total > 0 && o.svg.total < (double)p->nodes[0].total &&
	    o.svg.total / (double)p->nodes[0].total > 0.02)
		warn("--total %s is less than the %llu samples of %s: ignored", o.total_arg,
		     (unsigned long long)p->nodes[0].total, shown);
	rc = write_profile(p, o.output, o.format, &o.w, err, sizeof(err));
	if (rc < 0) {
		error("%s", err);
		goto out_free;
	}
	if (pal && svg_palette_write(pal, o.palette_path, err, sizeof(err)) < 0) {
		error("palette: %s", err);
		goto out_free;
	}
	status = EXIT_OK;
out_free:
	profile_free(p);
out_close:
	if (in && in != stdin)
		fclose(in);
	svg_nameattr_free(na);
	svg_palette_free(pal);
	return status;
}
