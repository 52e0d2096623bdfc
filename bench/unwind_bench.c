/*
 * bench/unwind.sh's driver: the cost of profiler/unwind.c per sample.
 *
 *   unwind_bench capture OUT [-n N] [-s STACK] [-u USEC] [-i INPUT] -- CMD ARGS...
 *     runs CMD (stdin from INPUT), seizes it with ptrace, and every USEC µs takes a
 *     snapshot the way the ptrace sampler does (GETREGS + one process_vm_readv of
 *     STACK bytes from RSP), N of them; writes the mappings and snapshots to OUT.
 *   unwind_bench run IN [-r RUNS]
 *     unwinds every snapshot of IN in order with a fresh unwinder (so the caches
 *     warm up as they would while recording), RUNS times, and prints one line:
 *     samples, mean µs per unwind (thread CPU time of the whole pass, opening and
 *     closing the unwinder included, / samples), median and p99 µs (wall time of
 *     single unwinds), mean depth, % complete. Figures are medians over the runs.
 *
 * bench/unwind.sh links it twice: once as is, once with the sigprocmask interposer
 * of unwind.o made local (objcopy), i.e. with Debian libunwind's signal blocking.
 */
#include "profiler/maps.h"
#include "profiler/unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x31574e55 /* "UNW1" */

struct snap {
	uint64_t regs[UNWIND_NREGS];
	uint32_t len;
	uint8_t *stack;
};

static void die(const char *what)
{
	fprintf(stderr, "unwind_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(FILE *f, const void *p, size_t len)
{
	if (fwrite(p, 1, len, f) != len)
		die("write");
}

static void get(FILE *f, void *p, size_t len)
{
	if (fread(p, 1, len, f) != len) {
		fprintf(stderr, "unwind_bench: truncated snapshot file\n");
		exit(1);
	}
}

static void regs_of(const struct user_regs_struct *r, uint64_t *g)
{
	g[UNWIND_REG_RAX] = r->rax;
	g[UNWIND_REG_RDX] = r->rdx;
	g[UNWIND_REG_RCX] = r->rcx;
	g[UNWIND_REG_RBX] = r->rbx;
	g[UNWIND_REG_RSI] = r->rsi;
	g[UNWIND_REG_RDI] = r->rdi;
	g[UNWIND_REG_RBP] = r->rbp;
	g[UNWIND_REG_RSP] = r->rsp;
	g[UNWIND_REG_R8] = r->r8;
	g[UNWIND_REG_R9] = r->r9;
	g[UNWIND_REG_R10] = r->r10;
	g[UNWIND_REG_R11] = r->r11;
	g[UNWIND_REG_R12] = r->r12;
	g[UNWIND_REG_R13] = r->r13;
	g[UNWIND_REG_R14] = r->r14;
	g[UNWIND_REG_R15] = r->r15;
	g[UNWIND_REG_RIP] = r->rip;
}

static int capture(int argc, char **argv)
{
	const char *out = argv[2], *input = NULL;
	long n = 2000, stack = 16384, usec = 1000;
	struct maps maps, fin;
	char err[256];
	uint8_t *buf;
	int64_t asid, fasid;
	FILE *f;
	pid_t pid;
	int i, st;
	long got = 0;
	uint32_t magic = MAGIC, count, *lens;
	uint64_t(*regv)[UNWIND_NREGS];

	for (i = 3; i < argc && strcmp(argv[i], "--"); i++) {
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "-n"))
			n = atol(argv[++i]);
		else if (!strcmp(argv[i], "-s"))
			stack = atol(argv[++i]);
		else if (!strcmp(argv[i], "-u"))
			usec = atol(argv[++i]);
		else if (!strcmp(argv[i], "-i"))
			input = argv[++i];
	}
	if (i >= argc - 1 || n <= 0 || stack <= 0)
		return fprintf(stderr, "usage: unwind_bench capture OUT [opts] -- CMD...\n"), 2;
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		if (input) {
			int fd = open(input, O_RDONLY);
			if (fd < 0 || dup2(fd, 0) < 0)
				_exit(126);
		}
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		execvp(argv[i + 1], argv + i + 1);
		_exit(127);
	}
	usleep(100000); /* past the dynamic loader */
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		die("PTRACE_SEIZE");
	maps_init(&maps);
	asid = maps_space_new(&maps, (uint32_t)pid, "target");
	if (asid < 0 || maps_read_proc(&maps, (uint32_t)asid, (uint32_t)pid, err, sizeof(err)) < 0)
		return fprintf(stderr, "unwind_bench: %s\n", err), 1;
	buf = malloc((size_t)stack * (size_t)n);
	lens = calloc((size_t)n, sizeof(*lens));
	regv = calloc((size_t)n, sizeof(*regv));
	if (!buf || !lens || !regv)
		die("malloc");
	for (got = 0; got < n;) {
		struct user_regs_struct r;
		const struct maps_entry *e;
		struct iovec lio, rio;
		uint64_t regs[UNWIND_NREGS];
		uint32_t len;
		ssize_t rd;

		usleep((useconds_t)usec);
		if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || waitpid(pid, &st, __WALL) != pid)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (st >> 16 != PTRACE_EVENT_STOP) { /* a signal for the target: deliver it */
			ptrace(PTRACE_CONT, pid, 0, (void *)(long)WSTOPSIG(st));
			continue;
		}
		if (ptrace(PTRACE_GETREGS, pid, 0, &r) == 0) {
			regs_of(&r, regs);
			e = maps_lookup(&maps, (uint32_t)asid, r.rsp);
			len = (uint32_t)stack;
			if (e && e->end - r.rsp < (uint64_t)len)
				len = (uint32_t)(e->end - r.rsp);
			lio = (struct iovec){buf + (size_t)got * (size_t)stack, len};
			rio = (struct iovec){(void *)(uintptr_t)r.rsp, len};
			rd = process_vm_readv(pid, &lio, 1, &rio, 1, 0);
			if (rd > 0) {
				lens[got] = (uint32_t)rd;
				memcpy(regv[got], regs, sizeof(regs));
				got++;
			}
		}
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	/* the mappings as they are at the end, if the target still runs: libraries
	 * loaded during the sampling are in */
	maps_init(&fin);
	fasid = maps_space_new(&fin, (uint32_t)pid, "target");
	if (fasid >= 0 && maps_read_proc(&fin, (uint32_t)fasid, (uint32_t)pid, err, sizeof(err)) == 0) {
		maps_release(&maps);
		maps = fin;
		asid = fasid;
	} else {
		maps_release(&fin);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, __WALL);
	f = fopen(out, "wb");
	if (!f)
		die(out);
	put(f, &magic, 4);
	count = (uint32_t)maps.spaces[asid].nidx;
	put(f, &count, 4);
	for (size_t k = 0; k < maps.spaces[asid].nidx; k++) {
		const struct maps_entry *e = &maps.v[maps.spaces[asid].idx[k]];
		const char *name = maps_str(&maps, e->name);
		uint64_t dev = e->file != MAPS_ANON ? maps.files[e->file].dev : 0;
		uint64_t ino = e->file != MAPS_ANON ? maps.files[e->file].ino : 0;
		uint32_t len = (uint32_t)strlen(name);
		put(f, &e->start, 8);
		put(f, &e->end, 8);
		put(f, &e->pgoff, 8);
		put(f, &e->prot, 4);
		put(f, &dev, 8);
		put(f, &ino, 8);
		put(f, &len, 4);
		put(f, name, len);
	}
	for (long k = 0; k < got; k++) {
		put(f, regv[k], sizeof(regv[k]));
		put(f, &lens[k], 4);
		put(f, buf + (size_t)k * (size_t)stack, lens[k]);
	}
	fclose(f);
	free(lens);
	free(regv);
	maps_release(&maps);
	free(buf);
	fprintf(stderr, "unwind_bench: %ld snapshots of %s\n", got, argv[i + 1]);
	return got ? 0 : 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

static int run(int argc, char **argv)
{
	FILE *f = fopen(argv[2], "rb");
	struct snap *snaps = NULL;
	size_t nsnaps = 0, cap = 0;
	struct maps maps;
	uint32_t magic, count;
	int64_t asid;
	int runs = 3;
	double *t, *means, *medians, *p99s;
	uint64_t frames = 0, complete = 0;

	if (argc > 4 && !strcmp(argv[3], "-r"))
		runs = atoi(argv[4]);
	if (!f)
		die(argv[2]);
	get(f, &magic, 4);
	if (magic != MAGIC)
		return fprintf(stderr, "unwind_bench: not a snapshot file\n"), 1;
	maps_init(&maps);
	asid = maps_space_new(&maps, 0, "target"); /* pid 0: files are opened by path */
	get(f, &count, 4);
	for (uint32_t k = 0; k < count; k++) {
		uint64_t start, end, pgoff, dev, ino;
		uint32_t prot, len;
		char name[4096];

		get(f, &start, 8);
		get(f, &end, 8);
		get(f, &pgoff, 8);
		get(f, &prot, 4);
		get(f, &dev, 8);
		get(f, &ino, 8);
		get(f, &len, 4);
		if (len >= sizeof(name))
			return fprintf(stderr, "unwind_bench: bad name\n"), 1;
		get(f, name, len);
		name[len] = 0;
		if (maps_add(&maps, (uint32_t)asid, start, end, pgoff, prot, dev, ino, name) < 0)
			die("maps_add");
	}
	for (;;) {
		struct snap s;
		if (fread(s.regs, sizeof(s.regs), 1, f) != 1)
			break;
		get(f, &s.len, 4);
		s.stack = malloc(s.len ? s.len : 1);
		if (!s.stack)
			die("malloc");
		get(f, s.stack, s.len);
		if (nsnaps == cap) {
			cap = cap ? cap * 2 : 1024;
			snaps = realloc(snaps, cap * sizeof(*snaps));
			if (!snaps)
				die("realloc");
		}
		snaps[nsnaps++] = s;
	}
	fclose(f);
	if (!nsnaps)
		return fprintf(stderr, "unwind_bench: no snapshots\n"), 1;
	t = malloc(nsnaps * sizeof(*t));
	means = malloc((size_t)runs * sizeof(double));
	medians = malloc((size_t)runs * sizeof(double));
	p99s = malloc((size_t)runs * sizeof(double));
	if (!t || !means || !medians || !p99s)
		die("malloc");
	for (int r = 0; r < runs; r++) {
		struct unwind *u;
		char err[128];
		double cpu0 = clock_us(CLOCK_THREAD_CPUTIME_ID);

		if (unwind_open(&u, &maps, err, sizeof(err)) < 0)
			return fprintf(stderr, "unwind_bench: %s\n", err), 1;
		for (size_t i = 0; i < nsnaps; i++) {
			struct unwind_snapshot us;
			uint64_t out[512];
			bool done;
			double t0;
			int n;

			memcpy(us.regs, snaps[i].regs, sizeof(us.regs));
			us.regs_mask = (1u << UNWIND_NREGS) - 1;
			us.stack = snaps[i].stack;
			us.stack_len = snaps[i].len;
			t0 = now_us();
			n = unwind_stack(u, (uint32_t)asid, &us, out, 512, &done);
			t[i] = now_us() - t0;
			if (r == 0) {
				frames += (uint64_t)(n > 0 ? n : 0);
				complete += done;
			}
		}
		unwind_close(u);
		/* the mean is CPU time (this thread's, unwinder set-up included), so that
		 * preemption on a loaded machine does not count; median and p99 are the
		 * wall time of single unwinds */
		means[r] = (clock_us(CLOCK_THREAD_CPUTIME_ID) - cpu0) / (double)nsnaps;
		qsort(t, nsnaps, sizeof(*t), cmp_double);
		medians[r] = t[nsnaps / 2];
		p99s[r] = t[nsnaps * 99 / 100];
	}
	qsort(means, (size_t)runs, sizeof(double), cmp_double);
	qsort(medians, (size_t)runs, sizeof(double), cmp_double);
	qsort(p99s, (size_t)runs, sizeof(double), cmp_double);
	/* medians over the runs */
	printf("%zu %.2f %.2f %.1f %.2f %.1f\n", nsnaps, means[runs / 2], medians[runs / 2],
	       p99s[runs / 2], (double)frames / (double)nsnaps,
	       100.0 * (double)complete / (double)nsnaps);
	for (size_t i = 0; i < nsnaps; i++)
		free(snaps[i].stack);
	free(snaps);
	free(t);
	free(means);
	free(medians);
	free(p99s);
	maps_release(&maps);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "capture"))
		return capture(argc, argv);
	if (argc > 2 && !strcmp(argv[1], "run"))
		return run(argc, argv);
	fprintf(stderr, "usage: unwind_bench capture OUT [-n N] [-s STACK] [-u USEC] [-i INPUT] "
			"-- CMD... | run IN [-r RUNS]\n");
	return 2;
}
