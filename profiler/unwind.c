/*
 * unwind: snapshots (registers + a copy of the top of the stack) to return
 * addresses, with libunwind's remote interface (libunwind-remote(3)) over our own
 * accessors. Design and measurements: docs/unwinding.md and
 * ../shared/reference/unwinding.md.
 *
 * - One unw_addr_space_t per address space (asid) of maps, with UNW_CACHE_GLOBAL:
 *   libunwind then caches the register-state record of every pc it has seen, so a
 *   return address met before costs no CFI lookup at all.
 * - Modules (parsed ELF files, mmapped once from the fds maps keeps) are shared by
 *   every address space that maps the same file. An image is a module at a bias in
 *   one address space, covering the module's whole PT_LOAD span.
 * - find_proc_info builds libunwind's UNW_INFO_FORMAT_REMOTE_TABLE from the module's
 *   .eh_frame_hdr (or from a table we build over .eh_frame, or .debug_frame
 *   converted to .eh_frame form) and lets libunwind's exported but undeclared
 *   dwarf_search_unwind_table do the binary search and FDE parsing.
 * - access_mem is called once per byte of CFI read, so it is O(1): the stack copy,
 *   then the last image hit, then a binary search, then a memcpy from the mmapped
 *   file. Tables we build ourselves live at non-canonical "fake" addresses that only
 *   access_mem knows (top byte FAKE_TAG).
 */
#include "profiler/unwind.h"

#include "common/buf.h"
#include "common/err.h"
#include "profiler/stacks.h"
#include "profiler/unwind_elf.h"

#include <elf.h>
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Exported by libunwind (x86-64 generic build) but declared in no public header:
 * binary search of a remote table and FDE parsing (src/dwarf/Gfind_proc_info-lsb.c). */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* Fake addresses: top byte FAKE_TAG (non-canonical, so never a real address), then
 * the module id, a region (FAKE_*), and a 32-bit offset. */
#define FAKE_TAG UINT64_C(0xa0)
#define FAKE_EH_TABLE 0    /* our table over .eh_frame */
#define FAKE_DEBUG_TABLE 1 /* the table over converted .debug_frame */
#define FAKE_DEBUG 2       /* converted .debug_frame records */
#define FAKE_MAX_ID (UINT32_C(1) << 22)

/* How far above the stack copy a read still counts as "the copy was too short". */
#define STACK_REACH (UINT64_C(64) << 20)

static inline uint64_t fake_addr(uint32_t id, unsigned region, uint32_t off)
{
	return FAKE_TAG << 56 | (uint64_t)id << 34 | (uint64_t)region << 32 | off;
}

struct module {
	struct unwind_elf elf;
	void *map;      /* mmapped file, or NULL (the vdso is our own memory) */
	size_t map_len; /* bytes */
	uint32_t id;    /* index in unwind.mods, for fake addresses */
};

struct image {
	uint64_t lo, hi; /* runtime span of the module: [lo, hi) */
	uint64_t bias;   /* runtime = link-time + bias */
	uint64_t seq;    /* newest mapping that made it (newer shadows older) */
	struct module *mod;
};

struct space {
	unw_addr_space_t as; /* NULL until first used */
	struct image *img;   /* sorted by lo, disjoint */
	size_t nimg, img_cap;
	size_t nidx_seen; /* maps.spaces[asid].nidx when img was built */
	size_t last;      /* index of the last image hit */
	const uint8_t *win; /* file bytes of the last segment read, at runtime win_lo */
	uint64_t win_lo;
	size_t win_len; /* bytes; 0: none */
};

struct unwind {
	const struct maps *maps;
	unw_accessors_t acc;
	struct module **mods; /* by id */
	size_t nmods, mods_cap;
	uint32_t *file_mod; /* by maps file index: 0 not tried, UINT32_MAX none, else id+1 */
	size_t file_mod_cap;
	struct module *vdso; /* our own vdso, or NULL */
	struct space *spaces; /* by asid */
	size_t nspaces;
};

/* The accessors' arg: one unwind in progress. */
struct ctx {
	struct unwind *u;
	struct space *sp;
	const struct unwind_snapshot *snap;
	uint64_t stack_lo; /* runtime address of snap->stack[0] */
	const struct image *last;
	bool nocfi;     /* find_proc_info found no CFI since this flag was cleared */
	bool truncated; /* something just above the stack copy was asked for */
};

/*
 * Debian's libunwind is built with --enable-block-signals: every internal lock
 * (the GLOBAL rs-cache mutex, each mempool alloc and free) is wrapped in two
 * rt_sigprocmask system calls, ~1 us each on a VM, which made up 90-95 % of the
 * time per sample (../shared/reference/unwinding.md §4). libunwind calls
 * sigprocmask through the PLT, and the linker exports this definition from the
 * executable because a DSO (libunwind) references it, so this one is used.
 * While this thread is inside unwind_stack() the call does nothing; otherwise it is
 * the ordinary one. This is safe because scorch never unwinds in a signal handler,
 * so no handler can enter libunwind and meet a lock held by the interrupted code;
 * the mutexes themselves still serialise threads.
 */
static _Thread_local bool in_unwind;

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int rc;

	if (in_unwind) {
		if (old)
			sigemptyset(old);
		return 0;
	}
	rc = pthread_sigmask(how, set, old);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

static int add_module(struct unwind *u, struct module *m)
{
	if (u->nmods >= FAKE_MAX_ID || GROW(u->mods, u->mods_cap, u->nmods + 1) < 0)
		return -ENOMEM;
	m->id = (uint32_t)u->nmods;
	u->mods[u->nmods++] = m;
	return 0;
}

static void free_module(struct module *m)
{
	if (!m)
		return;
	unwind_elf_release(&m->elf);
	if (m->map)
		munmap(m->map, m->map_len);
	free(m);
}

/* The module of maps file f, parsed on first use; NULL if it is not an ELF file we
 * can read. */
static struct module *module_of_file(struct unwind *u, uint32_t f)
{
	const struct maps_file *mf;
	struct module *m;
	struct stat st;
	void *map;

	if (f >= u->maps->nfiles)
		return NULL;
	if (f >= u->file_mod_cap) {
		size_t old = u->file_mod_cap;
		if (GROW(u->file_mod, u->file_mod_cap, (size_t)f + 1) < 0)
			return NULL;
		memset(u->file_mod + old, 0, (u->file_mod_cap - old) * sizeof(*u->file_mod));
	}
	if (u->file_mod[f] == UINT32_MAX)
		return NULL;
	if (u->file_mod[f])
		return u->mods[u->file_mod[f] - 1];
	u->file_mod[f] = UINT32_MAX;
	mf = &u->maps->files[f];
	if (mf->fd < 0 || fstat(mf->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(Elf64_Ehdr))
		return NULL;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mf->fd, 0);
	if (map == MAP_FAILED)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m || unwind_elf_init(&m->elf, map, (size_t)st.st_size) < 0) {
		free(m);
		munmap(map, (size_t)st.st_size);
		return NULL;
	}
	m->map = map;
	m->map_len = (size_t)st.st_size;
	if (add_module(u, m) < 0) {
		free_module(m);
		return NULL;
	}
	u->file_mod[f] = m->id + 1;
	return m;
}

/* Our own vdso: the kernel maps the same image into every process, so its CFI
 * serves the target's [vdso] mapping. */
static void open_vdso(struct unwind *u)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	size_t size;
	struct module *m;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return;
	/* the image is the whole vdso file: headers, segments, section headers */
	size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (size_t i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > size)
			size = ph[i].p_offset + ph[i].p_filesz;
	m = calloc(1, sizeof(*m));
	if (!m)
		return;
	if (unwind_elf_init(&m->elf, base, size) < 0 || add_module(u, m) < 0) {
		free_module(m);
		return;
	}
	u->vdso = m;
}

static int acc_find(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need,
		    void *arg);
static void acc_put(unw_addr_space_t as, unw_proc_info_t *pi, void *arg);
static int acc_dyn_list(unw_addr_space_t as, unw_word_t *addr, void *arg);
static int acc_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg);
static int acc_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg);
static int acc_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
		     void *arg);
static int acc_resume(unw_addr_space_t as, unw_cursor_t *cur, void *arg);
static int acc_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *off, void *arg);

int unwind_open(struct unwind **out, const struct maps *maps, char *err, size_t errsz)
{
	struct unwind *u = calloc(1, sizeof(*u));

	if (!u)
		return errf(err, errsz, -ENOMEM, "out of memory");
	u->maps = maps;
	u->acc = (unw_accessors_t){
		.find_proc_info = acc_find,
		.put_unwind_info = acc_put,
		.get_dyn_info_list_addr = acc_dyn_list,
		.access_mem = acc_mem,
		.access_reg = acc_reg,
		.access_fpreg = acc_fpreg,
		.resume = acc_resume,
		.get_proc_name = acc_proc_name,
	};
	open_vdso(u);
	*out = u;
	return 0;
}

static int cmp_image(const void *a, const void *b)
{
	const struct image *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* (Re)builds the sorted images of asid from its executable mappings. */
static void build_images(struct unwind *u, struct space *sp, uint32_t asid)
{
	const struct maps *maps = u->maps;
	const struct maps_space *ms = &maps->spaces[asid];
	size_t n = 0;

	sp->nimg = 0;
	sp->last = 0;
	sp->win_len = 0;
	sp->nidx_seen = ms->nidx;
	for (size_t k = 0; k < ms->nidx; k++) {
		const struct maps_entry *e = &maps->v[ms->idx[k]];
		struct module *m = NULL;
		uint64_t bias;

		/* images come from code mappings (prot 0: not known): a file mmapped as
		 * data must not shadow the library mapped around it */
		if (e->prot && !(e->prot & PROT_EXEC))
			continue;
		if (e->file != MAPS_ANON)
			m = module_of_file(u, e->file);
		else if (!strcmp(maps_str(maps, e->name), "[vdso]"))
			m = u->vdso;
		if (!m || !unwind_elf_bias(&m->elf, e->start, e->pgoff, &bias))
			continue;
		if (GROW(sp->img, sp->img_cap, sp->nimg + 1) < 0)
			break;
		sp->img[sp->nimg++] = (struct image){bias + m->elf.lo, bias + m->elf.hi, bias,
						     e->seq, m};
	}
	if (sp->nimg)
		qsort(sp->img, sp->nimg, sizeof(*sp->img), cmp_image);
	/* merge mappings of one image; of overlapping images keep the newest */
	for (size_t i = 0; i < sp->nimg; i++) {
		struct image *x = &sp->img[i];
		if (n) {
			struct image *p = &sp->img[n - 1];
			if (p->mod == x->mod && p->bias == x->bias) {
				if (x->seq > p->seq)
					p->seq = x->seq;
				continue;
			}
			if (x->lo < p->hi) {
				if (x->seq > p->seq)
					*p = *x;
				continue;
			}
		}
		sp->img[n++] = *x;
	}
	sp->nimg = n;
}

static void clear_space(struct space *sp)
{
	if (sp->as)
		unw_destroy_addr_space(sp->as);
	free(sp->img);
	memset(sp, 0, sizeof(*sp));
}

/* Frees the address spaces of processes that have exited (each holds a 1024-entry
 * register-state cache, ~300 KiB): a recording of a build sees thousands. */
static void sweep_exited(struct unwind *u)
{
	for (size_t i = 0; i < u->nspaces && i < u->maps->nspaces; i++)
		if (u->spaces[i].as && u->maps->spaces[i].exited)
			clear_space(&u->spaces[i]);
}

static struct space *get_space(struct unwind *u, uint32_t asid)
{
	struct space *sp;

	if (asid >= u->maps->nspaces)
		return NULL;
	if (asid >= u->nspaces) {
		size_t cap = u->nspaces, old = u->nspaces;
		if (GROW(u->spaces, cap, (size_t)asid + 1) < 0)
			return NULL;
		memset(u->spaces + old, 0, (cap - old) * sizeof(*u->spaces));
		u->nspaces = cap;
	}
	sp = &u->spaces[asid];
	if (!sp->as) {
		sweep_exited(u);
		sp->as = unw_create_addr_space(&u->acc, 0);
		if (!sp->as)
			return NULL;
		unw_set_caching_policy(sp->as, UNW_CACHE_GLOBAL);
		/* 1024 rather than 128 entries: deep Python stacks keep more pcs hot
		 * (python3 mean 4.6 -> 3.9 us, p99 27 -> 8 us in bench/unwind.sh) */
		unw_set_cache_size(sp->as, 1024, 0);
		sp->nidx_seen = SIZE_MAX;
	}
	if (sp->nidx_seen != u->maps->spaces[asid].nidx)
		build_images(u, sp, asid);
	return sp;
}

static const struct image *image_find(struct ctx *c, uint64_t addr)
{
	const struct space *sp = c->sp;
	size_t lo = 0, hi = sp->nimg;

	if (c->last && addr - c->last->lo < c->last->hi - c->last->lo)
		return c->last;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < sp->img[mid].lo)
			hi = mid;
		else if (addr >= sp->img[mid].hi)
			lo = mid + 1;
		else
			return c->last = &sp->img[mid];
	}
	return NULL;
}

static int read_fake(struct ctx *c, uint64_t addr, unw_word_t *val)
{
	uint32_t id = (uint32_t)(addr >> 34) & (FAKE_MAX_ID - 1), off = (uint32_t)addr;
	const uint8_t *p;
	size_t len, n;
	struct module *m;

	if (id >= c->u->nmods)
		return -UNW_EINVAL;
	m = c->u->mods[id];
	switch ((addr >> 32) & 3) {
	case FAKE_EH_TABLE:
		p = (const uint8_t *)m->elf.eh.v;
		len = m->elf.eh.n * 2 * sizeof(int32_t);
		break;
	case FAKE_DEBUG_TABLE:
		p = (const uint8_t *)m->elf.dt.v;
		len = m->elf.dt.n * 2 * sizeof(int32_t);
		break;
	case FAKE_DEBUG:
		p = m->elf.debug;
		len = m->elf.debug_len;
		break;
	default:
		return -UNW_EINVAL;
	}
	if (off >= len)
		return -UNW_EINVAL;
	n = len - off < sizeof(*val) ? len - off : sizeof(*val);
	*val = 0;
	memcpy(val, p + off, n);
	return 0;
}

static int acc_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	struct ctx *c = arg;
	const struct unwind_snapshot *s = c->snap;
	struct space *sp = c->sp;
	const struct image *img;
	uint64_t off = addr - c->stack_lo;

	(void)as;
	if (write)
		return -UNW_EINVAL;
	if (off < s->stack_len) {
		size_t n = s->stack_len - off < sizeof(*val) ? s->stack_len - off : sizeof(*val);
		*val = 0;
		memcpy(val, s->stack + off, n);
		return 0;
	}
	off = addr - sp->win_lo;
	if (off < sp->win_len && sp->win_len - off >= sizeof(*val)) {
		memcpy(val, sp->win + off, sizeof(*val));
		return 0;
	}
	img = image_find(c, addr);
	if (img) {
		uint64_t lo;
		size_t len;
		const uint8_t *w = unwind_elf_segment(&img->mod->elf, addr - img->bias, &lo, &len);

		if (w) {
			sp->win = w;
			sp->win_lo = lo + img->bias;
			sp->win_len = len;
		}
		*val = 0;
		if (unwind_elf_read(&img->mod->elf, addr - img->bias, val, sizeof(*val)))
			return 0;
		return -UNW_EINVAL;
	}
	off = addr - c->stack_lo;
	if (addr >> 56 == FAKE_TAG)
		return read_fake(c, addr, val);
	if (off - s->stack_len < STACK_REACH)
		c->truncated = true;
	return -UNW_EINVAL;
}

static int acc_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	const struct ctx *c = arg;

	(void)as;
	if (write || reg < 0 || reg >= UNWIND_NREGS || !(c->snap->regs_mask & (1u << reg)))
		return -UNW_EBADREG;
	*val = c->snap->regs[reg];
	return 0;
}

static int acc_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
		     void *arg)
{
	(void)as, (void)reg, (void)val, (void)write, (void)arg;
	return -UNW_EBADREG;
}

static int search(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
		  unw_proc_info_t *pi, int need, void *arg)
{
	return _Ux86_64_dwarf_search_unwind_table(as, ip, di, pi, need, arg);
}

static int acc_find(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need,
		    void *arg)
{
	struct ctx *c = arg;
	const struct image *img = image_find(c, ip);
	struct module *m;
	unw_dyn_info_t di;
	int rc = -UNW_ENOINFO;

	if (!img)
		goto nocfi;
	m = img->mod;
	memset(&di, 0, sizeof(di));
	di.start_ip = img->lo;
	di.end_ip = img->hi;
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	/* load_offset stays 0: the remote lookup ignores it, the result adds it */
	if (m->elf.cfi == UNWIND_ELF_CFI_HDR) {
		di.u.rti.segbase = img->bias + m->elf.hdr_vaddr;
		di.u.rti.table_data = img->bias + m->elf.table_vaddr;
		di.u.rti.table_len = m->elf.fde_count * 8 / sizeof(unw_word_t);
		rc = search(as, ip, &di, pi, need, arg);
	} else if (m->elf.cfi == UNWIND_ELF_CFI_TABLE) {
		di.u.rti.segbase = img->bias + m->elf.eh_vaddr;
		di.u.rti.table_data = fake_addr(m->id, FAKE_EH_TABLE, 0);
		di.u.rti.table_len = m->elf.eh.n * 8 / sizeof(unw_word_t);
		rc = search(as, ip, &di, pi, need, arg);
	}
	if (rc == -UNW_ENOINFO && unwind_elf_debug_frame(&m->elf)) {
		/* entries relative to start_ip, records at a fake address, and their
		 * datarel pointers relative to gp, which libunwind takes from pi */
		di.format = UNW_INFO_FORMAT_IP_OFFSET;
		di.start_ip = img->bias + m->elf.lo;
		di.u.rti.segbase = fake_addr(m->id, FAKE_DEBUG, 0);
		di.u.rti.table_data = fake_addr(m->id, FAKE_DEBUG_TABLE, 0);
		di.u.rti.table_len = m->elf.dt.n * 8 / sizeof(unw_word_t);
		pi->gp = img->bias;
		rc = search(as, ip, &di, pi, need, arg);
	}
	if (rc >= 0)
		return rc;
nocfi:
	c->nocfi = true;
	return rc;
}

static void acc_put(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* dwarf_search_unwind_table's unwind_info is freed by libunwind itself */
	(void)as, (void)pi, (void)arg;
}

static int acc_dyn_list(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as, (void)addr, (void)arg;
	return -UNW_ENOINFO; /* no remote dynamic (JIT) registration on x86-64 */
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *cur, void *arg)
{
	(void)as, (void)cur, (void)arg;
	return -UNW_EINVAL;
}

static int acc_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *off, void *arg)
{
	(void)as, (void)addr, (void)buf, (void)len, (void)off, (void)arg;
	return -UNW_ENOINFO; /* names come later, from the symbolizer */
}

/*
 * Walks the chain. `complete` rule: unw_step() returned 0 (libunwind's end of
 * chain), the last frame had CFI (find_proc_info did not fail for it: libunwind
 * ends a chain with 0 in exactly two CFI cases, the return-address column
 * undefined, which glibc's _start, clone and clone3 mark with
 * .cfi_undefined rip, or RBP undefined), nothing above the stack copy was needed,
 * and the depth limit was not reached. A 0 from libunwind's frame-pointer guess
 * after missing CFI (its "end of chain" heuristics) is not complete.
 */
int unwind_stack(struct unwind *u, uint32_t asid, const struct unwind_snapshot *snap,
		 uint64_t *out, size_t cap, bool *complete)
{
	struct ctx c = {0};
	unw_cursor_t cur;
	size_t n = 1;
	int r;

	*complete = false;
	if (!cap || !(snap->regs_mask & (1u << UNWIND_REG_RIP)))
		return 0;
	out[0] = stack_make(STACK_TAG_EXACT, snap->regs[UNWIND_REG_RIP]);
	if (!(snap->regs_mask & (1u << UNWIND_REG_RSP)))
		return 1;
	c.u = u;
	c.sp = get_space(u, asid);
	if (!c.sp)
		return 1;
	c.snap = snap;
	c.stack_lo = snap->regs[UNWIND_REG_RSP];
	in_unwind = true;
	r = unw_init_remote(&cur, c.sp->as, &c);
	while (r >= 0) {
		unw_word_t pc;
		bool sig;

		c.nocfi = false;
		r = unw_step(&cur);
		if (r <= 0)
			break;
		if (n >= cap)
			break;
		/* after the step, it describes the frame just left (libunwind 1.6) */
		sig = unw_is_signal_frame(&cur) > 0;
		/* a pc past user space (read from a stack slot that held no return
		 * address) ends the walk: it would also read back as a kernel entry */
		if (unw_get_reg(&cur, UNW_REG_IP, &pc) < 0 || !pc || pc >> 47) {
			r = -UNW_EINVAL;
			break;
		}
		if (sig) /* a trampoline's pc is exact, and so is the pc it interrupted */
			out[n - 1] = stack_make(STACK_TAG_EXACT, stack_value(out[n - 1]));
		out[n++] = stack_make(sig ? STACK_TAG_EXACT : STACK_TAG_USER, pc);
	}
	in_unwind = false;
	*complete = r == 0 && !c.nocfi && !c.truncated;
	return (int)n;
}

void unwind_flush(struct unwind *u, uint32_t asid)
{
	if (u && asid < u->nspaces)
		clear_space(&u->spaces[asid]);
}

void unwind_close(struct unwind *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nspaces; i++)
		clear_space(&u->spaces[i]);
	for (size_t i = 0; i < u->nmods; i++)
		free_module(u->mods[i]);
	free(u->spaces);
	free(u->mods);
	free(u->file_mod);
	free(u);
}
