/* TODO: the svg writer is being written. */
#include "render/svg.h"

#include "common/err.h"

#include <errno.h>

int svg_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	       size_t errsz)
{
	(void)p;
	(void)o;
	(void)out;
	return errf(err, errsz, -ENOSYS, "the svg writer is not built yet");
}
