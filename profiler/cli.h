/*
 * cli: what the command files (profiler/cmd_*.c) share with main.c: the exit
 * statuses, the reporting helpers, and the entry point of every subcommand. Only
 * CLI files include this; libraries report through return codes and err strings.
 */
#ifndef SCORCH_PROFILER_CLI_H
#define SCORCH_PROFILER_CLI_H

#define SCORCH_VERSION "0.1.0"

/* Exit statuses (documented in docs/scorch.1 and README). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,  /* the work failed: bad input with --strict, I/O, permission */
	EXIT_USAGE = 2, /* the command line is wrong */
};

/* Prints "scorch: " and the message to stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Prints "scorch: warning: " and the message to stderr. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "scorch: " and the message, then "try 'scorch CMD --help'", exits 2. */
void usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Prints "scorch: " and the message to stderr (no exit). */
void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for what getopt_long (optstring starting with ':', opterr 0)
 * returned for argv[optind - 1]: ':' a missing value, else an unknown option. */
void bad_option(const char *cmd, int c, char **argv) __attribute__((noreturn));

/* The one optional input operand left in argv after getopt (dflt when none); a
 * second one is a usage error of cmd. */
const char *input_operand(const char *cmd, int argc, char **argv, const char *dflt);

#include <stdio.h>
/* Opens an input file for reading, "-" being stdin; dies with the reason. */
FILE *open_input(const char *path);

/* Parses a whole decimal number in [min, max]; false if s is anything else. */
#include <stdbool.h>
#include <stdint.h>
bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool parse_double(const char *s, double *out);

int cmd_record(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_collapse(int argc, char **argv);

#endif
