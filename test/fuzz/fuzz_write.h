/*
 * The body the writer fuzz targets share (fuzz_svg.c, fuzz_pprof.c): folded stacks
 * read, then written in one format. The first byte picks options, so that the
 * option paths get fuzzed too.
 */
#ifndef SCORCH_FUZZ_WRITE_H
#define SCORCH_FUZZ_WRITE_H

#include "render/folded.h"
#include "render/write.h"

#include <stdint.h>
#include <stdio.h>

static int fuzz_write(const uint8_t *data, size_t size, enum write_format format)
{
	struct folded_opts o = {0};
	struct write_opts wo = {0};
	struct folded_stats st;
	struct profile *p = profile_new();
	char err[256];
	FILE *in, *out;

	if (!p)
		return 0;
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
				write_profile_stream(p, out, format, &wo, err, sizeof(err));
				fclose(out);
			}
		}
		fclose(in);
	}
	profile_free(p);
	return 0;
}

#endif
