/*
 * perfmap: JIT symbols from /tmp/perf-PID.map, the file a JIT writes for perf
 * (python3.12 -X perf, node --perf-basic-prof): one "START SIZE name" per line,
 * START and SIZE hex without 0x, the name the rest of the line. Where code was
 * reused, later lines win. Owns its memory. Never prints.
 */
#ifndef SCORCH_SYMBOLIZER_PERFMAP_H
#define SCORCH_SYMBOLIZER_PERFMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct perfmap_sym {
	uint64_t start, end; /* [start, end) */
	uint32_t seq;        /* line number: later lines win */
	uint32_t name;       /* offset in perfmap.strs */
};

struct perfmap {
	struct perfmap_sym *v; /* sorted by start */
	size_t n, cap;
	char *strs;
	size_t strs_len, strs_cap;
	size_t bad; /* lines that did not parse */
};

/* Who may have written the file: the checks perf makes, since /tmp is
 * world-writable and the file outlives the process (pid reuse). */
struct perfmap_check {
	uid_t uid;          /* owner expected besides root */
	int64_t min_mtime;  /* skip a file last written before this (unix seconds); 0: any */
};

void perfmap_init(struct perfmap *pm);
void perfmap_release(struct perfmap *pm);

/* Parses the lines of f into pm (added to what it holds). 0 or -ENOMEM. */
int perfmap_parse(struct perfmap *pm, FILE *f);
/* Opens path, checks its owner and age against chk (NULL: no checks), parses it.
 * 0; -ENOENT when absent; -EPERM when the checks reject it (err says why);
 * other -errno with err filled. */
int perfmap_read(struct perfmap *pm, const char *path, const struct perfmap_check *chk,
		 char *err, size_t errsz);

/* The name of the latest symbol holding addr, or NULL. Lives until
 * perfmap_release(). */
const char *perfmap_lookup(const struct perfmap *pm, uint64_t addr);

#endif
