/*
 * pysample: a development driver of profiler/python.c that needs neither the
 * samplers nor the symbolizer. Attaches to every thread of PID with ptrace, every
 * INTERVAL_MS stops each thread, unwinds it with libunwind-ptrace, merges its Python
 * frames with python_merge while it is stopped, and lets it go; at the end prints
 * folded stacks (native frames by libunwind's nearest symbol, Python frames as
 * "func (file:line)") and the mismatch count on stderr.
 *
 *   pysample PID SECONDS INTERVAL_MS [python-only|no-python]
 *
 * Build: make && gcc -std=gnu11 -I. -o build/pysample test/tools/pysample.c \
 *   build/profiler/python.o build/profiler/python_layout.o build/profiler/maps.o \
 *   build/profiler/stacks.o build/common/(all).o -lelf -lunwind-ptrace -lunwind-generic
 */
#include "profiler/maps.h"
#include "profiler/python.h"
#include "profiler/stacks.h"

#include <dirent.h>
#include <errno.h>
#include <libunwind-ptrace.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXD 512

struct name {
	uint64_t pc;
	char s[128];
};
static struct name names[1 << 16];

static const char *name_of(uint64_t pc)
{
	size_t i = (pc * 0x9e3779b97f4a7c15ull) >> 48;

	while (names[i].pc && names[i].pc != pc)
		i = (i + 1) & 0xffff;
	return names[i].pc ? names[i].s : NULL;
}

static void name_set(uint64_t pc, const char *s)
{
	size_t i = (pc * 0x9e3779b97f4a7c15ull) >> 48;

	while (names[i].pc && names[i].pc != pc)
		i = (i + 1) & 0xffff;
	names[i].pc = pc;
	snprintf(names[i].s, sizeof(names[i].s), "%s", s);
}

int main(int argc, char **argv)
{
	struct maps m;
	struct stacks s;
	struct python *py;
	char err[256];
	int pid, secs, ms, ntids = 0, tids[256];
	bool python_only, no_python;
	unw_addr_space_t as;
	struct timespec t0, t;
	DIR *d;
	struct dirent *de;
	char path[64];
	uint64_t nsamples = 0;

	if (argc < 4)
		return 2;
	pid = atoi(argv[1]);
	secs = atoi(argv[2]);
	ms = atoi(argv[3]);
	python_only = argc > 4 && !strcmp(argv[4], "python-only");
	no_python = argc > 4 && !strcmp(argv[4], "no-python");
	maps_init(&m);
	stacks_init(&s);
	maps_space_new(&m, (uint32_t)pid, "py");
	if (maps_read_proc(&m, 0, (uint32_t)pid, err, sizeof(err)) < 0 ||
	    python_open(&py, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	as = unw_create_addr_space(&_UPT_accessors, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= secs || kill(pid, 0) < 0)
			break;
		/* threads may come and go: attach to the new ones */
		d = opendir(path);
		if (!d)
			break;
		while ((de = readdir(d))) {
			int tid = atoi(de->d_name), k;
			if (tid <= 0)
				continue;
			for (k = 0; k < ntids && tids[k] != tid; k++)
				;
			if (k == ntids && ntids < 256 && ptrace(PTRACE_SEIZE, tid, 0, 0) == 0)
				tids[ntids++] = tid;
		}
		closedir(d);
		for (int k = 0; k < ntids; k++) {
			int tid = tids[k], st;
			uint64_t native[MAXD], merged[4096];
			size_t n = 0;
			int depth;
			void *ui;
			unw_cursor_t c;

			if (tid < 0 || ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
				tids[k] = -1;
				continue;
			}
			if (waitpid(tid, &st, __WALL) < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
				tids[k] = -1;
				continue;
			}
			ui = _UPT_create(tid);
			if (unw_init_remote(&c, as, ui) == 0) {
				do {
					unw_word_t ip, off;
					char nm[128];
					if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0)
						break;
					native[n] = stack_make(n ? STACK_TAG_USER : STACK_TAG_EXACT, ip);
					n++;
					if (!name_of(ip)) {
						if (unw_get_proc_name(&c, nm, sizeof(nm), &off) < 0)
							snprintf(nm, sizeof(nm), "0x%lx", (unsigned long)ip);
						name_set(ip, nm);
					}
				} while (n < MAXD && unw_step(&c) > 0);
			}
			_UPT_destroy(ui);
			if (no_python) {
				stacks_add(&s, 0, (uint32_t)tid, 0, native, (uint32_t)n, 1);
				nsamples++;
				ptrace(PTRACE_CONT, tid, 0, 0);
				continue;
			}
			depth = python_merge(py, &s, 0, (uint32_t)pid, (uint32_t)tid, native, n, merged,
					     4096, python_only);
			stacks_add(&s, 0, (uint32_t)tid, 0, merged, (uint32_t)depth, 1);
			nsamples++;
			/* a group stop or signal stop: let it go on as it would */
			if (WSTOPSIG(st) != SIGTRAP && (st >> 16) != PTRACE_EVENT_STOP)
				ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(st));
			else
				ptrace(PTRACE_CONT, tid, 0, 0);
		}
		{
			int live = 0;
			for (int k = 0; k < ntids; k++)
				live += tids[k] > 0;
			if (ntids && !live)
				break;
		}
		usleep((useconds_t)ms * 1000);
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct stack *st = &s.v[i];
		for (size_t j = st->depth; j-- > 0;) {
			uint64_t a = s.addrs[st->first + j];
			if (stack_tag(a) == STACK_TAG_PYTHON) {
				const struct stack_pyframe *f = &s.pyframes[stack_value(a)];
				printf("%s (%s:%u)", stacks_str(&s, f->func), stacks_str(&s, f->file),
				       f->line);
			} else {
				const char *nm = name_of(stack_value(a));
				printf("%s", nm ? nm : "?");
			}
			putchar(j ? ';' : ' ');
		}
		printf("%llu\n", (unsigned long long)st->count);
	}
	fprintf(stderr, "samples %llu mismatch %llu\n", (unsigned long long)nsamples,
		(unsigned long long)s.py_mismatch);
	for (int k = 0; k < ntids; k++)
		if (tids[k] > 0)
			ptrace(PTRACE_DETACH, tids[k], 0, 0);
	python_close(py);
	stacks_release(&s);
	maps_release(&m);
	return 0;
}
