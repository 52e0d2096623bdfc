/*
 * perfscript: `perf script` text to stacks. What perf 6.1 prints, by default:
 *
 *   comm TID [CPU] TIME: PERIOD EVENT:              sample header (comm may hold spaces;
 *   \t    ADDR SYM+0xOFF (DSO)                       "PID/TID" with -F+pid)
 *   \t    ADDR SYM+0xOFF (DSO)                       call chain, leaf first
 *                                                    blank line ends the sample
 * Without a call graph the header carries the one frame after "EVENT:" and the line
 * starts with the comm right-aligned in spaces. With --call-graph dwarf, perf expands
 * inlined functions into extra lines with the same address and "(inlined)" for DSO; the
 * outermost line of such a run is the real function (perf marks it "(inlined)" too).
 * With -F+srcline, a line "  file.c:12" follows each frame, and " (inlined)" moves
 * there. Lines of "perf script --header" start with '#'.
 *
 * Naming follows stackcollapse-perf.pl so that outputs compare: spaces in comm become
 * '_', "+0x.." offsets go, C++ argument lists go (not "(anonymous namespace)" nor Go's
 * "pkg.(*T).m"), ';' becomes ':', quotes go, "[unknown]" becomes "[module]".
 */
#include "render/perfscript.h"

#include "common/buf.h"
#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct pframe {
	uint64_t addr;
	bool has_addr;
	bool marked_inlined; /* perf said "(inlined)" */
	bool kernel;
	size_t off, len; /* cleaned name in reader.names */
};

struct reader {
	struct profile *p;
	const struct perfscript_opts *o;
	struct perfscript_stats *st;
	char *err;
	size_t errsz;

	/* the sample being read */
	bool in_sample, bad, keep;
	uint64_t line_no, count;
	struct buf root; /* comm[-PID[/TID]] */
	struct buf names;
	struct pframe *frames;
	size_t nframes, frames_cap;
	uint32_t *ids;
	size_t ids_cap;
	struct buf tmp;
	bool event_known;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool all_digits(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool parse_hex(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (!len || len > 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return true;
}

/* "1049.329947:" */
static bool is_time(const char *s, size_t len)
{
	if (len < 2 || s[len - 1] != ':' || !isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i + 1 < len; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return false;
	return true;
}

static uint64_t parse_dec(const char *s, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/* Marks the current sample malformed (first reason kept); in strict mode, an error. */
static int bad_sample(struct reader *r, const char *why)
{
	if (r->o->strict)
		return errf(r->err, r->errsz, -EINVAL, "line %" PRIu64 ": %s", r->line_no, why);
	if (!r->bad) {
		r->bad = true;
		if (!r->st->first_bad_line) {
			r->st->first_bad_line = r->line_no;
			snprintf(r->st->first_bad_reason, sizeof(r->st->first_bad_reason), "%s", why);
		}
	}
	return 0;
}

static bool kernel_dso(const char *d, size_t len)
{
	if (len >= 7 && !memcmp(d, "[kernel", 7))
		return true;
	if (len >= 7 && !memcmp(d + len - 7, "vmlinux", 7))
		return true;
	if (len >= 3 && !memcmp(d + len - 3, ".ko", 3))
		return true;
	if (len >= 6 && !memcmp(d + len - 6, ".ko.xz", 6))
		return true;
	if (len >= 7 && !memcmp(d + len - 7, ".ko.zst", 7))
		return true;
	return false;
}

/* Appends the cleaned symbol to r->names: see the naming rules above. */
static int clean_sym(struct reader *r, const char *s, size_t len, const char *dso,
		     size_t dso_len, const struct pframe *f)
{
	size_t start = r->names.len;
	int rc = 0;

	/* "+0x1a" at the end */
	for (size_t i = len; i-- > 1;) {
		if (s[i] == '+' && i + 2 < len && s[i + 1] == '0' && s[i + 2] == 'x') {
			uint64_t v;
			if (parse_hex(s + i + 3, len - i - 3, &v) || len - i - 3 == 0)
				len = i;
			break;
		}
		if (!isxdigit((unsigned char)s[i]) && s[i] != 'x')
			break;
	}
	while (len && is_space(s[len - 1]))
		len--;
	if (!len || (len == 9 && !memcmp(s, "[unknown]", 9))) {
		/* the module's base name instead, as stackcollapse-perf.pl does */
		const char *base = dso;
		for (size_t i = 0; i < dso_len; i++)
			if (dso[i] == '/')
				base = dso + i + 1;
		dso_len -= (size_t)(base - dso);
		if (dso_len && !(dso_len == 7 && !memcmp(base, "unknown", 7)) &&
		    !(dso_len == 7 && !memcmp(base, "inlined", 7))) {
			rc |= buf_addc(&r->names, '[');
			for (size_t i = 0; i < dso_len; i++)
				if (base[i] != ';' && base[i] != '[' && base[i] != ']')
					rc |= buf_addc(&r->names, base[i]);
			rc |= buf_addc(&r->names, ']');
		} else {
			rc |= buf_adds(&r->names, "[unknown]");
		}
		if (r->o->addrs && f->has_addr)
			rc |= buf_printf(&r->names, "+0x%" PRIx64, f->addr);
		return rc ? -ENOMEM : (int)(r->names.len - start);
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '(' && i > 0 && s[i - 1] != '.') {
			if (len - i >= 21 && !memcmp(s + i, "(anonymous namespace)", 21)) {
				rc |= buf_add(&r->names, s + i, 21);
				i += 20;
				continue;
			}
			if (len - i >= 3 && !memcmp(s + i, "()(", 3)) { /* operator()(...) */
				rc |= buf_add(&r->names, "()", 2);
				i++;
				continue;
			}
			break; /* the argument list */
		}
		if (c == '"' || c == '\'')
			continue;
		rc |= buf_addc(&r->names, c == ';' ? ':' : c);
	}
	if (r->names.len == start)
		rc |= buf_adds(&r->names, "[unknown]");
	return rc ? -ENOMEM : (int)(r->names.len - start);
}

/* One frame "ADDR SYM+0xOFF (DSO)" (ADDR and DSO optional); s is trimmed. */
static int add_frame(struct reader *r, const char *s, size_t len)
{
	struct pframe f = {0};
	const char *sym = s, *dso = "";
	size_t sym_len = len, dso_len = 0, tok = 0;
	int n;

	while (tok < len && !is_space(s[tok]))
		tok++;
	if (tok < len && parse_hex(s, tok, &f.addr)) {
		f.has_addr = true;
		sym = s + tok;
		sym_len = len - tok;
		while (sym_len && is_space(*sym)) {
			sym++;
			sym_len--;
		}
	} else if (tok == len && parse_hex(s, tok, &f.addr)) {
		f.has_addr = true; /* an address alone (-F ip) */
		sym_len = 0;
	}
	/* the DSO is the last parenthesised group, after a space */
	if (sym_len && sym[sym_len - 1] == ')') {
		int depth = 0;
		for (size_t i = sym_len; i-- > 0;) {
			if (sym[i] == ')')
				depth++;
			else if (sym[i] == '(' && --depth == 0) {
				if (i == 0 || is_space(sym[i - 1])) {
					dso = sym + i + 1;
					dso_len = sym_len - i - 2;
					sym_len = i;
				}
				break;
			}
		}
	}
	while (sym_len && is_space(sym[sym_len - 1]))
		sym_len--;
	if (dso_len == 7 && !memcmp(dso, "inlined", 7))
		f.marked_inlined = true;
	f.kernel = (f.has_addr && f.addr >= 0xffff800000000000ULL) || kernel_dso(dso, dso_len);
	f.off = r->names.len;
	n = clean_sym(r, sym, sym_len, dso, dso_len, &f);
	if (n < 0)
		return n;
	f.len = (size_t)n;
	if (GROW(r->frames, r->frames_cap, r->nframes + 1) < 0)
		return -ENOMEM;
	r->frames[r->nframes++] = f;
	return 0;
}

/* Adds the sample read so far, if it is whole and of the kept event. */
static int end_sample(struct reader *r)
{
	size_t n = 0;
	int64_t rc;

	if (!r->in_sample)
		return 0;
	r->in_sample = false;
	if (r->bad) {
		r->st->skipped++;
		return 0;
	}
	if (!r->keep)
		return 0;
	if (GROW(r->ids, r->ids_cap, r->nframes + 1) < 0)
		return -ENOMEM;
	r->ids[n] = profile_intern_kind(r->p, r->root.p ? r->root.p : "", r->root.len,
					PROFILE_KIND_ROOT);
	if (r->ids[n++] == PROFILE_NONE)
		return -ENOMEM;
	for (size_t i = r->nframes; i-- > 0;) {
		const struct pframe *f = &r->frames[i];
		/* inlined: perf said so, and the next frame out has the same address (the
		 * outermost line of an inline run is the function the code is in) */
		bool inlined = f->marked_inlined && i + 1 < r->nframes &&
			       (!f->has_addr || !r->frames[i + 1].has_addr ||
				r->frames[i + 1].addr == f->addr);
		const char *suffix = f->kernel ? "_[k]" : inlined ? "_[i]" : "";
		if (f->kernel && r->o->no_kernel)
			continue;
		buf_reset(&r->tmp);
		if (buf_add(&r->tmp, r->names.p + f->off, f->len) < 0 || buf_adds(&r->tmp, suffix) < 0)
			return -ENOMEM;
		r->ids[n] = profile_intern(r->p, r->tmp.p, r->tmp.len);
		if (r->ids[n++] == PROFILE_NONE)
			return -ENOMEM;
	}
	rc = profile_add(r->p, r->ids, n, r->count);
	if (rc < 0)
		return (int)rc;
	r->st->samples++;
	return 0;
}

/* Parses a sample header; false if line is not one (then nothing is changed). */
static int parse_header(struct reader *r, const char *s, size_t len, bool *is_header)
{
	bool at_col0 = len && !is_space(s[0]);
	size_t i = 0, comm_end = 0, num_start = 0, num_end = 0, slash = 0;
	uint64_t pid = 0, tid = 0, period = 0;
	bool have_pid = false, have_period = false, have_time = false, have_event = false;
	const char *event = NULL, *rest = NULL;
	size_t event_len = 0, rest_len = 0;
	int rc;

	*is_header = false;
	while (i < len && is_space(s[i]))
		i++;
	s += i;
	len -= i;
	/* the first " DIGITS[/DIGITS] " after a non-empty comm (comm may hold spaces) */
	for (i = 1; i < len; i++) {
		size_t j;
		if (!is_space(s[i - 1]) || !isdigit((unsigned char)s[i]))
			continue;
		j = i;
		while (j < len && isdigit((unsigned char)s[j]))
			j++;
		slash = 0;
		if (j < len && s[j] == '/' && j + 1 < len && isdigit((unsigned char)s[j + 1])) {
			slash = j;
			j++;
			while (j < len && isdigit((unsigned char)s[j]))
				j++;
		}
		if (j < len && !is_space(s[j]))
			continue;
		comm_end = i - 1;
		num_start = i;
		num_end = j;
		break;
	}
	if (!num_end)
		return 0;
	while (comm_end && is_space(s[comm_end - 1]))
		comm_end--;
	if (!comm_end)
		return 0;
	if (slash) {
		pid = parse_dec(s + num_start, slash - num_start);
		tid = parse_dec(s + slash + 1, num_end - slash - 1);
		have_pid = true;
	} else {
		tid = parse_dec(s + num_start, num_end - num_start);
	}
	/* then [CPU], TIME:, PERIOD, EVENT: in that order, each optional */
	for (i = num_end; i < len;) {
		size_t t;
		while (i < len && is_space(s[i]))
			i++;
		if (i >= len)
			break;
		t = i;
		while (t < len && !is_space(s[t]))
			t++;
		if (s[i] == '[' && s[t - 1] == ']') {
			/* cpu */
		} else if (!have_time && is_time(s + i, t - i)) {
			have_time = true;
		} else if (all_digits(s + i, t - i)) {
			period = parse_dec(s + i, t - i);
			have_period = true;
		} else if (s[t - 1] == ':') {
			event = s + i;
			event_len = t - i - 1;
			have_event = true;
			rest = s + t;
			rest_len = len - t;
			break;
		}
		i = t;
	}
	/* "comm TID" alone is a header (perf script -F comm,tid,ip,sym) only at column 0:
	 * an indented "name 12" is a srcline line or stray text */
	if (!have_time && !have_event && !have_period) {
		size_t k = num_end;
		while (k < len && is_space(s[k]))
			k++;
		if (!at_col0 || k < len)
			return 0;
	}
	*is_header = true;
	rc = end_sample(r);
	if (rc < 0)
		return rc;
	r->in_sample = true;
	r->bad = false;
	r->nframes = 0;
	buf_reset(&r->names);
	buf_reset(&r->root);

	/* event filter: the one asked for, or the first seen */
	r->keep = true;
	if (have_event) {
		if (r->o->event) {
			r->keep = strlen(r->o->event) == event_len && !memcmp(r->o->event, event, event_len);
			if (!r->keep) {
				/* "cpu-clock" also matches "cpu-clock:ppp" */
				const char *colon = memchr(event, ':', event_len);
				size_t base = colon ? (size_t)(colon - event) : event_len;
				r->keep = strlen(r->o->event) == base && !memcmp(r->o->event, event, base);
			}
		} else if (!r->event_known) {
			snprintf(r->st->event, sizeof(r->st->event), "%.*s",
				 (int)(event_len < 63 ? event_len : 63), event);
			r->event_known = true;
		} else {
			r->keep = strlen(r->st->event) == event_len &&
				  !memcmp(r->st->event, event, event_len);
		}
		if (r->o->event && r->keep && !r->event_known) {
			snprintf(r->st->event, sizeof(r->st->event), "%.*s",
				 (int)(event_len < 63 ? event_len : 63), event);
			r->event_known = true;
		}
		if (!r->keep)
			r->st->other_events++;
	}
	r->count = 1;
	if (r->o->period) {
		if (have_period)
			r->count = period;
		else
			r->st->no_period = true;
	}
	/* root frame: comm (spaces as '_'), then -PID or -PID/TID */
	for (i = 0; i < comm_end; i++) {
		char c = s[i];
		rc = buf_addc(&r->root, is_space(c) ? '_' : c == ';' ? ':' : c);
		if (rc < 0)
			return rc;
	}
	if (r->o->pid || r->o->tid) {
		if (!have_pid)
			r->st->no_pid = true;
		if (have_pid)
			rc = buf_printf(&r->root, "-%" PRIu64, pid);
		else
			rc = buf_adds(&r->root, "-?");
		if (rc == 0 && r->o->tid)
			rc = buf_printf(&r->root, "/%" PRIu64, tid);
		if (rc < 0)
			return rc;
	}
	/* no call graph: the frame is on the header line */
	while (rest_len && is_space(*rest)) {
		rest++;
		rest_len--;
	}
	while (rest_len && is_space(rest[rest_len - 1]))
		rest_len--;
	if (rest_len) {
		rc = add_frame(r, rest, rest_len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_line(struct reader *r, char *line, size_t len, bool last_unterminated)
{
	size_t end = len, start = 0;
	bool is_header = false;
	int rc;

	while (end && (line[end - 1] == '\n' || line[end - 1] == '\r'))
		end--;
	while (start < end && is_space(line[start]))
		start++;
	if (start == end) /* blank: the sample ends */
		return end_sample(r);
	if (line[start] == '#' && !r->in_sample)
		return 0;
	if (memchr(line, 0, len) || last_unterminated) {
		/* binary junk, or the input stops in the middle of a line: the sample is cut */
		if (!r->in_sample) {
			r->in_sample = true;
			r->keep = false;
		}
		return bad_sample(r, last_unterminated ? "input cut off in the middle of a line"
						       : "NUL byte in a line");
	}
	if (line[0] != '\t') {
		rc = parse_header(r, line, end, &is_header);
		if (rc < 0 || is_header)
			return rc;
		if (line[0] != ' ') {
			/* neither a header nor a frame: skip until the next blank line */
			if (!r->in_sample) {
				r->in_sample = true;
				r->keep = false;
			}
			return bad_sample(r, "not a sample header (comm, TID, time, event)");
		}
		/* "  file.c:12 (inlined)": a srcline line; its "(inlined)" is the frame's */
		if (r->in_sample && r->nframes && end - start >= 9 &&
		    !memcmp(line + end - 9, "(inlined)", 9))
			r->frames[r->nframes - 1].marked_inlined = true;
		return 0;
	}
	if (!r->in_sample) {
		r->in_sample = true;
		r->keep = false;
		return bad_sample(r, "a call chain line outside a sample");
	}
	return add_frame(r, line + start, end - start);
}

/* perf script lines are short; a longer one means the input is something else
 * (a binary, /dev/zero), and reading it whole would take all memory */
#define PERFSCRIPT_MAX_LINE (64u << 20)

/* Reads the next line (with its newline, if any) into b: its length, 0 at the end,
 * -E2BIG past PERFSCRIPT_MAX_LINE, -ENOMEM. Unlike getline() the memory is bounded;
 * NUL bytes are kept (they make the line malformed, not shorter). */
static ssize_t next_line(FILE *in, struct buf *b)
{
	int c = 0;

	buf_reset(b);
	while (c != '\n') {
		if (b->len + 1 >= b->cap) { /* room for this byte and the NUL */
			size_t extra = b->cap ? b->cap : 256;
			if (b->len + 1 >= PERFSCRIPT_MAX_LINE)
				return -E2BIG;
			/* grow by doubling, but never past the limit (a power of two, as
			 * the capacities are): one more byte would double to 128 MiB */
			if (b->len + extra + 1 > PERFSCRIPT_MAX_LINE)
				extra = PERFSCRIPT_MAX_LINE - b->len - 1;
			if (buf_reserve(b, extra) < 0)
				return -ENOMEM;
		}
		c = getc_unlocked(in);
		if (c == EOF)
			break;
		b->p[b->len++] = (char)c;
	}
	if (b->p)
		b->p[b->len] = 0;
	return (ssize_t)b->len;
}

int perfscript_read(struct profile *p, FILE *in, const struct perfscript_opts *o,
		    struct perfscript_stats *st, char *err, size_t errsz)
{
	static const struct perfscript_opts defaults = {0};
	struct perfscript_stats dummy;
	struct reader r;
	struct buf lb = BUF_INIT;
	char *line;
	ssize_t n;
	int rc = 0;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	r.p = p;
	r.o = o ? o : &defaults;
	r.st = st;
	r.err = err;
	r.errsz = errsz;
	errno = 0;
	while ((n = next_line(in, &lb)) > 0) {
		line = lb.p;
		st->lines++;
		r.line_no = st->lines;
		if (st->lines == 1 && n >= 8 && !memcmp(line, "PERFILE2", 8)) {
			rc = errf(err, errsz, -EINVAL,
				  "this is a perf.data file, not perf script text: run 'perf "
				  "script -i FILE | scorch collapse perf'");
			goto out;
		}
		rc = read_line(&r, line, (size_t)n, line[n - 1] != '\n');
		if (rc < 0)
			goto out;
	}
	if (n == -E2BIG) {
		rc = errf(err, errsz, -EINVAL,
			  "line %llu is longer than %u MiB: not perf script text",
			  (unsigned long long)st->lines + 1, PERFSCRIPT_MAX_LINE >> 20);
		goto out;
	}
	if (n == -ENOMEM) {
		rc = -ENOMEM;
		goto out;
	}
	if (ferror(in)) {
		int e = errno ? errno : EIO;
		rc = errf(err, errsz, -e, "cannot read the input: %s", strerror(e));
		goto out;
	}
	rc = end_sample(&r);
out:
	if (rc == -ENOMEM)
		errf(err, errsz, rc, "out of memory reading perf script output");
	else if (rc == -EOVERFLOW)
		errf(err, errsz, rc, "a count passes 2^64-1");
	buf_release(&lb);
	buf_release(&r.root);
	buf_release(&r.names);
	buf_release(&r.tmp);
	free(r.frames);
	free(r.ids);
	return rc;
}
