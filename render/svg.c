/*
 * svg: the flame graph as one self-contained SVG file.
 *
 * Layout. Frames are laid out on the trie: a node's children sit left to right in
 * name order (byte order; heaviest first with sort_weight; input order for a flame
 * chart) starting at the node's left edge, each as wide as its total count. A node
 * narrower than minwidth is left out with its subtree, but its samples stay in its
 * parent's width (the parent is simply wider than its drawn children). Coordinates
 * are percentages of the image width, so the same file is fluid (width="100%",
 * fills the window) or fixed (--width) and the script only refits labels.
 *
 * Every frame is <g data-n=COUNT [data-s=SELF] [data-b=BEFORE]><title>NAME (...)
 * </title><rect .../>[<text>LABEL</text>]</g>, written in pre-order (parents
 * before children), so the script rebuilds the tree from the depths in one pass.
 * Labels are fitted here for the reference width (1200 px, or --width) so the file
 * reads without scripts; a frame too narrow for 3 characters gets no <text>.
 *
 * Names are made safe for XML here and only here: invalid UTF-8 bytes, C0 controls,
 * DEL and the non-characters U+FFFE/U+FFFF become U+FFFD; & < > " ' become entities;
 * labels are cut on character boundaries before escaping. The script only ever sets
 * textContent. Ids and CSS are scoped by one id per file ("fg" and a hash of the
 * content), so several graphs in one page do not interfere.
 *
 * Colours are a function of the name (and its kind), never random: same input, same
 * bytes.
 */
#include "render/svg.h"
#include "render/write.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "render/svg_script.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define REF_WIDTH 1200 /* px: layout and label width when the image is fluid */
#define XPAD 10	       /* px left and right of the frames */
#define FONT_WIDTH 0.59 /* average glyph width / font size, as flamegraph.pl */
/* Output is gathered in a buffer of OUT_BLOCK bytes (allocated once, small enough to
 * stay in cache) and written out whenever it is that full. */
#define OUT_BLOCK ((size_t)256 << 10)

struct frame {
	uint32_t node;
	uint32_t depth; /* 0 for the root ("all") */
	uint64_t x;	/* left edge in samples from the left of the root */
};

struct svg {
	const struct profile *p;
	const struct write_opts *o;
	struct buf out;
	FILE *f;
	/* settings with defaults applied */
	double width;	 /* reference width, px */
	double fontsize; /* px */
	double fh;	 /* frame height, px */
	double pad_pct;	 /* XPAD as a percentage of width */
	uint64_t total;	 /* samples of the root */
	double wtotal;	 /* samples of the full width: total, or a larger --total */
	double factor;	 /* counts are shown times this (--factor) */
	const struct svg_opts *x; /* never NULL */
	double base_total;
	bool diff;
	const char *countname, *nametype, *palette;
	double ypad1, ypad2, height;
	/* frames to draw, pre-order */
	struct frame *frames;
	size_t nframes, frames_cap;
	uint32_t maxdepth;
	double maxdelta; /* diff: largest |change of share| */
	char id[16];
	bool nomem; /* an append to out failed */
};

/* ---- output helpers ---- */

static int flush_out(struct svg *s)
{
	if (s->out.len && fwrite(s->out.p, 1, s->out.len, s->f) != s->out.len)
		return -EIO;
	s->out.len = 0;
	return 0;
}

static void put(struct svg *s, const char *str, size_t len)
{
	if (buf_add(&s->out, str, len) < 0)
		s->nomem = true; /* reported at the end */
}

static void puts_(struct svg *s, const char *str)
{
	put(s, str, strlen(str));
}

static void putu(struct svg *s, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(s, tmp + i, sizeof(tmp) - i);
}

/* v with thousands separators, as flamegraph.pl prints counts */
static void putu_sep(struct svg *s, uint64_t v)
{
	char tmp[32];
	size_t i = sizeof(tmp);
	int k = 0;

	do {
		if (k && k % 3 == 0)
			tmp[--i] = ',';
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
		k++;
	} while (v);
	put(s, tmp + i, sizeof(tmp) - i);
}

/* A non-negative fixed-point number with decimals digits after the point. */
static void putfix(struct svg *s, double v, int decimals)
{
	static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
	uint64_t m = pow10[decimals];
	uint64_t n;
	char tmp[16];

	if (!(v > 0))
		v = 0;
	if (v > 1e12)
		v = 1e12;
	n = (uint64_t)llround(v * (double)m);
	putu(s, n / m);
	if (decimals) {
		uint64_t frac = n % m;
		tmp[0] = '.';
		for (int i = decimals; i > 0; i--) {
			tmp[i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		put(s, tmp, (size_t)decimals + 1);
	}
}

/* Decodes one UTF-8 character at s[0..len); returns its length and sets *cp, or
 * returns 0 when the byte at s starts no valid character (RFC 3629: no overlongs,
 * no surrogates, nothing past U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	uint32_t v;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (n == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return n;
}

/* The number of characters text shows of name[0..len) (a bad byte is one). */
static size_t text_chars(const char *name, size_t len)
{
	const unsigned char *u = (const unsigned char *)name;
	size_t n = 0;

	for (size_t i = 0; i < len; n++) {
		uint32_t cp;
		size_t k = u[i] < 0x80 ? 1 : utf8_char(u + i, len - i, &cp);
		i += k ? k : 1;
	}
	return n;
}

/* Appends name[0..len) to b as XML character data safe in text and attribute
 * values, at most maxchars characters of it. 0 or -ENOMEM. */
static int esc_text(struct buf *b, const char *name, size_t len, size_t maxchars)
{
	const unsigned char *u = (const unsigned char *)name;
	size_t i = 0, run = 0, nchars = 0;
	int rc = 0;

	while (i < len && nchars < maxchars) {
		unsigned char c = u[i];
		const char *rep = NULL;
		size_t k = 1;
		uint32_t cp;

		if (c >= 0x80) {
			k = utf8_char(u + i, len - i, &cp);
			if (!k || cp == 0xfffe || cp == 0xffff) {
				rep = "\xef\xbf\xbd"; /* U+FFFD */
				k = k ? k : 1;
			}
		} else if (c < 0x20 || c == 0x7f) {
			rep = "\xef\xbf\xbd";
		} else if (c == '&') {
			rep = "&amp;";
		} else if (c == '<') {
			rep = "&lt;";
		} else if (c == '>') {
			rep = "&gt;";
		} else if (c == '"') {
			rep = "&quot;";
		} else if (c == '\'') {
			rep = "&#39;";
		}
		if (rep) {
			if (run)
				rc |= buf_add(b, name + i - run, run);
			run = 0;
			rc |= buf_adds(b, rep);
		} else {
			run += k;
		}
		i += k;
		nchars++;
	}
	if (run)
		rc |= buf_add(b, name + i - run, run);
	return rc ? -ENOMEM : 0;
}

static void put_text(struct svg *s, const char *name, size_t len, size_t maxchars)
{
	if (esc_text(&s->out, name, len, maxchars) < 0)
		s->nomem = true;
}

static void put_esc(struct svg *s, const char *str)
{
	put_text(s, str, strlen(str), SIZE_MAX);
}

/* ---- names and colours ---- */

/* The name as shown: without the _[k] _[i] _[j] _[w] annotation. */
static const char *display_name(const struct profile *p, uint32_t node, size_t *len)
{
	const char *name;
	uint32_t frame = p->nodes[node].frame;

	if (node == 0) {
		*len = 3;
		return "all";
	}
	name = profile_name(p, frame, len);
	if (*len >= 4 && name[*len - 4] == '_' && name[*len - 3] == '[' && name[*len - 1] == ']' &&
	    strchr("kijw", name[*len - 2]))
		*len -= 4;
	return name;
}

/* Three pseudo-random values in [0,1) from the name: the colour of a function is
 * the same in every graph. hash mode follows flamegraph.pl's --hash idea: the first
 * characters weigh most, so similar names get similar colours. */
static void name_values(const char *name, size_t len, bool hash_mode, double v[3])
{
	if (hash_mode) {
		double vec[2] = {0, 0};
		for (int j = 0; j < 2; j++) {
			double weight = 1, max = 1;
			uint64_t h = 0;
			for (size_t i = 0; i < len && i < 8; i++) {
				h = hash_u64(h + (unsigned char)name[i] + (uint64_t)j * 131);
				vec[j] += weight * (double)(h % 1000) / 1000.0;
				max += weight * 0.7;
				weight *= 0.7;
			}
			vec[j] = vec[j] / max;
		}
		v[0] = vec[0];
		v[1] = vec[1];
		v[2] = 1 - vec[0];
	} else {
		uint64_t h = hash_bytes(name, len, 0x5c07c4);
		v[0] = (double)(h & 0xffff) / 65536.0;
		v[1] = (double)(h >> 16 & 0xffff) / 65536.0;
		v[2] = (double)(h >> 32 & 0xffff) / 65536.0;
	}
}

struct rgb {
	int r, g, b;
};

static struct rgb mix(double r0, double rs, double g0, double gs, double b0, double bs, double v1,
		      double v2, double v3)
{
	return (struct rgb){(int)(r0 + rs * v1), (int)(g0 + gs * v2), (int)(b0 + bs * v3)};
}

/* Colour of one flat palette by name. */
static struct rgb palette_rgb(const char *pal, const double v[3])
{
	double v1 = v[0], v2 = v[1], v3 = v[2];

	if (!strcmp(pal, "mem"))
		return mix(0, 0, 190, 50, 0, 210, 0, v2, v1);
	if (!strcmp(pal, "io") || !strcmp(pal, "chain"))
		return mix(80, 60, 80, 60, 190, 55, v1, v1, v2);
	if (!strcmp(pal, "wakeup"))
		return mix(90, 40, 150, 60, 210, 45, v1, v1, v2);
	if (!strcmp(pal, "red"))
		return mix(200, 55, 50, 80, 50, 80, v1, v1, v1);
	if (!strcmp(pal, "green"))
		return mix(50, 60, 200, 55, 50, 60, v1, v1, v1);
	if (!strcmp(pal, "blue"))
		return mix(80, 60, 80, 60, 205, 50, v1, v1, v1);
	if (!strcmp(pal, "yellow"))
		return mix(175, 55, 175, 55, 50, 20, v1, v1, v1);
	if (!strcmp(pal, "purple"))
		return mix(190, 65, 80, 60, 190, 65, v1, v1, v1);
	if (!strcmp(pal, "aqua"))
		return mix(50, 60, 165, 55, 165, 55, v1, v1, v1);
	if (!strcmp(pal, "orange"))
		return mix(190, 65, 90, 65, 0, 0, v1, v1, v1);
	/* hot */
	return mix(205, 50, 0, 230, 0, 55, v3, v1, v2);
}

static bool contains(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

static struct rgb frame_rgb(const struct svg *s, uint32_t node)
{
	const struct profile *p = s->p;
	const char *pal = s->palette;
	const char *name;
	size_t len, dlen;
	enum profile_kind kind;
	double v[3];

	if (node == 0)
		return (struct rgb){0xcc, 0xcc, 0xcc};
	name = profile_name(p, p->nodes[node].frame, &len);
	kind = (enum profile_kind)p->names[p->nodes[node].frame].kind;
	display_name(p, node, &dlen);
	name_values(name, dlen, s->o->hash, v);
	if (len == 1 && name[0] == '-')
		return (struct rgb){0xdd, 0xdd, 0xdd};
	if (len == 2 && name[0] == '-' && name[1] == '-')
		return (struct rgb){0xa0, 0xa0, 0xa0};
	/* annotations and kinds choose the colour family in every palette but the flat
	 * single-colour ones, as the java/js/perl palettes of flamegraph.pl do */
	switch (kind) {
	case PROFILE_KIND_KERNEL:
		return palette_rgb("orange", v);
	case PROFILE_KIND_INLINED:
		return palette_rgb("aqua", v);
	case PROFILE_KIND_JIT:
		return palette_rgb("green", v);
	case PROFILE_KIND_WAIT:
		return mix(70, 40, 120, 50, 215, 40, v[0], v[0], v[1]); /* off-CPU: blue */
	case PROFILE_KIND_PYTHON:
		if (!strcmp(pal, "hot") || !strcmp(pal, "python"))
			return mix(60, 40, 130, 50, 190, 50, v[0], v[0], v[1]); /* Python blue */
		break;
	default:
		break;
	}
	if (!strcmp(pal, "java")) {
		if (contains(name, len, "::"))
			return palette_rgb("yellow", v);
		if (memchr(name, '/', len) || (memchr(name, '.', len) && !memchr(name, '(', len)))
			return palette_rgb("green", v);
		return palette_rgb("red", v);
	}
	if (!strcmp(pal, "js")) {
		if (contains(name, len, "::"))
			return palette_rgb("yellow", v);
		if (memchr(name, '/', len) || contains(name, len, ".js"))
			return palette_rgb("green", v);
		if (memchr(name, ':', len))
			return palette_rgb("aqua", v);
		return palette_rgb("red", v);
	}
	if (!strcmp(pal, "perl")) {
		if (contains(name, len, "::"))
			return palette_rgb("yellow", v);
		if (contains(name, len, "Perl") || contains(name, len, ".pl"))
			return palette_rgb("green", v);
		return palette_rgb("red", v);
	}
	if (!strcmp(pal, "python"))
		return palette_rgb("yellow", v);
	return palette_rgb(pal, v);
}

/* Differential colour: red grew, blue shrank, white unchanged; intensity by the
 * change of the frame's share against the largest change in the graph. */
static struct rgb diff_rgb(const struct svg *s, uint32_t node)
{
	double d = 0, r;
	int c;

	if (s->maxdelta > 0) {
		d = (double)s->p->nodes[node].total / (double)s->total -
		    (s->base_total > 0 ? (double)s->p->base[node] / s->base_total : 0);
		d /= s->maxdelta;
	}
	if (s->o->negate)
		d = -d;
	r = fabs(d);
	if (r > 1)
		r = 1;
	c = (int)(210 * (1 - r));
	if (d > 0)
		return (struct rgb){255, c, c};
	if (d < 0)
		return (struct rgb){c, c, 255};
	return (struct rgb){255, 255, 255};
}

/* ---- tables by function name: --nameattr and the palette file ---- */

/* Names in insertion order with an open-addressing index; a user keeps its values
 * in an array parallel to names. */
struct nmap {
	char **names; /* owned copies, NUL-terminated */
	size_t *lens;
	size_t n, cap, lens_cap;
	uint32_t *slots; /* entry + 1, 0 for empty; nslots is a power of two */
	size_t nslots;
};

static size_t nmap_slot(const struct nmap *m, const char *name, size_t len)
{
	size_t i = hash_bytes(name, len, 0x6e6d6170) & (m->nslots - 1);

	while (m->slots[i]) {
		size_t e = m->slots[i] - 1;
		if (m->lens[e] == len && !memcmp(m->names[e], name, len))
			break;
		i = (i + 1) & (m->nslots - 1);
	}
	return i;
}

/* The entry of name, or -1. */
static long nmap_find(const struct nmap *m, const char *name, size_t len)
{
	size_t i;

	if (!m->nslots)
		return -1;
	i = nmap_slot(m, name, len);
	return m->slots[i] ? (long)m->slots[i] - 1 : -1;
}

/* The entry of name, added if new (then *added is set). -ENOMEM on failure. */
static long nmap_add(struct nmap *m, const char *name, size_t len, bool *added)
{
	size_t i;
	char *copy;

	*added = false;
	if (m->n >= UINT32_MAX - 1)
		return -ENOMEM;
	if ((m->n + 1) * 2 > m->nslots) {
		size_t ns = m->nslots ? m->nslots * 2 : 64;
		uint32_t *old = m->slots;
		size_t oldn = m->nslots;
		m->slots = calloc(ns, sizeof(*m->slots));
		if (!m->slots) {
			m->slots = old;
			return -ENOMEM;
		}
		m->nslots = ns;
		for (size_t k = 0; k < oldn; k++)
			if (old[k])
				m->slots[nmap_slot(m, m->names[old[k] - 1], m->lens[old[k] - 1])] = old[k];
		free(old);
	}
	i = nmap_slot(m, name, len);
	if (m->slots[i])
		return (long)m->slots[i] - 1;
	if (GROW(m->names, m->cap, m->n + 1) < 0 || GROW(m->lens, m->lens_cap, m->n + 1) < 0)
		return -ENOMEM;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, len);
	copy[len] = 0;
	m->names[m->n] = copy;
	m->lens[m->n] = len;
	m->slots[i] = (uint32_t)++m->n;
	*added = true;
	return (long)m->n - 1;
}

static void nmap_release(struct nmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->names[i]);
	free(m->names);
	free(m->lens);
	free(m->slots);
}

/* Calls fn on each non-empty line of path (without its line end); fn fills why for
 * a bad line, reported as "PATH:LINE: why". A missing file is fine with missing_ok. */
static int read_lines(const char *path, bool missing_ok,
		      int (*fn)(void *ctx, char *line, size_t len, char *why, size_t whysz),
		      void *ctx, char *err, size_t errsz)
{
	char *line = NULL, why[256];
	size_t cap = 0, lineno = 0;
	ssize_t got;
	struct stat st;
	FILE *f;
	int rc = 0;

	f = fopen(path, "r");
	if (!f) {
		int e = errno;
		if (e == ENOENT && missing_ok)
			return 0;
		return errf(err, errsz, -e, "cannot read '%s': %s", path, strerror(e));
	}
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
		fclose(f);
		return errf(err, errsz, -EINVAL, "cannot read '%s': not a regular file", path);
	}
	errno = 0;
	while ((got = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)got;
		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len)
			continue;
		if (memchr(line, 0, len)) {
			rc = errf(err, errsz, -EINVAL, "%s:%zu: a NUL byte in the line", path, lineno);
			break;
		}
		why[0] = 0;
		rc = fn(ctx, line, len, why, sizeof(why));
		if (rc < 0) {
			if (rc == -ENOMEM)
				errf(err, errsz, rc, "%s:%zu: out of memory", path, lineno);
			else
				errf(err, errsz, rc, "%s:%zu: %s", path, lineno, why);
			break;
		}
		errno = 0;
	}
	if (!rc && ferror(f)) {
		int e = errno ? errno : EIO;
		rc = errf(err, errsz, -e, "cannot read '%s': %s", path, strerror(e));
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- --nameattr ---- */

struct na_entry {
	char *title;	  /* NULL: the usual tooltip */
	struct buf attrs; /* ' name="value"'..., escaped, written after the data-* ones */
	bool link;	  /* the frame is an <a> */
};

struct svg_nameattr {
	struct nmap m;
	struct na_entry *e;
	size_t e_cap;
	bool links; /* some entry is a link: the root declares the xlink namespace */
};

#define NA_MAX_ATTRS 64

/* The attributes of one line being built, to refuse duplicates. */
struct na_line {
	struct buf *out;
	const char *seen[NA_MAX_ATTRS];
	size_t seen_len[NA_MAX_ATTRS], nseen;
	char *why;
	size_t whysz;
};

static bool prefix_ci(const char *s, size_t len, const char *pre)
{
	size_t n = strlen(pre);
	return len >= n && !strncasecmp(s, pre, n);
}

static bool equal_ci(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && !strncasecmp(s, word, len);
}

/* Adds ' name="value"' after checking name; -EINVAL with l->why on refusal. */
static int na_attr(struct na_line *l, const char *name, size_t nlen, const char *val, size_t vlen)
{
	const char *why = NULL;

	if (!nlen) {
		why = "an empty attribute name";
	} else if (!(isalpha((unsigned char)name[0]) || name[0] == '_')) {
		why = "is not a plain XML attribute name ([A-Za-z_][A-Za-z0-9._-]*)";
	} else {
		for (size_t i = 1; i < nlen && !why; i++)
			if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
				why = "is not a plain XML attribute name ([A-Za-z_][A-Za-z0-9._-]*)";
	}
	if (!why && prefix_ci(name, nlen, "on"))
		why = "is refused: event handler attributes (on...) could run script";
	else if (!why && (prefix_ci(name, nlen, "xml") || equal_ci(name, nlen, "style") ||
			  equal_ci(name, nlen, "src") || equal_ci(name, nlen, "href")))
		why = "is refused (xml*, style, src, and href other than the href key)";
	else if (!why && (equal_ci(name, nlen, "data-n") || equal_ci(name, nlen, "data-s") ||
			  equal_ci(name, nlen, "data-b")))
		why = "is refused: the graph keeps its counts there";
	for (size_t i = 0; i < l->nseen && !why; i++)
		if (l->seen_len[i] == nlen && !memcmp(l->seen[i], name, nlen))
			why = "is given twice";
	if (!why && l->nseen == NA_MAX_ATTRS)
		why = "is one attribute too many (64 at most)";
	if (why) {
		snprintf(l->why, l->whysz, "attribute '%.*s' %s", (int)(nlen > 64 ? 64 : nlen), name,
			 why);
		return -EINVAL;
	}
	l->seen[l->nseen] = name;
	l->seen_len[l->nseen++] = nlen;
	if (buf_addc(l->out, ' ') < 0 || buf_add(l->out, name, nlen) < 0 ||
	    buf_adds(l->out, "=\"") < 0 || esc_text(l->out, val, vlen, SIZE_MAX) < 0 ||
	    buf_addc(l->out, '"') < 0)
		return -ENOMEM;
	return 0;
}

/* g_extra / a_extra: NAME="VALUE" or NAME='VALUE', separated by blanks. */
static int na_extra(struct na_line *l, const char *v, size_t len)
{
	size_t i = 0;
	int rc;

	for (;;) {
		size_t n0, n1, v0;
		char q;
		while (i < len && v[i] == ' ')
			i++;
		if (i == len)
			return 0;
		n0 = i;
		while (i < len && v[i] != '=' && v[i] != ' ')
			i++;
		n1 = i;
		while (i < len && v[i] == ' ')
			i++;
		if (i < len && v[i] == '=')
			i++;
		else
			goto bad;
		while (i < len && v[i] == ' ')
			i++;
		if (i == len || (v[i] != '"' && v[i] != '\''))
			goto bad;
		q = v[i++];
		v0 = i;
		while (i < len && v[i] != q)
			i++;
		if (i == len)
			goto bad;
		rc = na_attr(l, v + n0, n1 - n0, v + v0, i - v0);
		if (rc < 0)
			return rc;
		i++;
	}
bad:
	snprintf(l->why, l->whysz, "g_extra and a_extra want NAME=\"VALUE\" ..., not '%.*s'",
		 (int)(len > 80 ? 80 : len), v);
	return -EINVAL;
}

/* An href that cannot run script: no blanks or controls (browsers drop some of them
 * inside a scheme), and a scheme, if any, among http, https, ftp, mailto. */
static bool href_ok(const char *v, size_t len)
{
	static const char *const schemes[] = {"http", "https", "ftp", "mailto"};
	size_t i = 0;

	for (size_t k = 0; k < len; k++)
		if ((unsigned char)v[k] <= 0x20 || v[k] == 0x7f)
			return false;
	while (i < len && (isalnum((unsigned char)v[i]) || strchr("+.-", v[i])))
		i++;
	if (i == len || v[i] != ':' || !i || !isalpha((unsigned char)v[0]))
		return true; /* no scheme: a relative URL */
	for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++)
		if (equal_ci(v, i, schemes[k]))
			return true;
	return false;
}

/* The value of key in the line's pairs, or NULL. */
struct na_pair {
	const char *k, *v;
	size_t klen, vlen;
};

static const struct na_pair *na_get(const struct na_pair *pairs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (pairs[i].klen == strlen(key) && !memcmp(pairs[i].k, key, pairs[i].klen))
			return &pairs[i];
	return NULL;
}

static int na_line(void *ctx, char *line, size_t len, char *why, size_t whysz)
{
	static const char *const keys[] = {"title", "href", "target", "a_extra",
					   "id",    "class", "g_extra"};
	struct svg_nameattr *na = ctx;
	struct na_pair pairs[NA_MAX_ATTRS];
	struct na_line l = {.why = why, .whysz = whysz};
	struct na_entry *e;
	const struct na_pair *href, *pr;
	char *tab = memchr(line, '\t', len), *p;
	size_t npairs = 0;
	bool added;
	long idx;
	int rc;

	if (!tab) {
		snprintf(why, whysz, "expected 'FUNCTION<TAB>NAME=VALUE[<TAB>NAME=VALUE...]'");
		return -EINVAL;
	}
	for (p = tab + 1; p <= line + len;) {
		char *end = memchr(p, '\t', (size_t)(line + len - p)), *eq;
		if (!end)
			end = line + len;
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq || eq == p) {
			snprintf(why, whysz, "expected NAME=VALUE, not '%.*s'",
				 (int)(end - p > 80 ? 80 : end - p), p);
			return -EINVAL;
		}
		if (npairs == NA_MAX_ATTRS) {
			snprintf(why, whysz, "more than %d attributes", NA_MAX_ATTRS);
			return -EINVAL;
		}
		pairs[npairs++] = (struct na_pair){p, eq + 1, (size_t)(eq - p),
						   (size_t)(end - eq - 1)};
		p = end + 1;
	}
	idx = nmap_add(&na->m, line, (size_t)(tab - line), &added);
	if (idx < 0 || GROW(na->e, na->e_cap, na->m.n) < 0)
		return -ENOMEM;
	e = &na->e[idx];
	if (added)
		*e = (struct na_entry){0};
	/* a function given again: the last line wins, as in flamegraph.pl */
	free(e->title);
	e->title = NULL;
	buf_reset(&e->attrs);
	l.out = &e->attrs;
	href = na_get(pairs, npairs, "href");
	if (href && !href->vlen)
		href = NULL;
	e->link = href != NULL;
	if (href) {
		if (!href_ok(href->v, href->vlen)) {
			snprintf(why, whysz,
				 "href '%.*s' is refused: only http, https, ftp, mailto or a "
				 "relative URL, without blanks",
				 (int)(href->vlen > 80 ? 80 : href->vlen), href->v);
			return -EINVAL;
		}
		na->links = true;
		if (buf_adds(&e->attrs, " xlink:href=\"") < 0 ||
		    esc_text(&e->attrs, href->v, href->vlen, SIZE_MAX) < 0 ||
		    buf_addc(&e->attrs, '"') < 0)
			return -ENOMEM;
		pr = na_get(pairs, npairs, "target");
		rc = na_attr(&l, "target", 6, pr && pr->vlen ? pr->v : "_top",
			     pr && pr->vlen ? pr->vlen : 4);
		if (rc == 0 && (pr = na_get(pairs, npairs, "a_extra")))
			rc = na_extra(&l, pr->v, pr->vlen);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < npairs; i++) {
		const struct na_pair *q = &pairs[i];
		bool known = false;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			known |= q->klen == strlen(keys[k]) && !memcmp(q->k, keys[k], q->klen);
		if (na_get(pairs, npairs, "title") == q) {
			e->title = strndup(q->v, q->vlen);
			rc = e->title ? 0 : -ENOMEM;
		} else if (na_get(pairs, npairs, "g_extra") == q) {
			rc = na_extra(&l, q->v, q->vlen);
		} else if (!known || na_get(pairs, npairs, "id") == q ||
			   na_get(pairs, npairs, "class") == q) {
			rc = na_attr(&l, q->k, q->klen, q->v, q->vlen);
		} else {
			rc = 0; /* href, target, a_extra: done above (only for a link) */
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int svg_nameattr_read(struct svg_nameattr **out, const char *path, char *err, size_t errsz)
{
	struct svg_nameattr *na = calloc(1, sizeof(*na));
	int rc;

	*out = NULL;
	if (!na)
		return errf(err, errsz, -ENOMEM, "out of memory");
	rc = read_lines(path, false, na_line, na, err, errsz);
	if (rc < 0) {
		svg_nameattr_free(na);
		return rc;
	}
	*out = na;
	return 0;
}

void svg_nameattr_free(struct svg_nameattr *na)
{
	if (!na)
		return;
	for (size_t i = 0; i < na->m.n; i++) {
		free(na->e[i].title);
		buf_release(&na->e[i].attrs);
	}
	free(na->e);
	nmap_release(&na->m);
	free(na);
}

/* ---- the palette file ---- */

struct svg_palette {
	struct nmap m;
	struct rgb *rgb;
	size_t rgb_cap;
};

/* One of R, G, B: 0 to 255 at s[*i], then the byte want. */
static bool rgb_part(const char *s, size_t len, size_t *i, char want, int *v)
{
	size_t d = 0;

	*v = 0;
	while (*i < len && s[*i] == ' ')
		(*i)++;
	while (*i < len && isdigit((unsigned char)s[*i]) && d < 4) {
		*v = *v * 10 + (s[(*i)++] - '0');
		d++;
	}
	while (*i < len && s[*i] == ' ')
		(*i)++;
	if (!d || *v > 255 || *i >= len || s[*i] != want)
		return false;
	(*i)++;
	return true;
}

static int pal_line(void *ctx, char *line, size_t len, char *why, size_t whysz)
{
	struct svg_palette *pal = ctx;
	const char *arrow = NULL;
	size_t i, nlen;
	struct rgb c;
	bool added;
	long idx;

	/* the last "->": a name may hold one (C++'s operator->) */
	for (size_t k = 0; k + 1 < len; k++)
		if (line[k] == '-' && line[k + 1] == '>')
			arrow = line + k;
	if (!arrow) {
		snprintf(why, whysz, "expected 'NAME->rgb(R,G,B)'");
		return -EINVAL;
	}
	nlen = (size_t)(arrow - line);
	i = nlen + 2;
	if (len - i < 4 || memcmp(line + i, "rgb(", 4) ||
	    !(i += 4, rgb_part(line, len, &i, ',', &c.r)) || !rgb_part(line, len, &i, ',', &c.g) ||
	    !rgb_part(line, len, &i, ')', &c.b) || i != len) {
		snprintf(why, whysz, "expected a colour rgb(R,G,B) with R, G, B from 0 to 255, not '%.*s'",
			 (int)(len - nlen - 2 > 40 ? 40 : len - nlen - 2), arrow + 2);
		return -EINVAL;
	}
	idx = nmap_add(&pal->m, line, nlen, &added);
	if (idx < 0 || GROW(pal->rgb, pal->rgb_cap, pal->m.n) < 0)
		return -ENOMEM;
	pal->rgb[idx] = c; /* a name given twice: the last line wins */
	return 0;
}

/* Whether path can be written back after the graph (its folder writable, a regular
 * file if it exists): a palette that cannot be kept fails before any output. */
static int palette_writable(const char *path, char *err, size_t errsz)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return errf(err, errsz, -EISDIR, "cannot write '%s': not a regular file", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path),
				  path) >= sizeof(dir))
		return errf(err, errsz, -ENAMETOOLONG, "palette path too long: '%s'", path);
	if (access(dir, W_OK | X_OK) < 0) {
		int e = errno;
		return errf(err, errsz, -e, "cannot write '%s': %s", path, strerror(e));
	}
	return 0;
}

int svg_palette_read(struct svg_palette **out, const char *path, char *err, size_t errsz)
{
	struct svg_palette *pal = calloc(1, sizeof(*pal));
	int rc;

	*out = NULL;
	if (!pal)
		return errf(err, errsz, -ENOMEM, "out of memory");
	rc = read_lines(path, true, pal_line, pal, err, errsz);
	if (rc == 0)
		rc = palette_writable(path, err, errsz);
	if (rc < 0) {
		svg_palette_free(pal);
		return rc;
	}
	*out = pal;
	return 0;
}

/* The colour of name: the palette's, or fallback, which is then kept. */
static struct rgb palette_lookup(struct svg *s, const char *name, size_t len, struct rgb fallback)
{
	struct svg_palette *pal = s->o->svg->palette;
	bool added;
	long idx = nmap_add(&pal->m, name, len, &added);

	if (idx < 0 || GROW(pal->rgb, pal->rgb_cap, pal->m.n) < 0) {
		s->nomem = true;
		return fallback;
	}
	if (added)
		pal->rgb[idx] = fallback;
	return pal->rgb[idx];
}

static int name_cmp(const void *a, const void *b, void *ctx)
{
	const struct nmap *m = ctx;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	size_t la = m->lens[ia], lb = m->lens[ib];
	int r = memcmp(m->names[ia], m->names[ib], la < lb ? la : lb);

	return r ? r : la < lb ? -1 : la > lb;
}

static int buf_body(FILE *out, void *arg, char *err, size_t errsz)
{
	const struct buf *b = arg;

	(void)err;
	(void)errsz;
	return b->len && fwrite(b->p, 1, b->len, out) != b->len ? -EIO : 0;
}

int svg_palette_write(const struct svg_palette *pal, const char *path, char *err, size_t errsz)
{
	struct buf b = {0};
	size_t *order = malloc((pal->m.n ? pal->m.n : 1) * sizeof(*order));
	int rc = 0;

	if (!order)
		return errf(err, errsz, -ENOMEM, "out of memory");
	for (size_t i = 0; i < pal->m.n; i++)
		order[i] = i;
	qsort_r(order, pal->m.n, sizeof(*order), name_cmp, (void *)&pal->m);
	for (size_t i = 0; i < pal->m.n && !rc; i++) {
		const struct rgb *c = &pal->rgb[order[i]];
		rc = buf_add(&b, pal->m.names[order[i]], pal->m.lens[order[i]]);
		rc |= buf_printf(&b, "->rgb(%d,%d,%d)\n", c->r, c->g, c->b);
	}
	free(order);
	if (rc) {
		buf_release(&b);
		return errf(err, errsz, -ENOMEM, "out of memory");
	}
	/* "-" names a file here, as when it was read: never stdout, where the SVG goes */
	rc = write_file(strcmp(path, "-") ? path : "./-", buf_body, &b, err, errsz);
	buf_release(&b);
	return rc;
}

void svg_palette_free(struct svg_palette *pal)
{
	if (!pal)
		return;
	free(pal->rgb);
	nmap_release(&pal->m);
	free(pal);
}

bool svg_encoding_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > 64 || !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

/* ---- layout ---- */

struct sort_ctx {
	const struct profile *p;
	bool weight;
};

static int child_cmp(const void *a, const void *b, void *ctx)
{
	const struct sort_ctx *c = ctx;
	const struct profile *p = c->p;
	uint32_t na = *(const uint32_t *)a, nb = *(const uint32_t *)b;
	size_t la, lb;
	const char *sa, *sb;
	int r;

	if (c->weight && p->nodes[na].total != p->nodes[nb].total)
		return p->nodes[na].total > p->nodes[nb].total ? -1 : 1;
	sa = profile_name(p, p->nodes[na].frame, &la);
	sb = profile_name(p, p->nodes[nb].frame, &lb);
	r = memcmp(sa, sb, la < lb ? la : lb);
	if (r)
		return r;
	if (la != lb)
		return la < lb ? -1 : 1;
	return na < nb ? -1 : na > nb;
}

/* Fills s->frames with the drawn frames in pre-order. */
static int layout(struct svg *s, double min_samples)
{
	const struct profile *p = s->p;
	struct sort_ctx ctx = {p, s->o->sort_weight};
	struct frame *stack = NULL;
	size_t nstack = 0, stack_cap = 0;
	uint32_t *kids = NULL, *pruned = NULL;
	size_t kids_cap = 0, pruned_cap = 0, gaps_cap = 0;
	uint64_t *gaps = NULL; /* gaps[i]: samples of pruned children just before kids[i] */
	int rc = -ENOMEM;

	if (GROW(stack, stack_cap, 1) < 0)
		goto out;
	stack[nstack++] = (struct frame){0, 0, 0};
	while (nstack) {
		struct frame f = stack[--nstack];
		uint64_t x = f.x;
		size_t k = 0, np = 0, first;

		if (GROW(s->frames, s->frames_cap, s->nframes + 1) < 0)
			goto out;
		s->frames[s->nframes++] = f;
		if (f.depth > s->maxdepth)
			s->maxdepth = f.depth;
		if (f.depth >= UINT32_MAX - 1)
			continue;
		/* The drawn children are sorted; a pruned child keeps its place as a gap
		 * (its samples stay in the parent's width where it would be), found by a
		 * binary search among the drawn ones rather than by sorting every child:
		 * a node can have thousands of pruned children. In a flame chart every
		 * child keeps its input place; heaviest first, pruned ones come last. */
		for (uint32_t c = p->nodes[f.node].child; c != PROFILE_NONE; c = p->nodes[c].next) {
			uint64_t t = p->nodes[c].total;
			bool drawn = t && (double)t >= min_samples;
			if (drawn || s->o->flamechart) {
				if (GROW(kids, kids_cap, k + 1) < 0)
					goto out;
				/* the top bit marks a pruned child: node ids stay below 2^31 in
				 * any profile that fits in memory (32 bytes a node) */
				kids[k++] = drawn ? c : c | 0x80000000u;
			} else if (t && !s->o->sort_weight) {
				if (GROW(pruned, pruned_cap, np + 1) < 0)
					goto out;
				pruned[np++] = c;
			}
		}
		if (k > 1 && !s->o->flamechart)
			qsort_r(kids, k, sizeof(*kids), child_cmp, &ctx);
		if (GROW(gaps, gaps_cap, k + 1) < 0)
			goto out;
		memset(gaps, 0, (k + 1) * sizeof(*gaps));
		for (size_t i = 0; i < np; i++) {
			size_t lo = 0, hi = k;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (child_cmp(&kids[mid], &pruned[i], &ctx) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			gaps[lo] += p->nodes[pruned[i]].total;
		}
		/* push the drawn children right to left so the leftmost pops first */
		if (GROW(stack, stack_cap, nstack + k) < 0)
			goto out;
		first = nstack;
		for (size_t i = 0; i < k; i++) {
			uint32_t c = kids[i] & 0x7fffffffu;
			x += gaps[i];
			if (!(kids[i] & 0x80000000u))
				stack[nstack++] = (struct frame){c, f.depth + 1, x};
			x += p->nodes[c].total;
		}
		for (size_t i = first, j = nstack ? nstack - 1 : 0; nstack > first && i < j; i++, j--) {
			struct frame t = stack[i];
			stack[i] = stack[j];
			stack[j] = t;
		}
	}
	rc = 0;
out:
	free(stack);
	free(kids);
	free(pruned);
	free(gaps);
	return rc;
}

/* A profile with every stack reversed (leaf first), for reverse on a profile that
 * was not read reversed. NULL on ENOMEM. */
static struct profile *reversed(const struct profile *p)
{
	struct profile *r = profile_new();
	uint32_t *path = NULL, *ids = NULL;
	size_t cap = 0;

	if (!r)
		return NULL;
	for (size_t n = 1; n < p->nnodes; n++) {
		uint64_t self = p->nodes[n].self, bself = 0;
		size_t depth;
		if (p->base) {
			bself = p->base[n];
			for (uint32_t c = p->nodes[n].child; c != PROFILE_NONE; c = p->nodes[c].next)
				bself -= p->base[c];
		}
		if (!self && !bself)
			continue;
		depth = profile_path(p, (uint32_t)n, path, cap);
		if (depth > cap) {
			size_t c2 = cap;
			if (GROW(path, cap, depth) < 0 || GROW(ids, c2, depth) < 0)
				goto fail;
			cap = cap < c2 ? cap : c2;
			depth = profile_path(p, (uint32_t)n, path, cap);
		}
		for (size_t i = 0; i < depth; i++) {
			size_t len;
			const char *name = profile_name(p, path[depth - 1 - i], &len);
			ids[i] = profile_intern_kind(r, name, len,
						     (enum profile_kind)p->names[path[depth - 1 - i]].kind);
			if (ids[i] == PROFILE_NONE)
				goto fail;
		}
		if ((p->base ? profile_add_diff(r, ids, depth, bself, self)
			     : profile_add(r, ids, depth, self)) < 0)
			goto fail;
	}
	free(path);
	free(ids);
	return r;
fail:
	free(path);
	free(ids);
	profile_free(r);
	return NULL;
}

/* ---- the document ---- */

static void put_pct(struct svg *s, uint64_t v)
{
	putfix(s, s->pad_pct + (double)v / s->wtotal * (100 - 2 * s->pad_pct), 4);
	puts_(s, "%");
}

static double frame_y(const struct svg *s, uint32_t depth)
{
	if (s->o->inverted)
		return s->ypad1 + depth * s->fh;
	return s->height - s->ypad2 - (depth + 1) * s->fh;
}

/* A count as shown: times --factor, rounded as flamegraph.pl's "%.0f". */
static uint64_t shown(const struct svg *s, double n)
{
	double v = nearbyint(n * s->factor);

	return v <= 0 ? 0 : v >= 1.8e19 ? UINT64_MAX : (uint64_t)v;
}

static uint64_t shown_u(const struct svg *s, uint64_t n)
{
	return s->factor == 1 ? n : shown(s, (double)n);
}

static void put_share(struct svg *s, double num, double den)
{
	putfix(s, den > 0 ? num * 100 / den : 0, 2);
	puts_(s, "%");
}

static void put_frame(struct svg *s, const struct frame *f)
{
	const struct profile *p = s->p;
	uint64_t n = p->nodes[f->node].total, self = p->nodes[f->node].self;
	/* the root spans the full width, a larger --total included */
	double frac = f->node == 0 ? 1 : (double)n / s->wtotal;
	uint64_t nshown = f->node == 0 && s->wtotal > (double)n ? shown(s, s->wtotal) : shown_u(s, n);
	double wpx = frac * (s->width - 2 * XPAD);
	double y = frame_y(s, f->depth);
	size_t len, chars, fit, rawlen;
	const char *name = display_name(p, f->node, &len);
	const char *raw = profile_name(p, p->nodes[f->node].frame, &rawlen);
	const struct na_entry *na = NULL;
	struct rgb c;
	char hex[8];

	if (s->diff) {
		c = diff_rgb(s, f->node);
	} else {
		c = frame_rgb(s, f->node);
		if (s->x->palette && f->node && !(rawlen == 1 && raw[0] == '-') &&
		    !(rawlen == 2 && raw[0] == '-' && raw[1] == '-'))
			c = palette_lookup(s, raw, rawlen, c);
	}
	if (s->x->nameattr && f->node) {
		long idx = nmap_find(&s->x->nameattr->m, raw, rawlen);
		if (idx >= 0)
			na = &s->x->nameattr->e[idx];
	}
	puts_(s, na && na->link ? "<a data-n=\"" : "<g data-n=\"");
	putu(s, nshown);
	if (self) {
		puts_(s, "\" data-s=\"");
		putu(s, shown_u(s, self));
	}
	if (s->diff) {
		puts_(s, "\" data-b=\"");
		putu(s, shown_u(s, p->base[f->node]));
	}
	puts_(s, "\"");
	if (na)
		put(s, na->attrs.p, na->attrs.len);
	puts_(s, "><title>");
	if (na && na->title) {
		put_esc(s, na->title);
		goto title_done;
	}
	put_text(s, name, len, SIZE_MAX);
	puts_(s, " (");
	putu_sep(s, nshown);
	puts_(s, " ");
	put_esc(s, s->countname);
	puts_(s, ", ");
	if (f->node == 0)
		puts_(s, "100.00%");
	else
		put_share(s, (double)nshown, s->wtotal * s->factor);
	if (s->diff) {
		double was = s->base_total > 0 ? (double)p->base[f->node] * 100 / s->base_total : 0;
		double now = (double)n * 100 / (double)s->total;
		puts_(s, "; before ");
		putu_sep(s, shown_u(s, p->base[f->node]));
		puts_(s, ", ");
		put_share(s, (double)p->base[f->node], s->base_total);
		puts_(s, now >= was ? "; +" : "; -");
		putfix(s, fabs(now - was), 2);
		puts_(s, "%");
	}
	puts_(s, ")");
title_done:
	puts_(s, "</title><rect x=\"");
	put_pct(s, f->x);
	puts_(s, "\" y=\"");
	putfix(s, y, 1);
	puts_(s, "\" width=\"");
	putfix(s, frac * (100 - 2 * s->pad_pct), 4);
	puts_(s, "%\" height=\"");
	putfix(s, s->fh - 1, 1);
	snprintf(hex, sizeof(hex), "%02x%02x%02x", c.r & 255, c.g & 255, c.b & 255);
	puts_(s, "\" fill=\"#");
	put(s, hex, 6);
	puts_(s, "\"/>");
	/* the label, as many characters as fit, ".." when cut (as flamegraph.pl) */
	fit = wpx > 6 ? (size_t)((wpx - 6) / (s->fontsize * FONT_WIDTH)) : 0;
	if (fit >= 3) {
		chars = text_chars(name, len);
		puts_(s, "<text x=\"");
		put_pct(s, f->x);
		puts_(s, "\" dx=\"3\" y=\"");
		putfix(s, y + s->fh / 2 + s->fontsize / 3, 1);
		puts_(s, "\">");
		if (chars <= fit) {
			put_text(s, name, len, SIZE_MAX);
		} else {
			put_text(s, name, len, fit - 2);
			puts_(s, "..");
		}
		puts_(s, "</text>");
	}
	puts_(s, na && na->link ? "</a>\n" : "</g>\n");
}

static void put_style(struct svg *s)
{
	const char *font = s->o->fonttype ? s->o->fonttype : "Verdana";

	puts_(s, "<style type=\"text/css\"><![CDATA[\n");
	/* a font name can hold anything: keep only what CSS and CDATA take safely */
	puts_(s, "#");
	puts_(s, s->id);
	puts_(s, " text{font-family:\"");
	for (const char *q = font; *q; q++)
		if (*q != '"' && *q != '\\' && *q != ']' && *q != '<' && *q != '>' &&
		    (unsigned char)*q >= 0x20)
			put(s, q, 1);
	puts_(s, "\",sans-serif;font-size:");
	putfix(s, s->fontsize, 1);
	puts_(s, "px;fill:#000}\n#");
	puts_(s, s->id);
	puts_(s, " .title{font-size:");
	putfix(s, s->fontsize + 5, 1);
	puts_(s, "px}\n");
	for (size_t i = 0; i < sizeof(svg_style) / sizeof(svg_style[0]); i++) {
		puts_(s, "#");
		puts_(s, s->id);
		puts_(s, " ");
		puts_(s, svg_style[i]);
		puts_(s, "\n");
	}
	puts_(s, "@media (prefers-color-scheme:dark){\n");
	for (size_t i = 0; i < sizeof(svg_style_dark) / sizeof(svg_style_dark[0]); i++) {
		puts_(s, "#");
		puts_(s, s->id);
		puts_(s, " ");
		puts_(s, svg_style_dark[i]);
		puts_(s, "\n");
	}
	puts_(s, "}\n]]></style>\n");
}

static void put_document(struct svg *s)
{
	const struct write_opts *o = s->o;
	const char *title = o->title ? o->title
			    : s->p->meta.title ? s->p->meta.title
			    : o->flamechart    ? "Flame Chart"
			    : o->inverted      ? "Icicle Graph"
					       : "Flame Graph";

	puts_(s, "<?xml version=\"1.0\" encoding=\"");
	puts_(s, s->x->encoding ? s->x->encoding : "UTF-8");
	puts_(s, "\" standalone=\"no\"?>\n");
	puts_(s, "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" ");
	if (s->x->nameattr && s->x->nameattr->links)
		puts_(s, "xmlns:xlink=\"http://www.w3.org/1999/xlink\" ");
	puts_(s, "id=\"");
	puts_(s, s->id);
	puts_(s, "\" class=\"scorch-fg\" width=\"");
	if (o->width) {
		putu(s, o->width);
		puts_(s, "\" viewBox=\"0 0 ");
		putu(s, o->width);
		puts_(s, " ");
		putfix(s, s->height, 0);
	} else {
		puts_(s, "100%");
	}
	puts_(s, "\" height=\"");
	putfix(s, s->height, 0);
	puts_(s, "\" data-total=\"");
	putu(s, s->wtotal > (double)s->total ? shown(s, s->wtotal) : shown_u(s, s->total));
	if (s->diff) {
		puts_(s, "\" data-base-total=\"");
		putfix(s, s->base_total, 0);
	}
	puts_(s, "\" data-countname=\"");
	put_esc(s, s->countname);
	puts_(s, "\" data-nametype=\"");
	put_esc(s, s->nametype);
	puts_(s, "\" data-fw=\"");
	putfix(s, s->fontsize * FONT_WIDTH, 3);
	puts_(s, "\" data-pad=\"");
	putfix(s, s->pad_pct, 6);
	puts_(s, "\" data-fh=\"");
	putfix(s, s->fh, 1);
	puts_(s, "\" data-inverted=\"");
	puts_(s, o->inverted ? "1" : "0");
	puts_(s, "\">\n");
	if (o->notes) {
		puts_(s, "<desc>");
		put_esc(s, o->notes);
		puts_(s, "</desc>\n");
	}
	puts_(s, "<defs><linearGradient id=\"");
	puts_(s, s->id);
	puts_(s, "-bg\" x1=\"0\" x2=\"0\" y1=\"0\" y2=\"1\"><stop stop-color=\"#eeeeee\" "
		 "offset=\"5%\"/><stop stop-color=\"#eeeeb0\" offset=\"95%\"/>"
		 "</linearGradient></defs>\n");
	put_style(s);
	puts_(s, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"url(#");
	puts_(s, s->id);
	puts_(s, "-bg)\"/>\n<text class=\"title\" x=\"50%\" y=\"");
	putfix(s, s->fontsize * 2, 1);
	puts_(s, "\" text-anchor=\"middle\">");
	put_esc(s, title);
	puts_(s, "</text>\n");
	if (o->subtitle) {
		puts_(s, "<text class=\"subtitle\" x=\"50%\" y=\"");
		putfix(s, s->fontsize * 4, 1);
		puts_(s, "\" text-anchor=\"middle\">");
		put_esc(s, o->subtitle);
		puts_(s, "</text>\n");
	}
	puts_(s, "<text class=\"details\" x=\"");
	putu(s, XPAD);
	puts_(s, "\" y=\"");
	putfix(s, s->height - s->ypad2 / 2, 1);
	puts_(s, "\"> </text>\n<text class=\"unzoom hide\" x=\"");
	putu(s, XPAD);
	puts_(s, "\" y=\"");
	putfix(s, s->fontsize * 2, 1);
	puts_(s, "\">Reset Zoom</text>\n<text class=\"search\" x=\"100%\" dx=\"-");
	putu(s, XPAD);
	puts_(s, "\" y=\"");
	putfix(s, s->fontsize * 2, 1);
	puts_(s, "\" text-anchor=\"end\">Search</text>\n<text class=\"ic\" x=\"100%\" dx=\"-");
	putfix(s, XPAD + s->fontsize * 5, 0);
	puts_(s, "\" y=\"");
	putfix(s, s->fontsize * 2, 1);
	puts_(s, "\" text-anchor=\"end\">ic</text>\n<text class=\"matched\" x=\"100%\" dx=\"-");
	putu(s, XPAD);
	puts_(s, "\" y=\"");
	putfix(s, s->height - s->ypad2 / 2, 1);
	puts_(s, "\" text-anchor=\"end\"> </text>\n<g class=\"frames\">\n");
}

int svg_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
	      size_t errsz)
{
	static const struct write_opts defaults = {0};
	static const struct svg_opts xdefaults = {0};
	struct profile *rev = NULL;
	struct svg s = {0};
	double min_px, min_samples;
	uint64_t h;
	int rc = 0;

	if (!o)
		o = &defaults;
	if (o->reverse) {
		rev = reversed(p);
		if (!rev)
			return errf(err, errsz, -ENOMEM, "out of memory reversing stacks");
		p = rev;
	}
	s.p = p;
	s.o = o;
	s.f = out;
	s.total = p->nodes[0].total;
	s.x = o->svg ? o->svg : &xdefaults;
	if (s.x->encoding && !svg_encoding_ok(s.x->encoding)) {
		rc = errf(err, errsz, -EINVAL, "bad encoding name '%s'", s.x->encoding);
		goto out;
	}
	/* as flamegraph.pl: a --total below the samples is ignored */
	s.wtotal = s.x->total > (double)s.total ? s.x->total : (double)s.total;
	s.factor = s.x->factor > 0 && isfinite(s.x->factor) ? s.x->factor : 1;
	s.diff = p->base != NULL;
	s.base_total = p->base ? (double)p->base_total : 0;
	s.width = o->width ? o->width : REF_WIDTH;
	s.fontsize = o->fontsize > 0 ? o->fontsize : 12;
	s.fh = o->frame_height ? o->frame_height : 16;
	s.pad_pct = XPAD * 100.0 / s.width;
	s.countname = o->countname ? o->countname : p->meta.countname ? p->meta.countname : "samples";
	s.nametype = o->nametype ? o->nametype : "Function:";
	s.palette = o->colors ? o->colors : "hot";
	min_px = o->minwidth > 0 ? o->minwidth : o->minwidth < 0 ? 0 : 0.1;
	if (o->minwidth_percent)
		min_samples = s.wtotal * (o->minwidth > 0 ? o->minwidth : 0) / 100;
	else
		min_samples = min_px / (s.width - 2 * XPAD) * s.wtotal;
	/* a recording of a command that exited at once has no samples: the file still
	 * opens, and says so, as flamegraph.pl's "No valid input" graph does */
	rc = s.total ? layout(&s, min_samples) : 0;
	if (rc < 0) {
		rc = errf(err, errsz, rc, "out of memory laying out the flame graph");
		goto out;
	}
	if (s.diff) {
		for (size_t i = 0; i < s.nframes; i++) {
			uint32_t n = s.frames[i].node;
			double d = (double)p->nodes[n].total / (double)s.total -
				   (s.base_total > 0 ? (double)p->base[n] / s.base_total : 0);
			if (fabs(d) > s.maxdelta)
				s.maxdelta = fabs(d);
		}
	}
	s.ypad1 = s.fontsize * 3 + (o->subtitle ? s.fontsize * 2 : 0);
	s.ypad2 = s.fontsize * 2 + 10;
	s.height = ceil((s.maxdepth + 1) * s.fh + s.ypad1 + s.ypad2);
	/* one id per graph, from what it shows, so that graphs in one page differ */
	h = hash_u64(s.total ^ hash_u64((uint64_t)s.wtotal) ^ hash_u64(s.nframes) ^ hash_u64((uint64_t)s.maxdepth << 32 | s.diff));
	h ^= hash_u64(((uint64_t)o->inverted << 1 | o->flamechart | (uint64_t)o->width << 8) + h);
	for (size_t i = 0; i < s.nframes && i < 64; i++) {
		size_t nlen;
		const char *nm = display_name(p, s.frames[i].node, &nlen);
		h = hash_bytes(nm, nlen, h ^ p->nodes[s.frames[i].node].total);
	}
	snprintf(s.id, sizeof(s.id), "fg%08x", (unsigned)(h >> 32));

	if (buf_reserve(&s.out, OUT_BLOCK + 4096) < 0)
		s.nomem = true;
	put_document(&s);
	for (size_t i = 0; i < s.nframes; i++) {
		put_frame(&s, &s.frames[i]);
		if (s.out.len >= OUT_BLOCK && flush_out(&s) < 0)
			break;
	}
	puts_(&s, "</g>\n");
	if (!s.total) {
		puts_(&s, "<text class=\"empty\" x=\"50%\" y=\"");
		putfix(&s, s.ypad1 + s.fh, 1);
		puts_(&s, "\" text-anchor=\"middle\">No samples were recorded</text>\n");
	}
	puts_(&s, "<script type=\"text/ecmascript\"><![CDATA[\n");
	puts_(&s, svg_script);
	puts_(&s, "]]></script>\n</svg>\n");
	if (s.nomem) {
		rc = errf(err, errsz, -ENOMEM, "out of memory writing the flame graph");
		goto out;
	}
	if (flush_out(&s) < 0 || ferror(out)) {
		int e = errno ? errno : EIO;
		rc = errf(err, errsz, -e, "cannot write the flame graph: %s", strerror(e));
	}
out:
	buf_release(&s.out);
	free(s.frames);
	profile_free(rev);
	return rc;
}
