/*
 * resolve: a recording's unique address stacks to a profile. Every unique address
 * is symbolized once (libdw: function, inlined callers, file:line; ELF symbols;
 * kallsyms; perf-PID.map; Python frames as the profiler read them), and each stack
 * becomes a root-first list of interned frames added to the profile's trie, with
 * the recorded detail (mappings, locations, samples, threads) pprof needs.
 * Reads profiler/stacks.h and profiler/maps.h, fills render/profile.h; the only
 * module that sees both sides. Never prints.
 */
#ifndef SCORCH_SYMBOLIZER_RESOLVE_H
#define SCORCH_SYMBOLIZER_RESOLVE_H

#include "profiler/maps.h"
#include "profiler/stacks.h"
#include "render/profile.h"

#include <stdbool.h>
#include <stddef.h>

enum resolve_group {
	RESOLVE_GROUP_NONE,    /* one trie for all processes and threads */
	RESOLVE_GROUP_PROCESS, /* a root frame "comm-PID" per process */
	RESOLVE_GROUP_THREAD,  /* a root frame "comm-PID/TID" per thread */
};

struct resolve_opts {
	bool lines;        /* file:line on every frame ("func (file.c:12)") */
	bool inlines;      /* inlined functions as their own _[i] frames */
	bool demangle;     /* C++ and Rust names demangled */
	bool python_only;  /* keep only Python frames */
	enum resolve_group group;
};

struct resolve_stats {
	size_t addresses;   /* unique addresses resolved */
	size_t unresolved;  /* of them, with no symbol (module+0xOFF or [unknown]) */
	size_t files;       /* ELF files opened */
	size_t kernel;      /* unique kernel addresses */
	bool kernel_hidden; /* /proc/kallsyms showed only zero addresses (kptr_restrict, or
			       perf_event_paranoid without CAP_SYSLOG): every kernel part of
			       a stack is one [kernel] frame */
	size_t jit;         /* unique addresses named from a perf-PID.map */
};

/* Resolves stacks (whose addresses live in maps) into p, which must be empty of
 * stacks. Fills p->meta's sample, lost and complete counts from s. 0, or -errno
 * with err filled; stats may be NULL. */
int resolve_profile(const struct stacks *s, const struct maps *m, const struct resolve_opts *o,
		    struct profile *p, struct resolve_stats *stats, char *err, size_t errsz);

#endif
