/*
 * demangle: C++ and Rust symbol names to what a person reads, with libiberty's
 * cplus_demangle (DMGL_AUTO, no parameters: "ns::Acc<double>::run", clone suffixes
 * such as .cold and .constprop.0 dropped so that clones merge), as perf does by
 * default. Only names that start with _Z or _R are tried; each name is demangled once
 * and cached. Owns the cache. Never prints.
 */
#ifndef SCORCH_SYMBOLIZER_DEMANGLE_H
#define SCORCH_SYMBOLIZER_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

struct demangle;

/* An empty cache, or NULL on ENOMEM. */
struct demangle *demangle_new(void);
void demangle_free(struct demangle *d); /* NULL is fine */

/* True if name looks mangled (starts with _Z or _R). */
bool demangle_is_mangled(const char *name);

/* The demangled form of name, or name itself when it is not mangled, cannot be
 * demangled or memory runs out. The result lives until demangle_free() (or as long
 * as name, when name is returned). */
const char *demangle_name(struct demangle *d, const char *name);

#endif
