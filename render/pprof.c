/*
 * pprof: profile.proto (github.com/google/pprof, proto/profile.proto) encoded by hand
 * and gzip-compressed with zlib. The message is built whole in memory (it is small
 * next to the profile it describes), then deflated in chunks to the stream.
 *
 * Field numbers, from profile.proto:
 *   Profile: 1 sample_type, 2 sample, 3 mapping, 4 location, 5 function,
 *            6 string_table, 9 time_nanos, 10 duration_nanos, 11 period_type,
 *            12 period, 13 comment, 14 default_sample_type
 *   ValueType: 1 type, 2 unit            Sample: 1 location_id, 2 value, 3 label
 *   Label: 1 key, 2 str, 3 num, 4 num_unit
 *   Mapping: 1 id, 2 memory_start, 3 memory_limit, 4 file_offset, 5 filename,
 *            6 build_id, 7 has_functions, 8 has_filenames, 9 has_line_numbers,
 *            10 has_inline_frames
 *   Location: 1 id, 2 mapping_id, 3 address, 4 line      Line: 1 function_id, 2 line
 *   Function: 1 id, 2 name, 3 system_name, 4 filename, 5 start_line
 * Sample.location_id runs leaf first and Location.line innermost first (the last line
 * is the caller the others were inlined into), as profile.proto documents; scorch's
 * profile keeps both in that order already.
 */
#include "render/pprof.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* A message being encoded; the first allocation failure sticks in err. */
struct pb {
	struct buf b;
	int err;
};

static void pb_raw(struct pb *m, const void *data, size_t len)
{
	if (!m->err && buf_add(&m->b, data, len) < 0)
		m->err = -ENOMEM;
}

static void pb_varint(struct pb *m, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	pb_raw(m, tmp, n);
}

static void pb_key(struct pb *m, uint32_t field, int wire)
{
	pb_varint(m, (uint64_t)field << 3 | (uint64_t)wire);
}

/* A scalar field; zero is proto3's default and is left out. */
static void pb_uint(struct pb *m, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	pb_key(m, field, WIRE_VARINT);
	pb_varint(m, v);
}

static void pb_bytes(struct pb *m, uint32_t field, const void *data, size_t len)
{
	pb_key(m, field, WIRE_LEN);
	pb_varint(m, len);
	pb_raw(m, data, len);
}

/* Appends sub as an embedded message of field, then empties sub for reuse. */
static void pb_msg(struct pb *m, uint32_t field, struct pb *sub)
{
	if (sub->err && !m->err)
		m->err = sub->err;
	pb_bytes(m, field, sub->b.p, sub->b.len);
	buf_reset(&sub->b);
	sub->err = 0;
}

/* Strings: interned in a scratch profile, whose ids are dense from 0, so that its
 * name table is the string table ("" first, as profile.proto requires). */
struct strtab {
	struct profile *names;
	uint32_t *of_name; /* profile name id -> string index + 1, 0 if not yet */
	size_t nof_name;
	int err;
};

static uint64_t str_bytes(struct strtab *t, const char *s, size_t len)
{
	uint32_t id;

	if (t->err)
		return 0;
	id = profile_intern_kind(t->names, s, len, PROFILE_KIND_NATIVE);
	if (id == PROFILE_NONE) {
		t->err = -ENOMEM;
		return 0;
	}
	return id;
}

static uint64_t str(struct strtab *t, const char *s)
{
	return str_bytes(t, s, strlen(s));
}

/* The string index of a name of p; "" for PROFILE_NONE. */
static uint64_t str_name(struct strtab *t, const struct profile *p, uint32_t id)
{
	const char *s;
	size_t len;
	uint64_t i;

	if (id == PROFILE_NONE || id >= p->nnames)
		return 0;
	if (id < t->nof_name && t->of_name[id])
		return t->of_name[id] - 1;
	s = profile_name(p, id, &len);
	i = str_bytes(t, s, len);
	if (id < t->nof_name && !t->err)
		t->of_name[id] = (uint32_t)i + 1;
	return i;
}

/* Functions deduplicated by (name, system name, file) string indices. */
struct func_key {
	uint64_t name, sys, file;
	uint64_t start_line;
};

struct functab {
	struct func_key *v;
	size_t n, cap;
	uint32_t *slots; /* function index + 1; 0 is empty */
	size_t nslots;
};

static uint64_t func_hash(const struct func_key *k)
{
	return hash_u64(k->name * 0x9e3779b97f4a7c15ULL ^ hash_u64(k->sys + 1) ^
			hash_u64(k->file + 0x51));
}

static int functab_grow(struct functab *f)
{
	size_t ncap = f->nslots ? f->nslots * 2 : 256;
	uint32_t *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		size_t s = (size_t)func_hash(&f->v[i]) & (ncap - 1);
		while (slots[s])
			s = (s + 1) & (ncap - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(f->slots);
	f->slots = slots;
	f->nslots = ncap;
	return 0;
}

/* The 1-based id of the function k, added if new; 0 on ENOMEM. */
static uint64_t functab_id(struct functab *f, const struct func_key *k)
{
	size_t s, mask;

	if ((f->n + 1) * 2 > f->nslots && functab_grow(f) < 0)
		return 0;
	mask = f->nslots - 1;
	for (s = (size_t)func_hash(k) & mask; f->slots[s]; s = (s + 1) & mask) {
		const struct func_key *o = &f->v[f->slots[s] - 1];
		if (o->name == k->name && o->sys == k->sys && o->file == k->file)
			return f->slots[s];
	}
	if (f->n >= UINT32_MAX - 1 || GROW(f->v, f->cap, f->n + 1) < 0)
		return 0;
	f->v[f->n++] = *k;
	f->slots[s] = (uint32_t)f->n;
	return f->n;
}

struct enc {
	const struct profile *p;
	const struct write_opts *o;
	struct pb out, msg, sub;
	struct strtab st;
	struct functab ft;
	uint64_t *loc_of_name; /* imported: name id -> location id, 0 if not yet */
	uint64_t nloc_ids;     /* imported: location ids given so far */
	uint32_t *locs;        /* scratch: one sample's location ids */
	size_t locs_cap;
	bool two_values; /* samples/count and cpu|wall/nanoseconds */
};

static void value_type(struct enc *e, uint32_t field, const char *type, const char *unit)
{
	pb_uint(&e->sub, 1, str(&e->st, type));
	pb_uint(&e->sub, 2, str(&e->st, unit));
	pb_msg(&e->out, field, &e->sub);
}

static const char *count_type(const struct enc *e)
{
	if (e->o->countname)
		return e->o->countname;
	if (e->p->meta.countname)
		return e->p->meta.countname;
	return "samples";
}

/* A sample: leaf-first location ids, its count, and labels already in e->msg. */
static void sample(struct enc *e, const uint32_t *locs, size_t n, uint64_t count)
{
	struct pb *packed = &e->sub;

	for (size_t i = 0; i < n; i++)
		pb_varint(packed, locs[i]);
	/* labels were encoded into msg first; location ids and values follow them, field
	 * order does not matter to decoders */
	pb_msg(&e->msg, 1, packed);
	pb_varint(packed, count);
	if (e->two_values)
		pb_varint(packed, count * e->p->meta.period_ns);
	pb_msg(&e->msg, 2, packed);
	pb_msg(&e->out, 2, &e->msg);
}

static void label_str(struct enc *e, const char *key, uint64_t str_index)
{
	pb_uint(&e->sub, 1, str(&e->st, key));
	pb_uint(&e->sub, 2, str_index);
	pb_msg(&e->msg, 3, &e->sub);
}

static void label_num(struct enc *e, const char *key, uint64_t num)
{
	pb_uint(&e->sub, 1, str(&e->st, key));
	pb_uint(&e->sub, 3, num);
	pb_msg(&e->msg, 3, &e->sub);
}

static void function(struct enc *e, uint64_t id, const struct func_key *k)
{
	pb_uint(&e->msg, 1, id);
	pb_uint(&e->msg, 2, k->name);
	pb_uint(&e->msg, 3, k->sys);
	pb_uint(&e->msg, 4, k->file);
	pb_uint(&e->msg, 5, k->start_line);
	pb_msg(&e->out, 5, &e->msg);
}

/* Recorded profiles: mappings, locations with their lines, samples with threads. */
static int encode_recorded(struct enc *e)
{
	const struct profile *p = e->p;

	for (size_t i = 0; i < p->nmappings; i++) {
		const struct profile_mapping *m = &p->mappings[i];
		pb_uint(&e->msg, 1, i + 1);
		pb_uint(&e->msg, 2, m->start);
		pb_uint(&e->msg, 3, m->limit);
		pb_uint(&e->msg, 4, m->offset);
		pb_uint(&e->msg, 5, str_name(&e->st, p, m->file));
		pb_uint(&e->msg, 6, str_name(&e->st, p, m->build_id));
		pb_uint(&e->msg, 7, 1);
		pb_uint(&e->msg, 8, 1);
		pb_uint(&e->msg, 9, 1);
		pb_uint(&e->msg, 10, 1);
		pb_msg(&e->out, 3, &e->msg);
	}
	for (size_t i = 0; i < p->nlocs; i++) {
		const struct profile_location *l = &p->locs[i];
		pb_uint(&e->msg, 1, i + 1);
		if (l->mapping != PROFILE_NONE && l->mapping < p->nmappings)
			pb_uint(&e->msg, 2, (uint64_t)l->mapping + 1);
		pb_uint(&e->msg, 3, l->addr);
		for (uint32_t j = 0; j < l->nlines && l->first_line + j < p->nlines; j++) {
			const struct profile_line *ln = &p->lines[l->first_line + j];
			struct func_key k;
			uint64_t fid;
			k.name = str_name(&e->st, p, ln->func);
			k.sys = k.name;
			k.file = str_name(&e->st, p, ln->file);
			k.start_line = ln->start_line;
			fid = functab_id(&e->ft, &k);
			if (!fid)
				return -ENOMEM;
			pb_uint(&e->sub, 1, fid);
			pb_uint(&e->sub, 2, ln->line);
			pb_msg(&e->msg, 4, &e->sub);
		}
		pb_msg(&e->out, 4, &e->msg);
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		if (GROW(e->locs, e->locs_cap, s->nlocs) < 0)
			return -ENOMEM;
		for (uint32_t j = 0; j < s->nlocs; j++) {
			uint64_t at = s->first_loc + j;
			e->locs[j] = at < p->nsample_locs ? p->sample_locs[at] + 1 : 0;
		}
		if (s->thread != PROFILE_NONE && s->thread < p->nthreads) {
			const struct profile_thread *t = &p->threads[s->thread];
			label_num(e, "pid", t->pid);
			label_num(e, "tid", t->tid);
			if (t->name != PROFILE_NONE)
				label_str(e, "thread", str_name(&e->st, p, t->name));
		}
		if (p->meta.wall)
			label_str(e, "off_cpu", str(&e->st, s->off_cpu ? "true" : "false"));
		sample(e, e->locs, s->nlocs, s->count);
	}
	return 0;
}

/* Imported stacks: a location and a function per frame name, samples from the trie's
 * self counts. The function name loses the annotation suffix (_[k], _[i], ...) and a
 * Python frame "f (file.py:12)" becomes function f of file.py at line 12; the system
 * name keeps the frame as written, so kernel and user functions of one name stay
 * apart and the kind is not lost. */
static uint64_t import_location(struct enc *e, uint32_t frame)
{
	const struct profile *p = e->p;
	struct func_key k;
	const char *s;
	size_t len, name_len;
	uint64_t line = 0, fid, id;
	enum profile_kind kind;

	if (e->loc_of_name[frame])
		return e->loc_of_name[frame];
	s = profile_name(p, frame, &len);
	kind = p->names[frame].kind;
	name_len = len;
	k.file = 0;
	if (kind == PROFILE_KIND_KERNEL || kind == PROFILE_KIND_INLINED ||
	    kind == PROFILE_KIND_JIT || kind == PROFILE_KIND_WAIT) {
		if (len >= 4 && s[len - 4] == '_' && s[len - 3] == '[')
			name_len = len - 4;
	} else if (kind == PROFILE_KIND_PYTHON) {
		/* "func (file.py:LINE)" or "func (file.py)" */
		const char *open = memchr(s, '(', len);
		const char *close = s + len - 1;
		const char *colon = NULL;
		if (open && open > s) {
			for (const char *c = close - 1; c > open; c--)
				if (*c == ':') {
					colon = c;
					break;
				}
			if (colon) {
				for (const char *c = colon + 1; c < close; c++)
					if (*c >= '0' && *c <= '9' && line < UINT32_MAX)
						line = line * 10 + (uint64_t)(*c - '0');
					else
						colon = NULL, c = close;
			}
			if (!colon)
				line = 0;
			name_len = (size_t)(open - s) - 1;
			k.file = str_bytes(&e->st, open + 1,
					   (size_t)((colon ? colon : close) - open - 1));
		}
	}
	k.name = str_bytes(&e->st, s, name_len);
	k.sys = kind == PROFILE_KIND_PYTHON ? k.name : str_bytes(&e->st, s, len);
	k.start_line = 0;
	fid = functab_id(&e->ft, &k);
	if (!fid)
		return 0;
	id = ++e->nloc_ids;
	pb_uint(&e->msg, 1, id);
	pb_uint(&e->sub, 1, fid);
	pb_uint(&e->sub, 2, line);
	pb_msg(&e->msg, 4, &e->sub);
	pb_msg(&e->out, 4, &e->msg);
	e->loc_of_name[frame] = id;
	return id;
}

static int encode_imported(struct enc *e)
{
	const struct profile *p = e->p;
	e->loc_of_name = calloc(p->nnames ? p->nnames : 1, sizeof(*e->loc_of_name));
	if (!e->loc_of_name || GROW(e->locs, e->locs_cap, (size_t)p->maxdepth + 1) < 0)
		return -ENOMEM;
	/* locations and functions in order of first appearance in the trie */
	for (size_t n = 1; n < p->nnodes; n++)
		if (p->nodes[n].frame < p->nnames && !import_location(e, p->nodes[n].frame))
			return -ENOMEM;
	for (size_t n = 1; n < p->nnodes; n++) {
		size_t depth = 0;
		if (!p->nodes[n].self)
			continue;
		for (uint32_t m = (uint32_t)n; m != 0 && m != PROFILE_NONE; m = p->nodes[m].parent) {
			if (depth >= e->locs_cap && GROW(e->locs, e->locs_cap, depth + 1) < 0)
				return -ENOMEM;
			e->locs[depth++] = (uint32_t)e->loc_of_name[p->nodes[m].frame];
		}
		sample(e, e->locs, depth, p->nodes[n].self);
	}
	return 0;
}

/* Deflates data as gzip (windowBits 31: zlib writes the gzip header and trailer, with
 * mtime 0, so the same profile gives the same bytes) to out. */
static int gzip_write(const void *data, size_t len, FILE *out, char *err, size_t errsz)
{
	unsigned char chunk[65536];
	z_stream zs;
	int zrc, rc = 0;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return errf(err, errsz, -ENOMEM, "cannot start zlib's deflate");
	zs.next_in = (unsigned char *)(uintptr_t)data;
	do {
		/* avail_in is 32-bit: feed at most 1 GiB at a time */
		size_t feed = len > (1u << 30) ? (1u << 30) : len;
		int flush;
		if (zs.avail_in == 0) {
			zs.avail_in = (uInt)feed;
			len -= feed;
		}
		flush = len == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			size_t have;
			zs.next_out = chunk;
			zs.avail_out = sizeof(chunk);
			zrc = deflate(&zs, flush);
			if (zrc == Z_STREAM_ERROR) {
				rc = errf(err, errsz, -EIO, "zlib's deflate failed");
				goto out;
			}
			have = sizeof(chunk) - zs.avail_out;
			if (have && fwrite(chunk, 1, have, out) != have) {
				int e = errno ? errno : EIO;
				rc = errf(err, errsz, -e, "cannot write the pprof profile: %s",
					  strerror(e));
				goto out;
			}
		} while (zs.avail_out == 0);
	} while (zrc != Z_STREAM_END);
out:
	deflateEnd(&zs);
	return rc;
}

int pprof_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
		size_t errsz)
{
	static const struct write_opts defaults = {0};
	struct enc e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.p = p;
	e.o = o ? o : &defaults;
	e.st.names = profile_new();
	e.st.of_name = calloc(p->nnames ? p->nnames : 1, sizeof(*e.st.of_name));
	e.st.nof_name = p->nnames;
	if (!e.st.names || !e.st.of_name) {
		rc = -ENOMEM;
		goto out;
	}
	str(&e.st, ""); /* string_table[0] must be "" */
	e.two_values = p->meta.period_ns > 0;

	value_type(&e, 1, count_type(&e), "count");
	if (e.two_values)
		value_type(&e, 1, p->meta.wall ? "wall" : "cpu", "nanoseconds");
	rc = p->nlocs > 0 ? encode_recorded(&e) : encode_imported(&e);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < e.ft.n; i++)
		function(&e, i + 1, &e.ft.v[i]);
	pb_uint(&e.out, 9, p->meta.start_unix_ns);
	pb_uint(&e.out, 10, p->meta.duration_ns);
	if (e.two_values) {
		value_type(&e, 11, p->meta.wall ? "wall" : "cpu", "nanoseconds");
		pb_uint(&e.out, 12, p->meta.period_ns);
		pb_uint(&e.out, 14, str(&e.st, p->meta.wall ? "wall" : "cpu"));
	} else {
		value_type(&e, 11, count_type(&e), "count");
		pb_uint(&e.out, 12, 1);
	}
	/* comments: what made the profile and what it lost, for `pprof -comments` */
	{
		char line[256];
		snprintf(line, sizeof(line), "scorch%s%s", p->meta.version ? " " : "",
			 p->meta.version ? p->meta.version : "");
		pb_uint(&e.out, 13, str(&e.st, line));
		if (p->meta.command) {
			pb_key(&e.out, 13, WIRE_VARINT);
			pb_varint(&e.out, str(&e.st, p->meta.command));
		}
		if (p->meta.samples || p->meta.lost) {
			snprintf(line, sizeof(line), "samples %llu, lost %llu, unwound to the root %llu",
				 (unsigned long long)p->meta.samples,
				 (unsigned long long)p->meta.lost,
				 (unsigned long long)p->meta.complete);
			pb_uint(&e.out, 13, str(&e.st, line));
		}
	}
	/* the string table last: every index above is known by now */
	for (size_t i = 0; i < e.st.names->nnames; i++) {
		size_t len;
		const char *s = profile_name(e.st.names, (uint32_t)i, &len);
		pb_bytes(&e.out, 6, s, len);
	}
	rc = e.out.err ? e.out.err : e.msg.err ? e.msg.err : e.sub.err ? e.sub.err : e.st.err;
	if (rc < 0)
		goto out;
	rc = gzip_write(e.out.b.p ? e.out.b.p : "", e.out.b.len, out, err, errsz);
out:
	if (rc == -ENOMEM)
		errf(err, errsz, rc, "out of memory writing the pprof profile");
	buf_release(&e.out.b);
	buf_release(&e.msg.b);
	buf_release(&e.sub.b);
	profile_free(e.st.names);
	free(e.st.of_name);
	free(e.ft.v);
	free(e.ft.slots);
	free(e.loc_of_name);
	free(e.locs);
	return rc;
}
