/* TODO(#3): the resolver is being written. */
#include "symbolizer/resolve.h"

#include "common/err.h"

#include <errno.h>

int resolve_profile(const struct stacks *s, const struct maps *m, const struct resolve_opts *o,
		    struct profile *p, struct resolve_stats *stats, char *err, size_t errsz)
{
	(void)s;
	(void)m;
	(void)o;
	(void)p;
	(void)stats;
	return errf(err, errsz, -ENOSYS, "the symbolizer is not built yet");
}
