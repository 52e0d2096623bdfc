/* Fuzz target: perf script text read (render/perfscript.c), then written as folded
 * stacks and as speedscope JSON. */
#include "render/perfscript.h"
#include "render/write.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfscript_opts o = {0};
	struct perfscript_stats st;
	struct profile *p = profile_new();
	char err[256];
	FILE *in, *out;

	if (!p)
		return 0;
	/* the first byte picks options, so option paths get fuzzed too */
	if (size > 0) {
		o.pid = data[0] & 1;
		o.tid = data[0] & 2;
		o.no_kernel = data[0] & 4;
		o.addrs = data[0] & 8;
		o.period = data[0] & 16;
		o.strict = data[0] & 32;
		data++;
		size--;
	}
	in = fmemopen((void *)data, size ? size : 1, "r");
	if (in) {
		if (size && perfscript_read(p, in, &o, &st, err, sizeof(err)) == 0) {
			out = fopen("/dev/null", "w");
			if (out) {
				write_profile_stream(p, out, WRITE_FORMAT_FOLDED, NULL, err, sizeof(err));
				write_profile_stream(p, out, WRITE_FORMAT_SPEEDSCOPE, NULL, err,
						     sizeof(err));
				fclose(out);
			}
		}
		fclose(in);
	}
	profile_free(p);
	return 0;
}
