/*
 * unwind: a copy of a thread's registers and the top of its stack to a list of
 * return addresses, with libunwind's remote interface over our own accessors. CFI
 * (.eh_frame_hdr, .eh_frame; .debug_frame converted) is read from the mapped ELF
 * files through maps, with a cache per module and one libunwind address space per
 * target address space. Shared by the perf and ptrace samplers.
 * Owns its libunwind address spaces and module mappings. Never prints.
 */
#ifndef SCORCH_PROFILER_UNWIND_H
#define SCORCH_PROFILER_UNWIND_H

#include "profiler/maps.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x86-64 registers in DWARF order (libunwind's UNW_X86_64_* numbering). */
enum unwind_reg {
	UNWIND_REG_RAX, UNWIND_REG_RDX, UNWIND_REG_RCX, UNWIND_REG_RBX,
	UNWIND_REG_RSI, UNWIND_REG_RDI, UNWIND_REG_RBP, UNWIND_REG_RSP,
	UNWIND_REG_R8, UNWIND_REG_R9, UNWIND_REG_R10, UNWIND_REG_R11,
	UNWIND_REG_R12, UNWIND_REG_R13, UNWIND_REG_R14, UNWIND_REG_R15,
	UNWIND_REG_RIP,
	UNWIND_NREGS
};

struct unwind_snapshot {
	uint64_t regs[UNWIND_NREGS]; /* by enum unwind_reg */
	uint32_t regs_mask;          /* bit r set when regs[r] is valid */
	const uint8_t *stack;        /* copy of the stack from regs[RSP] upwards */
	size_t stack_len;            /* bytes in the copy */
};

struct unwind;

/* Opens an unwinder over maps (lent until unwind_close). 0 or -errno. */
int unwind_open(struct unwind **out, const struct maps *maps, char *err, size_t errsz);
/* Unwinds snap in address space asid. Writes tagged entries (profiler/stacks.h:
 * STACK_TAG_EXACT for the leaf and frames a signal interrupted, STACK_TAG_USER for
 * return addresses) leaf first into out[0..cap). Returns the depth (>= 1 when the
 * leaf pc is known) and sets *complete when the chain ended at its root. */
int unwind_stack(struct unwind *u, uint32_t asid, const struct unwind_snapshot *snap,
		 uint64_t *out, size_t cap, bool *complete);
/* Forgets what is cached for asid (after exec, or a mapping replaced another). */
void unwind_flush(struct unwind *u, uint32_t asid);
void unwind_close(struct unwind *u); /* NULL is fine */

#endif
