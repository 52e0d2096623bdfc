/*
 * ptrace_map: a small open-addressing hash map from a 64-bit key to a 64-bit value,
 * private to the ptrace sampler (threads by tid, processes by pid, threads already
 * reported by (asid, tid)). Owns its arrays. Never prints.
 */
#ifndef SCORCH_PROFILER_PTRACE_MAP_H
#define SCORCH_PROFILER_PTRACE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ptrace_map {
	uint64_t *keys;
	uint64_t *vals;
	uint8_t *used; /* 0 empty, 1 full, 2 deleted */
	size_t cap;    /* slots, a power of two (0 while empty) */
	size_t n;      /* full slots */
	size_t ndel;   /* deleted slots */
};

/* The value of key in *val; false when absent. */
bool ptrace_map_get(const struct ptrace_map *m, uint64_t key, uint64_t *val);
/* Sets key to val (adds or replaces). 0 or -ENOMEM. */
int ptrace_map_put(struct ptrace_map *m, uint64_t key, uint64_t val);
/* Removes key; nothing when absent. */
void ptrace_map_del(struct ptrace_map *m, uint64_t key);
void ptrace_map_release(struct ptrace_map *m);

/* Iterates over the full slots: for (i = 0; ptrace_map_next(m, &i, &k, &v); ) ...
 * Removing the current key while iterating is allowed; adding is not. */
bool ptrace_map_next(const struct ptrace_map *m, size_t *i, uint64_t *key, uint64_t *val);

#endif
