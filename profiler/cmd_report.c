/*
 * scorch report: a table (or call tree) of where the time goes, from folded stacks.
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

struct report_opts {
	const char *input;  /* path or "-" */
	const char *output; /* path or "-" */
	bool strict;
	struct write_opts w;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scorch report [FILE|-] [--sort self|total] [--top N] [--tree]\n"
		"                     [--min-share PCT] [--strict] [-o OUT.txt]\n\n"
		"Print where the time goes in folded stacks (from scorch record -o x.folded,\n"
		"stackcollapse-*.pl or scorch collapse): each function's self samples (it was\n"
		"the leaf) and total samples (it was anywhere on the stack, counted once per\n"
		"sample even when it recurses), with their shares of all samples.\n\n"
		"  --sort self|total  order of the table (default: self)\n"
		"  --top N            only the first N functions\n"
		"  --tree             the call tree instead, heaviest children first\n"
		"  --min-share PCT    with --tree: hide subtrees under PCT percent (default 0.5)\n"
		"  --strict           a malformed input line is an error (default: skip, warn)\n"
		"  -o, --output FILE  write to FILE instead of stdout\n"
		"  -h, --help         this text\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"sort", required_argument, NULL, 's'},
		{"top", required_argument, NULL, 'n'},
		{"tree", no_argument, NULL, 't'},
		{"min-share", required_argument, NULL, 'm'},
		{"strict", no_argument, NULL, 'S'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct report_opts o = {.input = "-", .output = "-"};
	struct folded_opts fo = {0};
	struct folded_stats st = {0};
	struct profile *p;
	char err[512];
	FILE *in;
	uint64_t v;
	int c, rc;

	o.w.min_share = 0.5;
	optind = 1;
	opterr = 0; /* getopt would print its own message, named after argv[0] */
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!strcmp(optarg, "self"))
				o.w.sort_total = false;
			else if (!strcmp(optarg, "total"))
				o.w.sort_total = true;
			else
				usage_error("report", "--sort takes self or total, not '%s'", optarg);
			break;
		case 'n':
			if (!parse_u64(optarg, 1, SIZE_MAX, &v))
				usage_error("report", "--top takes a positive number, not '%s'", optarg);
			o.w.top = (size_t)v;
			break;
		case 't':
			o.w.tree = true;
			break;
		case 'm':
			if (!parse_double(optarg, &o.w.min_share) || o.w.min_share < 0 ||
			    o.w.min_share > 100)
				usage_error("report", "--min-share takes a percentage (0 to 100), not '%s'",
					    optarg);
			break;
		case 'S':
			o.strict = true;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			bad_option("report", c, argv);
		}
	}
	o.input = input_operand("report", argc, argv, o.input);

	in = open_input(o.input);
	p = profile_new();
	if (!p)
		die("out of memory");
	fo.strict = o.strict;
	rc = folded_read(p, in, &fo, &st, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (rc < 0) {
		profile_free(p);
		die("%s: %s", strcmp(o.input, "-") ? o.input : "stdin", err);
	}
	if (st.skipped)
		warn("%s: skipped %llu malformed line%s (first: line %llu, %s)",
		     strcmp(o.input, "-") ? o.input : "stdin", (unsigned long long)st.skipped,
		     st.skipped == 1 ? "" : "s", (unsigned long long)st.first_bad_line,
		     st.first_bad_reason);
	if (p->nodes[0].total == 0) {
		profile_free(p);
		die("%s: no samples in the input", strcmp(o.input, "-") ? o.input : "stdin");
	}
	p->meta.version = SCORCH_VERSION;
	rc = write_profile(p, o.output, WRITE_FORMAT_TXT, &o.w, err, sizeof(err));
	profile_free(p);
	if (rc < 0)
		die("%s", err);
	return EXIT_OK;
}
