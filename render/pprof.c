/* TODO: the pprof writer is being written. */
#include "render/pprof.h"

#include "common/err.h"

#include <errno.h>

int pprof_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	       size_t errsz)
{
	(void)p;
	(void)o;
	(void)out;
	return errf(err, errsz, -ENOSYS, "the pprof writer is not built yet");
}
