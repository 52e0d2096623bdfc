/*
 * sampler: what the perf_event and ptrace samplers share. A small ops table that
 * sampler_perf.c and sampler_ptrace.c fill in, the options both take, and the sink
 * every sample goes to (sampler_emit: Python merge, then stacks_add). The CLI picks
 * a sampler, starts it after the target is launched or attached, calls read until
 * the recording ends, then stop, which always detaches from every thread.
 */
#ifndef SCORCH_PROFILER_SAMPLER_H
#define SCORCH_PROFILER_SAMPLER_H

#include "profiler/maps.h"
#include "profiler/stacks.h"
#include "profiler/target.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unwind;
struct python;
struct python_chain;

enum sampler_callgraph { SAMPLER_CALLGRAPH_DWARF, SAMPLER_CALLGRAPH_FP };

struct sampler_opts {
	uint32_t freq_hz;          /* samples per second per thread (cpu-clock) */
	uint32_t stack_size;       /* bytes of user stack copied per sample */
	enum sampler_callgraph callgraph;
	bool kernel;               /* kernel frames too, when permitted */
	bool wall;                 /* wall clock: every thread at each tick, on or off CPU */
	bool python;               /* merge CPython frames */
	bool python_only;          /* keep only Python frames */
	bool inherit;              /* follow children and threads (always for a command) */
};

/* Everything a sampler writes into; owned by the caller (cmd_record). */
struct sampler_ctx {
	const struct sampler_opts *opts;
	struct target *target;
	struct stacks *stacks;
	struct maps *maps;
	struct unwind *unwind;
	struct python *python; /* NULL unless opts->python */
	char notice[256];      /* set by start: a one-line remark for the user (what the
				  sampler could not do as asked), or "" */
};

struct sampler_ops {
	const char *name; /* "perf" or "ptrace" */
	/* Sets up sampling of every thread of ctx->target (launched: before release).
	 * 0, or -errno with a message in err (-EPERM / -EACCES / -ENOSYS when the
	 * mechanism is not allowed, so that auto mode can fall back). */
	int (*start)(void **state, struct sampler_ctx *ctx, char *err, size_t errsz);
	/* Waits at most timeout_ms for samples and processes what arrived. Returns 1
	 * while the target lives, 0 once every target process has exited, -errno on
	 * failure. */
	int (*read)(void *state, int timeout_ms);
	/* Stops sampling, processes what is left, detaches from every thread (never
	 * leaving one stopped) and frees the state. NULL state is fine. */
	void (*stop)(void *state);
};

extern const struct sampler_ops sampler_perf;
extern const struct sampler_ops sampler_ptrace;

/* The sink: merges Python frames when enabled, then adds the stack (leaf first) to
 * ctx->stacks. 0 or -ENOMEM. */
int sampler_emit(struct sampler_ctx *ctx, uint32_t asid, uint32_t pid, uint32_t tid,
		 uint32_t flags, const uint64_t *addrs, uint32_t depth);

/* Merges Python frames into the native stack addrs[0..depth) (leaf first) when
 * enabled: from chain, read while the thread was stopped, or read now (chain NULL).
 * Writes the result to out (cap entries) and returns its depth. */
int sampler_merge(struct sampler_ctx *ctx, uint32_t asid, uint32_t pid, uint32_t tid,
		  const struct python_chain *chain, const uint64_t *addrs, uint32_t depth,
		  uint64_t *out, size_t cap);

/* Depth limit of a stack, in entries. */
#define SAMPLER_MAX_DEPTH 4096

#endif
