#include "profiler/stacks.h"

#include "common/buf.h"
#include "common/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void stacks_init(struct stacks *s)
{
	memset(s, 0, sizeof(*s));
}

void stacks_release(struct stacks *s)
{
	free(s->v);
	free(s->addrs);
	free(s->pyframes);
	free(s->strs);
	free(s->threads);
	free(s->index);
	free(s->py_index);
	memset(s, 0, sizeof(*s));
}

static uint64_t stack_hash(uint32_t asid, uint32_t tid, uint32_t flags, const uint64_t *addrs,
			   uint32_t depth)
{
	uint64_t h = hash_bytes(addrs, depth * sizeof(*addrs), (uint64_t)asid << 32 | tid);
	return hash_u64(h ^ flags);
}

/* Index slots hold stack index + 1; 0 is empty. */
static int index_grow(struct stacks *s)
{
	size_t ncap = s->index_cap ? s->index_cap * 2 : 1024;
	uint32_t *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < s->n; k++) {
		const struct stack *st = &s->v[k];
		size_t i = stack_hash(st->asid, st->tid, st->flags, s->addrs + st->first,
				      st->depth) &
			   (ncap - 1);
		while (slots[i])
			i = (i + 1) & (ncap - 1);
		slots[i] = (uint32_t)(k + 1);
	}
	free(s->index);
	s->index = slots;
	s->index_cap = ncap;
	return 0;
}

int stacks_add(struct stacks *s, uint32_t asid, uint32_t tid, uint32_t flags,
	       const uint64_t *addrs, uint32_t depth, uint64_t count)
{
	size_t i, mask;
	struct stack *st;

	if ((s->n + 1) * 2 > s->index_cap && index_grow(s) < 0)
		return -ENOMEM;
	mask = s->index_cap - 1;
	for (i = stack_hash(asid, tid, flags, addrs, depth) & mask; s->index[i];
	     i = (i + 1) & mask) {
		st = &s->v[s->index[i] - 1];
		if (st->asid == asid && st->tid == tid && st->flags == flags &&
		    st->depth == depth &&
		    !memcmp(s->addrs + st->first, addrs, depth * sizeof(*addrs)))
			goto found;
	}
	if (s->n >= UINT32_MAX - 1 || GROW(s->v, s->cap, s->n + 1) < 0 ||
	    GROW(s->addrs, s->addrs_cap, s->naddrs + depth) < 0)
		return -ENOMEM;
	st = &s->v[s->n++];
	*st = (struct stack){asid, tid, depth, flags, s->naddrs, 0};
	if (depth)
		memcpy(s->addrs + s->naddrs, addrs, depth * sizeof(*addrs));
	s->naddrs += depth;
	s->index[i] = (uint32_t)s->n;
found:
	st->count += count;
	s->samples += count;
	if (flags & STACK_COMPLETE)
		s->complete += count;
	if (flags & STACK_OFF_CPU)
		s->off_cpu += count;
	return 0;
}

static uint64_t py_hash(const char *func, const char *file, uint32_t line)
{
	uint64_t h = hash_bytes(func, strlen(func), line);
	return hash_bytes(file, strlen(file), h);
}

static int add_str(struct stacks *s, const char *str, uint32_t *off)
{
	size_t len = strlen(str);

	if (s->strs_len + len + 1 > UINT32_MAX ||
	    grow_array((void **)&s->strs, &s->strs_cap, s->strs_len + len + 1, 1) < 0)
		return -ENOMEM;
	memcpy(s->strs + s->strs_len, str, len + 1);
	*off = (uint32_t)s->strs_len;
	s->strs_len += len + 1;
	return 0;
}

int64_t stacks_pyframe(struct stacks *s, const char *func, const char *file, uint32_t line)
{
	size_t i, mask;
	struct stack_pyframe *f;

	if ((s->npyframes + 1) * 2 > s->py_index_cap) {
		size_t ncap = s->py_index_cap ? s->py_index_cap * 2 : 256;
		uint32_t *slots = calloc(ncap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t k = 0; k < s->npyframes; k++) {
			f = &s->pyframes[k];
			i = py_hash(s->strs + f->func, s->strs + f->file, f->line) & (ncap - 1);
			while (slots[i])
				i = (i + 1) & (ncap - 1);
			slots[i] = (uint32_t)(k + 1);
		}
		free(s->py_index);
		s->py_index = slots;
		s->py_index_cap = ncap;
	}
	mask = s->py_index_cap - 1;
	for (i = py_hash(func, file, line) & mask; s->py_index[i]; i = (i + 1) & mask) {
		f = &s->pyframes[s->py_index[i] - 1];
		if (f->line == line && !strcmp(s->strs + f->func, func) &&
		    !strcmp(s->strs + f->file, file))
			return s->py_index[i] - 1;
	}
	if (GROW(s->pyframes, s->pyframes_cap, s->npyframes + 1) < 0)
		return -ENOMEM;
	f = &s->pyframes[s->npyframes];
	f->line = line;
	if (add_str(s, func, &f->func) < 0 || add_str(s, file, &f->file) < 0)
		return -ENOMEM;
	s->py_index[i] = (uint32_t)++s->npyframes;
	return (int64_t)(s->npyframes - 1);
}

int stacks_thread(struct stacks *s, uint32_t asid, uint32_t pid, uint32_t tid, const char *comm)
{
	struct stack_thread *t = NULL;

	for (size_t k = s->nthreads; k-- > 0;)
		if (s->threads[k].tid == tid && s->threads[k].asid == asid) {
			t = &s->threads[k];
			break;
		}
	if (!t) {
		if (GROW(s->threads, s->threads_cap, s->nthreads + 1) < 0)
			return -ENOMEM;
		t = &s->threads[s->nthreads++];
		memset(t, 0, sizeof(*t));
		t->asid = asid;
		t->pid = pid;
		t->tid = tid;
	}
	if (comm) {
		strncpy(t->comm, comm, sizeof(t->comm) - 1);
		t->comm[sizeof(t->comm) - 1] = 0;
	}
	return 0;
}
