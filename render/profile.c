#include "render/profile.h"

#include "common/buf.h"
#include "common/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * Names: an open-addressing table of uint64 slots, (hash >> 32) << 32 | (id + 1), so
 * that most probes compare 32 bits of hash before touching the bytes.
 * Children: an open-addressing table of node ids keyed by (parent, frame); node 0,
 * the root, is never a child, so 0 marks an empty slot.
 */

static const struct {
	const char *suffix;
	enum profile_kind kind;
} suffixes[] = {
	{"_[k]", PROFILE_KIND_KERNEL},
	{"_[i]", PROFILE_KIND_INLINED},
	{"_[j]", PROFILE_KIND_JIT},
	{"_[w]", PROFILE_KIND_WAIT},
};

enum profile_kind profile_kind_of(const char *name, size_t len)
{
	if (len >= 4 && name[len - 4] == '_' && name[len - 3] == '[' && name[len - 1] == ']') {
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
			if (name[len - 2] == suffixes[i].suffix[2])
				return suffixes[i].kind;
	}
	/* "func (file.py)" or "func (file.py:12)" */
	if (len > 6 && name[len - 1] == ')') {
		const char *open = memchr(name, '(', len);
		if (open && open > name && open[-1] == ' ') {
			size_t rest = len - (size_t)(open - name);
			const char *py = NULL;
			for (size_t i = 0; i + 3 <= rest; i++)
				if (!memcmp(open + i, ".py", 3))
					py = open + i;
			if (py && (py[3] == ')' || py[3] == ':'))
				return PROFILE_KIND_PYTHON;
		}
	}
	return PROFILE_KIND_NATIVE;
}

static void table_free(void *t, size_t len);

struct profile *profile_new(void)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (GROW(p->nodes, p->nodes_cap, 1) < 0 || GROW(p->tails, p->tails_cap, 1) < 0) {
		profile_free(p);
		return NULL;
	}
	p->nodes[0] = (struct profile_node){PROFILE_NONE, PROFILE_NONE, PROFILE_NONE,
					    PROFILE_NONE, 0, 0};
	p->tails[0] = PROFILE_NONE;
	p->nnodes = 1;
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	free(p->names);
	free(p->strs);
	free(p->nodes);
	free(p->base);
	free(p->mappings);
	free(p->lines);
	free(p->locs);
	free(p->threads);
	free(p->samples);
	free(p->sample_locs);
	free(p->meta.title);
	free(p->meta.command);
	free(p->meta.countname);
	free(p->meta.pids);
	free(p->name_index);
	table_free(p->child_index, p->child_index_cap * sizeof(*p->child_index));
	free(p->tails);
	free(p);
}

int profile_set(char **field, const char *value)
{
	char *s = NULL;

	if (value && !(s = strdup(value)))
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

const char *profile_name(const struct profile *p, uint32_t id, size_t *len)
{
	if (id >= p->nnames) {
		if (len)
			*len = 0;
		return "";
	}
	if (len)
		*len = p->names[id].len;
	return p->strs + p->names[id].off;
}

/* The hash of a name for the name index: a word at a time (the last one read where
 * it ends, overlapping), one multiply each, then a full mix. Faster on frame names
 * than hash_bytes, whose values the colours depend on and so must not change. */
static inline uint64_t name_hash(const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = len * k, w;
	uint32_t a, b;

	while (len > 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
		s += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + len - 4, 4);
		w = (uint64_t)a << 32 | b;
	} else if (len) {
		w = (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[len / 2] << 8 |
		    (unsigned char)s[len - 1];
	} else {
		w = 0;
	}
	return hash_u64(h ^ w);
}

static int name_index_grow(struct profile *p, size_t ncap)
{
	uint64_t *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t id = 0; id < p->nnames; id++) {
		const struct profile_name *n = &p->names[id];
		uint64_t h = name_hash(p->strs + n->off, n->len);
		size_t i = (size_t)h & (ncap - 1);
		while (slots[i])
			i = (i + 1) & (ncap - 1);
		slots[i] = (h >> 32) << 32 | (uint64_t)(id + 1);
	}
	free(p->name_index);
	p->name_index = slots;
	p->name_index_cap = ncap;
	return 0;
}

/* kind < 0: read it from the name, only when the name is new */
static uint32_t intern(struct profile *p, const char *name, size_t len, int kind)
{
	uint64_t h = name_hash(name, len);
	uint64_t *slots;
	size_t mask, i;
	uint32_t id;

	if (len > UINT32_MAX - 1 || p->nnames >= PROFILE_NONE - 1)
		return PROFILE_NONE;
	if ((p->nnames + 1) * 2 > p->name_index_cap &&
	    name_index_grow(p, p->name_index_cap ? p->name_index_cap * 2 : 1024) < 0)
		return PROFILE_NONE;
	slots = p->name_index;
	mask = p->name_index_cap - 1;
	for (i = (size_t)h & mask; slots[i]; i = (i + 1) & mask) {
		if ((slots[i] >> 32) != (h >> 32))
			continue;
		id = (uint32_t)(slots[i] & 0xffffffffu) - 1;
		if (p->names[id].len == len && !memcmp(p->strs + p->names[id].off, name, len))
			return id;
	}
	if (GROW(p->names, p->names_cap, p->nnames + 1) < 0 ||
	    grow_array((void **)&p->strs, &p->strs_cap, p->strs_len + len + 1, 1) < 0)
		return PROFILE_NONE;
	if (kind < 0)
		kind = (int)profile_kind_of(name, len);
	id = (uint32_t)p->nnames++;
	p->names[id] = (struct profile_name){p->strs_len, (uint32_t)len, (uint8_t)kind};
	if (len)
		memcpy(p->strs + p->strs_len, name, len);
	p->strs[p->strs_len + len] = 0;
	p->strs_len += len + 1;
	slots[i] = (h >> 32) << 32 | (uint64_t)(id + 1);
	return id;
}

uint32_t profile_intern_kind(struct profile *p, const char *name, size_t len,
			     enum profile_kind kind)
{
	return intern(p, name, len, (int)kind);
}

uint32_t profile_intern(struct profile *p, const char *name, size_t len)
{
	return intern(p, name, len, -1);
}

/* The 32-bit tag of a (parent, frame) key; its low bits also choose the first slot,
 * so that growing the table never reads the nodes again. Never 0 in the high half
 * of a slot with a node, since node ids there are >= 1. */
static inline uint32_t child_tag(uint32_t parent, uint32_t frame)
{
	return (uint32_t)(hash_u64((uint64_t)parent << 32 | frame) >> 32);
}

/* Large tables and arrays are backed by huge pages where the kernel offers them
 * (transparent huge pages in madvise mode): one fault per 2 MiB instead of 512. */
static void huge(void *base, size_t len)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t hp = (uintptr_t)2 << 20;
	uintptr_t a = ((uintptr_t)base + hp - 1) & ~(hp - 1);
	uintptr_t b = ((uintptr_t)base + len) & ~(hp - 1);

	if (b > a)
		madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
	(void)base;
	(void)len;
#endif
}

/* Zeroed tables of 2 MiB and more are mapped on a 2 MiB boundary, so that the whole
 * table can be in huge pages: its probes land anywhere, and a TLB miss on every one
 * (dearer still in a virtual machine) would cost more than the probe. Smaller ones
 * come from calloc. */
#define TABLE_HUGE ((size_t)2 << 20)

static void *table_new(size_t len)
{
	char *m, *a;
	size_t slack;

	if (len < TABLE_HUGE)
		return calloc(1, len);
	if (len > SIZE_MAX - TABLE_HUGE)
		return NULL;
	m = mmap(NULL, len + TABLE_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)m + TABLE_HUGE - 1) & ~(uintptr_t)(TABLE_HUGE - 1));
	slack = (size_t)(a - m);
	if (slack)
		munmap(m, slack);
	if (TABLE_HUGE - slack)
		munmap(a + len, TABLE_HUGE - slack);
	huge(a, len);
	return a;
}

static void table_free(void *t, size_t len)
{
	if (!t)
		return;
	if (len < TABLE_HUGE)
		free(t);
	else
		munmap(t, len);
}

static int child_index_grow(struct profile *p, size_t ncap)
{
	uint64_t *slots;

	if (ncap > (size_t)1 << 32)
		return -ENOMEM;
	slots = table_new(ncap * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t j = 0; j < p->child_index_cap; j++) {
		uint64_t v = p->child_index[j];
		size_t i;
		if (!v)
			continue;
		for (i = (size_t)(v >> 32) & (ncap - 1); slots[i]; i = (i + 1) & (ncap - 1))
			;
		slots[i] = v;
	}
	table_free(p->child_index, p->child_index_cap * sizeof(*slots));
	p->child_index = slots;
	p->child_index_cap = ncap;
	return 0;
}

/* Room for need nodes in nodes[] and tails[]. 0 or -ENOMEM. */
static int nodes_grow(struct profile *p, size_t need)
{
	size_t cap = p->nodes_cap;

	if (GROW(p->nodes, p->nodes_cap, need) < 0 || GROW(p->tails, p->tails_cap, need) < 0)
		return -ENOMEM;
	if (p->nodes_cap != cap) {
		huge(p->nodes, p->nodes_cap * sizeof(*p->nodes));
		huge(p->tails, p->tails_cap * sizeof(*p->tails));
	}
	return 0;
}

int profile_reserve(struct profile *p, size_t nodes)
{
	/* about one node in four is a child with siblings, and the index stays at most
	 * 3/4 full; the hint is capped, past it the tables grow as they fill */
	size_t idx = nodes / 4 * 4 / 3, cap = 1024;

	if (nodes > (size_t)1 << 26)
		nodes = (size_t)1 << 26;
	if (nodes > p->nodes_cap && nodes_grow(p, nodes) < 0)
		return -ENOMEM;
	if (idx > (size_t)1 << 24)
		idx = (size_t)1 << 24;
	while (cap < idx)
		cap *= 2;
	if (cap > p->child_index_cap && child_index_grow(p, cap) < 0)
		return -ENOMEM;
	/* names: far fewer, one per 50 nodes or so, in a table at most half full */
	idx = nodes / 48 * 2;
	if (idx > (size_t)1 << 20)
		idx = (size_t)1 << 20;
	for (cap = 1024; cap < idx; cap *= 2)
		;
	if (cap > p->name_index_cap && name_index_grow(p, cap) < 0)
		return -ENOMEM;
	if (GROW(p->names, p->names_cap, idx / 2) < 0 ||
	    grow_array((void **)&p->strs, &p->strs_cap, idx / 2 * 32, 1) < 0)
		return -ENOMEM;
	return 0;
}

#define POPULATE_NODES 4096u

/* Fault in the memory of the next POPULATE_NODES nodes with one system call: on a
 * large profile one page fault per 4 KiB of new nodes costs a good share of the
 * time (more so in a virtual machine). Best effort: MADV_POPULATE_WRITE needs
 * Linux 5.14, and without it the pages fault in one by one as before. */
static void populate(struct profile *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	struct {
		void *base;
		size_t cap, elsz;
	} arrays[] = {
		{p->nodes, p->nodes_cap, sizeof(*p->nodes)},
		{p->tails, p->tails_cap, sizeof(*p->tails)},
	};

	/* a deferred load writes no tails */
	for (size_t i = 0; i < (p->deferred ? 1 : sizeof(arrays) / sizeof(arrays[0])); i++) {
		size_t end = n + POPULATE_NODES < arrays[i].cap ? n + POPULATE_NODES : arrays[i].cap;
		uintptr_t a = ((uintptr_t)arrays[i].base + n * arrays[i].elsz + 4095) & ~(uintptr_t)4095;
		uintptr_t b = ((uintptr_t)arrays[i].base + end * arrays[i].elsz) & ~(uintptr_t)4095;
		if (b > a)
			madvise((void *)a, b - a, MADV_POPULATE_WRITE);
	}
#else
	(void)p;
	(void)n;
#endif
}

static int child_index_put(struct profile *p, uint32_t n)
{
	uint32_t tag = child_tag(p->nodes[n].parent, p->nodes[n].frame);
	size_t i, mask;

	/* at most 3/4 full; a probe run stays within a cache line or two */
	if ((p->child_index_n + 1) * 4 > p->child_index_cap * 3 &&
	    child_index_grow(p, p->child_index_cap ? p->child_index_cap * 2 : 1024) < 0)
		return -ENOMEM;
	mask = p->child_index_cap - 1;
	for (i = tag & mask; p->child_index[i]; i = (i + 1) & mask)
		;
	p->child_index[i] = (uint64_t)tag << 32 | n;
	p->child_index_n++;
	return 0;
}

void profile_prefetch_child(const struct profile *p, uint32_t parent, uint32_t frame)
{
	if (p->child_index_cap)
		__builtin_prefetch(&p->child_index[child_tag(parent, frame) &
						   (p->child_index_cap - 1)]);
}

/* tails[] after a deferred load, which keeps no tails: the last child of each node
 * is its child of highest index. 0 or -ENOMEM. */
static int tails_rebuild(struct profile *p)
{
	if (GROW(p->tails, p->tails_cap, p->nnodes) < 0)
		return -ENOMEM;
	for (size_t n = 0; n < p->nnodes; n++)
		p->tails[n] = PROFILE_NONE;
	for (size_t n = 1; n < p->nnodes; n++)
		p->tails[p->nodes[n].parent] = (uint32_t)n;
	p->tails_stale = false;
	return 0;
}

/* The child of parent named frame, created if needed; PROFILE_NONE on ENOMEM.
 * An only child is found through its parent and is not in the index: most nodes
 * of a profile are (the tails of distinct stacks), and a new node's children are
 * then found or made without touching the index. The index keeps a tag beside
 * each node id, so a probe reads a node only when the tags agree. The last child
 * made is tried first. During a deferred load the children are kept newest first
 * (no tails[] to write) and put in order by profile_settle_totals(). */
static uint32_t child_get(struct profile *p, uint32_t parent, uint32_t frame)
{
	uint32_t n, last;
	bool several = false; /* parent has two children or more, all in the index */
	size_t i, mask;

	if (p->deferred) {
		last = p->nodes[parent].child;
		if (last == PROFILE_NONE)
			goto make;
		if (p->nodes[last].frame == frame)
			return last;
		several = p->nodes[last].next != PROFILE_NONE;
	} else {
		if (p->tails_stale && tails_rebuild(p) < 0)
			return PROFILE_NONE;
		last = p->tails[parent];
		if (last == PROFILE_NONE)
			goto make;
		if (p->nodes[last].frame == frame)
			return last;
		several = p->nodes[parent].child != last;
	}
	if (!p->flamechart && several) {
		uint32_t tag = child_tag(parent, frame);
		mask = p->child_index_cap - 1;
		for (i = tag & mask; p->child_index[i]; i = (i + 1) & mask) {
			uint64_t v = p->child_index[i];
			if ((uint32_t)(v >> 32) != tag)
				continue;
			n = (uint32_t)v;
			if (p->nodes[n].parent == parent && p->nodes[n].frame == frame)
				return n;
		}
	}
make:
	if (p->nnodes >= p->nodes_cap || p->nnodes >= p->tails_cap) {
		if (p->nnodes >= PROFILE_NONE - 1 || nodes_grow(p, p->nnodes + 1) < 0)
			return PROFILE_NONE;
	}
	if (p->base) {
		if (GROW(p->base, p->base_cap, p->nnodes + 1) < 0)
			return PROFILE_NONE;
		p->base[p->nnodes] = 0;
	}
	n = (uint32_t)p->nnodes;
	if ((n & (POPULATE_NODES - 1)) == 0)
		populate(p, n);
	p->nodes[n] = (struct profile_node){frame, parent, PROFILE_NONE, PROFILE_NONE, 0, 0};
	if (!p->flamechart && last != PROFILE_NONE) {
		/* a second child: the first one joins the index too */
		if ((!several && child_index_put(p, last) < 0) || child_index_put(p, n) < 0)
			return PROFILE_NONE;
	}
	p->nnodes++;
	if (p->deferred) {
		p->nodes[n].next = last;
		p->nodes[parent].child = n;
	} else {
		p->tails[n] = PROFILE_NONE;
		if (last == PROFILE_NONE)
			p->nodes[parent].child = n;
		else
			p->nodes[last].next = n;
		p->tails[parent] = n;
	}
	return n;
}

/* Adds count (and before, when diff) at the end of the path at + frames[0..n); the
 * node of each frame goes to nodes[] unless NULL. at_depth is at's depth, or
 * UINT32_MAX when the caller does not know it. */
static int64_t add(struct profile *p, uint32_t at, uint32_t at_depth, const uint32_t *frames,
		   size_t n, uint64_t count, uint64_t before, bool diff, uint32_t *nodes)
{
	uint32_t node = at;
	size_t depth;

	if (n > UINT32_MAX || at >= p->nnodes)
		return at >= p->nnodes ? -EINVAL : -EOVERFLOW;
	for (size_t i = 0; i < n; i++) {
		node = child_get(p, node, frames[i]);
		if (node == PROFILE_NONE)
			return -ENOMEM;
		if (nodes)
			nodes[i] = node;
	}
	/* Counts go on only once the path exists, so a failure leaves totals consistent.
	 * No node's total exceeds the root's (totals are sums of counts), so checking
	 * the root for overflow checks the whole path. */
	if (p->deferred) {
		/* totals come in profile_settle_totals(); the node's own total holds
		 * what was added at it until then */
		if (p->deferred_sum > UINT64_MAX - count)
			return -EOVERFLOW;
		if (diff && (p->deferred_base > UINT64_MAX - before ||
			     p->base_total > UINT64_MAX - before))
			return -EOVERFLOW;
		p->deferred_sum += count;
		p->nodes[node].self += count;
		p->nodes[node].total += count;
		if (diff) {
			p->deferred_base += before;
			p->base[node] += before;
			p->base_total += before;
		}
		if (at_depth == UINT32_MAX) {
			at_depth = 0;
			for (uint32_t m = at; m != 0; m = p->nodes[m].parent)
				at_depth++;
		}
		depth = (size_t)at_depth + n;
	} else {
		if (p->nodes[0].total > UINT64_MAX - count)
			return -EOVERFLOW;
		if (diff &&
		    (p->base[0] > UINT64_MAX - before || p->base_total > UINT64_MAX - before))
			return -EOVERFLOW;
		p->nodes[node].self += count;
		depth = 0;
		for (uint32_t m = node; m != PROFILE_NONE; m = p->nodes[m].parent) {
			p->nodes[m].total += count;
			if (diff)
				p->base[m] += before;
			depth++;
		}
		depth--; /* the root is not a frame */
		if (diff)
			p->base_total += before;
	}
	if (depth > p->maxdepth)
		p->maxdepth = depth > UINT32_MAX ? UINT32_MAX : (uint32_t)depth;
	return node;
}

bool profile_defer_totals(struct profile *p)
{
	if (p->deferred)
		return true;
	if (p->nnodes != 1)
		return false;
	p->deferred = true;
	p->deferred_sum = p->nodes[0].total;
	p->deferred_base = p->base ? p->base[0] : 0;
	return true;
}

/* Children come after their parent in nodes[], so one sweep from the last node up
 * adds every finished subtree into its parent. The same sweep puts the children
 * back in the order they were made: lists were kept newest first, and prepending
 * each node to its parent's list from the last node up gives them oldest first.
 * A parent's newest child (the head of its old list) is the first of its children
 * the sweep meets, which is how the sweep tells the old list from the new. */
void profile_settle_totals(struct profile *p)
{
	struct profile_node *v = p->nodes;

	if (!p->deferred)
		return;
	for (size_t n = p->nnodes - 1; n > 0; n--) {
		struct profile_node *par = &v[v[n].parent];
		par->total += v[n].total;
		if (p->base)
			p->base[v[n].parent] += p->base[n];
		if (par->child == n) {
			v[n].next = PROFILE_NONE;
		} else {
			v[n].next = par->child;
			par->child = (uint32_t)n;
		}
	}
	p->deferred = false;
	p->tails_stale = true;
}

static int base_init(struct profile *p)
{
	if (!p->base) {
		if (GROW(p->base, p->base_cap, p->nnodes) < 0)
			return -ENOMEM;
		memset(p->base, 0, p->nnodes * sizeof(*p->base));
	}
	return 0;
}

int64_t profile_add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count)
{
	return add(p, 0, 0, frames, n, count, 0, false, NULL);
}

int64_t profile_add_at(struct profile *p, uint32_t at, const uint32_t *frames, size_t n,
		       uint64_t count)
{
	return add(p, at, at ? UINT32_MAX : 0, frames, n, count, 0, false, NULL);
}

int64_t profile_add_diff(struct profile *p, const uint32_t *frames, size_t n, uint64_t before,
			 uint64_t after)
{
	if (base_init(p) < 0)
		return -ENOMEM;
	return add(p, 0, 0, frames, n, after, before, true, NULL);
}

int64_t profile_add_diff_at(struct profile *p, uint32_t at, const uint32_t *frames, size_t n,
			    uint64_t before, uint64_t after)
{
	if (base_init(p) < 0)
		return -ENOMEM;
	return add(p, at, at ? UINT32_MAX : 0, frames, n, after, before, true, NULL);
}

int64_t profile_add_path(struct profile *p, uint32_t at, uint32_t at_depth,
			 const uint32_t *frames, size_t n, uint64_t count, uint64_t before,
			 bool diff, uint32_t *nodes)
{
	if (diff && base_init(p) < 0)
		return -ENOMEM;
	return add(p, at, at_depth, frames, n, count, before, diff, nodes);
}

int64_t profile_add_mapping(struct profile *p, const struct profile_mapping *m)
{
	if (GROW(p->mappings, p->mappings_cap, p->nmappings + 1) < 0)
		return -ENOMEM;
	p->mappings[p->nmappings] = *m;
	return (int64_t)p->nmappings++;
}

int64_t profile_add_location(struct profile *p, uint64_t addr, uint32_t mapping,
			     const struct profile_line *lines, uint32_t nlines, uint8_t kind)
{
	if (GROW(p->locs, p->locs_cap, p->nlocs + 1) < 0 ||
	    GROW(p->lines, p->lines_cap, p->nlines + nlines) < 0)
		return -ENOMEM;
	p->locs[p->nlocs] = (struct profile_location){addr, mapping, (uint32_t)p->nlines, nlines,
						      kind};
	if (nlines)
		memcpy(p->lines + p->nlines, lines, nlines * sizeof(*lines));
	p->nlines += nlines;
	return (int64_t)p->nlocs++;
}

int64_t profile_add_thread(struct profile *p, uint32_t pid, uint32_t tid, uint32_t name)
{
	if (GROW(p->threads, p->threads_cap, p->nthreads + 1) < 0)
		return -ENOMEM;
	p->threads[p->nthreads] = (struct profile_thread){pid, tid, name};
	return (int64_t)p->nthreads++;
}

int64_t profile_add_sample(struct profile *p, const uint32_t *locs, uint32_t nlocs,
			   uint32_t thread, uint64_t count, bool off_cpu)
{
	if (GROW(p->samples, p->samples_cap, p->nsamples + 1) < 0 ||
	    GROW(p->sample_locs, p->sample_locs_cap, p->nsample_locs + nlocs) < 0)
		return -ENOMEM;
	p->samples[p->nsamples] =
		(struct profile_sample){p->nsample_locs, nlocs, thread, count, off_cpu};
	if (nlocs)
		memcpy(p->sample_locs + p->nsample_locs, locs, nlocs * sizeof(*locs));
	p->nsample_locs += nlocs;
	return (int64_t)p->nsamples++;
}

size_t profile_path(const struct profile *p, uint32_t node, uint32_t *out, size_t cap)
{
	size_t depth = 0;

	for (uint32_t m = node; m != 0 && m != PROFILE_NONE; m = p->nodes[m].parent)
		depth++;
	for (uint32_t m = node, i = (uint32_t)depth; m != 0 && m != PROFILE_NONE;
	     m = p->nodes[m].parent) {
		i--;
		if (i < cap)
			out[i] = p->nodes[m].frame;
	}
	return depth;
}
