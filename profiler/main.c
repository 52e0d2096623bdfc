/*
 * scorch: a sampling profiler for Linux. This file is the command table and the
 * reporting helpers every command shares; each command lives in cmd_<name>.c.
 */
#include "profiler/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* returns the exit status */
	const char *summary;
} cmds[] = {
	{"record", cmd_record, "sample a process or a command into a flame graph or profile"},
	{"render", cmd_render, "draw a flame graph (or another format) from folded stacks"},
	{"report", cmd_report, "print a table or call tree of where the time goes"},
	{"diff", cmd_diff, "draw a differential flame graph of two profiles"},
	{"collapse", cmd_collapse, "turn another tool's stacks (perf script) into folded stacks"},
};

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("scorch: ", fmt, ap);
	va_end(ap);
	exit(EXIT_FAIL);
}

void error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("scorch: ", fmt, ap);
	va_end(ap);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("scorch: warning: ", fmt, ap);
	va_end(ap);
}

void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("scorch: ", fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "try 'scorch %s --help'\n", cmd);
	else
		fprintf(stderr, "try 'scorch help'\n");
	exit(EXIT_USAGE);
}

void bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	if (optopt)
		usage_error(cmd, "unknown option '-%c'", optopt);
	usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

const char *input_operand(const char *cmd, int argc, char **argv, const char *dflt)
{
	const char *in = optind < argc ? argv[optind++] : dflt;

	if (optind < argc)
		usage_error(cmd, "one input file at most, got '%s' too", argv[optind]);
	return in;
}

FILE *open_input(const char *path)
{
	FILE *f;

	if (!strcmp(path, "-"))
		return stdin;
	f = fopen(path, "r");
	if (!f)
		die("cannot open '%s': %s", path, strerror(errno));
	return f;
}

bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static void help(FILE *f)
{
	fprintf(f, "usage: scorch <command> [options] [args]\n\n"
		   "scorch samples where a program spends its time and draws it as a flame graph.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "  %-10s %s\n\n", "help", "show this list, or 'scorch help CMD' for one command");
	fprintf(f, "examples:\n"
		   "  scorch record -o out.svg -- ./server --port 8080\n"
		   "  scorch record -p 4242 -d 30 -o slow.svg\n"
		   "  scorch render stacks.folded -o flame.svg\n\n"
		   "'scorch CMD --help' describes a command; see also scorch(1).\n");
}

static void on_sigpipe(int sig)
{
	(void)sig; /* the write that raised it fails with EPIPE and is reported */
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	const char *name;

	/* A closed output pipe (scorch record -o - | head) must not kill scorch with
	 * the recording unwritten and unreported: writes fail with EPIPE instead and the
	 * command says so (exit 1). A handler, not SIG_IGN, because an ignored signal
	 * stays ignored across exec and a launched command must start with the default. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigpipe;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	if (argc < 2) {
		help(stderr);
		return EXIT_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("scorch %s\n", SCORCH_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			char *sub[] = {argv[2], (char *)"--help", NULL};
			for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (!strcmp(cmds[i].name, argv[2]))
					return cmds[i].run(2, sub);
			usage_error(NULL, "unknown command '%s'", argv[2]);
		}
		help(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return cmds[i].run(argc - 1, argv + 1);
	usage_error(NULL, "unknown command '%s'", name);
}
