/*
 * pprof: a profile as profile.proto, gzip-compressed (what go tool pprof, Pyroscope,
 * Parca and Grafana read). Recorded profiles keep their locations, mappings and
 * lines; imported stacks give one location per frame name.
 */
#ifndef SCORCH_RENDER_PPROF_H
#define SCORCH_RENDER_PPROF_H

#include "render/profile.h"
#include "render/write.h"

#include <stdio.h>

int pprof_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
		size_t errsz);

#endif
