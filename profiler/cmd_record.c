/*
 * scorch record: sample a command (launched and followed) or running processes
 * (attached), unwind every sample as it arrives, resolve the unique addresses to
 * frames at the end and write a flame graph or another format.
 *
 *   scorch record [options] -- CMD ARGS...
 *   scorch record [options] -p PID[,PID...]
 *
 * The CLI owns every stage's handle: target, maps, stacks, unwinder, Python reader,
 * sampler, then the profile. Signals only set flags; the loop decides.
 */
#include "profiler/cli.h"

#include "common/buf.h"
#include "profiler/maps.h"
#include "profiler/python.h"
#include "profiler/sampler.h"
#include "profiler/stacks.h"
#include "profiler/target.h"
#include "profiler/unwind.h"
#include "render/profile.h"
#include "render/write.h"
#include "symbolizer/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_OUTPUT "scorch.svg"
#define READ_TIMEOUT_MS 100

enum record_mode { MODE_AUTO, MODE_PERF, MODE_PTRACE };

struct record_opts {
	struct sampler_opts s;
	double duration_s;  /* 0: until the target exits or a signal */
	const char *output;
	const char *format; /* --format name, or NULL: from the extension */
	const char *title;
	bool lines, no_inline;
	enum resolve_group group;
	enum record_mode mode;
	bool quiet;
	pid_t *pids;
	size_t npids;
	char **argv; /* the command, when launching */
};

static volatile sig_atomic_t stop_signal; /* signal that asked to stop, or 0 */

static void on_stop_signal(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	stop_signal = sig;
}

static void on_sigchld(int sig)
{
	(void)sig; /* only interrupts poll() so that the command's exit is seen at once */
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_stop_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scorch record [options] -- CMD [ARGS...]\n"
		"       scorch record [options] -p PID[,PID...]\n\n"
		"Samples where a command or running processes spend their time and writes a\n"
		"flame graph (or folded stacks, a report, pprof, speedscope).\n\n"
		"target:\n"
		"  -p, --pid PID[,PID...]   attach to running processes (all their threads)\n"
		"  -d, --duration SECONDS   stop after this long (the command keeps running)\n"
		"sampling:\n"
		"  -F, --freq HZ            samples per second per thread (default 99)\n"
		"      --call-graph MODE    dwarf (default: unwinds without frame pointers) or fp\n"
		"      --stack-size BYTES   user stack copied per sample in dwarf mode\n"
		"                           (default 16384, at most 65528)\n"
		"      --kernel             kernel frames too (_[k]), when permitted\n"
		"      --mode MODE          auto (default: perf_event, else ptrace; ptrace for\n"
		"                           CPython), perf, ptrace\n"
		"      --clock CLOCK        cpu (default: on-CPU time) or wall (also waiting;\n"
		"                           uses the ptrace sampler)\n"
		"      --python             Python frames merged into native stacks (default)\n"
		"      --no-python          native frames only\n"
		"      --python-only        only Python frames\n"
		"output:\n"
		"  -o, --output FILE        output file (default " DEFAULT_OUTPUT "); the format\n"
		"                           follows the extension: .svg .folded .txt .pb.gz\n"
		"                           .speedscope.json; '-' writes folded stacks to stdout\n"
		"      --format FORMAT      svg, folded, txt, pprof or speedscope\n"
		"      --title TEXT         title of the flame graph\n"
		"      --lines              file:line on every frame\n"
		"      --no-inline          no frames for inlined functions\n"
		"      --per-thread         a root frame per thread (comm-PID/TID)\n"
		"      --per-process        a root frame per process (comm-PID)\n"
		"  -q, --quiet              no status line and no summary\n"
		"  -h, --help               this help\n\n"
		"The exit status is the command's own (128+N if signal N killed it); 1 when\n"
		"recording failed (nothing is written then); 2 for a wrong command line.\n"
		"See docs/record.md and docs/permissions.md.\n");
}

static void parse_pids(const char *arg, struct record_opts *o)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		pid_t *nv;
		if (!parse_u64(tok, 1, INT_MAX, &v))
			usage_error("record", "invalid pid '%s'", tok);
		nv = realloc(o->pids, (o->npids + 1) * sizeof(*nv));
		if (!nv)
			die("out of memory");
		o->pids = nv;
		o->pids[o->npids++] = (pid_t)v;
	}
	free(copy);
	if (!o->npids)
		usage_error("record", "no pid given to -p");
}

enum {
	OPT_FORMAT = 256,
	OPT_TITLE,
	OPT_CALLGRAPH,
	OPT_STACK_SIZE,
	OPT_KERNEL,
	OPT_LINES,
	OPT_NO_INLINE,
	OPT_PER_THREAD,
	OPT_PER_PROCESS,
	OPT_MODE,
	OPT_CLOCK,
	OPT_PYTHON,
	OPT_NO_PYTHON,
	OPT_PYTHON_ONLY,
};

static const struct option long_opts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"duration", required_argument, NULL, 'd'},
	{"freq", required_argument, NULL, 'F'},
	{"output", required_argument, NULL, 'o'},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"title", required_argument, NULL, OPT_TITLE},
	{"call-graph", required_argument, NULL, OPT_CALLGRAPH},
	{"stack-size", required_argument, NULL, OPT_STACK_SIZE},
	{"kernel", no_argument, NULL, OPT_KERNEL},
	{"lines", no_argument, NULL, OPT_LINES},
	{"no-inline", no_argument, NULL, OPT_NO_INLINE},
	{"per-thread", no_argument, NULL, OPT_PER_THREAD},
	{"per-process", no_argument, NULL, OPT_PER_PROCESS},
	{"mode", required_argument, NULL, OPT_MODE},
	{"clock", required_argument, NULL, OPT_CLOCK},
	{"python", no_argument, NULL, OPT_PYTHON},
	{"no-python", no_argument, NULL, OPT_NO_PYTHON},
	{"python-only", no_argument, NULL, OPT_PYTHON_ONLY},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void parse_args(int argc, char **argv, struct record_opts *o)
{
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->s.freq_hz = 99;
	o->s.stack_size = 16384;
	o->s.callgraph = SAMPLER_CALLGRAPH_DWARF;
	o->s.python = true;
	o->s.inherit = true;
	o->output = DEFAULT_OUTPUT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:d:F:o:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parse_pids(optarg, o);
			break;
		case 'd':
			if (!parse_double(optarg, &o->duration_s) || o->duration_s <= 0 ||
			    o->duration_s > 1e7)
				usage_error("record", "invalid duration '%s': seconds, more than 0",
					    optarg);
			break;
		case 'F':
			if (!parse_u64(optarg, 1, 100000, &v))
				usage_error("record", "invalid frequency '%s': 1 to 100000 Hz",
					    optarg);
			o->s.freq_hz = (uint32_t)v;
			break;
		case 'o':
			if (!*optarg)
				usage_error("record", "empty output file name");
			o->output = optarg;
			break;
		case OPT_FORMAT:
			if (write_format_named(optarg) == WRITE_FORMAT_NONE)
				usage_error("record",
					    "unknown format '%s': svg, folded, txt, pprof or speedscope",
					    optarg);
			o->format = optarg;
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case OPT_CALLGRAPH:
			if (!strcmp(optarg, "dwarf"))
				o->s.callgraph = SAMPLER_CALLGRAPH_DWARF;
			else if (!strcmp(optarg, "fp"))
				o->s.callgraph = SAMPLER_CALLGRAPH_FP;
			else
				usage_error("record", "unknown call graph '%s': dwarf or fp", optarg);
			break;
		case OPT_STACK_SIZE:
			if (!parse_u64(optarg, 64, 65528, &v))
				usage_error("record", "invalid stack size '%s': 64 to 65528 bytes",
					    optarg);
			o->s.stack_size = (uint32_t)(v & ~UINT64_C(7));
			break;
		case OPT_KERNEL:
			o->s.kernel = true;
			break;
		case OPT_LINES:
			o->lines = true;
			break;
		case OPT_NO_INLINE:
			o->no_inline = true;
			break;
		case OPT_PER_THREAD:
			o->group = RESOLVE_GROUP_THREAD;
			break;
		case OPT_PER_PROCESS:
			o->group = RESOLVE_GROUP_PROCESS;
			break;
		case OPT_MODE:
			if (!strcmp(optarg, "auto"))
				o->mode = MODE_AUTO;
			else if (!strcmp(optarg, "perf"))
				o->mode = MODE_PERF;
			else if (!strcmp(optarg, "ptrace"))
				o->mode = MODE_PTRACE;
			else
				usage_error("record", "unknown mode '%s': auto, perf or ptrace",
					    optarg);
			break;
		case OPT_CLOCK:
			if (!strcmp(optarg, "cpu"))
				o->s.wall = false;
			else if (!strcmp(optarg, "wall"))
				o->s.wall = true;
			else
				usage_error("record", "unknown clock '%s': cpu or wall", optarg);
			break;
		case OPT_PYTHON:
			o->s.python = true;
			o->s.python_only = false;
			break;
		case OPT_NO_PYTHON:
			o->s.python = false;
			o->s.python_only = false;
			break;
		case OPT_PYTHON_ONLY:
			o->s.python = true;
			o->s.python_only = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			bad_option("record", c, argv);
		}
	}
	if (optind < argc)
		o->argv = argv + optind;
	if (o->argv && o->npids)
		usage_error("record", "give either a command (after --) or -p PID, not both");
	if (!o->argv && !o->npids)
		usage_error("record", "nothing to record: give a command after -- or -p PID");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* maps keeps an fd per mapped file, and perf one per thread and CPU */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int read_int_file(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return INT_MIN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return INT_MIN;
	buf[n] = 0;
	return (int)strtol(buf, NULL, 10);
}

/* The output's format, checked before anything runs. */
static enum write_format output_format(const struct record_opts *o)
{
	enum write_format f;

	if (o->format)
		return write_format_named(o->format);
	if (!strcmp(o->output, "-"))
		return WRITE_FORMAT_FOLDED;
	f = write_format_of_path(o->output);
	if (f == WRITE_FORMAT_NONE)
		usage_error("record",
			    "unknown output format for '%s': use .svg, .folded, .txt, .pb.gz, "
			    ".pprof or .speedscope.json, or --format",
			    o->output);
	return f;
}

/* Fails early when the output cannot be written, before the command runs. */
static void check_output_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;

	if (!strcmp(path, "-"))
		return;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		die("cannot write '%s': it is a directory", path);
	slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		size_t len = (size_t)(slash - path);
		if (len >= sizeof(dir))
			die("output path too long: '%s'", path);
		memcpy(dir, path, len);
		dir[len] = 0;
	}
	if (access(dir, W_OK) < 0)
		die("cannot write '%s': %s", path,
		    errno == ENOENT ? "no such directory" : strerror(errno));
}

static char *join_argv(char **argv)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; argv[i]; i++) {
		if (i && buf_addc(&b, ' ') < 0)
			break;
		if (buf_adds(&b, argv[i]) < 0)
			break;
	}
	if (!b.p)
		return strdup("");
	return buf_detach(&b, NULL);
}

/* Until the symbolizer lands (its placeholder answers -ENOSYS): frames as raw
 * addresses, so that a recording still gives folded stacks. */
static int raw_profile(const struct stacks *s, struct profile *p)
{
	uint32_t *frames = malloc(SAMPLER_MAX_DEPTH * sizeof(*frames));

	if (!frames)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct stack *st = &s->v[i];
		uint32_t n = 0;
		for (uint32_t k = st->depth; k-- > 0 && n < SAMPLER_MAX_DEPTH;) {
			uint64_t a = s->addrs[st->first + k];
			char name[32];
			int len = snprintf(name, sizeof(name), "0x%" PRIx64 "%s", stack_value(a),
					   stack_tag(a) == STACK_TAG_KERNEL ? "_[k]" : "");
			frames[n] = profile_intern(p, name, (size_t)len);
			if (frames[n] == PROFILE_NONE) {
				free(frames);
				return -ENOMEM;
			}
			n++;
		}
		if (profile_add(p, frames, n, st->count) < 0) {
			free(frames);
			return -ENOMEM;
		}
	}
	free(frames);
	p->meta.samples = s->samples;
	p->meta.lost = s->lost;
	p->meta.complete = s->complete;
	return 0;
}

static void print_status(uint64_t elapsed_ns, const struct stacks *s)
{
	double secs = (double)elapsed_ns / 1e9;

	fprintf(stderr, "\rscorch: recording %.1f s, %" PRIu64 " samples (%.0f/s), %" PRIu64
			" lost\033[K",
		secs, s->samples, secs > 0 ? (double)s->samples / secs : 0.0, s->lost);
	fflush(stderr);
}

static void human_size(uint64_t bytes, char *out, size_t len)
{
	if (bytes >= (1u << 20))
		snprintf(out, len, "%.1f MiB", (double)bytes / (1 << 20));
	else if (bytes >= 1024)
		snprintf(out, len, "%.1f KiB", (double)bytes / 1024);
	else
		snprintf(out, len, "%" PRIu64 " bytes", bytes);
}

/* Distinct processes (by_pid) or threads among the threads seen; a thread that
 * exec'd is recorded once per address space but counts once. */
static size_t count_distinct(const struct stacks *s, bool by_pid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		uint32_t key = by_pid ? s->threads[i].pid : s->threads[i].tid;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = (by_pid ? s->threads[j].pid : s->threads[j].tid) == key;
		n += !seen;
	}
	return n;
}

/* The seccomp mode of scorch itself ("Seccomp:" in /proc/self/status): 2 means a
 * filter is installed, as container runtimes do; -1 if unknown. */
static int seccomp_mode(void)
{
	char line[128];
	int mode = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8)) {
			mode = (int)strtol(line + 8, NULL, 10);
			break;
		}
	fclose(f);
	return mode;
}

/* Whether the target runs CPython: the attached processes' mappings, or the command
 * a launched target is about to execute. */
static bool python_target(const struct record_opts *o, const struct target *t,
			  const struct maps *maps, struct python *py)
{
	if (t->launched)
		return o->argv && o->argv[0] && python_command(o->argv[0]);
	for (size_t i = 0; i < t->npids; i++) {
		int64_t asid = maps_space_of(maps, (uint32_t)t->pids[i]);
		if (asid >= 0 && python_in_space(py, (uint32_t)asid, (uint32_t)t->pids[i]))
			return true;
	}
	return false;
}

/* A one-line reason perf_event is not usable, for the notice of auto mode: the
 * setting that refused it when the setting is what refuses, otherwise the filter. */
static const char *permission_hint(char *buf, size_t len)
{
	int paranoid = read_int_file("/proc/sys/kernel/perf_event_paranoid");
	bool allowed_by_paranoid = geteuid() == 0 || (paranoid != INT_MIN && paranoid <= 2);

	if (allowed_by_paranoid && seccomp_mode() == 2)
		snprintf(buf, len, "a seccomp filter refuses it, as container runtimes do");
	else if (allowed_by_paranoid)
		snprintf(buf, len, "refused although kernel.perf_event_paranoid is %d: a security "
				   "policy or the hypervisor blocks it", paranoid);
	else if (paranoid != INT_MIN)
		snprintf(buf, len, "kernel.perf_event_paranoid is %d and scorch lacks CAP_PERFMON",
			 paranoid);
	else
		snprintf(buf, len, "perf events are not available here");
	return buf;
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAIL;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o;
	struct target t;
	struct maps maps;
	struct stacks stacks;
	struct unwind *unwind = NULL;
	struct python *python = NULL;
	struct sampler_ctx ctx;
	const struct sampler_ops *ops = &sampler_perf;
	bool python_auto = false;
	struct profile *prof = NULL;
	struct resolve_opts ropts;
	struct resolve_stats rstats;
	struct write_opts wopts;
	enum write_format format;
	void *state = NULL;
	char err[512], err2[512], hint[160], title[512];
	char *command = NULL;
	uint64_t t0, t_end, start_unix, last_status = 0;
	bool tty, have_target = false, recorded = false;
	int rc, status = EXIT_FAIL;

	parse_args(argc, argv, &o);
	format = output_format(&o);
	check_output_dir(o.output);
	raise_nofile();
	install_signals();
	tty = !o.quiet && isatty(STDERR_FILENO);

	maps_init(&maps);
	stacks_init(&stacks);
	memset(&t, 0, sizeof(t));
	t.hold_fd = t.exec_fd = -1;

	if (o.argv) {
		const char *base = strrchr(o.argv[0], '/');
		rc = target_launch(&t, o.argv, err, sizeof(err));
		if (rc < 0) {
			error("cannot run '%s': %s", o.argv[0], err);
			goto out;
		}
		have_target = true;
		if (maps_space_new(&maps, (uint32_t)t.child, base ? base + 1 : o.argv[0]) < 0) {
			error("out of memory");
			goto out;
		}
		command = join_argv(o.argv);
	} else {
		struct buf b = BUF_INIT;
		rc = target_attach(&t, o.pids, o.npids, err, sizeof(err));
		if (rc < 0) {
			if (rc == -EPERM)
				error("cannot attach: %s (see docs/permissions.md)", err);
			else
				error("cannot attach: %s", err);
			goto out;
		}
		have_target = true;
		buf_adds(&b, o.npids > 1 ? "pids " : "pid ");
		for (size_t i = 0; i < o.npids; i++) {
			char comm[32] = "", path[64];
			int64_t asid;
			int fd;
			ssize_t n;

			if (i)
				buf_addc(&b, ',');
			buf_addu64(&b, (uint64_t)o.pids[i]);
			snprintf(path, sizeof(path), "/proc/%d/comm", (int)o.pids[i]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				n = read(fd, comm, 16);
				close(fd);
				comm[n > 0 ? n : 0] = 0;
				comm[strcspn(comm, "\n")] = 0;
			}
			asid = maps_space_new(&maps, (uint32_t)o.pids[i], comm);
			if (asid < 0) {
				error("out of memory");
				buf_release(&b);
				goto out;
			}
			rc = maps_read_proc(&maps, (uint32_t)asid, (uint32_t)o.pids[i], err,
					    sizeof(err));
			if (rc < 0) {
				error("cannot attach to pid %d: %s%s", (int)o.pids[i], err,
				      rc == -EACCES || rc == -EPERM
					      ? " (see docs/permissions.md)"
					      : "");
				buf_release(&b);
				goto out;
			}
		}
		command = buf_detach(&b, NULL);
	}

	rc = unwind_open(&unwind, &maps, err, sizeof(err));
	if (rc < 0) {
		error("cannot start the unwinder: %s", err);
		goto out;
	}
	if (o.s.python) {
		rc = python_open(&python, &maps, err, sizeof(err));
		if (rc < 0) {
			warn("no Python frames: %s", err);
			python = NULL;
		}
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.opts = &o.s;
	ctx.target = &t;
	ctx.stacks = &stacks;
	ctx.maps = &maps;
	ctx.unwind = unwind;
	ctx.python = python;

	ops = o.mode == MODE_PTRACE ? &sampler_ptrace : &sampler_perf;
	/* perf mode can read Python frames only after the sample, when the thread has
	 * run on (docs/python.md): for a CPython target auto takes ptrace, which reads
	 * them in the same stop as the native stack */
	if (o.mode == MODE_AUTO && python && !o.s.kernel && !o.s.wall && python_target(&o, &t, &maps, python)) {
		if (!o.quiet)
			fprintf(stderr, "scorch: CPython target: using ptrace sampling, which reads "
					"Python frames in the same stop as the native stack (--mode "
					"perf to override)\n");
		ops = &sampler_ptrace;
		python_auto = true;
	}
	if (o.s.wall && o.mode != MODE_PTRACE) {
		if (!o.quiet)
			fprintf(stderr, "scorch: --clock wall uses the ptrace sampler (the perf "
					"sampler measures on-CPU time only)\n");
		ops = &sampler_ptrace;
	}
	rc = ops->start(&state, &ctx, err, sizeof(err));
	if (rc < 0 && python_auto && (rc == -EACCES || rc == -EPERM)) {
		if (!o.quiet)
			fprintf(stderr, "scorch: ptrace is not permitted (%s): using perf_event "
					"sampling\n", err);
		ops = &sampler_perf;
		state = NULL;
		rc = ops->start(&state, &ctx, err, sizeof(err));
	}
	if (rc < 0 && ops == &sampler_perf && o.mode == MODE_AUTO && !o.s.kernel &&
	    (rc == -EACCES || rc == -EPERM || rc == -ENOSYS || rc == -ENOTSUP)) {
		if (!o.quiet)
			fprintf(stderr, "scorch: perf_event_open is not permitted (%s): using ptrace "
					"sampling (see docs/permissions.md)\n",
				rc == -ENOSYS ? err : permission_hint(hint, sizeof(hint)));
		ops = &sampler_ptrace;
		state = NULL;
		rc = ops->start(&state, &ctx, err2, sizeof(err2));
		if (rc < 0)
			snprintf(err, sizeof(err), "%s", err2);
	}
	if (rc < 0) {
		error("cannot sample: %s", err);
		state = NULL;
		goto out;
	}

	if (ctx.notice[0] && !o.quiet)
		fprintf(stderr, "scorch: %s\n", ctx.notice);
	if (t.launched) {
		rc = target_release(&t, err, sizeof(err));
		if (rc < 0) {
			ops->stop(state);
			state = NULL;
			error("cannot run '%s': %s", o.argv[0], err);
			goto out;
		}
	}
	t0 = mono_ns();
	start_unix = real_ns();
	recorded = true;

	for (;;) {
		int timeout = READ_TIMEOUT_MS;
		uint64_t now;

		if (o.duration_s > 0) {
			uint64_t left, dur = (uint64_t)(o.duration_s * 1e9);
			now = mono_ns();
			if (now - t0 >= dur)
				break;
			left = (dur - (now - t0) + 999999) / 1000000;
			if (left < (uint64_t)timeout)
				timeout = (int)left;
		}
		rc = ops->read(state, timeout);
		if (rc < 0) {
			error("sampling failed: %s", strerror(-rc));
			break;
		}
		if (rc == 0)
			break;
		if (stop_signal) {
			/* A signal aimed at scorch stops the recording and nothing else: the
			 * target is never signalled by scorch (a terminal's Ctrl-C reaches
			 * the command itself, through its process group) */
			break;
		}
		if (tty) {
			now = mono_ns();
			if (now - last_status >= 250000000u) {
				last_status = now;
				print_status(now - t0, &stacks);
			}
		}
	}
	ops->stop(state);
	state = NULL;
	t_end = mono_ns();
	if (tty)
		fprintf(stderr, "\r\033[K");

	/* resolve and write */
	prof = profile_new();
	if (!prof) {
		error("out of memory");
		goto wait;
	}
	memset(&ropts, 0, sizeof(ropts));
	ropts.lines = o.lines;
	ropts.inlines = !o.no_inline;
	ropts.demangle = true;
	ropts.python_only = o.s.python_only;
	ropts.group = o.group;
	memset(&rstats, 0, sizeof(rstats));
	rc = resolve_profile(&stacks, &maps, &ropts, prof, &rstats, err, sizeof(err));
	if (rc == -ENOSYS)
		rc = raw_profile(&stacks, prof);
	if (rc < 0) {
		error("cannot resolve the stacks: %s", err);
		goto wait;
	}
	{
		struct profile_meta *m = &prof->meta;
		double secs = (double)(t_end - t0) / 1e9;

		if (o.title)
			snprintf(title, sizeof(title), "%s", o.title);
		else
			snprintf(title, sizeof(title), "%s (%" PRIu64 " samples, %.2f s)", command,
				 stacks.samples, secs);
		profile_set(&m->title, title);
		profile_set(&m->command, command);
		m->pids = malloc((t.npids ? t.npids : 1) * sizeof(*m->pids));
		if (m->pids) {
			for (size_t i = 0; i < t.npids; i++)
				m->pids[i] = (uint32_t)t.pids[i];
			m->npids = t.npids;
		}
		m->start_unix_ns = start_unix;
		m->duration_ns = t_end - t0;
		m->rate_hz = o.s.freq_hz;
		m->period_ns = 1000000000u / o.s.freq_hz;
		m->samples = stacks.samples;
		m->lost = stacks.lost;
		m->complete = stacks.complete;
		m->off_cpu = stacks.off_cpu;
		m->on_cpu = o.s.wall ? stacks.samples - stacks.off_cpu : 0;
		m->py_mismatch = stacks.py_mismatch;
		m->wall = o.s.wall;
		m->version = SCORCH_VERSION;
	}
	memset(&wopts, 0, sizeof(wopts));
	wopts.title = prof->meta.title;
	wopts.countname = "samples";
	rc = write_profile(prof, o.output, format, &wopts, err, sizeof(err));
	if (rc < 0) {
		error("%s", err);
		goto wait;
	}
	if (!o.quiet) {
		double secs = (double)(t_end - t0) / 1e9;
		size_t nthreads = count_distinct(&stacks, false);
		size_t nprocs = count_distinct(&stacks, true);
		char size[32] = "";
		struct stat st;

		if (strcmp(o.output, "-") && stat(o.output, &st) == 0)
			human_size((uint64_t)st.st_size, size, sizeof(size));
		fprintf(stderr,
			"scorch: %" PRIu64 " samples (%" PRIu64 " lost) from %zu thread%s of %zu "
			"process%s in %.2f s (%s mode, %" PRIu32 " Hz); %.1f%% of stacks unwound to "
			"the root\n",
			stacks.samples, stacks.lost, nthreads, nthreads == 1 ? "" : "s", nprocs,
			nprocs == 1 ? "" : "es", secs,
			ops->name, o.s.freq_hz,
			stacks.samples ? 100.0 * (double)stacks.complete / (double)stacks.samples
				       : 0.0);
		if (o.s.wall && stacks.samples)
			fprintf(stderr, "scorch: wall clock: %.1f%% of samples on CPU, %.1f%% waiting\n",
				100.0 * (double)(stacks.samples - stacks.off_cpu) /
					(double)stacks.samples,
				100.0 * (double)stacks.off_cpu / (double)stacks.samples);
		if (stacks.failed)
			fprintf(stderr, "scorch: %" PRIu64 " samples could not be unwound\n",
				stacks.failed);
		if (stacks.py_mismatch)
			fprintf(stderr,
				"scorch: %" PRIu64 " samples (%.1f%%) kept native frames only: their "
				"Python frames no longer matched the native stack when read\n",
				stacks.py_mismatch,
				stacks.samples ? 100.0 * (double)stacks.py_mismatch /
							 (double)stacks.samples
					       : 0.0);
		if (stacks.npyframes && ops == &sampler_perf)
			fprintf(stderr, "scorch: perf mode reads Python frames after each sample: "
					"a short-lived Python frame may be paired with another "
					"instant's native stack (--mode ptrace reads both in one stop)\n");
		if (rstats.kernel_hidden)
			fprintf(stderr, "scorch: kernel frames are shown as one [kernel] frame: "
					"/proc/kallsyms hides addresses (kernel.kptr_restrict, see "
					"docs/permissions.md)\n");
		if (strcmp(o.output, "-"))
			fprintf(stderr, "scorch: wrote %s (%s)\n", o.output, size);
	}
	status = EXIT_OK;
wait:
	if (t.launched && recorded) {
		/* after -d or a signal the command may still run: it decides when it ends */
		int ws = target_wait(&t);
		if (status == EXIT_OK)
			status = exit_status_of(ws);
	}
out:
	if (state)
		ops->stop(state);
	profile_free(prof);
	python_close(python);
	unwind_close(unwind);
	if (have_target)
		target_release_all(&t);
	stacks_release(&stacks);
	maps_release(&maps);
	free(command);
	free(o.pids);
	return status;
}
