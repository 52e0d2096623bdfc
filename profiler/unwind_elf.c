/*
 * unwind_elf: ELF program headers and call-frame tables for the unwinder. The file
 * is parsed by hand (it is already mmapped; only headers and CFI records are
 * read). Formats: the System V gABI (program and section headers), the LSB's
 * ".eh_frame" and ".eh_frame_hdr" chapters, and DWARF 4 section 6.4 (.debug_frame).
 */
#include "profiler/unwind_elf.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* DW_EH_PE_* pointer encodings (LSB, "DWARF Extensions"). */
#define PE_ABSPTR 0x00
#define PE_ULEB128 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB128 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30
#define PE_OMIT 0xff

/* A bounded reader over bytes of the file. */
struct rd {
	const uint8_t *p, *end;
	bool bad; /* set when a read ran past end */
};

static uint64_t rd_n(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

/* LEB128: the value's bits, and in *shift how many were read (0: ran off the end,
 * r->bad set); *last the final byte, whose 0x40 bit is a signed value's sign. */
static uint64_t rd_leb(struct rd *r, unsigned *shift, uint8_t *last)
{
	uint64_t v = 0;

	*shift = 0;
	while (r->p < r->end) {
		uint8_t b = *r->p++;
		if (*shift < 64)
			v |= (uint64_t)(b & 0x7f) << *shift;
		*shift += 7;
		if (!(b & 0x80)) {
			*last = b;
			return v;
		}
	}
	r->bad = true;
	*shift = 0;
	return 0;
}

static uint64_t rd_uleb(struct rd *r)
{
	unsigned shift;
	uint8_t last;

	return rd_leb(r, &shift, &last);
}

static int64_t rd_sleb(struct rd *r)
{
	unsigned shift;
	uint8_t last = 0;
	uint64_t v = rd_leb(r, &shift, &last);

	if (shift && shift < 64 && (last & 0x40))
		v |= ~UINT64_C(0) << shift;
	return (int64_t)v;
}

/* Reads a pointer with encoding enc; field_vaddr is the link-time address of the
 * field (for pcrel), datarel the base of datarel values. False on an encoding we
 * do not read (indirect values are returned as the address of the pointer). */
static bool rd_encoded(struct rd *r, uint8_t enc, uint64_t field_vaddr, uint64_t datarel,
		       uint64_t *out)
{
	uint64_t v;

	if (enc == PE_OMIT)
		return false;
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		v = rd_n(r, 8);
		break;
	case PE_UDATA2:
		v = rd_n(r, 2);
		break;
	case PE_SDATA2:
		v = (uint64_t)(int64_t)(int16_t)rd_n(r, 2);
		break;
	case PE_UDATA4:
		v = rd_n(r, 4);
		break;
	case PE_SDATA4:
		v = (uint64_t)(int64_t)(int32_t)rd_n(r, 4);
		break;
	case PE_ULEB128:
		v = rd_uleb(r);
		break;
	case PE_SLEB128:
		v = (uint64_t)rd_sleb(r);
		break;
	default:
		return false;
	}
	switch (enc & 0x70) {
	case 0:
		break;
	case PE_PCREL:
		v += field_vaddr;
		break;
	case PE_DATAREL:
		v += datarel;
		break;
	default:
		return false;
	}
	*out = v;
	return !r->bad;
}

/* Bytes of the file at link-time address vaddr, len of them, or NULL. */
static const uint8_t *at_vaddr(const struct unwind_elf *e, uint64_t vaddr, size_t len)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct unwind_elf_load *l = &e->loads[i];
		uint64_t off;

		if (vaddr - l->vaddr >= l->filesz || l->filesz - (vaddr - l->vaddr) < len)
			continue;
		off = l->offset + (vaddr - l->vaddr);
		if (off > e->size || e->size - off < len)
			return NULL;
		return e->data + off;
	}
	return NULL;
}

static const Elf64_Shdr *find_section(const struct unwind_elf *e, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->data;
	const Elf64_Shdr *sh, *strsh;

	if (!eh->e_shoff || eh->e_shoff % 8 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff > e->size ||
	    (e->size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum ||
	    eh->e_shstrndx >= eh->e_shnum)
		return NULL;
	sh = (const Elf64_Shdr *)(e->data + eh->e_shoff);
	strsh = &sh[eh->e_shstrndx];
	if (strsh->sh_offset > e->size || e->size - strsh->sh_offset < strsh->sh_size)
		return NULL;
	for (size_t i = 0; i < eh->e_shnum; i++) {
		size_t len = strlen(name) + 1;
		if (sh[i].sh_name >= strsh->sh_size || strsh->sh_size - sh[i].sh_name < len)
			continue;
		if (memcmp(e->data + strsh->sh_offset + sh[i].sh_name, name, len))
			continue;
		if (sh[i].sh_type == SHT_NOBITS || sh[i].sh_offset > e->size ||
		    e->size - sh[i].sh_offset < sh[i].sh_size)
			return NULL;
		return &sh[i];
	}
	return NULL;
}

static bool table_push(struct unwind_elf_table *t, size_t *cap, int64_t start, int64_t fde)
{
	if (start < INT32_MIN || start > INT32_MAX || fde < INT32_MIN || fde > INT32_MAX)
		return true; /* out of a table's reach: leave the function out */
	if (t->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		int32_t *v = realloc(t->v, ncap * 2 * sizeof(int32_t));
		if (!v)
			return false;
		t->v = v;
		*cap = ncap;
	}
	t->v[2 * t->n] = (int32_t)start;
	t->v[2 * t->n + 1] = (int32_t)fde;
	t->n++;
	return true;
}

static int cmp_pair(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* The FDE pointer encoding of the .eh_frame CIE at sec[pos], or -1 if unusable. */
static int cie_encoding(const uint8_t *sec, size_t len, size_t pos)
{
	struct rd r = {sec + pos, sec + len, false};
	uint64_t clen = rd_n(&r, 4);
	const char *aug;
	uint8_t version, enc = PE_ABSPTR;

	if (r.bad || clen == 0 || clen == 0xffffffff || clen > (size_t)(r.end - r.p))
		return -1;
	r.end = r.p + clen;
	if (rd_n(&r, 4) != 0) /* a CIE has id 0 in .eh_frame */
		return -1;
	version = (uint8_t)rd_n(&r, 1);
	aug = (const char *)r.p;
	while (r.p < r.end && *r.p)
		r.p++;
	if (r.p >= r.end || (version != 1 && version != 3))
		return -1;
	r.p++;
	if (strstr(aug, "eh"))
		return -1; /* the ancient GCC "eh" augmentation carries an extra pointer */
	rd_uleb(&r);                      /* code alignment */
	rd_sleb(&r);                      /* data alignment */
	version == 1 ? (void)rd_n(&r, 1) : (void)rd_uleb(&r); /* return address column */
	if (aug[0] != 'z')
		return r.bad ? -1 : PE_ABSPTR;
	rd_uleb(&r); /* augmentation data length */
	for (const char *a = aug + 1; *a && !r.bad; a++) {
		uint64_t dummy;
		uint8_t penc;

		switch (*a) {
		case 'R':
			enc = (uint8_t)rd_n(&r, 1);
			return r.bad ? -1 : enc;
		case 'L':
			rd_n(&r, 1);
			break;
		case 'P':
			penc = (uint8_t)rd_n(&r, 1);
			if (!rd_encoded(&r, penc & 0x7f, 0, 0, &dummy))
				return -1;
			break;
		case 'S':
		case 'B':
		case 'G':
			break;
		default:
			return -1;
		}
	}
	return r.bad ? -1 : enc;
}

/* Builds the (pc - vaddr, fde offset) table over an .eh_frame at link-time address
 * vaddr, for binaries linked without .eh_frame_hdr. */
static int build_eh_table(struct unwind_elf *e, const uint8_t *sec, size_t len, uint64_t vaddr)
{
	size_t pos = 0, cap = 0, last_cie = SIZE_MAX;
	int last_enc = -1;

	while (len - pos >= 8) {
		struct rd r = {sec + pos, sec + len, false};
		uint64_t rlen = rd_n(&r, 4), id, pc, range;
		size_t end;
		int enc;

		if (rlen == 0)
			break; /* terminator */
		if (rlen == 0xffffffff) {
			/* 64-bit records do not occur on x86-64 Linux: skip them */
			rlen = rd_n(&r, 8);
			if (r.bad || rlen > len - pos - 12)
				break;
			pos += 12 + rlen;
			continue;
		}
		if (rlen > len - pos - 4)
			break;
		end = pos + 4 + rlen;
		r.end = sec + end;
		id = rd_n(&r, 4);
		if (id == 0 || id > pos + 4) { /* a CIE, or a pointer outside the section */
			pos = end;
			continue;
		}
		if (pos + 4 - id != last_cie) {
			last_cie = pos + 4 - id;
			last_enc = cie_encoding(sec, len, last_cie);
		}
		enc = last_enc;
		if (enc >= 0 && rd_encoded(&r, (uint8_t)enc, vaddr + pos + 8, 0, &pc) &&
		    rd_encoded(&r, (uint8_t)(enc & 0x0f), 0, 0, &range) && pc && range) {
			if (!table_push(&e->eh, &cap, (int64_t)(pc - vaddr), (int64_t)pos))
				return -ENOMEM;
		}
		pos = end;
	}
	if (e->eh.n)
		qsort(e->eh.v, e->eh.n, 2 * sizeof(int32_t), cmp_pair);
	return 0;
}

static void parse_eh_frame_hdr(struct unwind_elf *e, uint64_t hdr_vaddr, uint64_t hdr_size)
{
	const uint8_t *p = at_vaddr(e, hdr_vaddr, 4);
	struct rd r;
	uint64_t ptr, count;

	if (!p || p[0] != 1 || p[3] != 0x3b) /* version 1, table datarel|sdata4 */
		return;
	/* the header's size comes from the file: check it before any pointer is made */
	if (hdr_size < 4 || hdr_size > (uint64_t)(e->data + e->size - p))
		return;
	r.p = p + 4;
	r.end = p + hdr_size;
	r.bad = false;
	if (!rd_encoded(&r, p[1], hdr_vaddr + 4, hdr_vaddr, &ptr) ||
	    !rd_encoded(&r, p[2], hdr_vaddr + (uint64_t)(r.p - p), hdr_vaddr, &count))
		return;
	if (!count || count > SIZE_MAX / 8 ||
	    !at_vaddr(e, hdr_vaddr + (uint64_t)(r.p - p), (size_t)count * 8))
		return;
	e->cfi = UNWIND_ELF_CFI_HDR;
	e->hdr_vaddr = hdr_vaddr;
	e->table_vaddr = hdr_vaddr + (uint64_t)(r.p - p);
	e->fde_count = (size_t)count;
}

int unwind_elf_init(struct unwind_elf *e, const uint8_t *data, size_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph;
	uint64_t hdr_vaddr = 0, hdr_size = 0;
	bool have_hdr = false;
	size_t cap = 0;

	memset(e, 0, sizeof(*e));
	e->data = data;
	e->size = size;
	e->lo = UINT64_MAX;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff % 8 ||
	    eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return -ENOEXEC;
	ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_GNU_EH_FRAME) {
			have_hdr = true;
			hdr_vaddr = ph[i].p_vaddr;
			hdr_size = ph[i].p_filesz;
		}
		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		if (e->nloads == cap) {
			struct unwind_elf_load *v;
			cap = cap ? cap * 2 : 4;
			v = realloc(e->loads, cap * sizeof(*v));
			if (!v) {
				unwind_elf_release(e);
				return -ENOMEM;
			}
			e->loads = v;
		}
		e->loads[e->nloads++] = (struct unwind_elf_load){
			ph[i].p_vaddr, ph[i].p_memsz, ph[i].p_offset,
			ph[i].p_filesz < ph[i].p_memsz ? ph[i].p_filesz : ph[i].p_memsz};
		if (ph[i].p_vaddr < e->lo)
			e->lo = ph[i].p_vaddr;
		if (ph[i].p_vaddr + ph[i].p_memsz > e->hi)
			e->hi = ph[i].p_vaddr + ph[i].p_memsz;
	}
	if (!e->nloads) {
		unwind_elf_release(e);
		return -ENOEXEC;
	}
	if (have_hdr)
		parse_eh_frame_hdr(e, hdr_vaddr, hdr_size);
	if (e->cfi == UNWIND_ELF_CFI_NONE) {
		const Elf64_Shdr *sh = find_section(e, ".eh_frame");
		if (sh && sh->sh_addr && sh->sh_size) {
			int rc = build_eh_table(e, data + sh->sh_offset, sh->sh_size, sh->sh_addr);
			if (rc < 0) {
				unwind_elf_release(e);
				return rc;
			}
			if (e->eh.n) {
				e->cfi = UNWIND_ELF_CFI_TABLE;
				e->eh_vaddr = sh->sh_addr;
			}
		}
	}
	return 0;
}

/* A growable output of converted records. */
struct out {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void out_add(struct out *o, const void *data, size_t len)
{
	if (o->oom)
		return;
	if (o->cap - o->len < len) {
		size_t ncap = o->cap ? o->cap : 4096;
		uint8_t *p;
		while (ncap - o->len < len)
			ncap *= 2;
		p = realloc(o->p, ncap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = ncap;
	}
	memcpy(o->p + o->len, data, len);
	o->len += len;
}

static void out_u(struct out *o, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	out_add(o, b, n);
}

static void out_patch32(struct out *o, size_t at, uint32_t v)
{
	if (!o->oom)
		for (size_t i = 0; i < 4; i++)
			o->p[at + i] = (uint8_t)(v >> (8 * i));
}

/* Where each .debug_frame CIE went in the output (by its section offset). */
struct cie_map {
	size_t from, to; /* offset in .debug_frame, offset in the output (SIZE_MAX: unusable) */
};

/* Converts the .debug_frame CIE at sec[pos] into an .eh_frame CIE with augmentation
 * "zR" and FDE encoding datarel|sdata8; returns its output offset or SIZE_MAX. */
static size_t convert_cie(struct out *o, const uint8_t *sec, size_t pos, size_t end)
{
	struct rd r = {sec + pos + 8, sec + end, false};
	const uint8_t *ca, *da, *ra, *ins;
	size_t at = o->len, ca_len, da_len, ra_len;
	uint8_t version = (uint8_t)rd_n(&r, 1);

	if (r.bad || (version != 1 && version != 3 && version != 4) || r.p >= r.end || *r.p)
		return SIZE_MAX; /* augmented .debug_frame CIEs are not converted */
	r.p++;
	if (version == 4 && (rd_n(&r, 1) != 8 || rd_n(&r, 1) != 0))
		return SIZE_MAX; /* address size 8, no segments */
	ca = r.p;
	rd_uleb(&r);
	ca_len = (size_t)(r.p - ca);
	da = r.p;
	rd_sleb(&r);
	da_len = (size_t)(r.p - da);
	ra = r.p;
	version == 1 ? (void)rd_n(&r, 1) : (void)rd_uleb(&r);
	ra_len = (size_t)(r.p - ra);
	if (r.bad)
		return SIZE_MAX;
	ins = r.p;
	out_u(o, 0, 4); /* length, patched below */
	out_u(o, 0, 4); /* CIE id */
	out_u(o, version == 1 ? 1 : 3, 1);
	out_add(o, "zR", 3);
	out_add(o, ca, ca_len);
	out_add(o, da, da_len);
	out_add(o, ra, ra_len);
	out_u(o, 1, 1);                      /* augmentation data length */
	out_u(o, PE_DATAREL | PE_SDATA8, 1); /* FDE pointers: link-time, + gp (the bias) */
	out_add(o, ins, (size_t)(sec + end - ins));
	out_patch32(o, at, (uint32_t)(o->len - at - 4));
	return o->oom ? SIZE_MAX : at;
}

bool unwind_elf_debug_frame(struct unwind_elf *e)
{
	const Elf64_Shdr *sh;
	const uint8_t *sec;
	struct cie_map *cies = NULL;
	size_t ncies = 0, cies_cap = 0, cap = 0, pos = 0, len;
	struct out o = {0};

	if (e->debug_state)
		return e->debug_state > 0;
	e->debug_state = -1;
	sh = find_section(e, ".debug_frame");
	/* compressed sections (SHF_COMPRESSED) would need zlib: left out */
	if (!sh || !sh->sh_size || (sh->sh_flags & SHF_COMPRESSED))
		return false;
	sec = e->data + sh->sh_offset;
	len = sh->sh_size;
	while (len - pos >= 12) {
		struct rd r = {sec + pos, sec + len, false};
		uint64_t rlen = rd_n(&r, 4), id, pc, range;
		size_t end, cie_out = SIZE_MAX, at;

		if (rlen == 0xffffffff || rlen < 8 || rlen > len - pos - 4)
			break; /* 64-bit DWARF is not used on x86-64 Linux */
		end = pos + 4 + rlen;
		r.end = sec + end;
		id = rd_n(&r, 4);
		if (id == 0xffffffff) {
			if (ncies == cies_cap) {
				struct cie_map *v;
				cies_cap = cies_cap ? cies_cap * 2 : 16;
				v = realloc(cies, cies_cap * sizeof(*v));
				if (!v)
					goto oom;
				cies = v;
			}
			cies[ncies++] = (struct cie_map){pos, convert_cie(&o, sec, pos, end)};
			if (o.oom)
				goto oom;
			pos = end;
			continue;
		}
		for (size_t i = ncies; i-- > 0;) /* CIEs precede their FDEs in practice */
			if (cies[i].from == id) {
				cie_out = cies[i].to;
				break;
			}
		pc = rd_n(&r, 8);
		range = rd_n(&r, 8);
		if (cie_out == SIZE_MAX || r.bad || !pc || !range || pc < e->lo || pc >= e->hi) {
			pos = end;
			continue;
		}
		at = o.len;
		out_u(&o, 0, 4);
		out_u(&o, (uint32_t)(at + 4 - cie_out), 4); /* CIE pointer, .eh_frame style */
		out_u(&o, pc, 8);
		out_u(&o, range, 8);
		out_u(&o, 0, 1); /* augmentation data length */
		out_add(&o, r.p, (size_t)(r.end - r.p));
		out_patch32(&o, at, (uint32_t)(o.len - at - 4));
		if (o.oom || !table_push(&e->dt, &cap, (int64_t)(pc - e->lo), (int64_t)at))
			goto oom;
		pos = end;
	}
	free(cies);
	if (!e->dt.n || o.len > INT32_MAX) {
		free(o.p);
		free(e->dt.v);
		e->dt.v = NULL;
		e->dt.n = 0;
		return false;
	}
	qsort(e->dt.v, e->dt.n, 2 * sizeof(int32_t), cmp_pair);
	e->debug = o.p;
	e->debug_len = o.len;
	e->debug_state = 1;
	return true;
oom:
	free(cies);
	free(o.p);
	free(e->dt.v);
	e->dt.v = NULL;
	e->dt.n = 0;
	return false;
}

bool unwind_elf_bias(const struct unwind_elf *e, uint64_t start, uint64_t pgoff, uint64_t *bias)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct unwind_elf_load *l = &e->loads[i];
		uint64_t first = l->offset & ~UINT64_C(0xfff);

		if (pgoff < first || pgoff >= l->offset + (l->filesz ? l->filesz : 1))
			continue;
		*bias = start - pgoff + l->offset - l->vaddr;
		return true;
	}
	return false;
}

void unwind_elf_release(struct unwind_elf *e)
{
	free(e->loads);
	free(e->eh.v);
	free(e->debug);
	free(e->dt.v);
	memset(e, 0, sizeof(*e));
}
