/*
 * python: CPython 3.8-3.13 frames read from another process and merged into its
 * native stacks. How the runtime is found and why each step is done the way it is:
 * docs/python.md and /work/shared/reference/python-frames.md. In short:
 *
 * - detection: the first mapped ELF file that defines _PyRuntime (.dynsym or
 *   .symtab: Debian's stripped static python3.11 exports it) holds the interpreter;
 *   the version comes from Py_Version (3.11+) or from the size of _PyRuntime, which
 *   differs in 3.8, 3.9 and 3.10; 3.13 publishes its own offsets (_Py_DebugOffsets)
 *   at the start of _PyRuntime, which replace the built-in table when they check out;
 * - threads: a native thread is matched to its PyThreadState by native_thread_id
 *   (3.11+) or, before that, by the kernel tid that glibc keeps in struct pthread at
 *   the address thread_id (pthread_self()) holds; matches are cached per tid and
 *   re-checked on each use;
 * - frames: PyFrameObject.f_back (3.8-3.10) or _PyInterpreterFrame.previous (3.11+),
 *   with each code object's names and line table cached by address and re-validated
 *   against a fresh read of the code object on every sample;
 * - merge: every native frame inside _PyEval_EvalFrameDefault is replaced by the
 *   Python frames that activation runs: one (3.8-3.10), up to the is_entry frame
 *   (3.11), up to the C-stack shim frame (3.12+). A count that does not match keeps
 *   the native stack and counts in stacks.py_mismatch.
 */
#include "profiler/python.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "profiler/python_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_PYFRAMES PYTHON_MAX_FRAMES /* Python frames read per thread */
#define MAX_INTERPS 64      /* interpreters walked */
#define MAX_THREADS 4096    /* thread states walked per interpreter */
#define MAX_TSTATES 8       /* thread states of one tid (one per (sub)interpreter) */
#define MAX_NAME 1024       /* characters of a name or file name */
#define MAX_TABLE (1 << 20) /* bytes of a line table */
#define MAX_EVAL 4          /* address ranges of the evaluation loop */
#define CODES_MAX 65536     /* cached code objects before the cache starts over */
#define MISS_RETRY_NS 50000000ull /* a tid with no thread state: walk again after,
				     * when reading after the sample (a reader in a stop
				     * walks every time: a thread that runs Python before
				     * its state was seen would lose its frames meanwhile) */
/* glibc x86-64: struct pthread's tid field (nptl/descr.h: after the 704-byte TCB
 * header and the list links), stable since glibc 2.x; checked against
 * threading.get_native_id() on glibc 2.36. */
#define PTHREAD_TID_OFF 0x2d0

#define PY_STATE_KIND(s) (((s) >> 2) & 7)
#define PY_STATE_COMPACT 0x20
#define PY_STATE_ASCII 0x40

struct range {
	uint64_t lo, hi; /* [lo, hi) runtime addresses */
};

struct pycode {
	uint64_t addr;                          /* code object address; 0: free slot */
	uint64_t name, qualname, file, table;   /* the pointers it had when cached */
	int32_t firstlineno;
	char *func;  /* qualified name where the version has one */
	char *path;  /* co_filename */
	uint8_t *tab; /* line table bytes */
	size_t tablen;
};

struct pythread {
	uint32_t tid;
	uint32_t n;                    /* thread states, innermost interpreter first */
	uint64_t ts[MAX_TSTATES];      /* PyThreadState addresses */
	uint64_t pthread[MAX_TSTATES]; /* their thread_id (pthread_t) */
	uint64_t miss_ns;              /* n == 0: when the states were last walked */
};

struct pyproc {
	uint32_t pid;
	size_t nidx_seen;  /* mappings of the space looked at by the last detection */
	uint32_t *checked; /* maps.files indices already probed */
	size_t nchecked, checked_cap;
	bool found;        /* a supported CPython runtime was found */
	bool published;    /* offered to readers (struct pydesc) */
	uint64_t miss_retry_ns; /* a tid with no thread state: walk again after this */
	bool unsupported;  /* a CPython we cannot read: stop looking */
	struct pylayout L;
	int ts_read; /* bytes of a thread state to read */
	uint64_t runtime;   /* address of _PyRuntime */
	uint64_t code_type; /* address of PyCode_Type, 0 when unknown */
	struct range eval[MAX_EVAL];
	size_t neval;
	struct pythread *threads;
	size_t nthreads, threads_cap;
	struct pycode *codes; /* open addressing by address; codes_cap a power of 2 */
	size_t ncodes, codes_cap;
};

/* What a reader on another thread needs of a detected process (plain data). */
struct pydesc {
	uint32_t pid;
	uint64_t seq; /* when it was published (struct python.seq) */
	struct pylayout L;
	uint64_t runtime;
	int ts_read;
};

struct python {
	const struct maps *maps;
	struct pyproc **procs; /* by asid */
	size_t nprocs;
	bool *not_python; /* by maps.files index: probed, defines no _PyRuntime */
	size_t nnot_python, not_python_cap;
	/* scratch of one merge */
	struct python_chain chain;
	uint8_t codebuf[MAX_PYFRAMES][256];
	int64_t pyidx[MAX_PYFRAMES]; /* stacks_pyframe index per frame */
	/* the processes offered to readers, under lock; seq counts changes */
	pthread_mutex_t lock;
	struct pydesc *descs;
	size_t ndescs, descs_cap;
	atomic_uint_fast64_t seq;
};

/* A process as a reader knows it: a pyproc with the layout, runtime and its own
 * thread-state cache (codes and detection stay with the merging thread). */
struct rproc {
	struct pyproc pp;
	uint64_t seq;
};

/* A process that executed or exited: descriptions published up to seq are stale. */
struct rblock {
	uint32_t pid;
	uint64_t seq;
};

struct python_reader {
	struct python *py;
	uint64_t seen; /* py->seq at the last sync */
	struct rproc *procs;
	size_t nprocs, procs_cap;
	struct rblock *blocked;
	size_t nblocked, blocked_cap;
};

/* ---- remote memory ---- */

static int rd(uint32_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len};
	struct iovec remote = {(void *)(uintptr_t)addr, len};

	if (!addr)
		return -EFAULT;
	return process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0
										    : -EFAULT;
}

static int rd64(uint32_t pid, uint64_t addr, uint64_t *v)
{
	return rd(pid, addr, v, sizeof(*v));
}

static uint64_t get64(const uint8_t *p, int off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p, int off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- detection ---- */

struct probe {
	bool runtime_found, version_found, code_type_found;
	uint64_t runtime, runtime_size, version_vaddr, code_type;
	struct range eval[MAX_EVAL];
	size_t neval;
};

static void probe_symbol(struct probe *p, const char *name, const GElf_Sym *sym)
{
	if (sym->st_shndx == SHN_UNDEF || !sym->st_value)
		return;
	if (!strcmp(name, "_PyRuntime")) {
		p->runtime_found = true;
		p->runtime = sym->st_value;
		p->runtime_size = sym->st_size;
	} else if (!strcmp(name, "Py_Version")) {
		p->version_found = true;
		p->version_vaddr = sym->st_value;
	} else if (!strcmp(name, "PyCode_Type")) {
		p->code_type_found = true;
		p->code_type = sym->st_value;
	} else if (!strcmp(name, "_PyEval_EvalFrameDefault") ||
		   !strcmp(name, "_PyEval_EvalFrameDefault.cold")) {
		struct range r = {sym->st_value, sym->st_value + (sym->st_size ? sym->st_size : 1)};
		for (size_t i = 0; i < p->neval; i++)
			if (p->eval[i].lo == r.lo)
				return;
		if (p->neval < MAX_EVAL)
			p->eval[p->neval++] = r;
	}
}

static void probe_symbols(Elf *elf, struct probe *p)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && (name[0] == '_' || name[0] == 'P'))
				probe_symbol(p, name, &sym);
		}
	}
}

/* The load bias of a file whose mapping e starts at file offset e->pgoff. */
static int load_bias(Elf *elf, const struct maps_entry *e, uint64_t *bias)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) < 0)
		return -EINVAL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		uint64_t page_off;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		page_off = ph.p_offset & ~(uint64_t)0xfff;
		if (e->pgoff < page_off || e->pgoff >= ph.p_offset + ph.p_filesz)
			continue;
		/* file offset x of this segment is at vaddr p_vaddr + (x - p_offset) */
		*bias = e->start - (ph.p_vaddr + e->pgoff - ph.p_offset);
		return 0;
	}
	return -ENOENT;
}

/* Reads len bytes at link-time address vaddr from the file. */
static int file_read_vaddr(Elf *elf, int fd, uint64_t vaddr, void *buf, size_t len)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) < 0)
		return -EINVAL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr + len > ph.p_vaddr + ph.p_filesz)
			continue;
		if (pread(fd, buf, len, (off_t)(ph.p_offset + vaddr - ph.p_vaddr)) != (ssize_t)len)
			return -EIO;
		return 0;
	}
	return -ENOENT;
}

static void layout_ts_read(struct pyproc *pp)
{
	const struct pylayout *L = &pp->L;
	int m = L->ts_next;
	int f[] = {L->ts_frame, L->ts_cframe, L->ts_current_frame, L->ts_thread_id,
		   L->ts_native_thread_id};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i] > m)
			m = f[i];
	pp->ts_read = m + 8;
}

/* Looks at one mapped file: a CPython runtime of a version we read sets pp up.
 * Returns whether the file defines _PyRuntime at all. */
static bool probe_file(struct pyproc *pp, int fd, const struct maps_entry *e)
{
	struct probe p = {0};
	uint64_t bias, hex = 0;
	int minor = -1;
	Elf *elf;
	GElf_Ehdr eh;

	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		goto out;
	probe_symbols(elf, &p);
	if (!p.runtime_found || load_bias(elf, e, &bias) < 0)
		goto out;
	if (p.version_found && file_read_vaddr(elf, fd, p.version_vaddr, &hex, sizeof(hex)) == 0) {
		if (((hex >> 24) & 0xff) == 3)
			minor = (int)((hex >> 16) & 0xff);
	} else {
		/* 3.8-3.10 publish no version number; the runtime's size tells them apart */
		for (int m = 8; m <= 10; m++)
			if (pylayout_builtin(m)->runtime_size == p.runtime_size)
				minor = m;
	}
	if (minor < 0 || !pylayout_builtin(minor)) {
		pp->unsupported = true; /* a CPython this reader has no layout of */
		goto out;
	}
	pp->L = *pylayout_builtin(minor);
	if (minor == 13) {
		uint8_t block[PYLAYOUT_DEBUG_SIZE];
		if (rd(pp->pid, p.runtime + bias, block, sizeof(block)) < 0 ||
		    pylayout_from_debug(&pp->L, block, sizeof(block)) < 0) {
			pp->unsupported = true;
			goto out;
		}
	}
	pp->runtime = p.runtime + bias;
	pp->code_type = p.code_type_found ? p.code_type + bias : 0;
	for (size_t i = 0; i < p.neval; i++) {
		pp->eval[i].lo = p.eval[i].lo + bias;
		pp->eval[i].hi = p.eval[i].hi + bias;
	}
	pp->neval = p.neval;
	layout_ts_read(pp);
	pp->found = true;
out:
	elf_end(elf);
	return p.runtime_found;
}

static bool checked(struct pyproc *pp, uint32_t file)
{
	for (size_t i = 0; i < pp->nchecked; i++)
		if (pp->checked[i] == file)
			return true;
	return false;
}

/* Probes the files mapped in asid that were not probed yet. */
static void detect(struct python *py, struct pyproc *pp, uint32_t asid)
{
	const struct maps *m = py->maps;
	const struct maps_space *sp;

	if (pp->found || pp->unsupported || asid >= m->nspaces)
		return;
	sp = &m->spaces[asid];
	if (sp->nidx == pp->nidx_seen)
		return;
	for (size_t k = pp->nidx_seen; k < sp->nidx && !pp->found && !pp->unsupported; k++) {
		const struct maps_entry *e = &m->v[sp->idx[k]];
		if (e->file == MAPS_ANON || e->file >= m->nfiles || m->files[e->file].fd < 0 ||
		    checked(pp, e->file))
			continue;
		/* files without a runtime are known across processes (make, a shell) */
		if (e->file < py->nnot_python && py->not_python[e->file])
			continue;
		if (GROW(pp->checked, pp->checked_cap, pp->nchecked + 1) < 0)
			return; /* try again on a later sample */
		pp->checked[pp->nchecked++] = e->file;
		if (!probe_file(pp, m->files[e->file].fd, e) &&
		    GROW(py->not_python, py->not_python_cap, e->file + 1) == 0) {
			while (py->nnot_python <= e->file)
				py->not_python[py->nnot_python++] = false;
			py->not_python[e->file] = true;
		}
	}
	pp->nidx_seen = sp->nidx;
}

/* ---- threads ---- */

/* The top frame of thread state buffer ts (read from the target). */
static int top_frame(const struct pyproc *pp, const uint8_t *ts, uint64_t *frame)
{
	const struct pylayout *L = &pp->L;

	if (L->ts_frame >= 0) {
		*frame = get64(ts, L->ts_frame);
	} else if (L->ts_current_frame >= 0) {
		*frame = get64(ts, L->ts_current_frame);
	} else {
		uint64_t cframe = get64(ts, L->ts_cframe);
		*frame = 0;
		if (cframe && rd64(pp->pid, cframe + (uint64_t)L->cf_current_frame, frame) < 0)
			return -EFAULT;
	}
	return 0;
}

/* Whether thread state buffer ts belongs to kernel thread tid. */
static bool ts_matches(const struct pyproc *pp, const uint8_t *ts, uint32_t tid)
{
	const struct pylayout *L = &pp->L;
	uint64_t pthread;
	uint32_t ktid;

	if (L->ts_native_thread_id >= 0)
		return get64(ts, L->ts_native_thread_id) == tid;
	pthread = get64(ts, L->ts_thread_id);
	return pthread && rd(pp->pid, pthread + PTHREAD_TID_OFF, &ktid, sizeof(ktid)) == 0 &&
	       ktid == tid;
}

/* Walks every interpreter's thread states for those of tid. */
static void walk_threads(struct pyproc *pp, struct pythread *t)
{
	const struct pylayout *L = &pp->L;
	uint8_t ts[4096];
	uint64_t interp = 0;

	t->n = 0;
	if (rd64(pp->pid, pp->runtime + (uint64_t)L->rt_interp_head, &interp) < 0)
		return;
	for (int ni = 0; interp && ni < MAX_INTERPS; ni++) {
		uint64_t a = 0;
		if (rd64(pp->pid, interp + (uint64_t)L->is_tstate_head, &a) < 0)
			return;
		for (int nt = 0; a && nt < MAX_THREADS; nt++) {
			if (rd(pp->pid, a, ts, (size_t)pp->ts_read) < 0)
				break;
			if (ts_matches(pp, ts, t->tid) && t->n < MAX_TSTATES) {
				t->ts[t->n] = a;
				t->pthread[t->n] = get64(ts, L->ts_thread_id);
				t->n++;
			}
			a = get64(ts, L->ts_next);
		}
		if (rd64(pp->pid, interp + (uint64_t)L->is_next, &interp) < 0)
			return;
	}
}

static struct pythread *thread_get(struct pyproc *pp, uint32_t tid)
{
	struct pythread *t;

	for (size_t i = 0; i < pp->nthreads; i++)
		if (pp->threads[i].tid == tid)
			return &pp->threads[i];
	if (GROW(pp->threads, pp->threads_cap, pp->nthreads + 1) < 0)
		return NULL;
	t = &pp->threads[pp->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->miss_ns = 0;
	return t;
}

/* The top frames of tid's thread states (innermost interpreter first) into tops;
 * their number, 0 when the thread runs no Python. */
static size_t thread_tops(struct pyproc *pp, uint32_t tid, uint64_t *tops)
{
	struct pythread *t = thread_get(pp, tid);
	uint8_t ts[4096];
	bool walked = false;
	size_t n = 0;

	if (!t)
		return 0;
	if (!t->n) {
		uint64_t now = now_ns();
		if (t->miss_ns && now - t->miss_ns < pp->miss_retry_ns)
			return 0;
		walk_threads(pp, t);
		walked = true;
		if (!t->n) {
			t->miss_ns = now ? now : 1;
			return 0;
		}
	}
again:
	n = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		/* a cached state is still this thread's when it names the same thread */
		bool ok = rd(pp->pid, t->ts[i], ts, (size_t)pp->ts_read) == 0;
		if (ok && pp->L.ts_native_thread_id >= 0)
			ok = get64(ts, pp->L.ts_native_thread_id) == tid;
		else if (ok)
			ok = get64(ts, pp->L.ts_thread_id) == t->pthread[i];
		if (!ok) {
			if (walked)
				return 0;
			walk_threads(pp, t);
			walked = true;
			if (!t->n) {
				t->miss_ns = now_ns();
				return 0;
			}
			goto again;
		}
		if (top_frame(pp, ts, &tops[n]) < 0)
			return 0;
		if (tops[n])
			n++;
	}
	return n;
}

/* ---- frames ---- */

/* Appends the chain from top to c->frames and its segment ends to c->seg_end.
 * Returns 0, or -EFAULT when the chain could not be read through. */
static int read_chain(const struct pyproc *pp, uint64_t top, struct python_chain *c)
{
	const struct pylayout *L = &pp->L;
	uint32_t *nf = &c->nframes, *ns = &c->nsegs;
	uint8_t fb[256];
	uint64_t f = top;
	size_t start = *nf;

	if ((size_t)L->fr_size > sizeof(fb))
		return -EFAULT;
	while (f) {
		uint64_t code, back;

		if (*nf >= MAX_PYFRAMES || rd(pp->pid, f, fb, (size_t)L->fr_size) < 0)
			return -EFAULT;
		back = get64(fb, L->fr_back);
		code = get64(fb, L->fr_code);
		if (L->fr_owner >= 0 && L->minor >= 12 &&
		    fb[L->fr_owner] == PYLAYOUT_OWNED_BY_CSTACK) {
			/* 3.12+: the shim of one evaluation-loop call closes its segment */
			c->seg_end[(*ns)++] = (uint32_t)*nf;
			if (*ns >= PYTHON_MAX_SEGS)
				return -EFAULT;
			start = *nf;
		} else {
			struct python_frame *pf = &c->frames[(*nf)++];
			pf->code = code;
			if (L->fr_lasti >= 0) {
				int32_t lasti = (int32_t)get32(fb, L->fr_lasti);
				pf->off = lasti < 0 ? -1 : (L->minor >= 10 ? 2 * (int64_t)lasti : lasti);
				c->seg_end[(*ns)++] = (uint32_t)*nf;
				start = *nf;
			} else {
				uint64_t instr = get64(fb, L->fr_instr);
				uint64_t first = code + (uint64_t)L->co_code_adaptive;
				pf->off = instr >= first ? (int64_t)(instr - first) : -1;
				if (L->fr_is_entry >= 0 && fb[L->fr_is_entry]) {
					c->seg_end[(*ns)++] = (uint32_t)*nf;
					start = *nf;
				}
			}
			if (*ns >= PYTHON_MAX_SEGS)
				return -EFAULT;
		}
		if (back == f)
			return -EFAULT;
		f = back;
	}
	if (*nf > start) /* frames below the last marker: their own segment */
		c->seg_end[(*ns)++] = (uint32_t)*nf;
	return 0;
}

/* ---- strings and code objects ---- */

static void put_utf8(struct buf *b, uint32_t c)
{
	char u[4];
	size_t n;

	if (c >= 0xd800 && c < 0xe000)
		c = 0xfffd;
	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | c >> 6);
		u[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | c >> 12);
		u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else if (c < 0x110000) {
		u[0] = (char)(0xf0 | c >> 18);
		u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	} else {
		u[0] = '?';
		n = 1;
	}
	buf_add(b, u, n);
}

/* A str object as UTF-8 (caller frees), or NULL. Compact strings only: those of
 * code objects always are. */
static char *read_str(const struct pyproc *pp, uint64_t addr)
{
	const struct pylayout *L = &pp->L;
	uint8_t hdr[128], *data;
	struct buf b = BUF_INIT;
	uint32_t state, kind;
	uint64_t len;
	char *out;

	if (rd(pp->pid, addr, hdr, (size_t)L->str_ascii_data) < 0)
		return NULL;
	state = get32(hdr, L->str_state);
	len = get64(hdr, L->str_length);
	kind = PY_STATE_KIND(state);
	if (!(state & PY_STATE_COMPACT) || (kind != 1 && kind != 2 && kind != 4) ||
	    (int64_t)len < 0)
		return NULL;
	if (len > MAX_NAME)
		len = MAX_NAME;
	if (state & PY_STATE_ASCII)
		kind = 1;
	data = malloc(len * kind + 1);
	if (!data)
		return NULL;
	if (len && rd(pp->pid,
		      addr + (uint64_t)((state & PY_STATE_ASCII) ? L->str_ascii_data
								 : L->str_compact_data),
		      data, len * kind) < 0) {
		free(data);
		return NULL;
	}
	if (buf_reserve(&b, len) < 0) {
		free(data);
		return NULL;
	}
	for (uint64_t i = 0; i < len; i++) {
		uint32_t c;
		if (kind == 1) {
			c = data[i];
		} else if (kind == 2) {
			uint16_t u;
			memcpy(&u, data + 2 * i, 2);
			c = u;
		} else {
			memcpy(&c, data + 4 * i, 4);
		}
		put_utf8(&b, c);
	}
	free(data);
	if (!b.p && buf_adds(&b, "") < 0)
		return NULL;
	out = buf_detach(&b, NULL);
	return out;
}

/* A bytes object's contents (caller frees), or NULL. */
static uint8_t *read_bytes(const struct pyproc *pp, uint64_t addr, size_t *len)
{
	const struct pylayout *L = &pp->L;
	uint8_t hdr[64], *data;
	int64_t n;

	if (rd(pp->pid, addr, hdr, (size_t)L->bytes_data) < 0)
		return NULL;
	n = (int64_t)get64(hdr, L->bytes_size);
	if (n < 0 || n > MAX_TABLE)
		return NULL;
	data = malloc((size_t)n + 1);
	if (!data)
		return NULL;
	if (n && rd(pp->pid, addr + (uint64_t)L->bytes_data, data, (size_t)n) < 0) {
		free(data);
		return NULL;
	}
	*len = (size_t)n;
	return data;
}

static void code_clear(struct pycode *c)
{
	free(c->func);
	free(c->path);
	free(c->tab);
	memset(c, 0, sizeof(*c));
}

static void codes_release(struct pyproc *pp)
{
	for (size_t i = 0; i < pp->codes_cap; i++)
		if (pp->codes[i].addr)
			code_clear(&pp->codes[i]);
	free(pp->codes);
	pp->codes = NULL;
	pp->codes_cap = pp->ncodes = 0;
}

/* The cache slot of code object addr (empty when not cached), or NULL. */
static struct pycode *code_slot(struct pyproc *pp, uint64_t addr)
{
	size_t mask, i;

	if (pp->ncodes >= CODES_MAX)
		codes_release(pp); /* start over rather than grow without bound */
	if (!pp->codes || 2 * (pp->ncodes + 1) > pp->codes_cap) {
		size_t cap = pp->codes_cap ? 2 * pp->codes_cap : 256;
		struct pycode *old = pp->codes, *v = calloc(cap, sizeof(*v));
		size_t oldcap = pp->codes_cap;
		if (!v)
			return NULL;
		pp->codes = v;
		pp->codes_cap = cap;
		for (size_t k = 0; k < oldcap; k++) {
			if (!old[k].addr)
				continue;
			i = hash_u64(old[k].addr) & (cap - 1);
			while (v[i].addr)
				i = (i + 1) & (cap - 1);
			v[i] = old[k];
		}
		free(old);
	}
	mask = pp->codes_cap - 1;
	i = hash_u64(addr) & mask;
	while (pp->codes[i].addr && pp->codes[i].addr != addr)
		i = (i + 1) & mask;
	return &pp->codes[i];
}

/* The cached description of the code object at addr whose fresh bytes are co, read
 * anew when the object at that address changed. NULL when it is not a code object. */
static const struct pycode *code_get(struct pyproc *pp, uint64_t addr, const uint8_t *co)
{
	const struct pylayout *L = &pp->L;
	uint64_t name = get64(co, L->co_name), file = get64(co, L->co_filename);
	uint64_t qual = L->co_qualname >= 0 ? get64(co, L->co_qualname) : 0;
	uint64_t table = get64(co, L->co_linetable);
	int32_t first = (int32_t)get32(co, L->co_firstlineno);
	struct pycode *c;

	if (pp->code_type && get64(co, L->ob_type) != pp->code_type)
		return NULL;
	c = code_slot(pp, addr);
	if (!c)
		return NULL;
	if (c->addr == addr && c->name == name && c->qualname == qual && c->file == file &&
	    c->table == table && c->firstlineno == first)
		return c;
	if (c->addr == addr)
		code_clear(c);
	else
		pp->ncodes++;
	c->addr = addr;
	c->name = name;
	c->qualname = qual;
	c->file = file;
	c->table = table;
	c->firstlineno = first;
	c->func = read_str(pp, qual ? qual : name);
	c->path = read_str(pp, file);
	c->tab = read_bytes(pp, table, &c->tablen);
	if (!c->func || !c->path) {
		/* keep the slot, so that the next sample tries again */
		free(c->func);
		free(c->path);
		c->func = c->path = NULL;
		c->name = c->file = 0;
		return NULL;
	}
	return c;
}

/* Reads the code objects of c->frames[0..nf) in as few system calls as possible
 * and interns each frame. 0, or -EFAULT when one is not readable as a code object. */
static int intern_frames(struct python *py, struct pyproc *pp, struct stacks *s,
			 const struct python_chain *c)
{
	size_t nf = c->nframes;
	const struct pylayout *L = &pp->L;
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t size = (size_t)L->co_size;

	if (size > sizeof(py->codebuf[0]))
		return -EFAULT;
	for (size_t at = 0; at < nf;) {
		size_t k = nf - at < IOV_MAX ? nf - at : IOV_MAX;
		ssize_t got;
		for (size_t i = 0; i < k; i++) {
			local[i].iov_base = py->codebuf[at + i];
			local[i].iov_len = size;
			remote[i].iov_base = (void *)(uintptr_t)c->frames[at + i].code;
			remote[i].iov_len = size;
		}
		got = process_vm_readv((pid_t)pp->pid, local, k, remote, k, 0);
		if (got != (ssize_t)(k * size)) {
			for (size_t i = 0; i < k; i++)
				if (rd(pp->pid, c->frames[at + i].code, py->codebuf[at + i], size) < 0)
					return -EFAULT;
		}
		at += k;
	}
	for (size_t i = 0; i < nf; i++) {
		const struct pycode *co = code_get(pp, c->frames[i].code, py->codebuf[i]);
		int line;
		if (!co)
			return -EFAULT;
		line = pylayout_line(L->minor, co->tab, co->tablen, co->firstlineno, c->frames[i].off);
		py->pyidx[i] = stacks_pyframe(s, co->func, co->path, line > 0 ? (uint32_t)line : 0);
		if (py->pyidx[i] < 0)
			return (int)py->pyidx[i];
	}
	return 0;
}

/* ---- merge ---- */

static bool is_eval(const struct pyproc *pp, uint64_t entry)
{
	enum stack_tag tag = stack_tag(entry);
	uint64_t pc = stack_value(entry);

	if (tag == STACK_TAG_USER)
		pc--;
	else if (tag != STACK_TAG_EXACT)
		return false;
	for (size_t i = 0; i < pp->neval; i++)
		if (pc >= pp->eval[i].lo && pc < pp->eval[i].hi)
			return true;
	return false;
}

static struct pyproc *proc_get(struct python *py, uint32_t asid, uint32_t pid)
{
	if (asid >= py->nprocs) {
		size_t n = asid + 1 > 2 * py->nprocs ? asid + 1 : 2 * py->nprocs;
		struct pyproc **v = realloc(py->procs, n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + py->nprocs, 0, (n - py->nprocs) * sizeof(*v));
		py->procs = v;
		py->nprocs = n;
	}
	if (!py->procs[asid]) {
		py->procs[asid] = calloc(1, sizeof(struct pyproc));
		if (!py->procs[asid])
			return NULL;
		py->procs[asid]->pid = pid;
		py->procs[asid]->miss_retry_ns = MISS_RETRY_NS;
	}
	return py->procs[asid];
}

static int copy_native(const uint64_t *native, size_t n, uint64_t *out, size_t cap)
{
	if (n > cap)
		n = cap;
	memcpy(out, native, n * sizeof(*out));
	return (int)n;
}

/* ---- what readers on other threads learn ---- */

/* Offers pp's interpreter to readers (under the lock). */
static void publish(struct python *py, struct pyproc *pp)
{
	struct pydesc *d;

	pthread_mutex_lock(&py->lock);
	if (GROW(py->descs, py->descs_cap, py->ndescs + 1) == 0) {
		d = &py->descs[py->ndescs++];
		memset(d, 0, sizeof(*d));
		d->pid = pp->pid;
		d->L = pp->L;
		d->runtime = pp->runtime;
		d->ts_read = pp->ts_read;
		d->seq = atomic_load(&py->seq) + 1;
		atomic_store(&py->seq, d->seq);
		pp->published = true;
	}
	pthread_mutex_unlock(&py->lock);
}

static void unpublish(struct python *py, uint32_t pid)
{
	pthread_mutex_lock(&py->lock);
	for (size_t i = 0; i < py->ndescs;) {
		if (py->descs[i].pid == pid)
			py->descs[i] = py->descs[--py->ndescs];
		else
			i++;
	}
	atomic_fetch_add(&py->seq, 1);
	pthread_mutex_unlock(&py->lock);
}

/* ---- merge ---- */

int python_merge(struct python *py, struct stacks *s, uint32_t asid, uint32_t pid, uint32_t tid,
		 const uint64_t *native, size_t n, uint64_t *out, size_t cap, bool python_only)
{
	return python_merge_chain(py, s, asid, pid, tid, NULL, native, n, out, cap, python_only);
}

/* Reads tid's chain now into c. */
static void read_now(struct pyproc *pp, uint32_t tid, struct python_chain *c)
{
	uint64_t tops[MAX_TSTATES];
	size_t ntops = thread_tops(pp, tid, tops);

	c->nframes = c->nsegs = 0;
	c->status = PYTHON_CHAIN_OK;
	for (size_t i = 0; i < ntops; i++) {
		if (read_chain(pp, tops[i], c) < 0) {
			c->status = PYTHON_CHAIN_FAULT;
			return;
		}
	}
}

int python_merge_chain(struct python *py, struct stacks *s, uint32_t asid, uint32_t pid,
		       uint32_t tid, const struct python_chain *c, const uint64_t *native,
		       size_t n, uint64_t *out, size_t cap, bool python_only)
{
	struct pyproc *pp = proc_get(py, asid, pid);
	size_t nf, ns, neval = 0, seg = 0, depth = 0;
	bool skip = false;

	if (!pp)
		return copy_native(native, n, out, cap);
	pp->pid = pid;
	detect(py, pp, asid);
	if (!pp->found)
		return copy_native(native, n, out, cap);
	if (!pp->published)
		publish(py, pp);
	if (!c || c->status == PYTHON_CHAIN_UNREAD) {
		read_now(pp, tid, &py->chain);
		c = &py->chain;
	}
	if (c->status != PYTHON_CHAIN_OK || c->nframes > MAX_PYFRAMES || c->nsegs > PYTHON_MAX_SEGS)
		goto mismatch;
	nf = c->nframes;
	ns = c->nsegs;
	if (!nf && !ns) {
		/* no Python frame while the evaluation loop runs: the thread state is not
		 * found (yet), so its frames cannot be told */
		for (size_t i = 0; i < n; i++)
			if (is_eval(pp, native[i]))
				goto mismatch;
		return copy_native(native, n, out, cap);
	}
	if (intern_frames(py, pp, s, c) < 0)
		goto mismatch;
	if (python_only) {
		if (!nf)
			return copy_native(native, n, out, cap);
		for (size_t i = 0; i < nf && depth < cap; i++)
			out[depth++] = stack_make(STACK_TAG_PYTHON, (uint64_t)py->pyidx[i]);
		return (int)depth;
	}
	for (size_t i = 0; i < n; i++)
		neval += is_eval(pp, native[i]);
	/* One more evaluation-loop call than segments: the innermost is entering or
	 * leaving, its frame not linked into the chain (3.11+ link it in the loop's
	 * prologue, 3.8-3.10 callers have pushed f_back links the same way); it keeps
	 * its native frame and the others pair up from there. */
	if (neval == ns + 1)
		skip = true;
	else if (neval != ns)
		goto mismatch;
	for (size_t i = 0; i < n && depth < cap; i++) {
		if (!is_eval(pp, native[i]) || skip) {
			if (is_eval(pp, native[i]))
				skip = false;
			out[depth++] = native[i];
			continue;
		}
		for (size_t f = seg ? c->seg_end[seg - 1] : 0; f < c->seg_end[seg] && f < nf && depth < cap;
		     f++)
			out[depth++] = stack_make(STACK_TAG_PYTHON, (uint64_t)py->pyidx[f]);
		seg++;
	}
	return (int)depth;
mismatch:
	s->py_mismatch++;
	return copy_native(native, n, out, cap);
}

/* ---- readers ---- */

int python_reader_open(struct python_reader **out, struct python *py)
{
	struct python_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->py = py;
	*out = r;
	return 0;
}

static struct rproc *reader_proc(struct python_reader *r, uint32_t pid)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pp.pid == pid)
			return &r->procs[i];
	return NULL;
}

static void reader_drop(struct python_reader *r, struct rproc *p)
{
	free(p->pp.threads);
	*p = r->procs[--r->nprocs];
}

static bool reader_blocked(const struct python_reader *r, const struct pydesc *d)
{
	for (size_t i = 0; i < r->nblocked; i++)
		if (r->blocked[i].pid == d->pid && d->seq <= r->blocked[i].seq)
			return true;
	return false;
}

void python_reader_sync(struct python_reader *r)
{
	struct python *py = r->py;
	uint64_t seq = atomic_load(&py->seq);

	if (seq == r->seen)
		return;
	pthread_mutex_lock(&py->lock);
	/* processes no longer offered (exec, exit) */
	for (size_t i = 0; i < r->nprocs;) {
		bool offered = false;
		for (size_t k = 0; k < py->ndescs && !offered; k++)
			offered = py->descs[k].pid == r->procs[i].pp.pid &&
				  py->descs[k].seq == r->procs[i].seq;
		if (offered)
			i++;
		else
			reader_drop(r, &r->procs[i]);
	}
	for (size_t k = 0; k < py->ndescs; k++) {
		const struct pydesc *d = &py->descs[k];
		struct rproc *p = reader_proc(r, d->pid);
		if ((p && p->seq == d->seq) || reader_blocked(r, d))
			continue;
		if (p)
			reader_drop(r, p);
		if (GROW(r->procs, r->procs_cap, r->nprocs + 1) < 0)
			break;
		p = &r->procs[r->nprocs++];
		memset(p, 0, sizeof(*p));
		p->pp.pid = d->pid;
		p->pp.L = d->L;
		p->pp.runtime = d->runtime;
		p->pp.ts_read = d->ts_read;
		p->pp.found = true;
		p->seq = d->seq;
	}
	r->seen = atomic_load(&py->seq);
	pthread_mutex_unlock(&py->lock);
}

void python_read(struct python_reader *r, uint32_t pid, uint32_t tid, struct python_chain *c)
{
	struct rproc *p = reader_proc(r, pid);

	if (!p) {
		c->status = PYTHON_CHAIN_UNREAD;
		c->nframes = c->nsegs = 0;
		return;
	}
	read_now(&p->pp, tid, c);
}

void python_reader_forget(struct python_reader *r, uint32_t pid)
{
	struct rproc *p = reader_proc(r, pid);
	uint64_t seq = atomic_load(&r->py->seq);
	size_t i;

	if (p)
		reader_drop(r, p);
	for (i = 0; i < r->nblocked && r->blocked[i].pid != pid; i++)
		;
	if (i == r->nblocked) {
		if (GROW(r->blocked, r->blocked_cap, r->nblocked + 1) < 0)
			return;
		r->nblocked++;
	}
	r->blocked[i].pid = pid;
	r->blocked[i].seq = seq;
}

void python_reader_close(struct python_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nprocs; i++)
		free(r->procs[i].pp.threads);
	free(r->procs);
	free(r->blocked);
	free(r);
}

/* ---- before recording: is the target CPython? ---- */

bool python_in_space(struct python *py, uint32_t asid, uint32_t pid)
{
	struct pyproc *pp = proc_get(py, asid, pid);

	if (!pp)
		return false;
	pp->pid = pid;
	detect(py, pp, asid);
	return pp->found;
}

/* Whether the ELF file at path defines _PyRuntime or needs a libpython3. */
static bool elf_is_python(const char *path)
{
	struct probe p = {0};
	bool yes = false;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		probe_symbols(elf, &p);
		yes = p.runtime_found;
		while (!yes && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;
			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize ||
			    !(data = elf_getdata(scn, NULL)))
				continue;
			for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && !yes; i++) {
				GElf_Dyn dyn;
				const char *name;
				if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag != DT_NEEDED)
					continue;
				name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
				yes = name && !strncmp(name, "libpython3", 10);
			}
		}
	}
	elf_end(elf);
	close(fd);
	return yes;
}

/* argv0 as execvp finds it, into out; false when it is not found. */
static bool find_in_path(const char *argv0, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(argv0, '/')) {
		snprintf(out, len, "%s", argv0);
		return access(out, X_OK) == 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n && (size_t)snprintf(out, len, "%.*s/%s", (int)n, path, argv0) < len &&
		    access(out, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

bool python_command(const char *argv0)
{
	char path[PATH_MAX], line[512] = "";
	char *interp, *arg;
	FILE *f;

	if (elf_version(EV_CURRENT) == EV_NONE || !find_in_path(argv0, path, sizeof(path)))
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "#!", 2)) {
		fclose(f);
		return elf_is_python(path);
	}
	fclose(f);
	/* "#!INTERP [ARG]": INTERP, or ARG when INTERP is env */
	interp = line + 2 + strspn(line + 2, " \t");
	interp[strcspn(interp, " \t\r\n")] = 0;
	arg = interp + strlen(interp) + 1;
	if (arg < line + sizeof(line) && !strcmp(strrchr(interp, '/') ? strrchr(interp, '/') + 1 : interp, "env")) {
		arg += strspn(arg, " \t");
		arg[strcspn(arg, " \t\r\n")] = 0;
		return *arg && *arg != '-' && find_in_path(arg, path, sizeof(path)) &&
		       elf_is_python(path);
	}
	return *interp && elf_is_python(interp);
}

int python_open(struct python **out, const struct maps *maps, char *err, size_t errsz)
{
	struct python *py;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return errf(err, errsz, -EINVAL, "cannot start libelf: %s", elf_errmsg(-1));
	py = calloc(1, sizeof(*py));
	if (!py)
		return errf(err, errsz, -ENOMEM, "out of memory");
	py->maps = maps;
	pthread_mutex_init(&py->lock, NULL);
	atomic_init(&py->seq, 0);
	*out = py;
	return 0;
}

void python_forget(struct python *py, uint32_t asid)
{
	struct pyproc *pp;

	if (!py || asid >= py->nprocs || !py->procs[asid])
		return;
	pp = py->procs[asid];
	if (pp->published)
		unpublish(py, pp->pid);
	codes_release(pp);
	free(pp->threads);
	free(pp->checked);
	free(pp);
	py->procs[asid] = NULL;
}

void python_close(struct python *py)
{
	if (!py)
		return;
	for (size_t i = 0; i < py->nprocs; i++)
		python_forget(py, (uint32_t)i);
	free(py->procs);
	free(py->not_python);
	free(py->descs);
	pthread_mutex_destroy(&py->lock);
	free(py);
}
