/*
 * folded: Brendan Gregg's folded stacks to and from a profile.
 *
 * Reader. Input is read in large blocks (no per-line allocation); each line is
 * "FRAME;FRAME;... COUNT" or, differential, "FRAME;... BEFORE AFTER". The count is
 * the last blank-separated token, so frames may hold spaces (JS frames do). Folded
 * files are usually sorted (stackcollapse-perf.pl sorts them), so consecutive lines
 * share long prefixes: the reader keeps the previous line's bytes, frame ids and trie
 * nodes, compares the new line with it, and resolves only the frames after the
 * common prefix. Unsorted input just gets less of that shortcut.
 *
 * Counts are whole decimal numbers up to 2^64-1. flamegraph.pl also takes decimal
 * fractions ("1.5"); samples are whole, so a fractional count is a malformed line
 * with its own reason rather than a silently rounded one. Lines with a count of 0
 * (0 0 when differential) add nothing and are not malformed.
 *
 * The first line with data decides the form: if it has two trailing counts the
 * input is differential (as difffolded.pl writes) and every later line must have
 * two; otherwise every line has one count and a second number before it is part
 * of the last frame's name. A profile that already holds differential stacks reads
 * differential lines.
 *
 * Writer. Depth-first over the trie with siblings in byte order of their names
 * (input order for a flame chart), one line per node with self samples, so that
 * reading the output back gives the same trie and writing it again the same bytes.
 */
#include "render/folded.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef READ_BLOCK /* the fuzz build makes it tiny, to reach the partial-line paths */
#define READ_BLOCK (256u << 10) /* bytes read at once: stays in cache */
#endif
#define NODE_BYTES 96 /* input bytes per trie node, for the first guess of its size */
/* The longest line taken: far beyond any real stack (10 000 frames of 6 kB names),
 * and a bound on memory when the input has no newline at all (/dev/zero, a binary). */
#define LINE_MAX_MIB 64u

struct reader {
	struct profile *p;
	const struct folded_opts *o;
	struct folded_stats *st;
	int mode; /* 0 undecided, 1 one count, 2 two counts */
	/* the previous stack, for prefix reuse */
	const char *pp;   /* its bytes: in the input, or in prev when the input moved */
	size_t plen;
	struct buf prev;  /* a copy of the previous stack's bytes, when needed */
	size_t *ends;     /* ends[i]: offset just past frame i in prev */
	uint32_t *ids;    /* frame ids, root first */
	uint32_t *nodes;  /* trie node of each frame */
	size_t nprev;     /* frames in prev */
	size_t cap;       /* capacity of ends, ids, nodes */
	uint32_t *next;   /* next[id]: the frame that last followed name id in a line */
	size_t next_cap;
	char *err;
	size_t errsz;
};

static int reserve_frames(struct reader *r, size_t n)
{
	size_t c = r->cap;

	if (n <= c)
		return 0;
	if (GROW(r->ends, c, n) < 0)
		return -ENOMEM;
	c = r->cap;
	if (GROW(r->ids, c, n) < 0)
		return -ENOMEM;
	c = r->cap;
	if (GROW(r->nodes, c, n) < 0)
		return -ENOMEM;
	r->cap = c;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

enum count_parse {
	COUNT_OK,
	COUNT_NONE,      /* not a number at all */
	COUNT_NEGATIVE,  /* -12 */
	COUNT_FRACTION,  /* 1.5 */
	COUNT_TOO_LARGE, /* > 2^64-1 */
};

/* Parses the token s[0..len) as a whole decimal count. */
static enum count_parse parse_count(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	bool neg = false, frac = false, digits = false;

	if (len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	for (; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d < 10) {
			digits = true;
			if (frac)
				continue;
			if (v > (UINT64_MAX - d) / 10) {
				/* keep scanning: the token may still be no number at all */
				for (size_t j = i; j < len; j++)
					if ((unsigned)((unsigned char)s[j] - '0') >= 10 && s[j] != '.')
						return COUNT_NONE;
				return neg ? COUNT_NEGATIVE : COUNT_TOO_LARGE;
			}
			v = v * 10 + d;
		} else if (s[i] == '.' && !frac) {
			frac = true;
		} else {
			return COUNT_NONE;
		}
	}
	if (!digits)
		return COUNT_NONE;
	if (neg && (v || frac))
		return COUNT_NEGATIVE;
	if (frac) {
		/* "12." and "12.000" are whole numbers written as decimals */
		const char *dot = memchr(s, '.', len);
		for (const char *q = dot + 1; q < s + len; q++)
			if (*q != '0')
				return COUNT_FRACTION;
	}
	*out = v;
	return COUNT_OK;
}

/* Records a malformed line; with strict it is the error returned. */
static int bad(struct reader *r, const char *pre, const char *tok, size_t toklen,
	       const char *post)
{
	char reason[sizeof(r->st->first_bad_reason)];
	char shown[40];
	size_t n = toklen < sizeof(shown) - 4 ? toklen : sizeof(shown) - 4;

	/* the offending token, shortened, with bytes that would upset a terminal hidden */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tok[i];
		shown[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (n < toklen)
		memcpy(shown + n, "...", 4);
	else
		shown[n] = 0;
	snprintf(reason, sizeof(reason), "%s'%s'%s", pre, shown, post);
	r->st->skipped++;
	if (!r->st->first_bad_line) {
		r->st->first_bad_line = r->st->lines;
		memcpy(r->st->first_bad_reason, reason, sizeof(reason));
	}
	if (r->o->strict)
		return errf(r->err, r->errsz, -EINVAL, "line %llu: %s",
			    (unsigned long long)r->st->lines, reason);
	return 0;
}

static int count_error(struct reader *r, enum count_parse c, const char *tok, size_t len)
{
	switch (c) {
	case COUNT_NEGATIVE:
		return bad(r, "negative count ", tok, len, "");
	case COUNT_FRACTION:
		return bad(r, "fractional count ", tok, len, " (counts must be whole numbers)");
	case COUNT_TOO_LARGE:
		return bad(r, "count ", tok, len, " does not fit in 64 bits");
	default:
		return bad(r, "no count at the end of the line (got ", tok, len, ")");
	}
}

/* Length of the common prefix of a and b, both at least lim bytes: eight bytes at
 * a time, the first differing byte found from the xor (little or big endian). */
static size_t common_prefix(const char *a, const char *b, size_t lim)
{
	size_t i = 0;

	while (i + 8 <= lim) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return i + (size_t)(__builtin_ctzll(x ^ y) / 8);
#else
			return i + (size_t)(__builtin_clzll(x ^ y) / 8);
#endif
		}
		i += 8;
	}
	while (i < lim && a[i] == b[i])
		i++;
	return i;
}

/* The id of frame n (named name[0..len)) when it is the frame that followed frame
 * n - 1's name the last time (a callee under its usual caller), found without a
 * lookup; PROFILE_NONE otherwise. */
static uint32_t follower(struct reader *r, size_t n, const char *name, size_t len)
{
	const struct profile *p = r->p;
	uint32_t prev, id;

	if (!n)
		return PROFILE_NONE;
	prev = r->ids[n - 1];
	if (prev >= r->next_cap) {
		size_t old = r->next_cap;
		if (GROW(r->next, r->next_cap, (size_t)prev + 1) < 0)
			return PROFILE_NONE;
		memset(r->next + old, 0xff, (r->next_cap - old) * sizeof(*r->next));
	}
	id = r->next[prev];
	if (id == PROFILE_NONE || p->names[id].len != len ||
	    memcmp(p->strs + p->names[id].off, name, len))
		return PROFILE_NONE;
	return id;
}

/* Adds the stack s[0..len) with its counts, reusing the previous line's prefix. s
 * stays valid until the next line or keep_prev(). */
static int add_stack(struct reader *r, const char *s, size_t len, uint64_t before,
		     uint64_t after)
{
	struct profile *p = r->p;
	size_t keep = 0, n = 0, common = 0, start, pstart;
	uint32_t at = 0;
	int64_t leaf;
	int rc;

	if (!r->o->reverse && r->nprev) {
		size_t lim = len < r->plen ? len : r->plen;
		const char *q = r->pp;
		common = common_prefix(s, q, lim);
		/* frame i is shared when it and the delimiter after it are in the common
		 * prefix, or when the previous line ends right after it and the new line
		 * ends or goes on to a deeper frame there */
		while (keep < r->nprev &&
		       (r->ends[keep] < common ||
			(r->ends[keep] == common && common == r->plen &&
			 (common == len || s[common] == ';'))))
			keep++;
		if (keep == r->nprev && len == r->plen && common == len) {
			/* the very same stack again */
			at = r->nodes[keep - 1];
			leaf = profile_add_path(p, at, (uint32_t)keep, NULL, 0, after, before,
						r->mode == 2, NULL);
			goto added;
		}
	}
	/* split the rest into frames; a frame with the same name as the previous
	 * line's frame at the same depth (a common tail under a different caller:
	 * libc leaves, kernel chains) takes its id without a lookup */
	n = keep;
	start = keep ? r->ends[keep - 1] + 1 : 0;
	pstart = start; /* where the previous line's frame n starts */
	for (;;) {
		const char *semi = memchr(s + start, ';', len - start);
		size_t end = semi ? (size_t)(semi - s) : len;
		bool same = false;
		uint32_t id;
		if (n < r->nprev) {
			size_t pend = r->ends[n];
			same = pend - pstart == end - start &&
			       !memcmp(s + start, r->pp + pstart, end - start);
			pstart = pend + 1;
		}
		if (n >= r->cap && (rc = reserve_frames(r, n + 1)) < 0)
			return errf(r->err, r->errsz, rc, "out of memory reading folded stacks");
		if (same)
			id = r->ids[n];
		else if ((id = follower(r, n, s + start, end - start)) == PROFILE_NONE)
			id = profile_intern(p, s + start, end - start);
		if (id == PROFILE_NONE)
			return errf(r->err, r->errsz, -ENOMEM,
				    "out of memory reading folded stacks");
		if (n && r->ids[n - 1] < r->next_cap)
			r->next[r->ids[n - 1]] = id;
		/* the first new frame is looked up among its parent's children once
		 * the line is split: fetch its index slot while the rest is */
		if (n == keep && keep && !r->o->reverse)
			profile_prefetch_child(p, r->nodes[keep - 1], id);
		r->ids[n] = id;
		r->ends[n] = end;
		n++;
		if (!semi)
			break;
		start = end + 1;
	}
	if (r->o->reverse) {
		for (size_t i = 0, j = n - 1; i < j; i++, j--) {
			uint32_t t = r->ids[i];
			r->ids[i] = r->ids[j];
			r->ids[j] = t;
		}
	}
	at = keep ? r->nodes[keep - 1] : 0;
	/* the nodes of the new frames are remembered for the next line */
	leaf = profile_add_path(p, at, (uint32_t)keep, r->ids + keep, n - keep, after, before,
				r->mode == 2, r->o->reverse ? NULL : r->nodes + keep);
	if (leaf >= 0 && !r->o->reverse) {
		r->nprev = n;
		r->pp = s;
		r->plen = len;
	}
added:
	if (leaf == -EOVERFLOW)
		return errf(r->err, r->errsz, -EOVERFLOW,
			    "line %llu: the total count passes 2^64-1",
			    (unsigned long long)r->st->lines);
	if (leaf < 0)
		return errf(r->err, r->errsz, (int)leaf, "out of memory reading folded stacks");
	return 0;
}

/* The input under the previous stack is about to move or go: keep a copy. */
static void keep_prev(struct reader *r)
{
	if (!r->nprev || r->pp == r->prev.p)
		return;
	r->prev.len = 0;
	if (buf_add(&r->prev, r->pp, r->plen) < 0)
		r->nprev = 0; /* no reuse, rather than a failure */
	else
		r->pp = r->prev.p;
}

/* One line without its newline. */
static int read_line(struct reader *r, const char *s, size_t len)
{
	uint64_t c1 = 0, c2 = 0;
	enum count_parse pc;
	size_t e = len, t, e2, t2;
	bool two = false;

	r->st->lines++;
	while (e && (is_blank(s[e - 1]) || s[e - 1] == '\r'))
		e--;
	if (!e)
		return 0; /* blank line */
	t = e;
	while (t && !is_blank(s[t - 1]))
		t--;
	pc = parse_count(s + t, e - t, &c1);
	if (pc != COUNT_OK)
		return count_error(r, pc, s + t, e - t);
	if (!t) {
		return bad(r, "no stack before the count ", s, e, "");
	}
	e2 = t;
	while (e2 && is_blank(s[e2 - 1]))
		e2--;
	/* a second count before the first? */
	t2 = e2;
	while (r->mode != 1 && t2 && !is_blank(s[t2 - 1]))
		t2--;
	if (r->mode != 1 && t2 < e2) {
		uint64_t v;
		pc = parse_count(s + t2, e2 - t2, &v);
		if (pc == COUNT_OK) {
			two = true;
			c2 = c1;
			c1 = v;
		} else if (r->mode == 2) {
			if (pc != COUNT_NONE)
				return count_error(r, pc, s + t2, e2 - t2);
		}
	}
	if (r->mode == 0)
		r->mode = two ? 2 : 1;
	if (r->mode == 2 && !two)
		return bad(r, "one count on a differential line (expected BEFORE AFTER, got ",
			   s + t, e - t, ")");
	if (two) {
		e2 = t2;
		while (e2 && is_blank(s[e2 - 1]))
			e2--;
	}
	if (!e2)
		return bad(r, "no stack before the count ", s, e, "");
	if (r->mode == 2 && !r->p->base && c1 == 0 && c2 == 0)
		return 0;
	if (r->mode == 1 && c1 == 0)
		return 0;
	if (r->mode == 2)
		return add_stack(r, s, e2, c1, c2);
	return add_stack(r, s, e2, 0, c1);
}

/* Reads the complete lines of buf[*pos..have) (and, at the end of the input, the
 * last one without a newline); *pos is left at the first byte not read. */
static int read_lines(struct reader *r, const char *buf, size_t have, bool eof, size_t *pos)
{
	size_t at = *pos;
	const char *nl;
	int rc = 0;

	while ((nl = memchr(buf + at, '\n', have - at))) {
		rc = read_line(r, buf + at, (size_t)(nl - buf - at));
		if (rc < 0)
			goto out;
		at = (size_t)(nl - buf) + 1;
	}
	if (eof && at < have) {
		rc = read_line(r, buf + at, have - at);
		at = have;
	}
out:
	*pos = at;
	return rc;
}

/* Input from a pipe or any stream: blocks of READ_BLOCK bytes, a line that spans
 * two blocks moved to the front. */
static int read_stream(struct reader *r, FILE *in)
{
	char *buf = NULL;
	size_t cap = READ_BLOCK, have = 0, pos;
	int rc = 0;

	buf = malloc(cap);
	if (!buf)
		return errf(r->err, r->errsz, -ENOMEM, "out of memory reading folded stacks");
	for (;;) {
		size_t got = fread(buf + have, 1, cap - have, in);
		bool eof = got < cap - have;

		if (eof && ferror(in)) {
			int e = errno ? errno : EIO;
			rc = errf(r->err, r->errsz, -EIO, "cannot read folded stacks: %s",
				  strerror(e));
			goto out;
		}
		have += got;
		pos = 0;
		rc = read_lines(r, buf, have, eof, &pos);
		if (rc < 0 || eof)
			goto out;
		/* keep the partial line; grow when one line fills the whole buffer */
		keep_prev(r);
		memmove(buf, buf + pos, have - pos);
		have -= pos;
		if (have == cap) {
			char *nbuf;
			if (cap >= ((size_t)LINE_MAX_MIB << 20)) {
				rc = errf(r->err, r->errsz, -E2BIG,
					  "line %llu is longer than %u MiB: not folded stacks",
					  (unsigned long long)r->st->lines + 1, LINE_MAX_MIB);
				goto out;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				rc = errf(r->err, r->errsz, -ENOMEM,
					  "out of memory reading folded stacks");
				goto out;
			}
			buf = nbuf;
			cap *= 2;
		}
	}
out:
	free(buf);
	return rc;
}

/* The bytes left in a regular file, 0 when unknown (a pipe, a terminal, /proc). */
static size_t bytes_left(FILE *in)
{
	struct stat sb;
	off_t pos;
	int fd = fileno(in);

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	pos = ftello(in);
	if (pos < 0 || pos >= sb.st_size)
		return 0;
	return (size_t)(sb.st_size - pos);
}

int folded_read(struct profile *p, FILE *in, const struct folded_opts *o,
		struct folded_stats *stats, char *err, size_t errsz)
{
	static const struct folded_opts defaults = {0};
	struct folded_stats dummy;
	struct reader r = {0};
	int rc;

	if (!o)
		o = &defaults;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	r.p = p;
	r.o = o;
	r.st = stats;
	r.err = err;
	r.errsz = errsz;
	/* a profile holding differential stacks takes differential lines; one holding
	 * plain stacks takes plain ones */
	if (p->base)
		r.mode = 2;
	else if (p->nnodes > 1)
		r.mode = 1;
	/* Totals are summed once at the end rather than up the path of every line.
	 * A file's size gives a guess of the trie's: folded lines of real and
	 * synthetic profiles run at 80 to 100 bytes per new node (a failure to make
	 * room now is no error: the trie grows as usual). */
	profile_defer_totals(p);
	if (p->nnodes == 1)
		profile_reserve(p, bytes_left(in) / NODE_BYTES);
	rc = read_stream(&r, in);
	profile_settle_totals(p);
	if (rc == 0)
		stats->differential = r.mode == 2;
	buf_release(&r.prev);
	free(r.ends);
	free(r.ids);
	free(r.nodes);
	free(r.next);
	return rc;
}

/* ---- writer ---- */

/* Siblings in byte order of their names (qsort_r: glibc's argument order). */
static int by_name(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	uint32_t na = *(const uint32_t *)a, nb = *(const uint32_t *)b;
	size_t la, lb;
	const char *sa = profile_name(p, p->nodes[na].frame, &la);
	const char *sb = profile_name(p, p->nodes[nb].frame, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	return na < nb ? -1 : na > nb; /* equal names: only in a flame chart */
}

/* Pushes the children of node n onto the stack, first child on top. */
static int push_children(const struct profile *p, uint32_t n, uint32_t **stack, size_t *nstack,
			 size_t *cap)
{
	size_t first = *nstack, k = 0;

	for (uint32_t c = p->nodes[n].child; c != PROFILE_NONE; c = p->nodes[c].next) {
		if (GROW(*stack, *cap, first + k + 1) < 0)
			return -ENOMEM;
		(*stack)[first + k++] = c;
	}
	if (k > 1 && !p->flamechart)
		qsort_r(*stack + first, k, sizeof(**stack), by_name, (void *)p);
	/* reverse, so that the first in order is popped first */
	for (size_t i = first, j = first + k - 1; k > 1 && i < j; i++, j--) {
		uint32_t t = (*stack)[i];
		(*stack)[i] = (*stack)[j];
		(*stack)[j] = t;
	}
	*nstack = first + k;
	return 0;
}

/* Depth-first walk in write order, one line per node with self samples. */
static int walk(const struct profile *p, FILE *out, bool diff, char *err, size_t errsz)
{
	uint32_t *stack = NULL; /* nodes to visit; PROFILE_NONE: leave a node */
	size_t nstack = 0, stack_cap = 0;
	size_t *plen = NULL; /* path length before each depth */
	size_t plen_cap = 0, depth = 0;
	struct buf path = BUF_INIT;
	char num[48];
	int rc = 0;

	if (push_children(p, 0, &stack, &nstack, &stack_cap) < 0)
		goto nomem;
	while (nstack) {
		uint32_t n = stack[--nstack];
		uint64_t self, bself = 0;
		const char *name;
		size_t len;
		int k;

		if (n == PROFILE_NONE) {
			path.len = plen[--depth];
			continue;
		}
		if (GROW(plen, plen_cap, depth + 1) < 0)
			goto nomem;
		plen[depth++] = path.len;
		name = profile_name(p, p->nodes[n].frame, &len);
		if ((depth > 1 && buf_addc(&path, ';') < 0) || buf_add(&path, name, len) < 0)
			goto nomem;
		self = p->nodes[n].self;
		if (diff) {
			bself = p->base[n];
			for (uint32_t c = p->nodes[n].child; c != PROFILE_NONE; c = p->nodes[c].next)
				bself -= p->base[c];
		}
		if (self || bself) {
			if (diff)
				k = snprintf(num, sizeof(num), " %llu %llu\n",
					     (unsigned long long)bself, (unsigned long long)self);
			else
				k = snprintf(num, sizeof(num), " %llu\n", (unsigned long long)self);
			fwrite(path.p, 1, path.len, out);
			fwrite(num, 1, (size_t)k, out);
		}
		if (GROW(stack, stack_cap, nstack + 1) < 0)
			goto nomem;
		stack[nstack++] = PROFILE_NONE;
		if (push_children(p, n, &stack, &nstack, &stack_cap) < 0)
			goto nomem;
	}
	if (ferror(out))
		rc = errf(err, errsz, -EIO, "cannot write folded stacks: %s", strerror(errno));
	goto out;
nomem:
	rc = errf(err, errsz, -ENOMEM, "out of memory writing folded stacks");
out:
	free(stack);
	free(plen);
	buf_release(&path);
	return rc;
}

int folded_write(const struct profile *p, FILE *out, char *err, size_t errsz)
{
	return walk(p, out, false, err, errsz);
}

int folded_write_diff(const struct profile *p, FILE *out, char *err, size_t errsz)
{
	if (!p->base)
		return errf(err, errsz, -EINVAL, "not a differential profile");
	return walk(p, out, true, err, errsz);
}
