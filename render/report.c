/* TODO: the report writer is being written. */
#include "render/report.h"

#include "common/err.h"

#include <errno.h>

int report_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	       size_t errsz)
{
	(void)p;
	(void)o;
	(void)out;
	return errf(err, errsz, -ENOSYS, "the report writer is not built yet");
}
