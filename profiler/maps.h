/*
 * maps: the address-space model of every process a recording saw, from
 * /proc/PID/maps at attach and from mmap/comm/fork events later. One address space
 * (asid) per process image: fork gives the child a copy, exec gives a fresh one, so
 * that stacks keyed by asid always resolve against the mappings they ran in.
 *
 * Each file-backed mapping keeps an open fd on its file (one per distinct file), so
 * that files of exited processes, deleted or replaced files and files in another
 * mount namespace still resolve after the process is gone. Closed by maps_release().
 * A record: the profiler fills it, the symbolizer reads it. Never prints.
 */
#ifndef SCORCH_PROFILER_MAPS_H
#define SCORCH_PROFILER_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct maps_space {
	uint32_t pid;  /* process id in scorch's pid namespace */
	char comm[16]; /* process name at the time of the exec */
	bool exited;
	uint32_t *idx; /* private: indices into maps.v of this space's entries, in order */
	size_t nidx, idx_cap;
};

struct maps_file {
	uint64_t dev, ino; /* identity of the file (0, 0 when unknown) */
	uint32_t path;     /* offset in maps.strs of the path as the target saw it */
	int fd;            /* read-only fd on the file, or -1 if it could not be opened */
};

struct maps_entry {
	uint32_t asid;         /* address space it belongs to */
	uint64_t start, end;   /* [start, end), runtime addresses */
	uint64_t pgoff;        /* file offset mapped at start, bytes */
	uint32_t file;         /* index into maps.files, or MAPS_ANON */
	uint32_t prot;         /* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint64_t seq;          /* order added: a later entry shadows an earlier one */
	uint32_t name;         /* offset in maps.strs: "[vdso]", "[heap]", path, or "" */
};
#define MAPS_ANON UINT32_MAX

struct maps {
	struct maps_space *spaces; /* spaces[asid] */
	size_t nspaces, spaces_cap;
	struct maps_entry *v; /* every mapping ever reported, in the order added */
	size_t n, cap;
	struct maps_file *files;
	size_t nfiles, files_cap;
	char *strs;
	size_t strs_len, strs_cap;
	uint64_t seq;
};

void maps_init(struct maps *m);
/* Closes every fd and frees everything. */
void maps_release(struct maps *m);

/* A new empty address space for pid; returns the asid or -ENOMEM. */
int64_t maps_space_new(struct maps *m, uint32_t pid, const char *comm);
/* A new address space for child_pid holding a copy of parent's mappings (fork). */
int64_t maps_space_fork(struct maps *m, uint32_t parent_asid, uint32_t child_pid);
/* The newest asid of pid that has not exited, or -ESRCH. */
int64_t maps_space_of(const struct maps *m, uint32_t pid);

/* Adds one mapping. path is the file name as the target sees it ("" or NULL for
 * anonymous, "[vdso]" and the like for special mappings); the file is opened through
 * /proc/PID/map_files or /proc/PID/root when pid is alive, by path otherwise.
 * dev and ino may be 0. 0 or -ENOMEM. */
int maps_add(struct maps *m, uint32_t asid, uint64_t start, uint64_t end, uint64_t pgoff,
	     uint32_t prot, uint64_t dev, uint64_t ino, const char *path);

/* Reads /proc/PID/maps into asid (every mapping, executable or not). */
int maps_read_proc(struct maps *m, uint32_t asid, uint32_t pid, char *err, size_t errsz);

/* The newest mapping of asid that holds addr, or NULL. Pointers into maps.v move when
 * a mapping is added: do not keep them. */
const struct maps_entry *maps_lookup(const struct maps *m, uint32_t asid, uint64_t addr);

static inline const char *maps_str(const struct maps *m, uint32_t off)
{
	return m->strs + off;
}

#endif
