#include "profiler/sampler.h"

#include "profiler/python.h"

#include <string.h>

int sampler_merge(struct sampler_ctx *ctx, uint32_t asid, uint32_t pid, uint32_t tid,
		  const struct python_chain *chain, const uint64_t *addrs, uint32_t depth,
		  uint64_t *out, size_t cap)
{
	int n = -1;

	if (ctx->python)
		n = python_merge_chain(ctx->python, ctx->stacks, asid, pid, tid, chain, addrs, depth,
				       out, cap, ctx->opts->python_only);
	if (n < 0) {
		n = depth < cap ? (int)depth : (int)cap;
		memmove(out, addrs, (size_t)n * sizeof(*out));
	}
	return n;
}

int sampler_emit(struct sampler_ctx *ctx, uint32_t asid, uint32_t pid, uint32_t tid,
		 uint32_t flags, const uint64_t *addrs, uint32_t depth)
{
	uint64_t merged[SAMPLER_MAX_DEPTH];
	int n;

	if (!ctx->python)
		return stacks_add(ctx->stacks, asid, tid, flags, addrs, depth, 1);
	n = sampler_merge(ctx, asid, pid, tid, NULL, addrs, depth, merged, SAMPLER_MAX_DEPTH);
	return stacks_add(ctx->stacks, asid, tid, flags, merged, (uint32_t)n, 1);
}
