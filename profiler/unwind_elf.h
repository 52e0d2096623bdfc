/*
 * unwind_elf: one ELF module as the unwinder needs it (private to profiler/unwind.c).
 * Its PT_LOAD segments (to turn link-time addresses into bytes of the file), and its
 * call-frame information as sorted lookup tables libunwind's remote table search can
 * read: the .eh_frame_hdr table when there is one, else a table built from .eh_frame,
 * and .debug_frame converted to .eh_frame form. Owns the tables it builds; borrows
 * the file bytes (lent until unwind_elf_release). Never prints.
 */
#ifndef SCORCH_PROFILER_UNWIND_ELF_H
#define SCORCH_PROFILER_UNWIND_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unwind_elf_load {
	uint64_t vaddr;  /* link-time address of the segment */
	uint64_t memsz;  /* bytes in memory */
	uint64_t offset; /* file offset of vaddr */
	uint64_t filesz; /* bytes backed by the file */
};

/* A sorted search table as libunwind's remote_lookup reads it: pairs of int32
 * (start of a function, offset of its FDE), both relative to a base the caller
 * knows (see unwind.c). */
struct unwind_elf_table {
	int32_t *v;  /* 2 * n values */
	size_t n;    /* pairs */
};

enum unwind_elf_cfi {
	UNWIND_ELF_CFI_NONE,  /* no usable .eh_frame */
	UNWIND_ELF_CFI_HDR,   /* .eh_frame_hdr's own table, read from the file */
	UNWIND_ELF_CFI_TABLE, /* our table over .eh_frame (no usable .eh_frame_hdr) */
};

struct unwind_elf {
	const uint8_t *data; /* the whole file (borrowed) */
	size_t size;         /* bytes */
	struct unwind_elf_load *loads;
	size_t nloads;
	uint64_t lo, hi; /* link-time span of all PT_LOADs: [lo, hi) */

	enum unwind_elf_cfi cfi;
	uint64_t hdr_vaddr;   /* HDR: link-time address of .eh_frame_hdr */
	uint64_t table_vaddr; /* HDR: link-time address of its table */
	size_t fde_count;     /* HDR: pairs in it */
	uint64_t eh_vaddr;    /* TABLE: link-time address of .eh_frame (the base) */
	struct unwind_elf_table eh; /* TABLE: (pc - eh_vaddr, fde offset in .eh_frame) */

	/* .debug_frame, converted on first need into .eh_frame records whose
	 * addresses are DW_EH_PE_datarel|sdata8 (link-time, relative to the bias the
	 * caller passes as libunwind's gp). */
	int debug_state;      /* 0 not tried, 1 built, -1 absent or unusable */
	uint8_t *debug;       /* converted records */
	size_t debug_len;     /* bytes */
	struct unwind_elf_table dt; /* (pc - lo, record offset in debug) */
};

/* Parses the ELF file in data[0..size) (borrowed until unwind_elf_release).
 * 0, -ENOEXEC when it is not a 64-bit x86-64 ELF file, or -ENOMEM. */
int unwind_elf_init(struct unwind_elf *e, const uint8_t *data, size_t size);
/* Builds the .debug_frame table if not done yet. True when there is one. */
bool unwind_elf_debug_frame(struct unwind_elf *e);
void unwind_elf_release(struct unwind_elf *e);

/* The bias of a mapping of this file at start with file offset pgoff (runtime
 * address = link-time address + bias). False if no PT_LOAD holds pgoff. */
bool unwind_elf_bias(const struct unwind_elf *e, uint64_t start, uint64_t pgoff,
		     uint64_t *bias);

/* Copies up to len bytes of the file backing link-time address vaddr into dst;
 * returns the bytes copied (0 when vaddr is not backed by the file). */
static inline size_t unwind_elf_read(const struct unwind_elf *e, uint64_t vaddr, void *dst,
				     size_t len)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct unwind_elf_load *l = &e->loads[i];
		uint64_t off;
		size_t n;

		if (vaddr - l->vaddr >= l->filesz)
			continue;
		off = l->offset + (vaddr - l->vaddr);
		n = len;
		if (n > l->filesz - (vaddr - l->vaddr))
			n = (size_t)(l->filesz - (vaddr - l->vaddr));
		if (off >= e->size)
			return 0;
		if (n > e->size - off)
			n = (size_t)(e->size - off);
		__builtin_memcpy(dst, e->data + off, n);
		return n;
	}
	return 0;
}

/* The file bytes of the PT_LOAD segment backing link-time address vaddr: returns
 * them (NULL if none), with the link-time address of the first in *lo and their
 * count in *len. */
static inline const uint8_t *unwind_elf_segment(const struct unwind_elf *e, uint64_t vaddr,
						uint64_t *lo, size_t *len)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct unwind_elf_load *l = &e->loads[i];
		uint64_t n = l->filesz;

		if (vaddr - l->vaddr >= l->filesz || l->offset >= e->size)
			continue;
		if (n > e->size - l->offset)
			n = e->size - l->offset;
		if (vaddr - l->vaddr >= n)
			return NULL;
		*lo = l->vaddr;
		*len = (size_t)n;
		return e->data + l->offset;
	}
	return NULL;
}

#endif
