#include "symbolizer/resolve.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "symbolizer/demangle.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/perfmap.h"
#include "symbolizer/sym.h"
#include "symbolizer/syscalls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elf.h>

/*
 * Four passes, so that every unique address is symbolized once and each ELF file is
 * open (with its DWARF, tens of MB for libc) only while its own addresses resolve:
 *  1. every (address space, tagged entry) of every stack becomes a location record;
 *     a user address in a file-backed mapping becomes a key (file, file offset),
 *     shared by every process that maps the file;
 *  2. keys are sorted by file; each file is opened, its keys resolved into frames
 *     (interned in the profile at once), and closed;
 *  3. each location record gets its frames (JIT, kernel, Python, wait, unknown) and
 *     becomes a profile location;
 *  4. each stack becomes a root-first frame list in the trie and a sample.
 */

#define NONE UINT32_MAX
/* Most frames one address gives (a deeper inline chain keeps its innermost part). */
#define MAX_FRAMES 64

struct frame {
	uint32_t func;    /* name id of the bare function name */
	uint32_t file;    /* name id of the source file, or PROFILE_NONE */
	uint32_t line;    /* 0 when unknown */
	uint32_t start_line; /* the function's first line (its declaration), 0 when unknown */
	uint32_t display; /* name id of the frame as the trie shows it */
	uint8_t kind;     /* enum profile_kind */
};

struct loc_rec {
	uint64_t entry;   /* tagged stack entry */
	uint32_t asid;
	uint32_t key;     /* index in keys, or NONE */
	uint32_t mapping; /* index in maps.v, or NONE */
	uint32_t first;   /* frames[first ..+ n), innermost first */
	uint32_t n;
	uint32_t loc; /* profile location id */
};

struct key {
	uint64_t off; /* file offset of the address */
	uint32_t file;
	uint32_t first, n;
};

struct table {
	uint32_t *slots; /* index + 1; 0 is empty */
	size_t cap;
};

struct pid_map {
	uint32_t pid;
	bool loaded;
	struct perfmap pm;
};

struct ctx {
	const struct stacks *s;
	const struct maps *m;
	const struct resolve_opts *o;
	struct profile *p;
	struct resolve_stats st;

	struct loc_rec *recs;
	size_t nrecs, recs_cap;
	struct table rec_index;
	uint32_t *entry_rec; /* per stacks.addrs entry */

	struct key *keys;
	size_t nkeys, keys_cap;
	struct table key_index;

	struct frame *frames;
	size_t nframes, frames_cap;

	uint32_t *file_build_id; /* per maps file: name id of the hex build id */
	uint32_t *map_ids;       /* per maps.v entry: profile mapping id */

	struct demangle *dm;
	bool kallsyms_tried;
	struct kallsyms ks;
	struct pid_map *pms;
	size_t npms, pms_cap;

	struct buf b;
	uint32_t kernel_frame; /* display id of "[kernel]_[k]", NONE until used */
};

/* ---- small open-addressing tables of indices ---- */

static uint64_t rec_hash(uint32_t asid, uint64_t entry)
{
	return hash_u64(entry ^ hash_u64(asid));
}

static uint64_t key_hash(uint32_t file, uint64_t off)
{
	return hash_u64(off ^ hash_u64((uint64_t)file << 1 | 1));
}

static int table_grow(struct table *t, size_t n, uint64_t (*hash_of)(const struct ctx *, uint32_t),
		      const struct ctx *c)
{
	size_t ncap;
	uint32_t *slots;

	if ((n + 1) * 2 <= t->cap)
		return 0;
	ncap = t->cap ? t->cap * 2 : 1024;
	slots = calloc(ncap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		size_t j = (size_t)hash_of(c, i) & (ncap - 1);
		while (slots[j])
			j = (j + 1) & (ncap - 1);
		slots[j] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = ncap;
	return 0;
}

static uint64_t rec_hash_of(const struct ctx *c, uint32_t i)
{
	return rec_hash(c->recs[i].asid, c->recs[i].entry);
}

static uint64_t key_hash_of(const struct ctx *c, uint32_t i)
{
	return key_hash(c->keys[i].file, c->keys[i].off);
}

/* ---- names ---- */

/* Appends name with the bytes folded text cannot hold replaced: ';' separates frames
 * (Rust's "[u8; 4]" becomes "[u8, 4]"), control bytes end lines. */
static int add_escaped(struct buf *b, const char *name)
{
	size_t start = b->len;

	if (buf_adds(b, name) < 0)
		return -ENOMEM;
	for (size_t i = start; i < b->len; i++) {
		if (b->p[i] == ';')
			b->p[i] = ',';
		else if ((unsigned char)b->p[i] < 0x20)
			b->p[i] = '?';
	}
	return 0;
}

static uint32_t intern_escaped(struct ctx *c, const char *name, enum profile_kind kind)
{
	buf_reset(&c->b);
	if (add_escaped(&c->b, name) < 0)
		return PROFILE_NONE;
	return profile_intern_kind(c->p, c->b.p ? c->b.p : "", c->b.len, kind);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* The frame as the trie shows it: "func", "func (file.c:12)", plus the kind's
 * suffix. */
static uint32_t display_name(struct ctx *c, const char *func, const char *file, uint32_t line,
			     bool with_file, enum profile_kind kind)
{
	static const char *const suffix[] = {
		[PROFILE_KIND_INLINED] = "_[i]", [PROFILE_KIND_KERNEL] = "_[k]",
		[PROFILE_KIND_JIT] = "_[j]",     [PROFILE_KIND_WAIT] = "_[w]",
	};
	int rc;

	buf_reset(&c->b);
	rc = add_escaped(&c->b, func);
	if (!rc && with_file && file) {
		rc = buf_adds(&c->b, " (");
		if (!rc)
			rc = add_escaped(&c->b, base_name(file));
		if (!rc && line)
			rc = buf_printf(&c->b, ":%" PRIu32, line);
		if (!rc)
			rc = buf_addc(&c->b, ')');
	}
	if (!rc && kind < sizeof(suffix) / sizeof(suffix[0]) && suffix[kind])
		rc = buf_adds(&c->b, suffix[kind]);
	if (rc < 0)
		return PROFILE_NONE;
	return profile_intern_kind(c->p, c->b.p ? c->b.p : "", c->b.len, kind);
}

static int push_frame(struct ctx *c, const char *func, const char *file, uint32_t line,
		      enum profile_kind kind, bool show_file)
{
	struct frame f;

	if (c->nframes >= NONE - 1 || GROW(c->frames, c->frames_cap, c->nframes + 1) < 0)
		return -ENOMEM;
	f.func = intern_escaped(c, func, PROFILE_KIND_NATIVE);
	f.file = file ? profile_intern_kind(c->p, file, strlen(file), PROFILE_KIND_NATIVE)
		      : PROFILE_NONE;
	f.line = line;
	f.start_line = 0;
	f.kind = (uint8_t)kind;
	f.display = display_name(c, func, file, line, show_file, kind);
	if (f.func == PROFILE_NONE || f.display == PROFILE_NONE || (file && f.file == PROFILE_NONE))
		return -ENOMEM;
	c->frames[c->nframes++] = f;
	return 0;
}

/* ---- pass 1: location records and keys ---- */

static int64_t key_get(struct ctx *c, uint32_t file, uint64_t off)
{
	size_t mask, i;

	if (table_grow(&c->key_index, c->nkeys, key_hash_of, c) < 0)
		return -ENOMEM;
	mask = c->key_index.cap - 1;
	for (i = (size_t)key_hash(file, off) & mask; c->key_index.slots[i]; i = (i + 1) & mask) {
		struct key *k = &c->keys[c->key_index.slots[i] - 1];
		if (k->file == file && k->off == off)
			return c->key_index.slots[i] - 1;
	}
	if (c->nkeys >= NONE - 1 || GROW(c->keys, c->keys_cap, c->nkeys + 1) < 0)
		return -ENOMEM;
	c->keys[c->nkeys] = (struct key){off, file, 0, 0};
	c->key_index.slots[i] = (uint32_t)c->nkeys + 1;
	return (int64_t)c->nkeys++;
}

/* Anonymous memory as perf's MMAP records name it ("//anon", "/dev/zero" and the
 * like, as perf's map.c treats them): where JIT code lives. */
static bool anon_like(const struct maps *m, const struct maps_entry *e)
{
	static const char *const prefixes[] = {"//anon", "/dev/zero", "/anon_hugepage",
					       "/memfd:", "[anon"};
	const char *name = maps_str(m, e->name);

	if (e->file == MAPS_ANON && !name[0])
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* The vDSO has no file: the key's file index past maps.files stands for it. */
static uint32_t vdso_file(const struct ctx *c)
{
	return (uint32_t)c->m->nfiles;
}

/* A copy of scorch's own vDSO in a memfd: every process on one kernel maps the same
 * image (symbolizing.md §1), also those that have exited by now. -1 if none. */
static int vdso_fd(void)
{
	const unsigned char *img = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	size_t size;
	int fd;

	if (!img || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return -1;
	/* the image ends with its section headers */
	size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff) + i;
		if (ph->p_offset + ph->p_filesz > size)
			size = ph->p_offset + ph->p_filesz;
	}
	if (size > (1 << 20))
		return -1;
	fd = memfd_create("scorch-vdso", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, img, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The user address an entry stands for: return addresses point after the call, so
 * look up addr - 1 (elfutils' dwfl_frame_pc does the same); exact pcs as they are. */
static uint64_t entry_pc(uint64_t entry)
{
	uint64_t v = stack_value(entry);

	return stack_tag(entry) == STACK_TAG_USER && v ? v - 1 : v;
}

static int64_t rec_get(struct ctx *c, uint32_t asid, uint64_t entry)
{
	struct loc_rec r = {entry, asid, NONE, NONE, 0, 0, NONE};
	enum stack_tag tag = stack_tag(entry);
	size_t mask, i;

	if (table_grow(&c->rec_index, c->nrecs, rec_hash_of, c) < 0)
		return -ENOMEM;
	mask = c->rec_index.cap - 1;
	for (i = (size_t)rec_hash(asid, entry) & mask; c->rec_index.slots[i]; i = (i + 1) & mask) {
		struct loc_rec *q = &c->recs[c->rec_index.slots[i] - 1];
		if (q->asid == asid && q->entry == entry)
			return c->rec_index.slots[i] - 1;
	}
	if (tag == STACK_TAG_USER || tag == STACK_TAG_EXACT) {
		uint64_t pc = entry_pc(entry);
		const struct maps_entry *e = maps_lookup(c->m, asid, pc);
		if (e) {
			int64_t k = -1;
			r.mapping = (uint32_t)(e - c->m->v);
			if (e->file != MAPS_ANON && c->m->files[e->file].fd >= 0 && !anon_like(c->m, e))
				k = key_get(c, e->file, pc - e->start + e->pgoff);
			else if (e->file == MAPS_ANON && !strcmp(maps_str(c->m, e->name), "[vdso]"))
				k = key_get(c, vdso_file(c), pc - e->start);
			if (k < -1)
				return k;
			if (k >= 0)
				r.key = (uint32_t)k;
		}
	}
	if (c->nrecs >= NONE - 1 || GROW(c->recs, c->recs_cap, c->nrecs + 1) < 0)
		return -ENOMEM;
	c->recs[c->nrecs] = r;
	c->rec_index.slots[i] = (uint32_t)c->nrecs + 1;
	return (int64_t)c->nrecs++;
}

static int collect(struct ctx *c)
{
	const struct stacks *s = c->s;

	c->entry_rec = malloc((s->naddrs ? s->naddrs : 1) * sizeof(*c->entry_rec));
	if (!c->entry_rec)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct stack *st = &s->v[i];
		for (uint32_t d = 0; d < st->depth; d++) {
			int64_t r = rec_get(c, st->asid, s->addrs[st->first + d]);
			if (r < 0)
				return (int)r;
			c->entry_rec[st->first + d] = (uint32_t)r;
		}
	}
	return 0;
}

/* ---- pass 2: files ---- */

static int cmp_keys(const void *a, const void *b, void *arg)
{
	const struct ctx *c = arg;
	const struct key *x = &c->keys[*(const uint32_t *)a];
	const struct key *y = &c->keys[*(const uint32_t *)b];

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int resolve_key(struct ctx *c, struct sym *sy, struct key *k)
{
	struct sym_frame fr[MAX_FRAMES];
	const char *path = k->file == vdso_file(c) ? "[vdso]"
							: maps_str(c->m, c->m->files[k->file].path);
	uint64_t vaddr = k->off;
	size_t n;
	int rc;

	k->first = (uint32_t)c->nframes;
	if (!sy) {
		/* an unreadable file: the file offset is all there is */
		char name[64 + 256];
		snprintf(name, sizeof(name), "%.256s+0x%" PRIx64, base_name(path), k->off);
		c->st.unresolved++;
		rc = push_frame(c, name, NULL, 0, PROFILE_KIND_NATIVE, false);
		k->n = 1;
		return rc;
	}
	sym_offset_vaddr(sy, k->off, &vaddr);
	n = sym_lookup(sy, vaddr, fr, MAX_FRAMES);
	if (n && fr[n - 1].source == SYM_FROM_NONE)
		c->st.unresolved++;
	for (size_t i = 0; i < n; i++) {
		rc = push_frame(c, fr[i].func, fr[i].file, fr[i].line,
				fr[i].inlined ? PROFILE_KIND_INLINED : PROFILE_KIND_NATIVE,
				c->o->lines);
		if (rc < 0)
			return rc;
		c->frames[c->nframes - 1].start_line = fr[i].start_line;
	}
	k->n = (uint32_t)n;
	return 0;
}

static int resolve_files(struct ctx *c, char *err, size_t errsz)
{
	struct sym_opts so = {
		.dwarf = c->o->inlines || c->o->lines,
		.inlines = c->o->inlines,
		.lines = c->o->lines,
		.demangle = c->o->demangle,
	};
	uint32_t *order;
	int rc = 0;

	if (!c->nkeys)
		return 0;
	order = malloc(c->nkeys * sizeof(*order));
	if (!order)
		return errf(err, errsz, -ENOMEM, "out of memory symbolizing");
	for (uint32_t i = 0; i < c->nkeys; i++)
		order[i] = i;
	qsort_r(order, c->nkeys, sizeof(*order), cmp_keys, c);
	for (size_t i = 0; i < c->nkeys && rc == 0;) {
		uint32_t file = c->keys[order[i]].file;
		bool vdso = file == vdso_file(c);
		int fd = vdso ? vdso_fd() : c->m->files[file].fd;
		const char *path = vdso ? "[vdso]" : maps_str(c->m, c->m->files[file].path);
		struct sym *sy = NULL;
		size_t j;

		/* a file that cannot be read as ELF still gives module+0xOFF frames */
		if (fd >= 0 && sym_open(&sy, fd, path, &so, c->dm, NULL, 0) == 0) {
			const char *id = sym_build_id(sy);
			c->st.files++;
			if (id) {
				c->file_build_id[file] =
					profile_intern_kind(c->p, id, strlen(id), PROFILE_KIND_NATIVE);
				if (c->file_build_id[file] == PROFILE_NONE)
					rc = -ENOMEM;
			}
		}
		for (j = i; j < c->nkeys && c->keys[order[j]].file == file && rc == 0; j++)
			rc = resolve_key(c, sy, &c->keys[order[j]]);
		sym_close(sy);
		if (vdso && fd >= 0)
			close(fd);
		i = j;
	}
	free(order);
	if (rc < 0)
		return errf(err, errsz, rc, "out of memory symbolizing");
	return 0;
}

/* ---- pass 3: locations ---- */

/* Where the target's JIT symbols are, and whether the file may be trusted: owned by
 * the target's user or root, and not older than the process (symbolizing.md §9). */
/* The pid of a live process in its own pid namespace (the last NSpid of
 * /proc/PID/status), or 0. */
static uint32_t ns_pid(uint32_t pid)
{
	char path[64], line[256];
	uint32_t ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "NSpid:", 6)) {
			char *q = line + 6, *end;
			for (;;) {
				unsigned long v = strtoul(q, &end, 10);
				if (end == q)
					break;
				ns = (uint32_t)v;
				q = end;
			}
			break;
		}
	}
	fclose(f);
	return ns;
}

static struct perfmap *perfmap_of(struct ctx *c, uint32_t pid)
{
	struct perfmap_check chk = {geteuid(), 0};
	struct pid_map *pm = NULL;
	uint32_t nspid;
	char path[96];
	struct stat st;

	for (size_t i = 0; i < c->npms; i++)
		if (c->pms[i].pid == pid)
			pm = &c->pms[i];
	if (!pm) {
		if (GROW(c->pms, c->pms_cap, c->npms + 1) < 0)
			return NULL;
		pm = &c->pms[c->npms++];
		pm->pid = pid;
		pm->loaded = false;
		perfmap_init(&pm->pm);
	}
	if (pm->loaded)
		return &pm->pm;
	pm->loaded = true;
	snprintf(path, sizeof(path), "/proc/%" PRIu32, pid);
	if (stat(path, &st) == 0) {
		/* alive: its owner, and its start time from /proc/PID/stat */
		FILE *f;
		chk.uid = st.st_uid;
		snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", pid);
		f = fopen(path, "re");
		if (f) {
			char line[1024];
			unsigned long long start_ticks = 0, btime = 0;
			if (fgets(line, sizeof(line), f)) {
				char *q = strrchr(line, ')');
				/* field 22 is starttime; q is at the end of field 2 */
				for (int field = 2; q && field < 22; field++)
					q = strchr(q + 1, ' ');
				if (q)
					start_ticks = strtoull(q + 1, NULL, 10);
			}
			fclose(f);
			f = fopen("/proc/stat", "re");
			if (f) {
				while (fgets(line, sizeof(line), f))
					if (sscanf(line, "btime %llu", &btime) == 1)
						break;
				fclose(f);
			}
			if (btime && start_ticks)
				/* a second of slack: both are rounded */
				chk.min_mtime = (int64_t)(btime + start_ticks /
							  (unsigned long long)sysconf(_SC_CLK_TCK)) - 1;
		}
	}
	/* in a container the JIT writes its own /tmp with the pid of its namespace */
	nspid = ns_pid(pid);
	if (nspid && nspid != pid) {
		snprintf(path, sizeof(path), "/proc/%" PRIu32 "/root/tmp/perf-%" PRIu32 ".map", pid,
			 nspid);
		if (perfmap_read(&pm->pm, path, &chk, NULL, 0) != -ENOENT)
			return &pm->pm;
	}
	snprintf(path, sizeof(path), "/tmp/perf-%" PRIu32 ".map", pid);
	perfmap_read(&pm->pm, path, &chk, NULL, 0);
	return &pm->pm;
}

static int rec_frames(struct ctx *c, struct loc_rec *r)
{
	enum stack_tag tag = stack_tag(r->entry);
	uint64_t v = stack_value(r->entry);
	char name[64];
	int rc = 0;

	if (r->key != NONE) {
		r->first = c->keys[r->key].first;
		r->n = c->keys[r->key].n;
		return 0;
	}
	r->first = (uint32_t)c->nframes;
	r->n = 1;
	switch (tag) {
	case STACK_TAG_USER:
	case STACK_TAG_EXACT: {
		const struct maps_entry *e = r->mapping != NONE ? &c->m->v[r->mapping] : NULL;
		uint64_t pc = entry_pc(r->entry);
		const char *jit = NULL;

		if (!e || anon_like(c->m, e)) {
			struct perfmap *pm = perfmap_of(c, c->m->spaces[r->asid].pid);
			jit = pm ? perfmap_lookup(pm, pc) : NULL;
		}
		if (jit) {
			c->st.jit++;
			rc = push_frame(c, jit, NULL, 0, PROFILE_KIND_JIT, false);
		} else if (e && anon_like(c->m, e)) {
			c->st.unresolved++;
			rc = push_frame(c, "[anon]", NULL, 0, PROFILE_KIND_NATIVE, false);
		} else if (e && e->file != MAPS_ANON) {
			/* a file that could not be opened */
			char buf[64 + 256];
			snprintf(buf, sizeof(buf), "%.256s+0x%" PRIx64,
				 base_name(maps_str(c->m, e->name)), pc - e->start + e->pgoff);
			c->st.unresolved++;
			rc = push_frame(c, buf, NULL, 0, PROFILE_KIND_NATIVE, false);
		} else if (e && maps_str(c->m, e->name)[0]) {
			/* [vdso], [heap], [anon:name]: the mapping is all that is known */
			c->st.unresolved++;
			rc = push_frame(c, maps_str(c->m, e->name), NULL, 0, PROFILE_KIND_NATIVE,
					false);
		} else {
			c->st.unresolved++;
			rc = push_frame(c, "[unknown]", NULL, 0, PROFILE_KIND_NATIVE, false);
		}
		break;
	}
	case STACK_TAG_KERNEL: {
		const char *ks = NULL;
		uint64_t off;

		c->st.kernel++;
		if (!c->kallsyms_tried) {
			c->kallsyms_tried = true;
			kallsyms_read(&c->ks, "/proc/kallsyms", NULL, 0);
			c->st.kernel_hidden = c->ks.zero || !c->ks.n;
		}
		ks = kallsyms_lookup(&c->ks, v, &off);
		if (!ks)
			c->st.unresolved++;
		rc = push_frame(c, ks ? ks : "[kernel]", NULL, 0, PROFILE_KIND_KERNEL, false);
		if (!ks && !rc)
			c->kernel_frame = c->frames[c->nframes - 1].display;
		break;
	}
	case STACK_TAG_PYTHON: {
		const struct stack_pyframe *py;
		if (v >= c->s->npyframes) {
			rc = push_frame(c, "[python]", NULL, 0, PROFILE_KIND_PYTHON, false);
			break;
		}
		py = &c->s->pyframes[v];
		rc = push_frame(c, stacks_str(c->s, py->func), stacks_str(c->s, py->file),
				c->o->lines ? py->line : 0, PROFILE_KIND_PYTHON, true);
		/* the recorded detail keeps the line even without --lines */
		if (!rc)
			c->frames[c->nframes - 1].line = py->line;
		break;
	}
	case STACK_TAG_WAIT: {
		const char *sc = v == STACK_WAIT_UNKNOWN ? "[off-cpu]" : syscall_name(v);
		if (!sc) {
			snprintf(name, sizeof(name), "syscall_%" PRIu64, v);
			sc = name;
		}
		rc = push_frame(c, sc, NULL, 0, PROFILE_KIND_WAIT, false);
		break;
	}
	default:
		snprintf(name, sizeof(name), "[tag 0x%02x]", (unsigned)tag);
		rc = push_frame(c, name, NULL, 0, PROFILE_KIND_NATIVE, false);
		break;
	}
	return rc;
}

static uint32_t mapping_id(struct ctx *c, uint32_t mapping)
{
	const struct maps_entry *e;
	struct profile_mapping pm;
	int64_t id;

	if (mapping == NONE)
		return PROFILE_NONE;
	if (c->map_ids[mapping] != NONE)
		return c->map_ids[mapping];
	e = &c->m->v[mapping];
	if (e->file == MAPS_ANON)
		return PROFILE_NONE;
	pm.start = e->start;
	pm.limit = e->end;
	pm.offset = e->pgoff;
	pm.file = profile_intern_kind(c->p, maps_str(c->m, e->name), strlen(maps_str(c->m, e->name)),
				      PROFILE_KIND_NATIVE);
	pm.build_id = c->file_build_id[e->file];
	if (pm.file == PROFILE_NONE)
		return NONE - 1;
	id = profile_add_mapping(c->p, &pm);
	if (id < 0)
		return NONE - 1;
	c->map_ids[mapping] = (uint32_t)id;
	return (uint32_t)id;
}

static int make_locations(struct ctx *c)
{
	struct profile_line *lines = NULL;
	size_t lines_cap = 0;
	int rc = 0;

	for (size_t i = 0; i < c->nrecs && rc == 0; i++) {
		struct loc_rec *r = &c->recs[i];
		enum stack_tag tag = stack_tag(r->entry);
		uint64_t addr = 0;
		uint32_t mid;
		int64_t id;

		rc = rec_frames(c, r);
		if (rc < 0)
			break;
		if (GROW(lines, lines_cap, r->n) < 0) {
			rc = -ENOMEM;
			break;
		}
		for (uint32_t k = 0; k < r->n; k++) {
			const struct frame *f = &c->frames[r->first + k];
			lines[k] = (struct profile_line){f->func, f->file, f->line, f->start_line};
		}
		if (tag == STACK_TAG_USER || tag == STACK_TAG_EXACT)
			addr = entry_pc(r->entry);
		else if (tag == STACK_TAG_KERNEL)
			addr = r->entry;
		mid = mapping_id(c, r->mapping);
		if (mid == NONE - 1) {
			rc = -ENOMEM;
			break;
		}
		id = profile_add_location(c->p, addr, mid, lines, r->n,
					  r->n ? c->frames[r->first].kind : PROFILE_KIND_NATIVE);
		if (id < 0) {
			rc = (int)id;
			break;
		}
		r->loc = (uint32_t)id;
	}
	free(lines);
	return rc;
}

/* ---- pass 4: stacks ---- */

struct thread_key {
	uint32_t asid, tid;
};

static uint32_t thread_of(struct table *t, const struct thread_key *keys,
			  uint32_t asid, uint32_t tid)
{
	size_t mask = t->cap - 1;

	for (size_t i = (size_t)hash_u64((uint64_t)asid << 32 | tid) & mask; t->slots[i];
	     i = (i + 1) & mask) {
		const struct thread_key *k = &keys[t->slots[i] - 1];
		if (k->asid == asid && k->tid == tid)
			return t->slots[i] - 1;
	}
	return NONE;
}

static int add_stacks(struct ctx *c)
{
	const struct stacks *s = c->s;
	struct thread_key *keys = NULL;
	size_t nkeys = 0, keys_cap = 0;
	struct table tt = {NULL, 0};
	uint32_t *frames = NULL, *locs = NULL;
	size_t frames_cap = 0, locs_cap = 0;
	int rc = 0;

	/* threads: every one the profiler saw, then any a stack names that it did not */
	tt.cap = 64;
	while (tt.cap < (s->nthreads + s->n) * 2 + 2)
		tt.cap *= 2;
	tt.slots = calloc(tt.cap, sizeof(*tt.slots));
	if (!tt.slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->nthreads + s->n && rc == 0; i++) {
		uint32_t asid, pid, tid;
		const char *comm;
		uint32_t name;
		size_t j;

		if (i < s->nthreads) {
			asid = s->threads[i].asid;
			pid = s->threads[i].pid;
			tid = s->threads[i].tid;
			comm = s->threads[i].comm;
		} else {
			asid = s->v[i - s->nthreads].asid;
			tid = s->v[i - s->nthreads].tid;
			pid = asid < c->m->nspaces ? c->m->spaces[asid].pid : 0;
			comm = asid < c->m->nspaces ? c->m->spaces[asid].comm : "";
		}
		if (thread_of(&tt, keys, asid, tid) != NONE)
			continue;
		if (GROW(keys, keys_cap, nkeys + 1) < 0) {
			rc = -ENOMEM;
			break;
		}
		name = comm[0] ? profile_intern_kind(c->p, comm, strnlen(comm, 16),
						     PROFILE_KIND_NATIVE)
			       : PROFILE_NONE;
		if (profile_add_thread(c->p, pid, tid, name) < 0) {
			rc = -ENOMEM;
			break;
		}
		keys[nkeys] = (struct thread_key){asid, tid};
		for (j = (size_t)hash_u64((uint64_t)asid << 32 | tid) & (tt.cap - 1); tt.slots[j];
		     j = (j + 1) & (tt.cap - 1))
			;
		tt.slots[j] = (uint32_t)++nkeys;
	}

	for (size_t i = 0; i < s->n && rc == 0; i++) {
		const struct stack *st = &s->v[i];
		uint32_t thread = thread_of(&tt, keys, st->asid, st->tid);
		size_t nf = 0, nl = 0, body;
		int64_t node;

		if (GROW(locs, locs_cap, (size_t)st->depth + 1) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (c->o->group != RESOLVE_GROUP_NONE) {
			const struct profile_thread *pt = thread != NONE ? &c->p->threads[thread] : NULL;
			const char *pcomm = st->asid < c->m->nspaces ? c->m->spaces[st->asid].comm : "";
			const char *tcomm = pt && pt->name != PROFILE_NONE
						    ? profile_name(c->p, pt->name, NULL)
						    : "";
			uint32_t pid = pt ? pt->pid : 0, root;
			char label[96];

			if (c->o->group == RESOLVE_GROUP_PROCESS)
				snprintf(label, sizeof(label), "%s-%" PRIu32,
					 pcomm[0] ? pcomm : tcomm[0] ? tcomm : "pid", pid);
			else
				snprintf(label, sizeof(label), "%s-%" PRIu32 "/%" PRIu32,
					 tcomm[0] ? tcomm : pcomm[0] ? pcomm : "tid", pid, st->tid);
			root = intern_escaped(c, label, PROFILE_KIND_ROOT);
			if (root == PROFILE_NONE || GROW(frames, frames_cap, 1) < 0) {
				rc = -ENOMEM;
				break;
			}
			frames[nf++] = root;
		}
		body = nf;
		/* root first: the outermost entry first, and within one address the
		 * physical function before the functions inlined into it */
		for (uint32_t d = st->depth; d-- > 0;) {
			const struct loc_rec *r = &c->recs[c->entry_rec[st->first + d]];
			if (c->o->python_only && !(r->n && c->frames[r->first].kind == PROFILE_KIND_PYTHON))
				continue;
			if (GROW(frames, frames_cap, nf + r->n + 1) < 0) {
				rc = -ENOMEM;
				break;
			}
			for (uint32_t k = r->n; k-- > 0;) {
				uint32_t id = c->frames[r->first + k].display;
				/* hidden kernel addresses: one [kernel] frame, not one each */
				if (id == c->kernel_frame && nf > body && frames[nf - 1] == id)
					continue;
				frames[nf++] = id;
			}
		}
		if (rc < 0)
			break;
		for (uint32_t d = 0; d < st->depth; d++) {
			const struct loc_rec *r = &c->recs[c->entry_rec[st->first + d]];
			if (c->o->python_only && !(r->n && c->frames[r->first].kind == PROFILE_KIND_PYTHON))
				continue;
			locs[nl++] = r->loc;
		}
		if (nf == body) {
			uint32_t id = profile_intern_kind(c->p, "[native]", 8, PROFILE_KIND_NATIVE);
			if (!c->o->python_only)
				id = profile_intern_kind(c->p, "[unknown]", 9, PROFILE_KIND_NATIVE);
			if (id == PROFILE_NONE || GROW(frames, frames_cap, nf + 1) < 0) {
				rc = -ENOMEM;
				break;
			}
			frames[nf++] = id;
		}
		node = profile_add(c->p, frames, nf, st->count);
		if (node < 0) {
			rc = (int)node;
			break;
		}
		if (profile_add_sample(c->p, locs, (uint32_t)nl, thread, st->count,
				       (st->flags & STACK_OFF_CPU) != 0) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	free(frames);
	free(locs);
	free(keys);
	free(tt.slots);
	return rc;
}

int resolve_profile(const struct stacks *s, const struct maps *m, const struct resolve_opts *o,
		    struct profile *p, struct resolve_stats *stats, char *err, size_t errsz)
{
	struct ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.m = m;
	c.o = o;
	c.p = p;
	c.kernel_frame = NONE;
	kallsyms_init(&c.ks);
	c.dm = demangle_new();
	c.file_build_id = malloc((m->nfiles + 1) * sizeof(*c.file_build_id));
	c.map_ids = malloc((m->n ? m->n : 1) * sizeof(*c.map_ids));
	if (!c.dm || !c.file_build_id || !c.map_ids) {
		rc = errf(err, errsz, -ENOMEM, "out of memory symbolizing");
		goto out;
	}
	for (size_t i = 0; i <= m->nfiles; i++)
		c.file_build_id[i] = PROFILE_NONE;
	for (size_t i = 0; i < m->n; i++)
		c.map_ids[i] = NONE;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].asid >= m->nspaces) {
			rc = errf(err, errsz, -EINVAL,
				  "a stack names address space %" PRIu32 " but only %zu exist",
				  s->v[i].asid, m->nspaces);
			goto out;
		}
	}

	rc = collect(&c);
	if (rc < 0) {
		rc = errf(err, errsz, rc, "out of memory symbolizing");
		goto out;
	}
	rc = resolve_files(&c, err, errsz);
	if (rc < 0)
		goto out;
	/* the keys' DWARF is closed by now; what is left is small */
	rc = make_locations(&c);
	if (rc == 0)
		rc = add_stacks(&c);
	if (rc < 0) {
		rc = errf(err, errsz, rc, "out of memory building the profile");
		goto out;
	}
	c.st.addresses = c.nrecs;
	p->meta.samples = s->samples;
	p->meta.lost = s->lost + s->failed;
	p->meta.complete = s->complete;
	p->meta.off_cpu = s->off_cpu;
	p->meta.on_cpu = (s->off_cpu || p->meta.wall) ? s->samples - s->off_cpu : 0;
	p->meta.py_mismatch = s->py_mismatch;
	if (stats)
		*stats = c.st;
out:
	for (size_t i = 0; i < c.npms; i++)
		perfmap_release(&c.pms[i].pm);
	free(c.pms);
	kallsyms_release(&c.ks);
	demangle_free(c.dm);
	free(c.recs);
	free(c.rec_index.slots);
	free(c.entry_rec);
	free(c.keys);
	free(c.key_index.slots);
	free(c.frames);
	free(c.file_build_id);
	free(c.map_ids);
	buf_release(&c.b);
	return rc;
}
