/*
 * stacks: what the profiler hands the symbolizer. Unique stacks of addresses, leaf
 * first, each with the address space it ran in, its thread and the number of
 * samples that had exactly this stack. Identical stacks are summed as they are
 * added, so memory is bounded by the unique stacks, not the duration.
 *
 * An entry of addrs is a tagged 64-bit value (see STACK_TAG_*): a user address, a
 * kernel address, a Python frame (index into pyframes) or the system call an
 * off-CPU thread waits in. Owned by the profiler; read-only downstream.
 */
#ifndef SCORCH_PROFILER_STACKS_H
#define SCORCH_PROFILER_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The top byte of an address entry says what it is. User-space addresses on x86-64
 * are below 2^47 and kernel addresses have the top byte 0xff, so tags 0x01..0xfe are
 * free for entries that are not plain return addresses. */
#define STACK_TAG_SHIFT 56
#define STACK_VALUE_MASK ((UINT64_C(1) << STACK_TAG_SHIFT) - 1)
enum stack_tag {
	STACK_TAG_USER = 0x00,   /* user return address: symbolize addr - 1 */
	STACK_TAG_EXACT = 0x01,  /* user pc that is exact: the leaf, or a frame a signal
				    interrupted; symbolize addr itself */
	STACK_TAG_PYTHON = 0x02, /* value: index into stacks.pyframes */
	STACK_TAG_WAIT = 0x03,   /* value: syscall number the thread waits in;
				    STACK_WAIT_UNKNOWN when not in a syscall */
	STACK_TAG_KERNEL = 0xff, /* kernel address, kept whole */
};
#define STACK_WAIT_UNKNOWN UINT64_C(0xffffffff)

static inline enum stack_tag stack_tag(uint64_t a)
{
	return (enum stack_tag)(a >> STACK_TAG_SHIFT);
}
/* The address (or index) an entry holds; kernel addresses come back whole. */
static inline uint64_t stack_value(uint64_t a)
{
	return stack_tag(a) == STACK_TAG_KERNEL ? a : (a & STACK_VALUE_MASK);
}
static inline uint64_t stack_make(enum stack_tag tag, uint64_t value)
{
	return tag == STACK_TAG_KERNEL ? value : ((uint64_t)tag << STACK_TAG_SHIFT | value);
}

enum stack_flags {
	STACK_COMPLETE = 1 << 0, /* unwound to its root (_start, main's caller, thread start) */
	STACK_OFF_CPU = 1 << 1,  /* wall-clock sample of a thread that was not running */
};

struct stack {
	uint32_t asid;  /* address space: index into maps.spaces */
	uint32_t tid;   /* thread id (in scorch's pid namespace) */
	uint32_t depth; /* number of entries */
	uint32_t flags; /* enum stack_flags */
	size_t first;   /* index of the leaf in stacks.addrs */
	uint64_t count; /* samples that had exactly this stack */
};

struct stack_pyframe {
	uint32_t func; /* offset in stacks.strs: qualified name where the version has it */
	uint32_t file; /* offset in stacks.strs: file name as the code object has it */
	uint32_t line; /* line number, 0 if unknown */
};

struct stack_thread {
	uint32_t asid, pid, tid;
	char comm[16]; /* thread name as /proc/PID/task/TID/comm gives it */
};

struct stacks {
	struct stack *v; /* unique stacks */
	size_t n, cap;
	uint64_t *addrs; /* tagged entries; stack v[i] is addrs[v[i].first ..+ depth) */
	size_t naddrs, addrs_cap;
	struct stack_pyframe *pyframes;
	size_t npyframes, pyframes_cap;
	char *strs; /* NUL-terminated strings of pyframes */
	size_t strs_len, strs_cap;
	struct stack_thread *threads; /* every thread seen, in order of first sight */
	size_t nthreads, threads_cap;

	/* totals a recording reports */
	uint64_t samples;     /* samples added (sum of counts) */
	uint64_t complete;    /* of them, unwound to the root */
	uint64_t lost;        /* samples the kernel or the sampler dropped */
	uint64_t failed;      /* samples that could not be unwound at all */
	uint64_t off_cpu;     /* wall-clock samples taken off-CPU */
	uint64_t py_mismatch; /* Python chains inconsistent with the native stack */

	/* private: hash indexes */
	uint32_t *index;
	size_t index_cap;
	uint32_t *py_index;
	size_t py_index_cap;
};

void stacks_init(struct stacks *s);
void stacks_release(struct stacks *s);

/* Adds count samples of addrs[0..depth) (leaf first). Identical (asid, tid, flags,
 * addrs) are summed. 0 or -ENOMEM. */
int stacks_add(struct stacks *s, uint32_t asid, uint32_t tid, uint32_t flags,
	       const uint64_t *addrs, uint32_t depth, uint64_t count);

/* Interns a Python frame and returns its index (for stack_make(STACK_TAG_PYTHON, i)),
 * or -ENOMEM. */
int64_t stacks_pyframe(struct stacks *s, const char *func, const char *file, uint32_t line);
/* The string at offset off of strs. */
static inline const char *stacks_str(const struct stacks *s, uint32_t off)
{
	return s->strs + off;
}

/* Records a thread (a later call with the same asid and tid updates comm). Linear in
 * the threads: call it when a thread appears or is renamed, not per sample.
 * 0 or -ENOMEM. */
int stacks_thread(struct stacks *s, uint32_t asid, uint32_t pid, uint32_t tid, const char *comm);

#endif
