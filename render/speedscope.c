/* TODO: the speedscope writer is being written. */
#include "render/speedscope.h"

#include "common/err.h"

#include <errno.h>

int speedscope_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	       size_t errsz)
{
	(void)p;
	(void)o;
	(void)out;
	return errf(err, errsz, -ENOSYS, "the speedscope writer is not built yet");
}
