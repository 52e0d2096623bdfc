/* TODO: the perf sampler is being written. */
#include "profiler/sampler.h"

#include "common/err.h"

#include <errno.h>

static int start(void **state, struct sampler_ctx *ctx, char *err, size_t errsz)
{
	(void)state;
	(void)ctx;
	return errf(err, errsz, -ENOSYS, "the perf sampler is not built yet");
}

static int read_samples(void *state, int timeout_ms)
{
	(void)state;
	(void)timeout_ms;
	return -ENOSYS;
}

static void stop(void *state)
{
	(void)state;
}

const struct sampler_ops sampler_perf = {"perf", start, read_samples, stop};
