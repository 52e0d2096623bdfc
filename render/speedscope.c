/*
 * speedscope: the JSON file format of https://www.speedscope.app
 * (src/lib/file-format-spec.ts in jlfwong/speedscope): shared.frames, then one
 * "sampled" profile per thread of a recording (or one for imported stacks) whose
 * samples are frame-index arrays root first, each with its weight.
 *
 * Recorded profiles: a frame per (function, file, kind); a location with inlined lines
 * gives one frame per line, outermost first, the inlined ones marked _[i] and kernel
 * ones _[k] as in the folded output. Weights are nanoseconds (count x period) when the
 * period is known, else sample counts (unit "none").
 * Imported stacks: a frame per name as written (annotations kept); Python frames
 * "f (file.py:12)" also carry file and line.
 */
#include "render/speedscope.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Writes s as a JSON string: quotes, backslashes and control characters escaped,
 * invalid UTF-8 replaced by U+FFFD (RFC 8259 asks for UTF-8; speedscope reads
 * with JSON.parse). */
static void json_str(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	fputc('"', out);
	while (p < end) {
		unsigned char c = *p;
		size_t n = 0;
		if (c < 0x80) {
			if (c == '"' || c == '\\') {
				fputc('\\', out);
				fputc(c, out);
			} else if (c == '\n') {
				fputs("\\n", out);
			} else if (c == '\t') {
				fputs("\\t", out);
			} else if (c == '\r') {
				fputs("\\r", out);
			} else if (c < 0x20) {
				fprintf(out, "\\u%04x", c);
			} else {
				fputc(c, out);
			}
			p++;
			continue;
		}
		/* the well-formed sequences of the Unicode standard, table 3-7 */
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		if (n && (size_t)(end - p) >= n) {
			unsigned char lo = 0x80, hi = 0xbf;
			bool ok = true;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
			else if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
			if (p[1] < lo || p[1] > hi)
				ok = false;
			for (size_t i = 2; ok && i < n; i++)
				if (p[i] < 0x80 || p[i] > 0xbf)
					ok = false;
			if (ok) {
				fwrite(p, 1, n, out);
				p += n;
				continue;
			}
		}
		fputs("\\ufffd", out);
		p++;
	}
	fputc('"', out);
}

/* file and line of a Python frame "f (file.py:12)" or "f (file.py)"; false if not. */
static bool python_file_line(const char *s, size_t len, const char **file, size_t *file_len,
			     uint32_t *line)
{
	const char *open = memchr(s, '(', len), *close = s + len - 1, *colon = NULL;
	uint64_t v = 0;

	if (!open || len < 2 || *close != ')')
		return false;
	for (const char *c = close - 1; c > open; c--)
		if (*c == ':') {
			colon = c;
			break;
		}
	if (colon && colon + 1 < close) {
		for (const char *c = colon + 1; c < close; c++) {
			if (*c < '0' || *c > '9' || v > UINT32_MAX / 10) {
				colon = NULL;
				v = 0;
				break;
			}
			v = v * 10 + (uint64_t)(*c - '0');
		}
	} else {
		colon = NULL;
	}
	*file = open + 1;
	*file_len = (size_t)((colon ? colon : close) - open - 1);
	*line = (uint32_t)v;
	return true;
}

struct frames {
	struct profile *keys; /* scratch interner: key bytes -> dense frame index */
	uint32_t *key_name;   /* frame index -> name id of p */
	uint32_t *key_file;   /* frame index -> file name id or PROFILE_NONE */
	uint32_t *key_line;
	char *key_suffix;     /* frame index -> suffix letter or 0 */
	size_t n, cap;
};

/* The frame index of (name, file, suffix), added if new; line keeps the smallest
 * known line of the frame (speedscope's line is where a function is, and a frame per
 * line would split one function into many); PROFILE_NONE on ENOMEM. */
static uint32_t frame_of(struct frames *f, uint32_t name, uint32_t file, uint32_t line,
			 char suffix)
{
	unsigned char key[9];
	uint32_t id;

	memcpy(key, &name, 4);
	memcpy(key + 4, &file, 4);
	key[8] = (unsigned char)suffix;
	id = profile_intern_kind(f->keys, (const char *)key, sizeof(key), PROFILE_KIND_NATIVE);
	if (id == PROFILE_NONE)
		return PROFILE_NONE;
	if (id == f->n) {
		/* the four arrays grow together from the same capacity */
		size_t cap = f->cap;
		if (GROW(f->key_name, cap, f->n + 1) < 0)
			return PROFILE_NONE;
		cap = f->cap;
		if (GROW(f->key_file, cap, f->n + 1) < 0)
			return PROFILE_NONE;
		cap = f->cap;
		if (GROW(f->key_line, cap, f->n + 1) < 0)
			return PROFILE_NONE;
		cap = f->cap;
		if (GROW(f->key_suffix, cap, f->n + 1) < 0)
			return PROFILE_NONE;
		f->cap = cap;
		f->key_name[f->n] = name;
		f->key_file[f->n] = file;
		f->key_line[f->n] = line;
		f->key_suffix[f->n] = suffix;
		f->n++;
	} else if (line && (!f->key_line[id] || line < f->key_line[id])) {
		f->key_line[id] = line;
	}
	return id;
}

static void frames_release(struct frames *f)
{
	profile_free(f->keys);
	free(f->key_name);
	free(f->key_file);
	free(f->key_line);
	free(f->key_suffix);
}

static void write_frames(const struct profile *p, const struct frames *f, bool imported,
			 FILE *out)
{
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	      "\"shared\":{\"frames\":[",
	      out);
	for (size_t i = 0; i < f->n; i++) {
		size_t len;
		const char *s = profile_name(p, f->key_name[i], &len);
		if (i)
			fputc(',', out);
		fputs("{\"name\":", out);
		if (f->key_suffix[i]) {
			char *tmp = malloc(len + 5);
			if (tmp) {
				memcpy(tmp, s, len);
				memcpy(tmp + len, "_[", 2);
				tmp[len + 2] = f->key_suffix[i];
				tmp[len + 3] = ']';
				json_str(out, tmp, len + 4);
				free(tmp);
			} else {
				json_str(out, s, len);
			}
		} else {
			json_str(out, s, len);
		}
		if (imported && p->names[f->key_name[i]].kind == PROFILE_KIND_PYTHON) {
			const char *file;
			size_t file_len;
			uint32_t line;
			if (python_file_line(s, len, &file, &file_len, &line)) {
				fputs(",\"file\":", out);
				json_str(out, file, file_len);
				if (line)
					fprintf(out, ",\"line\":%" PRIu32, line);
			}
		} else if (f->key_file[i] != PROFILE_NONE) {
			s = profile_name(p, f->key_file[i], &len);
			fputs(",\"file\":", out);
			json_str(out, s, len);
			if (f->key_line[i])
				fprintf(out, ",\"line\":%" PRIu32, f->key_line[i]);
		}
		fputc('}', out);
	}
	fputs("]},\"profiles\":[", out);
}

static const char *unit_of(const struct profile *p)
{
	return p->meta.period_ns ? "nanoseconds" : "none";
}

static uint64_t weight_of(const struct profile *p, uint64_t count)
{
	return p->meta.period_ns ? count * p->meta.period_ns : count;
}

static void write_tail(const struct profile *p, const struct write_opts *o, size_t active,
		       FILE *out)
{
	const char *name = o->title ? o->title
			   : p->meta.title ? p->meta.title
			   : p->meta.command ? p->meta.command
					     : "scorch";

	fputs("],\"name\":", out);
	json_str(out, name, strlen(name));
	fprintf(out, ",\"activeProfileIndex\":%zu,\"exporter\":\"scorch %s\"}\n", active,
		p->meta.version ? p->meta.version : "");
}

/* Imported stacks: one profile from the trie, walked depth first (children in
 * insertion order) so that the time-ordered view reads like the flame graph. */
static int write_imported(const struct profile *p, const struct write_opts *o, FILE *out)
{
	struct frames f = {0};
	uint32_t *frame_of_name = NULL, *path = NULL;
	size_t depth = 0, path_cap = 0, nsamples = 0;
	uint64_t total = 0;
	uint32_t n;
	int rc = -ENOMEM;

	f.keys = profile_new();
	frame_of_name = calloc(p->nnames ? p->nnames : 1, sizeof(*frame_of_name));
	if (!f.keys || !frame_of_name)
		goto out;
	for (size_t i = 1; i < p->nnodes; i++) {
		uint32_t name = p->nodes[i].frame;
		if (name < p->nnames && !frame_of_name[name]) {
			uint32_t idx = frame_of(&f, name, PROFILE_NONE, 0, 0);
			if (idx == PROFILE_NONE)
				goto out;
			frame_of_name[name] = idx + 1;
		}
	}
	write_frames(p, &f, true, out);
	fputs("{\"type\":\"sampled\",\"name\":", out);
	{
		const char *name = o->title ? o->title : p->meta.title ? p->meta.title : "all";
		json_str(out, name, strlen(name));
	}
	fprintf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRIu64 ",\"samples\":[",
		unit_of(p), weight_of(p, p->nodes[0].total));
	/* pre-order walk by parent links: no recursion, whatever the depth */
	n = p->nodes[0].child;
	depth = 1;
	while (n != PROFILE_NONE && n != 0) {
		if (depth > path_cap && GROW(path, path_cap, depth) < 0)
			goto out;
		path[depth - 1] = p->nodes[n].frame < p->nnames ? frame_of_name[p->nodes[n].frame] - 1
								  : 0;
		if (p->nodes[n].self) {
			fputs(nsamples++ ? ",[" : "[", out);
			for (size_t i = 0; i < depth; i++)
				fprintf(out, i ? ",%" PRIu32 : "%" PRIu32, path[i]);
			fputc(']', out);
		}
		if (p->nodes[n].child != PROFILE_NONE) {
			n = p->nodes[n].child;
			depth++;
			continue;
		}
		while (n != 0 && p->nodes[n].next == PROFILE_NONE) {
			n = p->nodes[n].parent;
			depth--;
		}
		if (n != 0)
			n = p->nodes[n].next;
	}
	fputs("],\"weights\":[", out);
	nsamples = 0;
	n = p->nodes[0].child;
	while (n != PROFILE_NONE && n != 0) {
		if (p->nodes[n].self) {
			fprintf(out, nsamples++ ? ",%" PRIu64 : "%" PRIu64,
				weight_of(p, p->nodes[n].self));
			total += p->nodes[n].self;
		}
		if (p->nodes[n].child != PROFILE_NONE) {
			n = p->nodes[n].child;
			continue;
		}
		while (n != 0 && p->nodes[n].next == PROFILE_NONE)
			n = p->nodes[n].parent;
		if (n != 0)
			n = p->nodes[n].next;
	}
	fputs("]}", out);
	write_tail(p, o, 0, out);
	rc = 0;
out:
	frames_release(&f);
	free(frame_of_name);
	free(path);
	return rc;
}

static char suffix_of(uint8_t kind, bool inlined)
{
	switch (kind) {
	case PROFILE_KIND_KERNEL:
		return 'k';
	case PROFILE_KIND_JIT:
		return 'j';
	case PROFILE_KIND_WAIT:
		return 'w';
	default:
		return inlined ? 'i' : 0;
	}
}

/* Recorded profiles: one profile per thread, samples in recording order. */
static int write_recorded(const struct profile *p, const struct write_opts *o, FILE *out)
{
	struct frames f = {0};
	uint32_t *frame_of_line = NULL; /* index in p->lines -> frame index */
	size_t *order = NULL, *start = NULL;
	size_t ngroups = p->nthreads + 1, active = 0, nprofiles = 0;
	uint64_t best = 0;
	int rc = -ENOMEM;

	f.keys = profile_new();
	frame_of_line = malloc((p->nlines ? p->nlines : 1) * sizeof(*frame_of_line));
	order = malloc((p->nsamples ? p->nsamples : 1) * sizeof(*order));
	start = calloc(ngroups + 1, sizeof(*start));
	if (!f.keys || !frame_of_line || !order || !start)
		goto out;
	/* frames in order of the locations table */
	for (size_t i = 0; i < p->nlocs; i++) {
		const struct profile_location *l = &p->locs[i];
		for (uint32_t j = 0; j < l->nlines && l->first_line + j < p->nlines; j++) {
			const struct profile_line *ln = &p->lines[l->first_line + j];
			uint32_t idx = frame_of(&f, ln->func, ln->file, ln->line,
						suffix_of(l->kind, j + 1 < l->nlines));
			if (idx == PROFILE_NONE)
				goto out;
			frame_of_line[l->first_line + j] = idx;
		}
	}
	/* samples grouped by thread (counting sort; the last group: no thread) */
	for (size_t i = 0; i < p->nsamples; i++) {
		uint32_t t = p->samples[i].thread;
		start[(t < p->nthreads ? t : p->nthreads) + 1]++;
	}
	for (size_t g = 0; g < ngroups; g++)
		start[g + 1] += start[g];
	{
		size_t *fill = calloc(ngroups, sizeof(*fill));
		if (!fill)
			goto out;
		for (size_t i = 0; i < p->nsamples; i++) {
			uint32_t t = p->samples[i].thread;
			size_t g = t < p->nthreads ? t : p->nthreads;
			order[start[g] + fill[g]++] = i;
		}
		free(fill);
	}
	write_frames(p, &f, false, out);
	for (size_t g = 0; g < ngroups; g++) {
		uint64_t total = 0;
		char name[64];
		if (start[g] == start[g + 1])
			continue;
		for (size_t k = start[g]; k < start[g + 1]; k++)
			total += weight_of(p, p->samples[order[k]].count);
		if (total > best || nprofiles == 0) {
			best = total;
			active = nprofiles;
		}
		fputs(nprofiles++ ? ",{\"type\":\"sampled\",\"name\":" : "{\"type\":\"sampled\",\"name\":",
		      out);
		if (g < p->nthreads) {
			const struct profile_thread *t = &p->threads[g];
			size_t len = 0;
			const char *comm = t->name != PROFILE_NONE ? profile_name(p, t->name, &len) : "";
			char *both;
			/* "worker (pid 42, tid 43)", or "pid 42, tid 43" with no thread name */
			snprintf(name, sizeof(name), "%spid %" PRIu32 ", tid %" PRIu32 "%s",
				 len ? " (" : "", t->pid, t->tid, len ? ")" : "");
			both = malloc(len + strlen(name) + 1);
			if (!both)
				goto out;
			memcpy(both, comm, len);
			memcpy(both + len, name, strlen(name) + 1);
			json_str(out, both, len + strlen(name));
			free(both);
		} else {
			json_str(out, "unknown thread", 14);
		}
		fprintf(out,
			",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRIu64 ",\"samples\":[",
			unit_of(p), total);
		for (size_t k = start[g]; k < start[g + 1]; k++) {
			const struct profile_sample *s = &p->samples[order[k]];
			bool first = true;
			fputs(k > start[g] ? ",[" : "[", out);
			/* locations run leaf first and lines innermost first: reverse both */
			for (uint32_t j = s->nlocs; j-- > 0;) {
				uint64_t at = s->first_loc + j;
				const struct profile_location *l;
				if (at >= p->nsample_locs || p->sample_locs[at] >= p->nlocs)
					continue;
				l = &p->locs[p->sample_locs[at]];
				for (uint32_t m = l->nlines; m-- > 0;) {
					if (l->first_line + m >= p->nlines)
						continue;
					fprintf(out, first ? "%" PRIu32 : ",%" PRIu32,
						frame_of_line[l->first_line + m]);
					first = false;
				}
			}
			fputc(']', out);
		}
		fputs("],\"weights\":[", out);
		for (size_t k = start[g]; k < start[g + 1]; k++)
			fprintf(out, k > start[g] ? ",%" PRIu64 : "%" PRIu64,
				weight_of(p, p->samples[order[k]].count));
		fputs("]}", out);
	}
	write_tail(p, o, active, out);
	rc = 0;
out:
	frames_release(&f);
	free(frame_of_line);
	free(order);
	free(start);
	return rc;
}

int speedscope_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
		     size_t errsz)
{
	static const struct write_opts defaults = {0};
	int rc;

	if (!o)
		o = &defaults;
	rc = p->nlocs > 0 ? write_recorded(p, o, out) : write_imported(p, o, out);
	if (rc == -ENOMEM)
		return errf(err, errsz, rc, "out of memory writing the speedscope profile");
	if (ferror(out)) {
		int e = errno ? errno : EIO;
		return errf(err, errsz, -e, "cannot write the speedscope profile: %s",
			    strerror(e));
	}
	return rc;
}
