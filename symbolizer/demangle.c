#include "symbolizer/demangle.h"

#include "common/buf.h"
#include "common/hash.h"

#include <libiberty/demangle.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * An open-addressing table of (mangled, demangled) pairs. A name that cannot be
 * demangled is cached too (demangled == NULL), so it is tried only once.
 */
struct entry {
	uint64_t hash;
	char *mangled;   /* owned; NULL marks an empty slot */
	char *demangled; /* owned; NULL when demangling failed */
};

struct demangle {
	struct entry *slots;
	size_t cap, n;
};

struct demangle *demangle_new(void)
{
	return calloc(1, sizeof(struct demangle));
}

void demangle_free(struct demangle *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->cap; i++) {
		free(d->slots[i].mangled);
		free(d->slots[i].demangled);
	}
	free(d->slots);
	free(d);
}

bool demangle_is_mangled(const char *name)
{
	return name[0] == '_' && (name[1] == 'Z' || name[1] == 'R');
}

static int grow(struct demangle *d)
{
	size_t ncap = d->cap ? d->cap * 2 : 256;
	struct entry *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < d->cap; i++) {
		struct entry *e = &d->slots[i];
		size_t j;
		if (!e->mangled)
			continue;
		for (j = (size_t)e->hash & (ncap - 1); slots[j].mangled; j = (j + 1) & (ncap - 1))
			;
		slots[j] = *e;
	}
	free(d->slots);
	d->slots = slots;
	d->cap = ncap;
	return 0;
}

const char *demangle_name(struct demangle *d, const char *name)
{
	size_t len = strlen(name);
	uint64_t h;
	size_t i;
	char *copy, *out;

	if (!demangle_is_mangled(name))
		return name;
	if ((d->n + 1) * 2 > d->cap && grow(d) < 0)
		return name;
	h = hash_bytes(name, len, 0);
	for (i = (size_t)h & (d->cap - 1); d->slots[i].mangled; i = (i + 1) & (d->cap - 1)) {
		struct entry *e = &d->slots[i];
		if (e->hash == h && !strcmp(e->mangled, name))
			return e->demangled ? e->demangled : name;
	}
	/* DMGL_AUTO tries GNU v3 then Rust; DMGL_GNU_V3|DMGL_RUST would make a failed
	 * Rust attempt final and lose every C++ name (symbolizing.md §6) */
	out = cplus_demangle(name, DMGL_AUTO);
	copy = strdup(name);
	if (!copy) {
		free(out);
		return name;
	}
	d->slots[i] = (struct entry){h, copy, out};
	d->n++;
	return out ? out : name;
}
