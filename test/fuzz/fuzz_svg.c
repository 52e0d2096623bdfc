/* Fuzz target: folded stacks read, then written as svg (escaping, layout, encoding). */
#include "render/folded.h"
#include "render/write.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct folded_opts o = {0};
	struct write_opts wo = {0};
	struct folded_stats st;
	struct profile *p = profile_new();
	char err[256];
	FILE *in, *out;

	if (!p)
		return 0;
	/* the first byte picks options, so option paths get fuzzed too */
	if (size > 0) {
		wo.inverted = data[0] & 1;
		wo.reverse = data[0] & 2;
		wo.sort_weight = data[0] & 4;
		wo.flamechart = data[0] & 8;
		wo.minwidth = (data[0] & 16) ? 0 : 0.1;
		p->flamechart = wo.flamechart;
		data++;
		size--;
	}
	in = fmemopen((void *)data, size ? size : 1, "r");
	if (in) {
		if (size && folded_read(p, in, &o, &st, err, sizeof(err)) == 0) {
			out = fopen("/dev/null", "w");
			if (out) {
				write_profile_stream(p, out, WRITE_FORMAT_SVG, &wo, err, sizeof(err));
				fclose(out);
			}
		}
		fclose(in);
	}
	profile_free(p);
	return 0;
}
