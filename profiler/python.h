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
struct python_reader;

#define PYTHON_MAX_FRAMES 1024 /* Python frames of one thread */
#define PYTHON_MAX_SEGS (PYTHON_MAX_FRAMES + 64)

enum python_chain_status {
	PYTHON_CHAIN_UNREAD, /* the reader did not know the process yet: merge reads it */
	PYTHON_CHAIN_OK,     /* frames[0..nframes) (innermost first), seg_end[0..nsegs) */
	PYTHON_CHAIN_FAULT,  /* the chain could not be read through */
};

/* A thread's Python frames as read at one instant, not interpreted yet: code object
 * addresses and instruction offsets, and where each evaluation-loop call's frames
 * end. The ptrace sampler reads it while the thread is stopped (python_read) and
 * hands it to python_merge_chain later. */
struct python_chain {
	enum python_chain_status status;
	uint32_t nframes, nsegs;
	struct python_frame {
		uint64_t code; /* code object address */
		int64_t off;   /* byte offset of the instruction, -1: not started */
	} frames[PYTHON_MAX_FRAMES];
	uint32_t seg_end[PYTHON_MAX_SEGS]; /* frame index one past each segment */
};

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
/* python_merge with the chain read earlier (chain->status PYTHON_CHAIN_UNREAD or a
 * NULL chain: read now, as python_merge does). */
int python_merge_chain(struct python *py, struct stacks *s, uint32_t asid, uint32_t pid,
		       uint32_t tid, const struct python_chain *chain, const uint64_t *native,
		       size_t n, uint64_t *out, size_t cap, bool python_only);

/* A reader of chains for another thread than the merging one (the ptrace tracer,
 * while a thread is stopped). It learns each process's interpreter from what py
 * detected (python_reader_sync, a short lock: call it outside stops) and keeps its own
 * caches; python_read takes no lock. One reader per thread; py outlives it. */
int python_reader_open(struct python_reader **out, struct python *py);
void python_reader_sync(struct python_reader *r);
/* Reads tid's chain into c (status UNREAD when pid is not known as CPython). */
void python_read(struct python_reader *r, uint32_t pid, uint32_t tid, struct python_chain *c);
/* pid executed or exited: drops what is known of it, and what py still holds of its
 * former program. */
void python_reader_forget(struct python_reader *r, uint32_t pid);
void python_reader_close(struct python_reader *r); /* NULL is fine */

/* Whether address space asid (process pid, its mappings read) runs a CPython this
 * reader supports. */
bool python_in_space(struct python *py, uint32_t asid, uint32_t pid);
/* Whether running argv0 (looked up in PATH as execvp does, through one "#!" line and
 * /usr/bin/env) starts a CPython: an ELF file that defines _PyRuntime or needs a
 * libpython3 library. A guess made before the command runs; never fails loudly. */
bool python_command(const char *argv0);

/* Forgets what is known of asid (exec). */
void python_forget(struct python *py, uint32_t asid);
void python_close(struct python *py); /* NULL is fine */

#endif
