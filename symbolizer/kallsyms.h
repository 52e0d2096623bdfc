/*
 * kallsyms: kernel text symbols from /proc/kallsyms (or a file of the same format,
 * "%016lx TYPE NAME [\t[module]]"), sorted for lookup. The kernel shows every
 * address as zero to readers it does not trust (kptr_restrict, perf_event_paranoid
 * without CAP_SYSLOG); the table then says so and matches nothing. Owns its memory.
 * Never prints.
 */
#ifndef SCORCH_SYMBOLIZER_KALLSYMS_H
#define SCORCH_SYMBOLIZER_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kallsyms_sym {
	uint64_t addr;
	uint32_t name; /* offset in kallsyms.strs */
};

struct kallsyms {
	struct kallsyms_sym *v; /* text symbols (T, t, W, w), sorted by address */
	size_t n;
	char *strs; /* the file's bytes, names NUL-terminated in place */
	size_t strs_len;
	bool zero; /* the file listed symbols but every address read as zero */
};

void kallsyms_init(struct kallsyms *k);
void kallsyms_release(struct kallsyms *k);

/* Reads path (normally "/proc/kallsyms") into k, replacing what it held. 0, or
 * -errno with err filled. Lines that do not parse are skipped. */
int kallsyms_read(struct kallsyms *k, const char *path, char *err, size_t errsz);
/* Parses len bytes of kallsyms text; k takes ownership of text (malloc'ed, one byte
 * more than len for a NUL). 0 or -ENOMEM (text is then freed). */
int kallsyms_parse(struct kallsyms *k, char *text, size_t len);

/* The symbol holding addr (the last one at or below it), and the offset from its
 * start; NULL when addr is below every symbol or the addresses are hidden. The name
 * lives until kallsyms_release(). */
const char *kallsyms_lookup(const struct kallsyms *k, uint64_t addr, uint64_t *off);

#endif
