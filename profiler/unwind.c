/* TODO(#3): the libunwind remote unwinder is being written. */
#include "profiler/unwind.h"

#include "common/err.h"
#include "profiler/stacks.h"

#include <errno.h>
#include <stdlib.h>

struct unwind {
	const struct maps *maps;
};

int unwind_open(struct unwind **out, const struct maps *maps, char *err, size_t errsz)
{
	struct unwind *u = calloc(1, sizeof(*u));

	if (!u)
		return errf(err, errsz, -ENOMEM, "out of memory");
	u->maps = maps;
	*out = u;
	return 0;
}

int unwind_stack(struct unwind *u, uint32_t asid, const struct unwind_snapshot *snap,
		 uint64_t *out, size_t cap, bool *complete)
{
	(void)u;
	(void)asid;
	*complete = false;
	if (!cap || !(snap->regs_mask & (1u << UNWIND_REG_RIP)))
		return 0;
	out[0] = stack_make(STACK_TAG_EXACT, snap->regs[UNWIND_REG_RIP]);
	return 1;
}

void unwind_flush(struct unwind *u, uint32_t asid)
{
	(void)u;
	(void)asid;
}

void unwind_close(struct unwind *u)
{
	free(u);
}
