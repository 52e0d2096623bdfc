/*
 * scorch collapse perf: `perf script` output to folded stacks.
 */
#include "profiler/cli.h"

#include "render/perfscript.h"
#include "render/profile.h"
#include "render/write.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct collapse_opts {
	const char *input;  /* path or "-" */
	const char *output; /* path or "-" */
	struct perfscript_opts ps;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scorch collapse perf [FILE|-] [--pid] [--tid] [--no-kernel] [--addrs]\n"
		"                            [--period] [--event NAME] [--strict] [-o OUT]\n\n"
		"Turn 'perf script' output into folded stacks (one line per stack, root first,\n"
		"with its count), for scorch render, report and diff or any FlameGraph tool:\n"
		"  perf record -g -- ./app && perf script | scorch collapse perf > app.folded\n\n"
		"The process name is the root frame; kernel frames end in _[k], inlined ones in\n"
		"_[i]. Counts are samples (as scorch record counts), unless --period.\n\n"
		"  --pid              root frame NAME-PID (needs perf script -F+pid)\n"
		"  --tid              root frame NAME-PID/TID\n"
		"  --no-kernel        drop kernel frames\n"
		"  --addrs            unknown symbols as [module]+0xADDR, not [module]\n"
		"  --period           count each sample's period (ns for cpu-clock), as\n"
		"                     stackcollapse-perf.pl does, instead of 1\n"
		"  --event NAME       only samples of this event (default: the first one seen)\n"
		"  --strict           a malformed sample is an error (default: skip, warn)\n"
		"  -o, --output FILE  write to FILE (.folded; .svg, .txt... by extension)\n"
		"  -h, --help         this text\n");
}

int cmd_collapse(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pid", no_argument, NULL, 'P'},
		{"tid", no_argument, NULL, 'T'},
		{"no-kernel", no_argument, NULL, 'K'},
		{"addrs", no_argument, NULL, 'A'},
		{"period", no_argument, NULL, 'R'},
		{"event", required_argument, NULL, 'E'},
		{"strict", no_argument, NULL, 'S'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct collapse_opts o = {.input = "-", .output = "-"};
	struct perfscript_stats st;
	struct profile *p;
	const char *what;
	char err[512];
	FILE *in;
	int c, rc;

	optind = 1;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		usage_error("collapse", "which tool's output? 'scorch collapse perf'");
	if (strcmp(argv[1], "perf"))
		usage_error("collapse", "unknown input kind '%s': only 'perf' (perf script) is known",
			    argv[1]);
	argc--;
	argv++;
	opterr = 0; /* getopt would print its own message, named after argv[0] */
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			o.ps.pid = true;
			break;
		case 'T':
			o.ps.tid = true;
			break;
		case 'K':
			o.ps.no_kernel = true;
			break;
		case 'A':
			o.ps.addrs = true;
			break;
		case 'R':
			o.ps.period = true;
			break;
		case 'E':
			o.ps.event = optarg;
			break;
		case 'S':
			o.ps.strict = true;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			bad_option("collapse", c, argv);
		}
	}
	o.input = input_operand("collapse", argc, argv, o.input);

	what = strcmp(o.input, "-") ? o.input : "stdin";
	in = open_input(o.input);
	p = profile_new();
	if (!p)
		die("out of memory");
	rc = perfscript_read(p, in, &o.ps, &st, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (rc < 0) {
		profile_free(p);
		die("%s: %s", what, err);
	}
	if (st.skipped)
		warn("%s: skipped %llu malformed sample%s (first at line %llu: %s)", what,
		     (unsigned long long)st.skipped, st.skipped == 1 ? "" : "s",
		     (unsigned long long)st.first_bad_line, st.first_bad_reason);
	if (st.other_events)
		warn("%s: left out %llu samples of events other than '%s' (see --event)", what,
		     (unsigned long long)st.other_events, st.event);
	if (st.no_pid)
		warn("%s: perf script printed no PIDs: run it with -F+pid for --pid/--tid", what);
	if (st.no_period)
		warn("%s: perf script printed no periods: counted 1 per sample", what);
	if (p->nodes[0].total == 0) {
		profile_free(p);
		die("%s: no samples found in the perf script output", what);
	}
	p->meta.version = SCORCH_VERSION;
	p->meta.samples = st.samples;
	rc = write_profile(p, o.output,
			   !strcmp(o.output, "-") || write_format_of_path(o.output) == WRITE_FORMAT_NONE
				   ? WRITE_FORMAT_FOLDED
				   : WRITE_FORMAT_NONE,
			   NULL, err, sizeof(err));
	profile_free(p);
	if (rc < 0)
		die("%s", err);
	return EXIT_OK;
}
