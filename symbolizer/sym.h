/*
 * sym: addresses of one ELF file to frames (function, inlined callers, file:line)
 * with libdwfl. One handle per distinct file, opened from an fd the caller keeps
 * (sym dups it), reported at bias 0 so that lookups take ELF virtual addresses and
 * every process that maps the file shares the work. Debug info is searched as a user
 * expects: in the file, under /usr/lib/debug/.build-id, then by .gnu_debuglink next
 * to the file, in its .debug/ and under /usr/lib/debug, each candidate checked by
 * build id; never debuginfod. Then .symtab (or the debug file's), then .dynsym, PLT
 * stubs as name@plt, and last "basename+0xVADDR".
 * Owns the Dwfl session and its caches. Never prints.
 */
#ifndef SCORCH_SYMBOLIZER_SYM_H
#define SCORCH_SYMBOLIZER_SYM_H

#include "symbolizer/demangle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sym;

struct sym_opts {
	bool dwarf;    /* read DWARF (inlines, lines, names of static functions) */
	bool inlines;  /* report inlined functions as frames of their own */
	bool lines;    /* report file and line */
	bool demangle; /* C++ and Rust names demangled */
};

enum sym_source {
	SYM_FROM_DWARF,  /* a DWARF subprogram or inlined subroutine */
	SYM_FROM_SYMTAB, /* an ELF symbol (.symtab or .dynsym) or a PLT stub */
	SYM_FROM_NONE,   /* no symbol: func is "basename+0xVADDR" */
};

struct sym_frame {
	const char *func; /* function name, never NULL */
	const char *file; /* source file as DWARF names it, or NULL */
	uint32_t line;    /* 0 when unknown */
	bool inlined;     /* an inlined function (every frame but the last) */
	uint8_t source;   /* enum sym_source */
	uint32_t start_line; /* the line the function is declared on (DWARF), or 0 */
};

/* Opens the ELF file behind fd (not taken: sym keeps its own dup); path is its name
 * as the target saw it (for the debuglink search and the basename of module+0x
 * frames). dm, which must outlive the handle, demangles names. 0, or -errno with err
 * filled (not an ELF file, unreadable). */
int sym_open(struct sym **out, int fd, const char *path, const struct sym_opts *o,
	     struct demangle *dm, char *err, size_t errsz);
void sym_close(struct sym *s); /* NULL is fine; ends the Dwfl session */

/* The ELF virtual address of file offset off (through the PT_LOAD that maps it).
 * False when no loadable segment holds off. */
bool sym_offset_vaddr(const struct sym *s, uint64_t off, uint64_t *vaddr);

/* Frames for the ELF virtual address vaddr, innermost first, into out[0..cap);
 * returns how many (at least 1 when cap > 0). The strings live until the next
 * sym_lookup() or sym_close(). */
size_t sym_lookup(struct sym *s, uint64_t vaddr, struct sym_frame *out, size_t cap);

/* The file's GNU build id in hex, or NULL when it has none. Lives until
 * sym_close(). */
const char *sym_build_id(const struct sym *s);

/* What the debug-info search found, for reports and tests: the file DWARF came from
 * (NULL when none; the file itself or a separate debug file). Opens DWARF if needed.
 */
const char *sym_debug_file(struct sym *s);

#endif
