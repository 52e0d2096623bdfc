#include "profiler/sampler.h"

#include "profiler/python.h"

int sampler_emit(struct sampler_ctx *ctx, uint32_t asid, uint32_t pid, uint32_t tid,
		 uint32_t flags, const uint64_t *addrs, uint32_t depth)
{
	uint64_t merged[SAMPLER_MAX_DEPTH];
	int n;

	if (ctx->python) {
		n = python_merge(ctx->python, ctx->stacks, asid, pid, tid, addrs, depth, merged,
				 SAMPLER_MAX_DEPTH, ctx->opts->python_only);
		if (n >= 0)
			return stacks_add(ctx->stacks, asid, tid, flags, merged, (uint32_t)n, 1);
	}
	return stacks_add(ctx->stacks, asid, tid, flags, addrs, depth, 1);
}
