/* Fuzz target: the perf script reader (render/perfscript.c), then the folded writer on
 * what it read. The first byte picks the reader's options, so that the pid/tid roots,
 * kernel-frame dropping, addresses, periods and strict mode are fuzzed too. */
#include "render/folded.h"
#include "render/perfscript.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfscript_opts o = {0};
	struct perfscript_stats st;
	struct profile *p;
	char err[256];
	FILE *in, *out;

	if (size == 0)
		return 0;
	o.pid = data[0] & 1;
	o.tid = data[0] & 2;
	o.no_kernel = data[0] & 4;
	o.addrs = data[0] & 8;
	o.period = data[0] & 16;
	o.strict = data[0] & 32;
	o.event = (data[0] & 64) ? "cpu-clock" : NULL;
	data++;
	size--;
	p = profile_new();
	if (!p)
		return 0;
	in = fmemopen((void *)data, size ? size : 1, "r");
	if (in) {
		if (size && perfscript_read(p, in, &o, &st, err, sizeof(err)) == 0) {
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
