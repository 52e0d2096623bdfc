/* TODO: the folded reader and writer are being written. */
#include "render/folded.h"

#include "common/err.h"

#include <errno.h>

int folded_read(struct profile *p, FILE *in, const struct folded_opts *o,
		struct folded_stats *stats, char *err, size_t errsz)
{
	(void)p;
	(void)in;
	(void)o;
	(void)stats;
	return errf(err, errsz, -ENOSYS, "the folded reader is not built yet");
}

int folded_write(const struct profile *p, FILE *out, char *err, size_t errsz)
{
	(void)p;
	(void)out;
	return errf(err, errsz, -ENOSYS, "the folded writer is not built yet");
}

int folded_write_diff(const struct profile *p, FILE *out, char *err, size_t errsz)
{
	(void)p;
	(void)out;
	return errf(err, errsz, -ENOSYS, "the folded writer is not built yet");
}
