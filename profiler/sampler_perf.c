/*
 * sampler_perf: samples with perf_event_open on the cpu-clock software event, at a
 * frequency, into one ring buffer per CPU, and unwinds each sample as it is read so
 * that no stack copy outlives its record.
 *
 * Launched command: one event per CPU on the held child, inherit + enable_on_exec, so
 * that its threads and children are followed from the first instruction after exec
 * (an inherited event with cpu == -1 cannot be mmapped: perf_mmap() refuses it).
 * Attached processes: one event per existing thread and CPU, each redirected with
 * PERF_EVENT_IOC_SET_OUTPUT into that CPU's ring (the kernel refuses cross-CPU
 * redirection); inherit on these per-thread events makes threads and processes they
 * create later inherit the event, writing into the same ring.
 *
 * Side-band records keep the address-space model (profiler/maps.h): MMAP2 of
 * executable mappings, COMM (exec gives a fresh address space), FORK (a new process
 * copies its parent's mappings; threads share them) and EXIT. Records of different
 * CPU rings are merged by time (CLOCK_MONOTONIC on every event); when a sample's pc
 * still hits no mapping, /proc/PID/maps is read again, at most every 100 ms per
 * process. Layouts are those of include/uapi/linux/perf_event.h.
 */
#include "profiler/sampler.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "profiler/python.h"
#include "profiler/unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* All general-purpose registers and the instruction pointer, in the numbering of
 * arch/x86/include/uapi/asm/perf_regs.h: AX BX CX DX SI DI BP SP IP (bits 0-8) and
 * R8-R15 (bits 16-23). Hand-written assembly may base its CFA on any of them. */
#define REGS_MASK UINT64_C(0xff01ff)
#define NREGS_SAMPLED 17
/* perf_regs index (in ascending bit order of REGS_MASK) to enum unwind_reg */
static const uint8_t regs_map[NREGS_SAMPLED] = {
	UNWIND_REG_RAX, UNWIND_REG_RBX, UNWIND_REG_RCX, UNWIND_REG_RDX, UNWIND_REG_RSI,
	UNWIND_REG_RDI, UNWIND_REG_RBP, UNWIND_REG_RSP, UNWIND_REG_RIP, UNWIND_REG_R8,
	UNWIND_REG_R9,	UNWIND_REG_R10, UNWIND_REG_R11, UNWIND_REG_R12, UNWIND_REG_R13,
	UNWIND_REG_R14, UNWIND_REG_R15,
};

#define REREAD_NS (100 * UINT64_C(1000000))
#define ALIVE_CHECK_NS (100 * UINT64_C(1000000))
#define MAX_RECORD 65536

struct ring {
	int fd;                       /* the event that owns the ring */
	struct perf_event_mmap_page *meta;
	uint8_t *data;                /* data area, size bytes (a power of two) */
	size_t size;
	uint64_t head, tail;          /* bytes; head as read at the start of a drain */
	uint8_t *tmp;                 /* a record that wraps around the end, copied */
	bool hup;                     /* its task exited: no longer polled */
};

/* pid -> address space, and tid -> the address space its name was recorded under */
struct slot {
	uint32_t key;       /* pid or tid; 0 = empty */
	uint32_t asid;
	bool dead;          /* the process exited */
	uint64_t reread_ns; /* last re-read of /proc/PID/maps */
};

struct table {
	struct slot *v;
	size_t cap, n;
};

struct perf_state {
	struct sampler_ctx *ctx;
	int ncpu;
	struct ring *rings;
	int *fds; /* every event fd, rings' included */
	size_t nfds, fds_cap;
	struct pollfd *pfds;
	struct table procs, threads;
	uint64_t last_alive_ns;
	bool dwarf, kernel_chain;
	uint64_t addrs[SAMPLER_MAX_DEPTH];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- small hash tables ---- */

static struct slot *table_find(struct table *t, uint32_t key)
{
	size_t i;

	if (!t->cap || !key)
		return NULL;
	i = hash_u64(key) & (t->cap - 1);
	while (t->v[i].key) {
		if (t->v[i].key == key)
			return &t->v[i];
		i = (i + 1) & (t->cap - 1);
	}
	return NULL;
}

static struct slot *table_put(struct table *t, uint32_t key, uint32_t asid)
{
	struct slot *s = table_find(t, key);
	size_t i;

	if (!key)
		return NULL;
	if (s) {
		s->asid = asid;
		s->dead = false;
		return s;
	}
	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct slot *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			if (!t->v[k].key)
				continue;
			i = hash_u64(t->v[k].key) & (ncap - 1);
			while (nv[i].key)
				i = (i + 1) & (ncap - 1);
			nv[i] = t->v[k];
		}
		free(t->v);
		t->v = nv;
		t->cap = ncap;
	}
	i = hash_u64(key) & (t->cap - 1);
	while (t->v[i].key)
		i = (i + 1) & (t->cap - 1);
	memset(&t->v[i], 0, sizeof(t->v[i]));
	t->v[i].key = key;
	t->v[i].asid = asid;
	t->n++;
	return &t->v[i];
}

/* ---- address spaces ---- */

static void read_comm(uint32_t pid, uint32_t tid, char comm[16])
{
	char path[64];
	ssize_t n;
	int fd;

	comm[0] = 0;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/task/%" PRIu32 "/comm", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	close(fd);
	if (n <= 0)
		n = 0;
	comm[n] = 0;
	if (n && comm[n - 1] == '\n')
		comm[n - 1] = 0;
}

/* Adds the executable mappings of /proc/PID/maps that asid does not hold yet. */
static void reread_maps(struct perf_state *st, uint32_t asid, uint32_t pid)
{
	struct maps *m = st->ctx->maps;
	char path[64];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		uint64_t start, end, pgoff, ino;
		unsigned int major, minor;
		const struct maps_entry *e;
		char perms[8];
		int name_at = 0;
		size_t len;
		char *name;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &start,
			   &end, perms, &pgoff, &major, &minor, &ino, &name_at) < 7)
			continue;
		if (perms[2] != 'x')
			continue;
		e = maps_lookup(m, asid, start);
		if (e && e->start == start && e->end == end && e->pgoff == pgoff)
			continue;
		name = line + name_at;
		len = strlen(name);
		while (len && (name[len - 1] == '\n' || name[len - 1] == ' '))
			name[--len] = 0;
		if (e)
			unwind_flush(st->ctx->unwind, asid);
		maps_add(m, asid, start, end, pgoff,
			 PROT_EXEC | (perms[0] == 'r' ? PROT_READ : 0) |
				 (perms[1] == 'w' ? PROT_WRITE : 0),
			 ino ? makedev(major, minor) : 0, ino, name);
	}
	free(line);
	fclose(f);
}

/* The address space of pid, created from /proc when the process is new to us (its
 * FORK record may still sit in another CPU's ring). -1 if it cannot be had. */
static int64_t asid_of(struct perf_state *st, uint32_t pid)
{
	struct slot *s = table_find(&st->procs, pid);
	int64_t asid;
	char comm[16];

	if (s && !s->dead)
		return s->asid;
	asid = maps_space_of(st->ctx->maps, pid);
	if (asid < 0) {
		read_comm(pid, pid, comm);
		asid = maps_space_new(st->ctx->maps, pid, comm);
		if (asid < 0)
			return -1;
		reread_maps(st, (uint32_t)asid, pid);
		s = table_put(&st->procs, pid, (uint32_t)asid);
		if (s)
			s->reread_ns = now_ns();
		return asid;
	}
	table_put(&st->procs, pid, (uint32_t)asid);
	return asid;
}

static void note_thread(struct perf_state *st, uint32_t asid, uint32_t pid, uint32_t tid,
			const char *comm)
{
	char buf[16];
	struct slot *s = table_find(&st->threads, tid);

	if (!comm) {
		if (s && s->asid == asid && !s->dead)
			return;
		read_comm(pid, tid, buf);
		if (!buf[0])
			snprintf(buf, sizeof(buf), "%s", st->ctx->maps->spaces[asid].comm);
		comm = buf;
	}
	if (stacks_thread(st->ctx->stacks, asid, pid, tid, comm) == 0)
		table_put(&st->threads, tid, asid);
}

/* ---- records ---- */

struct sample_id {
	uint32_t pid, tid;
	uint64_t time;
};

static void on_mmap2(struct perf_state *st, const uint8_t *rec, size_t len)
{
	const struct {
		struct perf_event_header h;
		uint32_t pid, tid;
		uint64_t addr, len, pgoff;
		uint32_t maj, min;
		uint64_t ino, ino_generation;
		uint32_t prot, flags;
		char filename[];
	} *r = (const void *)rec;
	char name[4096];
	size_t max = len - sizeof(*r), n;
	int64_t asid;

	if (len < sizeof(*r) || r->pid == UINT32_MAX || !r->pid || !(r->prot & PROT_EXEC))
		return;
	if (r->h.misc & PERF_RECORD_MISC_MMAP_BUILD_ID)
		return; /* not requested: maj/min/ino are a build id then */
	n = strnlen(r->filename, max < sizeof(name) - 1 ? max : sizeof(name) - 1);
	memcpy(name, r->filename, n);
	name[n] = 0;
	if (!strcmp(name, "//anon") || !strncmp(name, "/anon_hugepage", 14))
		name[0] = 0; /* perf's name of anonymous (JIT) memory: no file */
	asid = asid_of(st, r->pid);
	if (asid < 0)
		return;
	{
		const struct maps_entry *a = maps_lookup(st->ctx->maps, (uint32_t)asid, r->addr);
		const struct maps_entry *b =
			maps_lookup(st->ctx->maps, (uint32_t)asid, r->addr + r->len - 1);
		if (a && a->start == r->addr && a->end == r->addr + r->len && a->pgoff == r->pgoff &&
		    (a->file == MAPS_ANON ||
		     (st->ctx->maps->files[a->file].ino == r->ino &&
		      !strcmp(maps_str(st->ctx->maps, a->name), name))))
			return; /* already known, from /proc */
		if (a || b)
			unwind_flush(st->ctx->unwind, (uint32_t)asid);
	}
	maps_add(st->ctx->maps, (uint32_t)asid, r->addr, r->addr + r->len, r->pgoff, r->prot,
		 r->ino ? makedev(r->maj, r->min) : 0, r->ino, name);
}

static void on_comm(struct perf_state *st, const uint8_t *rec, size_t len)
{
	const struct {
		struct perf_event_header h;
		uint32_t pid, tid;
		char comm[];
	} *r = (const void *)rec;
	struct maps *m = st->ctx->maps;
	char comm[16];
	size_t n;
	int64_t asid;

	if (len < sizeof(*r))
		return;
	n = strnlen(r->comm, len - sizeof(*r) < 15 ? len - sizeof(*r) : 15);
	memcpy(comm, r->comm, n);
	comm[n] = 0;
	if (r->h.misc & PERF_RECORD_MISC_COMM_EXEC) {
		struct slot *s = table_find(&st->procs, r->pid);
		int64_t old = s && !s->dead ? (int64_t)s->asid : maps_space_of(m, r->pid);

		if (old >= 0 && m->spaces[old].nidx == 0) {
			/* nothing was mapped yet (the launched command's first exec) */
			asid = old;
			snprintf(m->spaces[asid].comm, sizeof(m->spaces[asid].comm), "%s", comm);
		} else {
			asid = maps_space_new(m, r->pid, comm);
			if (asid < 0)
				return;
			if (old >= 0) {
				m->spaces[old].exited = true;
				unwind_flush(st->ctx->unwind, (uint32_t)old);
				if (st->ctx->python)
					python_forget(st->ctx->python, (uint32_t)old);
			}
		}
		table_put(&st->procs, r->pid, (uint32_t)asid);
	} else {
		asid = asid_of(st, r->pid);
		if (asid < 0)
			return;
	}
	note_thread(st, (uint32_t)asid, r->pid, r->tid, comm);
}

static void on_fork(struct perf_state *st, const uint8_t *rec, size_t len)
{
	const struct {
		struct perf_event_header h;
		uint32_t pid, ppid, tid, ptid;
		uint64_t time;
	} *r = (const void *)rec;
	struct slot *s, *ps;
	int64_t asid;

	if (len < sizeof(*r) || r->pid == r->ppid)
		return; /* a new thread shares its process's address space */
	s = table_find(&st->procs, r->pid);
	if (s && !s->dead)
		return; /* already created from /proc by an earlier sample */
	ps = table_find(&st->procs, r->ppid);
	if (ps && !ps->dead)
		asid = maps_space_fork(st->ctx->maps, ps->asid, r->pid);
	else
		asid = -1;
	if (asid < 0) {
		asid_of(st, r->pid);
		return;
	}
	table_put(&st->procs, r->pid, (uint32_t)asid);
}

static void on_exit_rec(struct perf_state *st, const uint8_t *rec, size_t len)
{
	const struct {
		struct perf_event_header h;
		uint32_t pid, ppid, tid, ptid;
		uint64_t time;
	} *r = (const void *)rec;
	struct slot *s;

	if (len < sizeof(*r))
		return;
	s = table_find(&st->threads, r->tid);
	if (s)
		s->dead = true;
	if (r->pid != r->tid)
		return;
	s = table_find(&st->procs, r->pid);
	if (s && !s->dead) {
		s->dead = true;
		st->ctx->maps->spaces[s->asid].exited = true;
	}
}

/* A cursor over a sample's fields, in the order of perf_event.h's PERF_RECORD_SAMPLE. */
struct cursor {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t take(struct cursor *c)
{
	uint64_t v;

	if (c->end - c->p < 8) {
		c->bad = true;
		return 0;
	}
	memcpy(&v, c->p, 8);
	c->p += 8;
	return v;
}

static const uint8_t *take_bytes(struct cursor *c, uint64_t n)
{
	const uint8_t *p = c->p;

	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	return p;
}

static void on_sample(struct perf_state *st, const uint8_t *rec, size_t len)
{
	struct sampler_ctx *ctx = st->ctx;
	struct cursor c = {rec + sizeof(struct perf_event_header), rec + len, false};
	struct unwind_snapshot snap;
	uint64_t *out = st->addrs;
	uint32_t n = 0, pid, tid, flags = 0;
	uint64_t nr = 0, abi = PERF_SAMPLE_REGS_ABI_NONE, pidtid;
	const uint8_t *chain = NULL;
	int64_t asid;

	take(&c); /* ip */
	pidtid = take(&c);
	pid = (uint32_t)pidtid;
	tid = (uint32_t)(pidtid >> 32);
	take(&c); /* time */
	if (!st->dwarf || st->kernel_chain) {
		nr = take(&c);
		if (nr > MAX_RECORD / 8)
			c.bad = true;
		else
			chain = take_bytes(&c, nr * 8);
	}
	if (st->dwarf) {
		abi = take(&c);
		memset(&snap, 0, sizeof(snap));
		if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
			for (int i = 0; i < NREGS_SAMPLED; i++)
				snap.regs[regs_map[i]] = take(&c);
			snap.regs_mask = (1u << UNWIND_NREGS) - 1;
		}
		uint64_t size = take(&c);
		if (size > MAX_RECORD)
			c.bad = true;
		else if (size) {
			snap.stack = take_bytes(&c, size);
			snap.stack_len = take(&c);
			if (snap.stack_len > size)
				snap.stack_len = size;
		}
	}
	if (c.bad || !pid || pid == UINT32_MAX) {
		ctx->stacks->failed++;
		return;
	}
	asid = asid_of(st, pid);
	if (asid < 0) {
		ctx->stacks->failed++;
		return;
	}
	/* kernel part of the callchain first (leafward), then the user part */
	if (chain) {
		enum { NONE, KERNEL, USER } where = NONE;
		bool first_user = true;
		uint32_t user_n = 0;
		for (uint64_t i = 0; i < nr && n < SAMPLER_MAX_DEPTH; i++) {
			uint64_t ip;
			memcpy(&ip, chain + i * 8, 8);
			if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
				where = ip == (uint64_t)PERF_CONTEXT_KERNEL ? KERNEL
					: ip == (uint64_t)PERF_CONTEXT_USER ? USER
									     : NONE;
				continue;
			}
			if (where == KERNEL && ctx->opts->kernel) {
				out[n++] = stack_make(STACK_TAG_KERNEL, ip);
			} else if (where == USER && !st->dwarf) {
				if (ip >> 47) {
					/* no user address: the frame-pointer walk read a word
					 * that is not a return address (code without frame
					 * pointers); the chain ends here. Kept, it would also
					 * read back as a kernel entry (stack_make's tags). */
					where = NONE;
					continue;
				}
				out[n++] = stack_make(first_user ? STACK_TAG_EXACT : STACK_TAG_USER,
						      ip);
				first_user = false;
				user_n++;
			}
		}
		if (!st->dwarf && user_n >= 2 && nr < 127) {
			/* the kernel stops the frame-pointer walk at a frame pointer that
			 * leaves the stack, or at perf_event_max_stack (127). It cannot tell
			 * a chain that reached the root from one that broke; a lone pc (code
			 * built without frame pointers) is certainly broken. */
			flags |= STACK_COMPLETE;
		}
	}
	if (st->dwarf) {
		bool complete = false;
		int d;

		if (abi == PERF_SAMPLE_REGS_ABI_NONE) {
			if (!n) {
				ctx->stacks->failed++;
				return;
			}
		} else {
			uint64_t pc = snap.regs[UNWIND_REG_RIP];
			struct slot *s = table_find(&st->procs, pid);
			if (!maps_lookup(ctx->maps, (uint32_t)asid, pc) && s) {
				uint64_t t = now_ns();
				if (t - s->reread_ns >= REREAD_NS) {
					s->reread_ns = t;
					reread_maps(st, (uint32_t)asid, pid);
				}
			}
			if (!maps_lookup(ctx->maps, (uint32_t)asid, pc)) {
				/* no mapping holds the pc: user registers of an image that is
				 * gone (a tick inside execve, after the old mm was dropped) */
				if (!n) {
					ctx->stacks->failed++;
					return;
				}
				goto emit;
			}
			d = unwind_stack(ctx->unwind, (uint32_t)asid, &snap, out + n,
					 SAMPLER_MAX_DEPTH - n, &complete);
			if (d <= 0) {
				ctx->stacks->failed++;
				return;
			}
			/* a wild return address (not a user address) ends the chain: it
			 * would read as a tag of profiler/stacks.h */
			for (int k = 0; k < d; k++) {
				enum stack_tag tag = stack_tag(out[n + (uint32_t)k]);
				if (tag != STACK_TAG_USER && tag != STACK_TAG_EXACT) {
					d = k;
					complete = false;
					break;
				}
			}
			if (d <= 0) {
				ctx->stacks->failed++;
				return;
			}
			n += (uint32_t)d;
			if (complete)
				flags |= STACK_COMPLETE;
		}
	}
emit:
	if (!n) {
		ctx->stacks->failed++;
		return;
	}
	note_thread(st, (uint32_t)asid, pid, tid, NULL);
	sampler_emit(ctx, (uint32_t)asid, pid, tid, flags, out, n);
}

static void on_record(struct perf_state *st, const uint8_t *rec, size_t len)
{
	const struct perf_event_header *h = (const void *)rec;
	uint64_t v;

	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample(st, rec, len);
		break;
	case PERF_RECORD_MMAP2:
		on_mmap2(st, rec, len);
		break;
	case PERF_RECORD_COMM:
		on_comm(st, rec, len);
		break;
	case PERF_RECORD_FORK:
		on_fork(st, rec, len);
		break;
	case PERF_RECORD_EXIT:
		on_exit_rec(st, rec, len);
		break;
	case PERF_RECORD_LOST: /* u64 id, lost */
		if (len >= 24) {
			memcpy(&v, rec + 16, 8);
			st->ctx->stacks->lost += v;
		}
		break;
	case PERF_RECORD_LOST_SAMPLES: /* u64 lost */
		if (len >= 16) {
			memcpy(&v, rec + 8, 8);
			st->ctx->stacks->lost += v;
		}
		break;
	default:
		break;
	}
}

/* ---- rings ---- */

/* The record at r->tail (copied if it wraps), or NULL when the ring is drained. */
static const uint8_t *ring_peek(struct ring *r, size_t *len)
{
	struct perf_event_header h;
	size_t off, first;
	uint64_t avail = r->head - r->tail;

	if (avail < sizeof(h))
		return NULL;
	off = r->tail & (r->size - 1);
	first = r->size - off;
	if (first >= sizeof(h)) {
		memcpy(&h, r->data + off, sizeof(h));
	} else {
		memcpy(&h, r->data + off, first);
		memcpy((uint8_t *)&h + first, r->data, sizeof(h) - first);
	}
	if (h.size < sizeof(h) || h.size > avail) {
		r->tail = r->head; /* corrupt: drop what is left */
		return NULL;
	}
	*len = h.size;
	if (first >= h.size)
		return r->data + off;
	memcpy(r->tmp, r->data + off, first);
	memcpy(r->tmp + first, r->data, h.size - first);
	return r->tmp;
}

static uint64_t record_time(const uint8_t *rec, size_t len)
{
	const struct perf_event_header *h = (const void *)rec;
	uint64_t t = 0;

	if (h->type == PERF_RECORD_SAMPLE) {
		if (len >= 32)
			memcpy(&t, rec + 24, 8); /* header, ip, pid/tid, time */
	} else if (len >= 16) {
		memcpy(&t, rec + len - 8, 8); /* sample_id_all: pid/tid, time trailer */
	}
	return t;
}

/* Processes every record the rings hold, oldest first across CPUs. */
static void drain(struct perf_state *st)
{
	for (int i = 0; i < st->ncpu; i++) {
		struct ring *r = &st->rings[i];
		if (!r->meta)
			continue;
		r->head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	}
	for (;;) {
		struct ring *best = NULL;
		const uint8_t *rec = NULL;
		uint64_t best_t = UINT64_MAX;
		size_t best_len = 0;

		for (int i = 0; i < st->ncpu; i++) {
			struct ring *r = &st->rings[i];
			const uint8_t *p;
			size_t len;
			uint64_t t;

			if (!r->meta)
				continue;
			p = ring_peek(r, &len);
			if (!p)
				continue;
			t = record_time(p, len);
			if (!best || t < best_t) {
				best = r;
				best_t = t;
				rec = p;
				best_len = len;
			}
		}
		if (!best)
			break;
		on_record(st, rec, best_len);
		best->tail += best_len;
		__atomic_store_n(&best->meta->data_tail, best->tail, __ATOMIC_RELEASE);
	}
}

/* ---- set-up ---- */

static int perf_open(struct perf_event_attr *a, pid_t pid, int cpu)
{
	return (int)syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int add_fd(struct perf_state *st, int fd)
{
	if (GROW(st->fds, st->fds_cap, st->nfds + 1) < 0) {
		close(fd);
		return -ENOMEM;
	}
	st->fds[st->nfds++] = fd;
	return 0;
}

static int read_sysctl(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1000;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1000;
	buf[n] = 0;
	return (int)strtol(buf, NULL, 10);
}

static int open_error(int e, pid_t pid, bool kernel, char *err, size_t errsz)
{
	int paranoid = read_sysctl("perf_event_paranoid");

	if ((e == EACCES || e == EPERM) && kernel)
		return errf(err, errsz, -e,
			    "kernel frames (--kernel) are not permitted: kernel.perf_event_paranoid "
			    "is %d (needs 1 or less, or CAP_PERFMON; see docs/permissions.md)",
			    paranoid);
	if (e == EACCES || e == EPERM) {
		if (paranoid > -1000)
			return errf(err, errsz, -e,
				    "perf_event_open is not permitted (kernel.perf_event_paranoid "
				    "is %d; lower it to 2 or grant CAP_PERFMON; see "
				    "docs/permissions.md)",
				    paranoid);
		return errf(err, errsz, -e,
			    "perf_event_open is not permitted (grant CAP_PERFMON; see "
			    "docs/permissions.md)");
	}
	if (e == ENOENT || e == ENOSYS || e == EOPNOTSUPP)
		return errf(err, errsz, -ENOSYS,
			    "perf_event_open is not available (no perf events in this kernel or "
			    "container; see docs/permissions.md)");
	if (e == ESRCH)
		return errf(err, errsz, -ESRCH, "no such process: pid %d", (int)pid);
	if (e == EINVAL)
		return errf(err, errsz, -EINVAL,
			    "perf_event_open refused the event (is -F above "
			    "kernel.perf_event_max_sample_rate, %d?)",
			    read_sysctl("perf_event_max_sample_rate"));
	return errf(err, errsz, -e, "perf_event_open failed: %s", strerror(e));
}

static size_t ring_pages(const struct sampler_opts *o, int ncpu)
{
	uint64_t per_sample = o->callgraph == SAMPLER_CALLGRAPH_DWARF
				      ? (uint64_t)o->stack_size + 256 + (o->kernel ? 1024 : 0)
				      : 1200;
	/* a quarter of a second of samples of one CPU, a power of two of pages, and at
	 * most 64 MiB over all CPUs */
	uint64_t want = (uint64_t)o->freq_hz * per_sample / 4;
	uint64_t cap = (UINT64_C(64) << 20) / (uint64_t)ncpu;
	size_t pages = 16;

	if (cap < (UINT64_C(64) << 10))
		cap = UINT64_C(64) << 10;
	while ((uint64_t)pages * 4096 < want && (uint64_t)pages * 2 * 4096 <= cap)
		pages *= 2;
	return pages;
}

static int map_ring(struct ring *r, int fd, size_t *pages)
{
	long psz = sysconf(_SC_PAGESIZE);

	for (;;) {
		void *p = mmap(NULL, (*pages + 1) * (size_t)psz, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fd, 0);
		if (p != MAP_FAILED) {
			r->meta = p;
			r->data = (uint8_t *)p + psz;
			r->size = *pages * (size_t)psz;
			r->fd = fd;
			r->tmp = malloc(MAX_RECORD);
			if (!r->tmp)
				return -ENOMEM;
			return 0;
		}
		if ((errno != EPERM && errno != ENOMEM) || *pages <= 1)
			return -errno;
		*pages /= 2; /* over perf_event_mlock_kb: try smaller */
	}
}

static void fill_attr(struct perf_event_attr *a, const struct sampler_opts *o, bool launched,
		      bool exclude_kernel, size_t ring_bytes)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_CPU_CLOCK;
	a->freq = 1;
	a->sample_freq = o->freq_hz;
	a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	if (o->callgraph == SAMPLER_CALLGRAPH_DWARF) {
		a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a->sample_regs_user = REGS_MASK;
		a->sample_stack_user = o->stack_size;
		if (o->kernel) {
			a->sample_type |= PERF_SAMPLE_CALLCHAIN;
			a->exclude_callchain_user = 1;
		}
	} else {
		a->sample_type |= PERF_SAMPLE_CALLCHAIN;
		a->exclude_callchain_kernel = !o->kernel;
	}
	/* kernel ticks stay (unless not permitted): a thread in a system call is using
	 * CPU too, and its user registers at kernel entry still unwind */
	a->exclude_kernel = exclude_kernel;
	a->exclude_hv = 1;
	a->inherit = 1;
	a->disabled = launched;
	a->enable_on_exec = launched;
	a->mmap = 1;
	a->mmap2 = 1;
	a->comm = 1;
	a->comm_exec = 1;
	a->task = 1;
	a->sample_id_all = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(ring_bytes / 4);
}

static void stop(void *state);

static int start(void **state, struct sampler_ctx *ctx, char *err, size_t errsz)
{
	const struct sampler_opts *o = ctx->opts;
	struct target *t = ctx->target;
	struct perf_state *st;
	struct perf_event_attr attr;
	bool exclude_kernel = false;
	size_t pages;
	int rc = 0;

	if (o->wall)
		return errf(err, errsz, -ENOTSUP,
			    "the perf sampler has no wall-clock mode in this build");
	st = calloc(1, sizeof(*st));
	if (!st)
		return errf(err, errsz, -ENOMEM, "out of memory");
	st->ctx = ctx;
	st->dwarf = o->callgraph == SAMPLER_CALLGRAPH_DWARF;
	st->kernel_chain = st->dwarf && o->kernel;
	st->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (st->ncpu < 1)
		st->ncpu = 1;
	st->rings = calloc((size_t)st->ncpu, sizeof(*st->rings));
	st->pfds = calloc((size_t)st->ncpu, sizeof(*st->pfds));
	if (!st->rings || !st->pfds) {
		rc = errf(err, errsz, -ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < st->ncpu; i++)
		st->rings[i].fd = -1;
	pages = ring_pages(o, st->ncpu);

	/* the pids we know from the start */
	for (size_t k = 0; k < t->npids; k++) {
		int64_t asid = maps_space_of(ctx->maps, (uint32_t)t->pids[k]);
		if (asid >= 0)
			table_put(&st->procs, (uint32_t)t->pids[k], (uint32_t)asid);
	}

	if (t->launched) {
		for (int cpu = 0; cpu < st->ncpu; cpu++) {
			int fd;
			fill_attr(&attr, o, true, exclude_kernel, pages * 4096);
			fd = perf_open(&attr, t->child, cpu);
			if (fd < 0 && (errno == EACCES || errno == EPERM) && !exclude_kernel &&
			    !o->kernel) {
				/* perf_event_paranoid 2: user space only */
				exclude_kernel = true;
				fill_attr(&attr, o, true, exclude_kernel, pages * 4096);
				fd = perf_open(&attr, t->child, cpu);
			}
			if (fd < 0) {
				if (errno == ENODEV || errno == EINVAL) {
					if (cpu > 0 && errno == ENODEV)
						continue; /* offline CPU */
				}
				rc = open_error(errno, t->child, o->kernel, err, errsz);
				goto out;
			}
			if ((rc = add_fd(st, fd)) < 0) {
				rc = errf(err, errsz, rc, "out of memory");
				goto out;
			}
			rc = map_ring(&st->rings[cpu], fd, &pages);
			if (rc < 0) {
				rc = errf(err, errsz, rc, "cannot map the perf ring buffer: %s",
					  strerror(-rc));
				goto out;
			}
		}
	} else {
		for (size_t k = 0; k < t->npids; k++) {
			pid_t pid = t->pids[k];
			int64_t asid = asid_of(st, (uint32_t)pid);
			pid_t *seen = NULL;
			size_t nseen = 0, seen_cap = 0;
			bool grew = true;

			/* threads may start while we open: list again until no new one */
			while (grew) {
				pid_t *tids;
				int ntids = target_threads(pid, &tids);
				grew = false;
				if (ntids < 0) {
					if (!nseen) {
						rc = errf(err, errsz, -ESRCH, "no such process: pid %d",
							  (int)pid);
						free(seen);
						goto out;
					}
					break;
				}
				for (int j = 0; j < ntids; j++) {
					bool known = false;
					for (size_t q = 0; q < nseen; q++)
						known |= seen[q] == tids[j];
					if (known)
						continue;
					if (GROW(seen, seen_cap, nseen + 1) < 0) {
						free(tids);
						free(seen);
						rc = errf(err, errsz, -ENOMEM, "out of memory");
						goto out;
					}
					seen[nseen++] = tids[j];
					grew = true;
					if (asid >= 0)
						note_thread(st, (uint32_t)asid, (uint32_t)pid,
							    (uint32_t)tids[j], NULL);
					for (int cpu = 0; cpu < st->ncpu; cpu++) {
						struct ring *r = &st->rings[cpu];
						int fd;
						fill_attr(&attr, o, false, exclude_kernel,
							  pages * 4096);
						fd = perf_open(&attr, tids[j], cpu);
						if (fd < 0 && (errno == EACCES || errno == EPERM) &&
						    !exclude_kernel && !o->kernel) {
							exclude_kernel = true;
							fill_attr(&attr, o, false, exclude_kernel,
								  pages * 4096);
							fd = perf_open(&attr, tids[j], cpu);
						}
						if (fd < 0) {
							if (errno == ESRCH)
								break; /* the thread exited */
							if (errno == ENODEV && cpu > 0)
								continue;
							rc = open_error(errno, pid, o->kernel, err, errsz);
							free(tids);
							free(seen);
							goto out;
						}
						if ((rc = add_fd(st, fd)) < 0) {
							free(tids);
							free(seen);
							rc = errf(err, errsz, rc, "out of memory");
							goto out;
						}
						if (!r->meta) {
							rc = map_ring(r, fd, &pages);
							if (rc < 0) {
								free(tids);
								free(seen);
								rc = errf(err, errsz, rc,
									  "cannot map the perf ring "
									  "buffer: %s",
									  strerror(-rc));
								goto out;
							}
						} else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) <
							   0) {
							int e = errno;
							free(tids);
							free(seen);
							rc = errf(err, errsz, -e,
								  "cannot redirect a perf event: %s",
								  strerror(e));
							goto out;
						}
					}
				}
				free(tids);
			}
			free(seen);
		}
	}
	if (exclude_kernel)
		snprintf(ctx->notice, sizeof(ctx->notice),
			 "kernel.perf_event_paranoid is %d: time in system calls is not sampled "
			 "(see docs/permissions.md)",
			 read_sysctl("perf_event_paranoid"));
	*state = st;
	return 0;
out:
	stop(st);
	return rc;
}

/* Whether the recording should go on: the launched command, or any attached
 * process, still runs. */
static bool targets_alive(struct perf_state *st)
{
	struct target *t = st->ctx->target;

	if (t->launched)
		return !target_poll(t);
	for (size_t k = 0; k < t->npids; k++)
		if (target_alive(t->pids[k]))
			return true;
	return false;
}

#define PYTHON_POLL_MS 1

static int read_samples(void *state, int timeout_ms)
{
	struct perf_state *st = state;
	nfds_t n = 0;
	uint64_t t;

	for (int i = 0; i < st->ncpu; i++) {
		struct ring *r = &st->rings[i];
		if (!r->meta || r->hup)
			continue;
		st->pfds[n].fd = r->fd;
		st->pfds[n].events = POLLIN;
		st->pfds[n].revents = 0;
		n++;
	}
	/* Python frames are read from the live process when a sample is handled, so
	 * handle samples within a millisecond or two of being taken rather than when a
	 * quarter of a ring has filled: look at the rings every PYTHON_POLL_MS. (A
	 * wake-up per sample would do it too, but the kernel charges that wake-up to
	 * the sampled thread: +4% of its CPU at 999 Hz here.) */
	if (st->ctx->python && timeout_ms > PYTHON_POLL_MS)
		timeout_ms = PYTHON_POLL_MS;
	if (n) {
		if (poll(st->pfds, n, timeout_ms) > 0) {
			for (nfds_t k = 0; k < n; k++) {
				if (!(st->pfds[k].revents & (POLLHUP | POLLERR)))
					continue;
				for (int i = 0; i < st->ncpu; i++)
					if (st->rings[i].fd == st->pfds[k].fd)
						st->rings[i].hup = true;
			}
		}
	} else if (timeout_ms > 0) {
		struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	drain(st);
	t = now_ns();
	if (st->ctx->target->launched || t - st->last_alive_ns >= ALIVE_CHECK_NS) {
		st->last_alive_ns = t;
		if (!targets_alive(st)) {
			drain(st);
			return 0;
		}
	}
	return 1;
}

static void stop(void *state)
{
	struct perf_state *st = state;
	long psz = sysconf(_SC_PAGESIZE);

	if (!st)
		return;
	for (size_t k = 0; k < st->nfds; k++)
		ioctl(st->fds[k], PERF_EVENT_IOC_DISABLE, 0);
	if (st->rings)
		drain(st);
	for (int i = 0; st->rings && i < st->ncpu; i++) {
		struct ring *r = &st->rings[i];
		if (r->meta)
			munmap(r->meta, r->size + (size_t)psz);
		free(r->tmp);
	}
	for (size_t k = 0; k < st->nfds; k++)
		close(st->fds[k]);
	free(st->fds);
	free(st->rings);
	free(st->pfds);
	free(st->procs.v);
	free(st->threads.v);
	free(st);
}

const struct sampler_ops sampler_perf = {"perf", start, read_samples, stop};
