/* Fuzz target: the folded reader, then the folded writer on what it read. */
#include "render/folded.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct folded_opts o = {0};
	struct folded_stats st;
	struct profile *p = profile_new();
	char err[256];
	FILE *in, *out;

	if (!p)
		return 0;
	in = fmemopen((void *)data, size, "r");
	if (in) {
		if (folded_read(p, in, &o, &st, err, sizeof(err)) == 0) {
			out = fopen("/dev/null", "w");
			if (out) {
				folded_write(p, out, err, sizeof(err));
				fclose(out);
			}
		}
		fclose(in);
	}
	profile_free(p);
	return 0;
}
