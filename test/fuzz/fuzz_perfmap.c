/* Fuzz target: the perf-PID.map parser, then lookups at every symbol's edges. */
#include "symbolizer/perfmap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfmap pm;
	FILE *in = fmemopen((void *)data, size, "r");

	if (!in)
		return 0;
	perfmap_init(&pm);
	if (perfmap_parse(&pm, in) == 0) {
		for (size_t i = 0; i < pm.n; i++) {
			/* every symbol's own start resolves to some symbol */
			if (!perfmap_lookup(&pm, pm.v[i].start))
				abort();
			perfmap_lookup(&pm, pm.v[i].end);
			perfmap_lookup(&pm, pm.v[i].end - 1);
		}
	}
	perfmap_release(&pm);
	fclose(in);
	return 0;
}
