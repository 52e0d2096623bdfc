/*
 * symbolize_bench: times resolve_profile on the addresses of a live process, for
 * bench/symbolize.sh. The addresses come either from `perf script -F ip` output
 * (callchains, one sample per blank-line-separated block, leaf first: a real set) or
 * are drawn at random from the executable bytes of the mappings whose path contains
 * the given substrings (a pessimistic spread). Prints one line of figures; with
 * --dump FILE also writes "ADDR<TAB>func (file:line);inlined-by (file:line);..." per
 * unique location (the
 * address looked up, runtime, innermost first) for the agreement check against
 * eu-addr2line.
 *
 * usage: symbolize_bench -p PID (--perf-script FILE | --random N --in SUBSTR...)
 *                        [--lines] [--no-inline] [--symbols] [--dump FILE]
 */
#include "profiler/maps.h"
#include "profiler/stacks.h"
#include "render/profile.h"
#include "symbolizer/resolve.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A field of /proc/self/status in kB. */
static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* `perf script -F ip,dso --no-inline` prints each frame as "REL (PATH)", REL relative
 * to the file (its offset where text is mapped 1:1, as for every file here): back to
 * the runtime address through the live process's mapping of PATH. */
static bool to_runtime(const struct maps *m, uint32_t asid, uint64_t rel, const char *path,
		       uint64_t *out)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct maps_entry *e = &m->v[i];
		if (e->asid != asid || !(e->prot & PROT_EXEC) || e->file == MAPS_ANON ||
		    strcmp(maps_str(m, e->name), path))
			continue;
		if (rel >= e->pgoff && rel < e->pgoff + (e->end - e->start)) {
			*out = e->start + rel - e->pgoff;
			return true;
		}
	}
	return false;
}

static int add_perf_script(struct stacks *s, const struct maps *m, uint32_t asid, uint32_t pid,
			   const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	uint64_t addrs[1024];
	uint32_t n = 0;
	bool bad = false;

	if (!f) {
		perror(path);
		return -1;
	}
	for (;;) {
		char *ok = fgets(line, sizeof(line), f);
		char *p = line, *end, *open, *close;
		uint64_t rel, a;

		while (ok && (*p == ' ' || *p == '\t'))
			p++;
		if (!ok || *p == '\n' || *p == 0) {
			/* a sample with a frame outside the process's files is left out */
			if (n && !bad)
				stacks_add(s, asid, pid, 0, addrs, n, 1);
			n = 0;
			bad = false;
			if (!ok)
				break;
			continue;
		}
		rel = strtoull(p, &end, 16);
		open = strchr(end, '(');
		close = open ? strrchr(open, ')') : NULL;
		if (end == p || !close || n == 1024)
			continue;
		*close = 0;
		if (!strcmp(open + 1, "[kernel.kallsyms]"))
			continue; /* the bench times user symbolization */
		if (!to_runtime(m, asid, rel, open + 1, &a)) {
			bad = true;
			continue;
		}
		/* perf's first frame is the sampled pc, the rest return addresses */
		addrs[n] = stack_make(n ? STACK_TAG_USER : STACK_TAG_EXACT, a);
		n++;
	}
	fclose(f);
	return 0;
}

static void add_random(struct stacks *s, const struct maps *m, uint32_t asid, uint32_t pid,
		       size_t count, char **in, int nin)
{
	uint64_t state = 0x9e3779b97f4a7c15ULL;

	/* count / nin distinct addresses from each named module's executable bytes */
	for (int k = 0; k < nin; k++) {
		uint64_t total = 0;
		size_t want = count / (size_t)nin, got = 0;

		for (size_t i = 0; i < m->n; i++) {
			const struct maps_entry *e = &m->v[i];
			if (e->asid == asid && (e->prot & PROT_EXEC) && e->file != MAPS_ANON &&
			    strstr(maps_str(m, e->name), in[k]))
				total += e->end - e->start;
		}
		if (!total) {
			fprintf(stderr, "no executable mapping of %s\n", in[k]);
			continue;
		}
		while (got < want) {
			uint64_t r = rnd(&state) % total;
			for (size_t i = 0; i < m->n; i++) {
				const struct maps_entry *e = &m->v[i];
				uint64_t a;
				if (e->asid != asid || !(e->prot & PROT_EXEC) || e->file == MAPS_ANON ||
				    !strstr(maps_str(m, e->name), in[k]))
					continue;
				if (r >= e->end - e->start) {
					r -= e->end - e->start;
					continue;
				}
				a = stack_make(STACK_TAG_EXACT, e->start + r);
				size_t before = s->n;
				stacks_add(s, asid, pid, 0, &a, 1, 1);
				if (s->n > before)
					got++;
				break;
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct resolve_opts o = {false, true, true, false, RESOLVE_GROUP_NONE};
	const char *script = NULL, *dump = NULL;
	char *in[8];
	int nin = 0;
	size_t nrandom = 0;
	uint32_t pid = 0;
	struct resolve_stats st;
	struct maps m;
	struct stacks s;
	struct profile *p;
	char err[256];
	double t0, t1, c0, c1;
	long hwm0, hwm1;
	int64_t asid;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc)
			pid = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--perf-script") && i + 1 < argc)
			script = argv[++i];
		else if (!strcmp(argv[i], "--random") && i + 1 < argc)
			nrandom = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--in") && i + 1 < argc && nin < 8)
			in[nin++] = argv[++i];
		else if (!strcmp(argv[i], "--lines"))
			o.lines = true;
		else if (!strcmp(argv[i], "--no-inline"))
			o.inlines = false;
		else if (!strcmp(argv[i], "--symbols"))
			o.inlines = o.lines = false;
		else if (!strcmp(argv[i], "--dump") && i + 1 < argc)
			dump = argv[++i];
		else {
			fprintf(stderr, "usage: %s -p PID (--perf-script FILE | --random N --in SUBSTR...) "
					"[--lines] [--no-inline] [--symbols] [--dump FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (!pid || (!script && !nrandom)) {
		fprintf(stderr, "%s: -p and --perf-script or --random are needed\n", argv[0]);
		return 2;
	}
	maps_init(&m);
	stacks_init(&s);
	asid = maps_space_new(&m, pid, "target");
	if (asid < 0 || maps_read_proc(&m, (uint32_t)asid, pid, err, sizeof(err)) < 0) {
		fprintf(stderr, "symbolize_bench: %s\n", err);
		return 1;
	}
	if (script && add_perf_script(&s, &m, (uint32_t)asid, pid, script) < 0)
		return 1;
	if (nrandom)
		add_random(&s, &m, (uint32_t)asid, pid, nrandom, in, nin);
	p = profile_new();
	hwm0 = status_kb("VmHWM");
	t0 = now_ms(CLOCK_MONOTONIC);
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	if (resolve_profile(&s, &m, &o, p, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "symbolize_bench: %s\n", err);
		return 1;
	}
	t1 = now_ms(CLOCK_MONOTONIC);
	c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	hwm1 = status_kb("VmHWM");
	/* CPU time is the figure to compare: the machine may be shared */
	printf("%zu stacks, %zu unique addresses in %zu files, %zu without symbol: "
	       "cpu %.1f ms (%.1f us/address), wall %.1f ms, peak RSS +%.1f MB\n",
	       s.n, st.addresses, st.files, st.unresolved, c1 - c0,
	       st.addresses ? (c1 - c0) * 1e3 / (double)st.addresses : 0.0, t1 - t0,
	       (hwm1 - hwm0) / 1024.0);
	if (dump) {
		FILE *f = fopen(dump, "w");
		if (!f) {
			perror(dump);
			return 1;
		}
		for (size_t i = 0; i < p->nlocs; i++) {
			const struct profile_location *l = &p->locs[i];
			fprintf(f, "%" PRIx64 "\t", l->addr);
			for (uint32_t k = 0; k < l->nlines; k++) {
				const struct profile_line *ln = &p->lines[l->first_line + k];
				fprintf(f, "%s%s", k ? ";" : "", profile_name(p, ln->func, NULL));
				if (ln->file != PROFILE_NONE)
					fprintf(f, " (%s:%" PRIu32 ")", profile_name(p, ln->file, NULL),
						ln->line);
			}
			fputc('\n', f);
		}
		fclose(f);
	}
	profile_free(p);
	stacks_release(&s);
	maps_release(&m);
	return 0;
}
