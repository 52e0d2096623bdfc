/*
 * python: CPython frames of a sampled thread, merged into its native stack. Finds
 * the runtime state of CPython 3.8 to 3.13 in a target (executable or libpython),
 * reads the thread's frame chain with process_vm_readv, and replaces each native
 * frame of the evaluation loop with the Python frames it runs. Owns per-process
 * interpreter descriptions and caches of code objects. Never prints.
 */
#ifndef SCORCH_PROFILER_PYTHON_H
#define SCORCH_PROFILER_PYTHON_H

#include "profiler/maps.h"
#include "profiler/stacks.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct python;

/* Opens the Python frame reader over maps (lent until python_close). 0 or -errno. */
int python_open(struct python **out, const struct maps *maps, char *err, size_t errsz);
/* Merges thread tid's Python frames into the native stack native[0..n) (leaf first)
 * of address space asid, interning frames in s. Writes the merged stack to out
 * (cap entries) and returns its depth; returns n and copies native unchanged when
 * the process runs no CPython or the thread runs no Python code. A chain that does
 * not match the native stack counts in s->py_mismatch and the native stack is kept.
 * python_only keeps only Python frames. Call while the thread is stopped (ptrace) or
 * right after the sample (perf). */
int python_merge(struct python *py, struct stacks *s, uint32_t asid, uint32_t pid, uint32_t tid,
		 const uint64_t *native, size_t n, uint64_t *out, size_t cap, bool python_only);
/* Forgets what is known of asid (exec). */
void python_forget(struct python *py, uint32_t asid);
void python_close(struct python *py); /* NULL is fine */

#endif
