/*
 * profile: the one structure every output reads. A table of interned frame names, a
 * trie of stacks (root first) whose nodes hold a frame, a self count and a total
 * count, and the metadata a reader needs. A recorded profile also keeps the detail
 * that pprof and per-thread outputs need: one location per unique address (with its
 * mapping and one line per inlined frame), and the samples as lists of locations.
 * Imported folded stacks fill only the names and the trie.
 *
 * Built by render/folded.c (from text) and symbolizer/resolve.c (from a recording);
 * read by every writer in render/. It owns every string; everyone else holds ids.
 * Never prints, never exits.
 */
#ifndef SCORCH_RENDER_PROFILE_H
#define SCORCH_RENDER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROFILE_NONE UINT32_MAX

/* What a frame is. In folded text the kind is a suffix of the name, as the
 * FlameGraph palettes expect: _[k] kernel, _[i] inlined, _[j] JIT, _[w] waiting
 * (off-CPU leaf: the system call a thread waits in). Python frames have no suffix
 * but the shape "func (file.py)" or "func (file.py:LINE)". */
enum profile_kind {
	PROFILE_KIND_NATIVE = 0,
	PROFILE_KIND_INLINED,
	PROFILE_KIND_KERNEL,
	PROFILE_KIND_JIT,
	PROFILE_KIND_PYTHON,
	PROFILE_KIND_WAIT,
	PROFILE_KIND_ROOT, /* a process or thread label added by --per-thread/--per-process */
};

struct profile_name {
	uint64_t off; /* into profile.strs */
	uint32_t len; /* bytes, without the NUL that follows every name */
	uint8_t kind; /* enum profile_kind */
};

struct profile_node {
	uint32_t frame;  /* name id; PROFILE_NONE for the root (node 0) */
	uint32_t parent; /* node index; PROFILE_NONE for the root */
	uint32_t child;  /* first child, PROFILE_NONE for a leaf; children in insertion order */
	uint32_t next;   /* next sibling, PROFILE_NONE for the last */
	uint64_t self;   /* count of stacks that end here */
	uint64_t total;  /* self plus the totals of the children */
};

/* Recorded detail, for pprof and per-thread outputs; empty for imported stacks. */
struct profile_mapping {
	uint64_t start, limit; /* runtime addresses, [start, limit) */
	uint64_t offset;       /* file offset of start */
	uint32_t file;         /* name id of the path */
	uint32_t build_id;     /* name id of the hex build id, or PROFILE_NONE */
};

struct profile_line {
	uint32_t func; /* name id of the function, without annotation suffix */
	uint32_t file; /* name id of the source file, or PROFILE_NONE */
	uint32_t line; /* 0 when unknown */
	uint32_t start_line; /* the function's first line, 0 when unknown */
};

struct profile_location {
	uint64_t addr;       /* runtime address; 0 for Python or synthetic frames */
	uint32_t mapping;    /* index in profile.mappings, or PROFILE_NONE */
	uint32_t first_line; /* index in profile.lines; lines run innermost first */
	uint32_t nlines;
	uint8_t kind; /* enum profile_kind of the innermost line */
};

struct profile_thread {
	uint32_t pid, tid;
	uint32_t name; /* name id of the thread's comm, or PROFILE_NONE */
};

struct profile_sample {
	uint64_t first_loc; /* index in profile.sample_locs; locations run leaf first */
	uint32_t nlocs;
	uint32_t thread; /* index in profile.threads, or PROFILE_NONE */
	uint64_t count;  /* samples */
	bool off_cpu;    /* wall-clock sample of a thread that was not running */
};

struct profile_meta {
	char *title;       /* owned; NULL lets each writer choose its default */
	char *command;     /* owned; the command line, or "pid 4242"; may be NULL */
	char *countname;   /* owned; unit word ("samples", "bytes"); NULL means samples */
	uint32_t *pids;    /* owned; npids entries */
	size_t npids;
	uint64_t start_unix_ns; /* wall-clock start of the recording, 0 if unknown */
	uint64_t duration_ns;   /* length of the recording, 0 if unknown */
	uint32_t rate_hz;       /* sampling rate, 0 if unknown */
	uint64_t period_ns;     /* weight of one sample in ns (1e9 / rate), 0 if unknown */
	uint64_t samples;       /* samples taken */
	uint64_t lost;          /* samples lost (ring overflow, failed unwinds, ...) */
	uint64_t complete;      /* samples whose stack was unwound to its root */
	uint64_t on_cpu, off_cpu; /* wall-clock split; both 0 for cpu profiles */
	uint64_t py_mismatch;     /* samples whose Python frames mismatched: kept native */
	bool wall;                /* wall-clock profile (--clock wall) */
	const char *version;      /* scorch version that wrote it (static string) */
};

struct profile {
	/* names: id -> bytes; every name is followed by a NUL in strs */
	struct profile_name *names;
	size_t nnames, names_cap;
	char *strs;
	size_t strs_len, strs_cap;

	/* the trie; nodes[0] is the root; node indices never change */
	struct profile_node *nodes;
	size_t nnodes, nodes_cap;
	uint64_t *base; /* differential profiles: per-node total of the BEFORE profile;
			   NULL otherwise (nodes[].total is then the AFTER count) */
	uint64_t base_total; /* sum of BEFORE counts (0 unless differential) */
	uint32_t maxdepth;   /* deepest stack added, in frames (root excluded) */
	bool flamechart;     /* set before adding: merge only with the last child */

	/* recorded detail (see above) */
	struct profile_mapping *mappings;
	size_t nmappings, mappings_cap;
	struct profile_line *lines;
	size_t nlines, lines_cap;
	struct profile_location *locs;
	size_t nlocs, locs_cap;
	struct profile_thread *threads;
	size_t nthreads, threads_cap;
	struct profile_sample *samples;
	size_t nsamples, samples_cap;
	uint32_t *sample_locs;
	size_t nsample_locs, sample_locs_cap;

	struct profile_meta meta;

	/* private: hash indexes */
	uint64_t *name_index;
	size_t name_index_cap;
	uint64_t *child_index; /* slots: hash tag << 32 | node; 0 is empty */
	size_t child_index_cap;
	size_t child_index_n; /* nodes in child_index (only children are not) */
	uint32_t *tails; /* last child of each node, for appending in order */
	size_t tails_cap;
	size_t base_cap;
	bool deferred;	       /* profile_defer_totals() is in effect */
	bool tails_stale;      /* tails[] to be rebuilt before the next add */
	uint64_t deferred_sum; /* counts added so far (the root's total to be) */
	uint64_t deferred_base; /* BEFORE counts added so far */
};

/* Allocates an empty profile (with its root node). NULL on ENOMEM. */
struct profile *profile_new(void);
void profile_free(struct profile *p); /* NULL is fine */

/* Interns name (len bytes, may hold any byte but is used up to len) and returns its
 * id; the same bytes always give the same id. The kind is read from the suffix
 * (_[k], _[i], _[j], _[w]) or the Python shape. PROFILE_NONE on ENOMEM. */
uint32_t profile_intern(struct profile *p, const char *name, size_t len);
/* As profile_intern, with the kind given (it applies only when the name is new). */
uint32_t profile_intern_kind(struct profile *p, const char *name, size_t len,
			     enum profile_kind kind);
/* The bytes of name id (NUL-terminated) and their length; valid until the profile
 * is freed or a name is interned (strs may move). */
const char *profile_name(const struct profile *p, uint32_t id, size_t *len);
/* The kind of a name as profile_intern reads it from its text. */
enum profile_kind profile_kind_of(const char *name, size_t len);

/* Adds count samples of the stack frames[0..n) (root first). Returns the leaf node
 * index (0 for an empty stack), or -ENOMEM / -EOVERFLOW (a total would pass
 * UINT64_MAX). */
int64_t profile_add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count);
/* Differential: adds a stack with its BEFORE and AFTER counts; the trie's counts are
 * the AFTER counts, base[] the BEFORE counts. */
int64_t profile_add_diff(struct profile *p, const uint32_t *frames, size_t n, uint64_t before,
			 uint64_t after);
/* As profile_add and profile_add_diff, for the stack made of the path to node at
 * (0 = the root) followed by frames[0..n): readers that see many stacks sharing a
 * prefix (sorted folded lines) skip looking it up again. Same returns. */
int64_t profile_add_at(struct profile *p, uint32_t at, const uint32_t *frames, size_t n,
		       uint64_t count);
int64_t profile_add_diff_at(struct profile *p, uint32_t at, const uint32_t *frames, size_t n,
			    uint64_t before, uint64_t after);

/* The bulk reader's form of profile_add_at and profile_add_diff_at (diff says which):
 * at is a node at_depth frames below the root, and nodes, unless NULL, receives the
 * node of each of frames[0..n). Same returns. */
int64_t profile_add_path(struct profile *p, uint32_t at, uint32_t at_depth,
			 const uint32_t *frames, size_t n, uint64_t count, uint64_t before,
			 bool diff, uint32_t *nodes);

/* A hint that the child of parent named frame is looked up soon: its slot in the
 * child index is fetched into the cache meanwhile. */
void profile_prefetch_child(const struct profile *p, uint32_t parent, uint32_t frame);

/* Makes room for about nodes trie nodes at once (a hint: the trie still grows past
 * it), so that a reader that can guess the size skips the steps of growing.
 * 0 or -ENOMEM. */
int profile_reserve(struct profile *p, size_t nodes);

/* Bulk loading. On a profile without stacks, profile_defer_totals() makes the adds
 * that follow keep self counts only (and still refuse a count that would take the
 * grand total past 2^64-1); profile_settle_totals() then computes every total (and
 * base[]) in one pass over the nodes, as the adds would have, and ends the deferral.
 * In between, nodes[].total, base[] and the order of children are not to be read
 * (children are kept newest first until then). Returns true when the deferral is in effect (false on a
 * profile that already holds stacks, which then adds as usual). */
bool profile_defer_totals(struct profile *p);
void profile_settle_totals(struct profile *p);

/* Detail tables; each returns the new index, or -ENOMEM. */
int64_t profile_add_mapping(struct profile *p, const struct profile_mapping *m);
int64_t profile_add_location(struct profile *p, uint64_t addr, uint32_t mapping,
			     const struct profile_line *lines, uint32_t nlines, uint8_t kind);
int64_t profile_add_thread(struct profile *p, uint32_t pid, uint32_t tid, uint32_t name);
int64_t profile_add_sample(struct profile *p, const uint32_t *locs, uint32_t nlocs,
			   uint32_t thread, uint64_t count, bool off_cpu);

/* Root-first frame ids of node into out (at most cap), returns the depth. */
size_t profile_path(const struct profile *p, uint32_t node, uint32_t *out, size_t cap);

/* Sets an owned string field of meta (strdup); 0 or -ENOMEM. */
int profile_set(char **field, const char *value);

#endif
