#include "symbolizer/sym.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deepest inline chain kept (a deeper one keeps its outermost levels). */
#define MAX_CHAIN 64
/* How many earlier entries a sorted-range lookup checks for one that still holds the
 * address (nested or overlapping ranges are rare). */
#define LOOKBACK 8

struct seg {
	uint64_t off, filesz, vaddr, align;
};

/* One function symbol; aliases at the same address are merged into the best name. */
struct symbol {
	uint64_t lo, hi;
	const char *name; /* in libelf's string table, lives as long as the Dwfl */
};

struct fn_range {
	uint64_t lo, hi; /* DWARF addresses (before the debug file's bias) */
	Dwarf_Off off;   /* the DW_TAG_subprogram */
};

struct cu_index {
	Dwarf_Off cu;
	struct fn_range *v;
	size_t n;
};

struct plt {
	uint64_t lo, hi, entsize;
};

struct sym {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct sym_opts o;
	struct demangle *dm;
	char *path;
	const char *base; /* basename of path */
	char *build_id;   /* hex, or NULL */

	struct seg *segs;
	size_t nsegs, segs_cap;

	bool syms_built;
	struct symbol *syms;
	size_t nsyms;

	bool plt_built;
	struct plt plt, plt_sec, plt_got;
	Elf *plt_elf;
	size_t rela_plt, dynsym; /* section indices, 0 if absent */

	/* per-CU function indexes, found through an open-addressing table of
	 * (cu offset -> index + 1) */
	struct cu_index *cus;
	size_t ncus, cus_cap;
	uint32_t *cu_slots;
	size_t cu_slots_cap;

	/* qualified names of C++/Rust DIEs without a linkage name, by DIE offset */
	struct qual {
		Dwarf_Off off;
		char *name; /* owned; NULL when none could be made */
	} *quals;
	size_t nquals, quals_cap;

	struct buf tmp; /* synthesized names of the current lookup */
};

/* Debug info for a module: by build id under /usr/lib/debug/.build-id, then by
 * .gnu_debuglink in the places gdb and elfutils look, every candidate checked by
 * build id. Unlike dwfl_standard_find_debuginfo, never debuginfod (a network fetch
 * per module once DEBUGINFOD_URLS is set: symbolizing.md §4). */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  GElf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name);

static char *debuginfo_path; /* never written: NULL means ":.debug:/usr/lib/debug" */
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static bool same_build_id(Dwfl_Module *mod, int fd)
{
	const unsigned char *want;
	GElf_Addr vaddr;
	const void *got;
	int nwant, ngot;
	Elf *elf;
	bool same;

	nwant = dwfl_module_build_id(mod, &want, &vaddr);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	ngot = (int)dwelf_elf_gnu_build_id(elf, &got);
	/* without build ids on either side there is nothing to check against (no CRC
	 * pass: it reads the whole file); a debug file must still hold DWARF or symbols */
	if (nwant <= 0 && ngot <= 0)
		same = true;
	else
		same = nwant > 0 && ngot == nwant && !memcmp(want, got, (size_t)nwant);
	elf_end(elf);
	return same;
}

static int try_debug_file(Dwfl_Module *mod, const char *path, const char *self,
			  char **debuginfo_file_name)
{
	int fd;

	if (self && !strcmp(path, self))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!same_build_id(mod, fd)) {
		close(fd);
		return -1;
	}
	*debuginfo_file_name = strdup(path);
	return fd;
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  GElf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	char dir[PATH_MAX], cand[PATH_MAX * 2], real[PATH_MAX];
	const char *dirs[2] = {NULL, NULL};
	const char *slash;
	int fd;

	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
					  debuglink_file, debuglink_crc, debuginfo_file_name);
	if (fd >= 0)
		return fd;
	if (!debuglink_file || !file_name || strchr(debuglink_file, '/'))
		return -1;
	slash = strrchr(file_name, '/');
	if (!slash || (size_t)(slash - file_name) >= sizeof(dir))
		return -1;
	memcpy(dir, file_name, (size_t)(slash - file_name));
	dir[slash - file_name] = 0;
	dirs[0] = dir;
	if (realpath(file_name, real)) {
		char *rs = strrchr(real, '/');
		if (rs) {
			*rs = 0;
			if (strcmp(real, dir))
				dirs[1] = real;
		}
	}
	for (int i = 0; i < 2 && dirs[i]; i++) {
		static const char *const mids[] = {"/", "/.debug/"};
		for (int k = 0; k < 3; k++) {
			/* DIR/LINK, DIR/.debug/LINK, /usr/lib/debug/DIR/LINK */
			snprintf(cand, sizeof(cand), "%s%s%s%s", k == 2 ? "/usr/lib/debug" : "",
				 dirs[i], mids[k == 1], debuglink_file);
			fd = try_debug_file(mod, cand, file_name, debuginfo_file_name);
			if (fd >= 0)
				return fd;
		}
	}
	return -1;
}

static int read_segments(struct sym *s)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(s->mod, &bias);
	size_t n;

	if (!elf || elf_getphdrnum(elf, &n) != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (GROW(s->segs, s->segs_cap, s->nsegs + 1) < 0)
			return -ENOMEM;
		s->segs[s->nsegs++] =
			(struct seg){ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_align ? ph.p_align : 1};
	}
	return 0;
}

static int read_build_id(struct sym *s)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(s->mod, &bits, &vaddr);
	static const char hex[] = "0123456789abcdef";

	if (n <= 0)
		return 0;
	s->build_id = malloc((size_t)n * 2 + 1);
	if (!s->build_id)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		s->build_id[2 * i] = hex[bits[i] >> 4];
		s->build_id[2 * i + 1] = hex[bits[i] & 15];
	}
	s->build_id[2 * n] = 0;
	return 0;
}

int sym_open(struct sym **out, int fd, const char *path, const struct sym_opts *o,
	     struct demangle *dm, char *err, size_t errsz)
{
	struct sym *s = calloc(1, sizeof(*s));
	int rc, dfd;

	if (!s)
		return errf(err, errsz, -ENOMEM, "out of memory opening '%s'", path);
	s->o = *o;
	s->dm = dm;
	s->path = strdup(path);
	if (!s->path) {
		rc = errf(err, errsz, -ENOMEM, "out of memory opening '%s'", path);
		goto out_free;
	}
	s->base = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path;
	s->dwfl = dwfl_begin(&callbacks);
	if (!s->dwfl) {
		rc = errf(err, errsz, -ENOMEM, "cannot start libdwfl: %s", dwfl_errmsg(-1));
		goto out_free;
	}
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		rc = -errno;
		rc = errf(err, errsz, rc, "cannot dup the fd of '%s': %s", path, strerror(-rc));
		goto out_end;
	}
	dwfl_report_begin(s->dwfl);
	/* bias 0: the module's addresses are the file's ELF virtual addresses, whatever
	 * process mapped it where; dwfl_report_elf takes (and closes) the fd */
	s->mod = dwfl_report_elf(s->dwfl, s->base, s->path, dfd, 0, true);
	dwfl_report_end(s->dwfl, NULL, NULL);
	if (!s->mod) {
		rc = errf(err, errsz, -ENOEXEC, "cannot read '%s' as ELF: %s", path,
			  dwfl_errmsg(-1));
		goto out_end;
	}
	rc = read_segments(s);
	if (rc == 0)
		rc = read_build_id(s);
	if (rc < 0) {
		rc = errf(err, errsz, rc, "cannot read the program headers of '%s'", path);
		goto out_end;
	}
	*out = s;
	return 0;
out_end:
	dwfl_end(s->dwfl);
out_free:
	free(s->path);
	free(s->segs);
	free(s);
	return rc;
}

void sym_close(struct sym *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncus; i++)
		free(s->cus[i].v);
	free(s->cus);
	free(s->cu_slots);
	for (size_t i = 0; i < s->nquals; i++)
		free(s->quals[i].name);
	free(s->quals);
	free(s->syms);
	free(s->segs);
	free(s->build_id);
	free(s->path);
	buf_release(&s->tmp);
	dwfl_end(s->dwfl);
	free(s);
}

const char *sym_build_id(const struct sym *s)
{
	return s->build_id;
}

const char *sym_debug_file(struct sym *s)
{
	const char *mainfile = NULL, *debugfile = NULL;
	Dwarf_Addr bias;

	if (!dwfl_module_getdwarf(s->mod, &bias))
		return NULL;
	dwfl_module_info(s->mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
	return debugfile ? debugfile : mainfile;
}

bool sym_offset_vaddr(const struct sym *s, uint64_t off, uint64_t *vaddr)
{
	/* exact containment first; then the page-aligned start of a segment, which a
	 * mapping's first page holds too */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->nsegs; i++) {
			const struct seg *g = &s->segs[i];
			uint64_t lo = pass ? g->off & ~(g->align - 1) : g->off;
			if (off >= lo && off < g->off + g->filesz) {
				*vaddr = off - g->off + g->vaddr;
				return true;
			}
		}
	}
	return false;
}

/* ---- ELF symbols ---- */

struct raw_symbol {
	uint64_t lo, size, secend;
	const char *name;
	unsigned rank; /* lower is better */
};

/* Which alias names an address: GLOBAL > WEAK > LOCAL, then fewer leading '_', then
 * not glibc's internal __GI_ label (symbolizing.md §5); cmp_raw breaks ties. */
static unsigned rank_of(const char *name, int bind)
{
	unsigned b = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	unsigned us = 0;

	while (name[us] == '_' && us < 15)
		us++;
	return b << 8 | us << 4 | (strncmp(name, "__GI_", 5) == 0);
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw_symbol *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	/* then the longer name, as perf's choose_best_symbol (glibc's memmove variants
	 * over their memcpy aliases), then any fixed order */
	if (strlen(x->name) != strlen(y->name))
		return strlen(x->name) > strlen(y->name) ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void build_symbols(struct sym *s)
{
	struct raw_symbol *raw = NULL;
	size_t nraw = 0, cap = 0;
	int n;

	s->syms_built = true;
	n = dwfl_module_getsymtab(s->mod);
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf;
		Dwarf_Addr bias;
		const char *name;
		Elf_Scn *scn;
		GElf_Shdr sh;
		int type;

		name = dwfl_module_getsym_info(s->mod, i, &sym, &addr, &shndx, &elf, &bias);
		if (!name || !name[0])
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
			continue;
		if (shndx == SHN_UNDEF || shndx == SHN_ABS || shndx >= SHN_LORESERVE)
			continue;
		scn = elf ? elf_getscn(elf, shndx) : NULL;
		if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		if (GROW(raw, cap, nraw + 1) < 0)
			break;
		raw[nraw++] = (struct raw_symbol){addr, sym.st_size, sh.sh_addr + bias + sh.sh_size,
						  name, rank_of(name, GELF_ST_BIND(sym.st_info))};
	}
	if (!nraw)
		return;
	qsort(raw, nraw, sizeof(*raw), cmp_raw);
	s->syms = malloc(nraw * sizeof(*s->syms));
	if (!s->syms) {
		free(raw);
		return;
	}
	for (size_t i = 0; i < nraw;) {
		size_t j = i;
		uint64_t hi = 0, secend = raw[i].secend, next;
		while (j < nraw && raw[j].lo == raw[i].lo) {
			if (raw[j].size && raw[j].lo + raw[j].size > hi)
				hi = raw[j].lo + raw[j].size;
			j++;
		}
		/* sizeless symbols (asm entries such as ld.so's _start) end at the next
		 * symbol or the end of their section */
		if (!hi) {
			next = j < nraw ? raw[j].lo : secend;
			hi = next < secend ? next : secend;
			if (hi <= raw[i].lo)
				hi = raw[i].lo + 1;
		}
		s->syms[s->nsyms++] = (struct symbol){raw[i].lo, hi, raw[i].name};
		i = j;
	}
	free(raw);
}

/* The raw name of the symbol holding vaddr, or NULL. */
static const char *symbol_at(struct sym *s, uint64_t vaddr)
{
	size_t lo = 0, hi;

	if (!s->syms_built)
		build_symbols(s);
	hi = s->nsyms;
	if (!hi || vaddr < s->syms[0].lo)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->syms[mid].lo <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo + 1, k = 0; i-- > 0 && k < LOOKBACK; k++)
		if (vaddr < s->syms[i].hi)
			return s->syms[i].name;
	return NULL;
}

static const char *shown(struct sym *s, const char *name)
{
	return s->o.demangle ? demangle_name(s->dm, name) : name;
}

/* ---- PLT stubs: name@plt from .rela.plt, as perf does ---- */

static void build_plt(struct sym *s)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(s->mod, &bias);
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	s->plt_built = true;
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	s->plt_elf = elf;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		struct plt *p = NULL;
		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".plt"))
			p = &s->plt;
		else if (!strcmp(name, ".plt.sec"))
			p = &s->plt_sec;
		else if (!strcmp(name, ".plt.got"))
			p = &s->plt_got;
		else if (!strcmp(name, ".rela.plt") && sh.sh_type == SHT_RELA) {
			s->rela_plt = elf_ndxscn(scn);
			s->dynsym = sh.sh_link;
		}
		if (p)
			*p = (struct plt){sh.sh_addr + bias, sh.sh_addr + bias + sh.sh_size,
					  sh.sh_entsize ? sh.sh_entsize : 16};
	}
}

static const char *plt_name(struct sym *s, uint64_t vaddr)
{
	int64_t idx = -1;
	Elf_Scn *rscn, *dscn;
	GElf_Shdr dsh;
	GElf_Rela rela;
	GElf_Sym sym;
	Elf_Data *rd, *dd;
	const char *name;

	if (!s->plt_built)
		build_plt(s);
	if (vaddr >= s->plt_sec.lo && vaddr < s->plt_sec.hi)
		idx = (int64_t)((vaddr - s->plt_sec.lo) / s->plt_sec.entsize);
	else if (vaddr >= s->plt.lo && vaddr < s->plt.hi)
		/* the first entry of .plt is the resolver trampoline (PLT0) */
		idx = (int64_t)((vaddr - s->plt.lo) / s->plt.entsize) - 1;
	else if (!(vaddr >= s->plt_got.lo && vaddr < s->plt_got.hi))
		return NULL;
	if (idx < 0 || !s->rela_plt || idx > INT_MAX)
		return "[plt]";
	rscn = elf_getscn(s->plt_elf, s->rela_plt);
	dscn = elf_getscn(s->plt_elf, s->dynsym);
	rd = rscn ? elf_getdata(rscn, NULL) : NULL;
	dd = dscn ? elf_getdata(dscn, NULL) : NULL;
	if (!rd || !dd || !gelf_getshdr(dscn, &dsh) || !gelf_getrela(rd, (int)idx, &rela) ||
	    !gelf_getsym(dd, (int)GELF_R_SYM(rela.r_info), &sym))
		return "[plt]";
	name = elf_strptr(s->plt_elf, dsh.sh_link, sym.st_name);
	if (!name || !name[0])
		return "[plt]";
	buf_reset(&s->tmp);
	if (buf_printf(&s->tmp, "%s@plt", shown(s, name)) < 0)
		return "[plt]";
	return s->tmp.p;
}

/* ---- DWARF: per-CU function index, inline chain, lines ---- */

static int cmp_fn(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static void index_children(struct cu_index *ci, size_t *cap, Dwarf_Die *parent, int depth)
{
	Dwarf_Die d;

	if (dwarf_child(parent, &d) != 0)
		return;
	do {
		int t = dwarf_tag(&d);
		if (t == DW_TAG_subprogram) {
			Dwarf_Addr base, lo, hi;
			for (ptrdiff_t o = 0; (o = dwarf_ranges(&d, o, &base, &lo, &hi)) > 0;) {
				if (hi <= lo || GROW(ci->v, *cap, ci->n + 1) < 0)
					continue;
				ci->v[ci->n++] = (struct fn_range){lo, hi, dwarf_dieoffset(&d)};
			}
		} else if ((t == DW_TAG_namespace || t == DW_TAG_class_type ||
			    t == DW_TAG_structure_type || t == DW_TAG_union_type ||
			    t == DW_TAG_module) &&
			   depth < 32) {
			/* clang and Rust put definitions inside these */
			index_children(ci, cap, &d, depth + 1);
		}
	} while (dwarf_siblingof(&d, &d) == 0);
}

static struct cu_index *cu_index_get(struct sym *s, Dwarf_Die *cudie)
{
	Dwarf_Off off = dwarf_dieoffset(cudie);
	size_t mask, i, cap = 0;
	struct cu_index *ci;

	if ((s->ncus + 1) * 2 > s->cu_slots_cap) {
		size_t ncap = s->cu_slots_cap ? s->cu_slots_cap * 2 : 64;
		uint32_t *slots = calloc(ncap, sizeof(*slots));
		if (!slots)
			return NULL;
		for (size_t k = 0; k < s->ncus; k++) {
			size_t j = (size_t)hash_u64(s->cus[k].cu) & (ncap - 1);
			while (slots[j])
				j = (j + 1) & (ncap - 1);
			slots[j] = (uint32_t)k + 1;
		}
		free(s->cu_slots);
		s->cu_slots = slots;
		s->cu_slots_cap = ncap;
	}
	mask = s->cu_slots_cap - 1;
	for (i = (size_t)hash_u64(off) & mask; s->cu_slots[i]; i = (i + 1) & mask)
		if (s->cus[s->cu_slots[i] - 1].cu == off)
			return &s->cus[s->cu_slots[i] - 1];
	if (GROW(s->cus, s->cus_cap, s->ncus + 1) < 0)
		return NULL;
	ci = &s->cus[s->ncus];
	*ci = (struct cu_index){off, NULL, 0};
	index_children(ci, &cap, cudie, 0);
	if (ci->n)
		qsort(ci->v, ci->n, sizeof(*ci->v), cmp_fn);
	s->cu_slots[i] = (uint32_t)++s->ncus;
	return ci;
}

static bool cu_find(const struct cu_index *ci, uint64_t a, Dwarf_Off *off)
{
	size_t lo = 0, hi = ci->n;

	if (!hi || a < ci->v[0].lo)
		return false;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ci->v[mid].lo <= a)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo + 1, k = 0; i-- > 0 && k < LOOKBACK; k++) {
		if (a < ci->v[i].hi) {
			*off = ci->v[i].off;
			return true;
		}
	}
	return false;
}

static bool has_pc_attrs(Dwarf_Die *d)
{
	return dwarf_hasattr(d, DW_AT_low_pc) || dwarf_hasattr(d, DW_AT_ranges);
}

/* The child of parent (passing through blocks) whose ranges hold a: an inlined
 * subroutine or a block to descend into. */
static bool find_child(Dwarf_Die *parent, Dwarf_Addr a, Dwarf_Die *out, int depth)
{
	Dwarf_Die c;

	if (dwarf_child(parent, &c) != 0)
		return false;
	do {
		int t = dwarf_tag(&c);
		if (t != DW_TAG_inlined_subroutine && t != DW_TAG_lexical_block &&
		    t != DW_TAG_try_block && t != DW_TAG_catch_block)
			continue;
		if (dwarf_haspc(&c, a) == 1) {
			*out = c;
			return true;
		}
		/* a block without ranges of its own may still hold ranged children */
		if (t != DW_TAG_inlined_subroutine && depth < 16 && !has_pc_attrs(&c) &&
		    find_child(&c, a, out, depth + 1))
			return true;
	} while (dwarf_siblingof(&c, &c) == 0);
	return false;
}

static bool lang_scoped(int lang)
{
	switch (lang) {
	case DW_LANG_C_plus_plus:
	case DW_LANG_C_plus_plus_03:
	case DW_LANG_C_plus_plus_11:
	case DW_LANG_C_plus_plus_14:
	case DW_LANG_Rust:
		return true;
	default:
		return false;
	}
}

/* "ns::Class::method" for a C++/Rust DIE that has no mangled linkage name (an
 * inlined lambda's operator(), methods of local classes): the names of the scopes
 * that enclose its declaration, an unnamed class written {lambda}, as
 * symbolizing.md §6 describes. dwarf_getscopes_die walks the whole CU, so the
 * result is cached per DIE. NULL when the DIE has no name. */
static const char *qualified_name(struct sym *s, Dwarf_Die *die)
{
	Dwarf_Die decl = *die, tmp, *scopes = NULL;
	Dwarf_Attribute at;
	struct buf b = BUF_INIT;
	const char *own;
	Dwarf_Off off;
	int n;

	/* the declaration: through the abstract origin and the specification */
	for (int i = 0; i < 8; i++) {
		if (dwarf_attr(&decl, DW_AT_abstract_origin, &at) && dwarf_formref_die(&at, &tmp))
			decl = tmp;
		else if (dwarf_attr(&decl, DW_AT_specification, &at) &&
			 dwarf_formref_die(&at, &tmp))
			decl = tmp;
		else
			break;
	}
	off = dwarf_dieoffset(&decl);
	for (size_t i = 0; i < s->nquals; i++)
		if (s->quals[i].off == off)
			return s->quals[i].name;
	own = dwarf_diename(&decl);
	if (!own || GROW(s->quals, s->quals_cap, s->nquals + 1) < 0)
		return own;
	n = dwarf_getscopes_die(&decl, &scopes);
	/* scopes[0] is decl itself, scopes[n - 1] the CU */
	for (int i = n - 2; i >= 1; i--) {
		const char *part = NULL;
		switch (dwarf_tag(&scopes[i])) {
		case DW_TAG_namespace:
			part = dwarf_diename(&scopes[i]);
			if (!part)
				part = "(anonymous namespace)";
			break;
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
			part = dwarf_diename(&scopes[i]);
			if (!part)
				part = "{lambda}";
			break;
		case DW_TAG_subprogram:
			if ((dwarf_attr_integrate(&scopes[i], DW_AT_linkage_name, &at) ||
			     dwarf_attr_integrate(&scopes[i], DW_AT_MIPS_linkage_name, &at)) &&
			    (part = dwarf_formstring(&at)) && demangle_is_mangled(part))
				part = shown(s, part);
			else
				part = dwarf_diename(&scopes[i]);
			break;
		default:
			break;
		}
		if (part && (buf_adds(&b, part) < 0 || buf_adds(&b, "::") < 0))
			break;
	}
	free(scopes);
	if (buf_adds(&b, own) < 0) {
		buf_release(&b);
		return own;
	}
	s->quals[s->nquals++] = (struct qual){off, buf_detach(&b, NULL)};
	return s->quals[s->nquals - 1].name;
}

/* The name of a subprogram or inlined subroutine (symbolizing.md §6): the linkage
 * name only when it is a C++/Rust mangled one (glibc's are __GI_ asm labels), else
 * for the physical function of C++, Rust and assembler the ELF symbol (GCC omits the
 * linkage name of templates over local types; GNU as names the subprogram after its
 * first label), else DW_AT_name. */
static const char *die_name(struct sym *s, Dwarf_Die *die, bool physical, int lang,
			    uint64_t vaddr)
{
	Dwarf_Attribute at;
	const char *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &at) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &at))
		name = dwarf_formstring(&at);
	if (name && demangle_is_mangled(name))
		return shown(s, name);
	/* GNU as names an assembler subprogram after its first label (glibc's internal
	 * __GI_ alias, or __memcpy_ where the symbols say __memmove_): the best ELF
	 * alias is the name perf and eu-addr2line show */
	if (physical && lang == DW_LANG_Mips_Assembler) {
		const char *sn = symbol_at(s, vaddr);
		return sn ? shown(s, sn) : dwarf_diename(die);
	}
	if (physical && lang_scoped(lang)) {
		const char *sn = symbol_at(s, vaddr);
		if (sn)
			return shown(s, sn);
	}
	name = lang_scoped(lang) ? qualified_name(s, die) : dwarf_diename(die);
	if (name)
		return name;
	if (physical) {
		const char *sn = symbol_at(s, vaddr);
		if (sn)
			return shown(s, sn);
	}
	return NULL;
}

/* Where inl was inlined: its DW_AT_call_file and DW_AT_call_line. */
static const char *call_site(Dwarf_Die *cudie, Dwarf_Die *inl, uint32_t *line)
{
	Dwarf_Attribute at;
	Dwarf_Word w;
	Dwarf_Files *files;
	size_t nfiles;

	*line = 0;
	if (dwarf_attr(inl, DW_AT_call_line, &at) && dwarf_formudata(&at, &w) == 0)
		*line = w > UINT32_MAX ? 0 : (uint32_t)w;
	if (!dwarf_attr(inl, DW_AT_call_file, &at) || dwarf_formudata(&at, &w) != 0)
		return NULL;
	if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0 || w >= nfiles)
		return NULL;
	return dwarf_filesrc(files, w, NULL, NULL);
}

static size_t dwarf_frames(struct sym *s, uint64_t vaddr, struct sym_frame *out, size_t cap)
{
	Dwarf_Die chain[MAX_CHAIN], cur, next;
	Dwarf_Addr dwbias, a;
	Dwarf_Die *cudie;
	struct cu_index *ci;
	Dwarf_Off off;
	Dwarf *dw;
	size_t n = 1, k = 0;
	int lang;

	cudie = dwfl_module_addrdie(s->mod, vaddr, &dwbias);
	if (!cudie)
		return 0;
	a = vaddr - dwbias;
	ci = cu_index_get(s, cudie);
	dw = dwfl_module_getdwarf(s->mod, &dwbias);
	if (!ci || !dw || !cu_find(ci, a, &off) || !dwarf_offdie(dw, off, &chain[0]))
		return 0;
	cur = chain[0];
	while (find_child(&cur, a, &next, 0)) {
		if (dwarf_tag(&next) == DW_TAG_inlined_subroutine) {
			if (n == MAX_CHAIN)
				break;
			chain[n++] = next;
		}
		cur = next;
	}
	lang = dwarf_srclang(cudie);
	/* innermost first; an outer frame's line is where the next one was inlined
	 * (symbolizing.md §3) */
	for (size_t i = s->o.inlines ? n : 1; i-- > 0 && k < cap;) {
		const char *name = die_name(s, &chain[i], i == 0, lang, vaddr);
		const char *file = NULL;
		uint32_t line = 0;

		if (!name)
			name = "??";
		if (s->o.lines) {
			if (i == n - 1) {
				Dwarf_Line *l = dwarf_getsrc_die(cudie, a);
				int ln = 0;
				if (l) {
					file = dwarf_linesrc(l, NULL, NULL);
					if (dwarf_lineno(l, &ln) == 0 && ln > 0)
						line = (uint32_t)ln;
				}
			} else {
				file = call_site(cudie, &chain[i + 1], &line);
			}
		}
		out[k] = (struct sym_frame){name, file, line, i > 0, SYM_FROM_DWARF, 0};
		if (s->o.lines) {
			/* decl_line of the subprogram, or of what an inlined copy came from */
			int dl = 0;
			if (dwarf_decl_line(&chain[i], &dl) == 0 && dl > 0)
				out[k].start_line = (uint32_t)dl;
		}
		k++;
	}
	return k;
}

/* The line table's file and line for vaddr, for an address DWARF has no function
 * DIE for (code of some builds is described by the line table only). */
static const char *table_line(struct sym *s, uint64_t vaddr, uint32_t *line)
{
	Dwarf_Addr dwbias;
	Dwarf_Die *cudie = dwfl_module_addrdie(s->mod, vaddr, &dwbias);
	Dwarf_Line *l = cudie ? dwarf_getsrc_die(cudie, vaddr - dwbias) : NULL;
	int ln = 0;

	*line = 0;
	if (!l)
		return NULL;
	if (dwarf_lineno(l, &ln) == 0 && ln > 0)
		*line = (uint32_t)ln;
	return dwarf_linesrc(l, NULL, NULL);
}

size_t sym_lookup(struct sym *s, uint64_t vaddr, struct sym_frame *out, size_t cap)
{
	const char *name;
	size_t n;

	if (!cap)
		return 0;
	if (s->o.dwarf) {
		n = dwarf_frames(s, vaddr, out, cap);
		if (n)
			return n;
	}
	name = symbol_at(s, vaddr);
	if (name) {
		out[0] = (struct sym_frame){shown(s, name), NULL, 0, false, SYM_FROM_SYMTAB, 0};
		if (s->o.lines)
			out[0].file = table_line(s, vaddr, &out[0].line);
		return 1;
	}
	name = plt_name(s, vaddr);
	if (name) {
		out[0] = (struct sym_frame){name, NULL, 0, false, SYM_FROM_SYMTAB, 0};
		return 1;
	}
	buf_reset(&s->tmp);
	if (buf_printf(&s->tmp, "%s+0x%" PRIx64, s->base, vaddr) < 0)
		name = s->base;
	else
		name = s->tmp.p;
	out[0] = (struct sym_frame){name, NULL, 0, false, SYM_FROM_NONE, 0};
	return 1;
}
