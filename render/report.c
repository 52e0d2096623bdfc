/*
 * report: where the time goes, as text.
 *
 * The table has one row per frame name (function): self = samples whose leaf it is,
 * total = samples with it anywhere on the stack, each sample counted once however
 * often the function recurses (as perf report's "children" and pprof's cum). Totals
 * come from one depth-first walk of the trie that keeps, per name, how many times it
 * is on the current path: a node adds its total only when its name is not already
 * on the path above it.
 *
 * The tree prints each node with its total share (of all samples), its self share and
 * its name, indented by depth, children heaviest first, cut below min_share percent.
 * Both are deterministic: ties are broken by name bytes.
 */
#include "render/report.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct row {
	uint32_t name;
	uint64_t self, total;
};

/* Writes a name with control bytes shown as \xNN, so that a hostile name cannot
 * drive the terminal; other bytes (UTF-8 included) pass unchanged. */
static void put_name(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static int cmp_names(const struct profile *p, uint32_t a, uint32_t b)
{
	size_t la, lb;
	const char *sa = profile_name(p, a, &la), *sb = profile_name(p, b, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);

	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

/* What the comparators need, through glibc's qsort_r (no mutable globals). */
struct sort_ctx {
	const struct profile *p;
	bool by_total;
};

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *ctx = arg;
	const struct row *x = a, *y = b;
	bool sort_by_total = ctx->by_total;
	uint64_t kx = sort_by_total ? x->total : x->self, ky = sort_by_total ? y->total : y->self;
	uint64_t sx = sort_by_total ? x->self : x->total, sy = sort_by_total ? y->self : y->total;

	if (kx != ky)
		return kx > ky ? -1 : 1;
	if (sx != sy)
		return sx > sy ? -1 : 1;
	return cmp_names(ctx->p, x->name, y->name);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static const char *unit_word(const struct profile *p, const struct write_opts *o)
{
	if (o->countname)
		return o->countname;
	if (p->meta.countname)
		return p->meta.countname;
	return "samples";
}

static void header(const struct profile *p, const struct write_opts *o, FILE *out)
{
	const char *what = o->title ? o->title : p->meta.title ? p->meta.title : p->meta.command;

	fputs("# scorch report", out);
	if (what) {
		fputs(": ", out);
		put_name(out, what, strlen(what));
	}
	fprintf(out, "\n# %" PRIu64 " %s", p->nodes[0].total, unit_word(p, o));
	if (p->meta.duration_ns)
		fprintf(out, " in %.2f s", (double)p->meta.duration_ns / 1e9);
	if (p->meta.rate_hz)
		fprintf(out, " at %" PRIu32 " Hz", p->meta.rate_hz);
	if (p->meta.lost)
		fprintf(out, ", %" PRIu64 " lost", p->meta.lost);
	fputc('\n', out);
}

static int write_table(const struct profile *p, const struct write_opts *o, FILE *out)
{
	uint64_t *self = NULL, *total = NULL, grand = p->nodes[0].total;
	uint32_t *onpath = NULL;
	struct row *rows = NULL;
	size_t nrows = 0, shown;
	int wself = 4, wtotal = 5, rc = -ENOMEM;
	uint32_t n;

	self = calloc(p->nnames ? p->nnames : 1, sizeof(*self));
	total = calloc(p->nnames ? p->nnames : 1, sizeof(*total));
	onpath = calloc(p->nnames ? p->nnames : 1, sizeof(*onpath));
	if (!self || !total || !onpath)
		goto out;
	/* pre-order walk by parent links (no recursion: stacks may be 10 000 deep) */
	n = p->nodes[0].child;
	while (n != PROFILE_NONE && n != 0) {
		uint32_t f = p->nodes[n].frame;
		if (f < p->nnames) {
			self[f] += p->nodes[n].self;
			if (!onpath[f]++)
				total[f] += p->nodes[n].total;
		}
		if (p->nodes[n].child != PROFILE_NONE) {
			n = p->nodes[n].child;
			continue;
		}
		/* leave n and every ancestor that has no next sibling */
		for (;;) {
			f = p->nodes[n].frame;
			if (f < p->nnames)
				onpath[f]--;
			if (p->nodes[n].next != PROFILE_NONE) {
				n = p->nodes[n].next;
				break;
			}
			n = p->nodes[n].parent;
			if (n == 0)
				break;
		}
	}
	rows = malloc((p->nnames ? p->nnames : 1) * sizeof(*rows));
	if (!rows)
		goto out;
	for (uint32_t i = 0; i < p->nnames; i++)
		if (total[i])
			rows[nrows++] = (struct row){i, self[i], total[i]};
	{
		struct sort_ctx ctx = {p, o->sort_total};
		qsort_r(rows, nrows, sizeof(*rows), cmp_rows, &ctx);
	}
	shown = o->top && o->top < nrows ? o->top : nrows;
	for (size_t i = 0; i < shown; i++) {
		if (digits(rows[i].self) > wself)
			wself = digits(rows[i].self);
		if (digits(rows[i].total) > wtotal)
			wtotal = digits(rows[i].total);
	}
	header(p, o, out);
	fprintf(out, "# %zu functions, sorted by %s", nrows, o->sort_total ? "total" : "self");
	if (shown < nrows)
		fprintf(out, ", top %zu shown", shown);
	fputs("\n\n", out);
	fprintf(out, "%*s %7s  %*s %7s  %s\n", wself, "self", "self%", wtotal, "total", "total%",
		"function");
	for (size_t i = 0; i < shown; i++) {
		size_t len;
		const char *s = profile_name(p, rows[i].name, &len);
		fprintf(out, "%*" PRIu64 " %6.2f%%  %*" PRIu64 " %6.2f%%  ", wself, rows[i].self,
			pct(rows[i].self, grand), wtotal, rows[i].total, pct(rows[i].total, grand));
		put_name(out, s, len);
		fputc('\n', out);
	}
	rc = 0;
out:
	free(self);
	free(total);
	free(onpath);
	free(rows);
	return rc;
}

static int cmp_nodes(const void *a, const void *b, void *arg)
{
	const struct profile *p = arg;
	const struct profile_node *x = &p->nodes[*(const uint32_t *)a];
	const struct profile_node *y = &p->nodes[*(const uint32_t *)b];

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return cmp_names(p, x->frame, y->frame);
}

/* A node waiting to be printed, with its depth. */
struct pending {
	uint32_t node, depth;
};

static int write_tree(const struct profile *p, const struct write_opts *o, FILE *out)
{
	uint64_t grand = p->nodes[0].total;
	struct pending *stack = NULL;
	size_t nstack = 0, stack_cap = 0, kids_cap = 0, cut = 0;
	uint32_t *kids = NULL;
	int wtotal = digits(grand) > 5 ? digits(grand) : 5;
	int rc = -ENOMEM;

	header(p, o, out);
	fprintf(out, "# call tree, children heaviest first");
	if (o->min_share > 0)
		fprintf(out, ", cut below %g%%", o->min_share);
	fputs("\n\n", out);
	fprintf(out, "%7s %*s %7s  %s\n", "total%", wtotal, "total", "self%", "function");
	if (GROW(stack, stack_cap, 1) < 0)
		goto out;
	stack[nstack++] = (struct pending){0, 0};
	while (nstack) {
		struct pending at = stack[--nstack];
		const struct profile_node *nd = &p->nodes[at.node];
		size_t nkids = 0;
		if (at.node != 0) {
			size_t len;
			const char *s = profile_name(p, nd->frame, &len);
			fprintf(out, "%6.2f%% %*" PRIu64 " %6.2f%%  ", pct(nd->total, grand), wtotal,
				nd->total, pct(nd->self, grand));
			/* indent two spaces a level; very deep stacks show their depth instead of
			 * a line of blanks */
			if (at.depth <= 64)
				fprintf(out, "%*s", (int)(2 * (at.depth - 1)), "");
			else
				fprintf(out, "%*s[%" PRIu32 "] ", 2 * 63, "", at.depth);
			put_name(out, s, len);
			fputc('\n', out);
		}
		for (uint32_t c = nd->child; c != PROFILE_NONE; c = p->nodes[c].next) {
			if (pct(p->nodes[c].total, grand) < o->min_share) {
				cut++;
				continue;
			}
			if (GROW(kids, kids_cap, nkids + 1) < 0)
				goto out;
			kids[nkids++] = c;
		}
		if (nkids > 1)
			qsort_r(kids, nkids, sizeof(*kids), cmp_nodes, (void *)p);
		if (GROW(stack, stack_cap, nstack + nkids) < 0)
			goto out;
		/* pushed lightest first so that the heaviest is printed next */
		for (size_t i = nkids; i-- > 0;)
			stack[nstack++] = (struct pending){kids[i], at.depth + 1};
	}
	if (cut)
		fprintf(out, "\n# %zu subtrees under %g%% not shown (--min-share)\n", cut,
			o->min_share);
	rc = 0;
out:
	free(stack);
	free(kids);
	return rc;
}

int report_write(const struct profile *p, const struct write_opts *o, FILE *out, char *err,
		 size_t errsz)
{
	static const struct write_opts defaults = {0};
	int rc;

	if (!o)
		o = &defaults;
	rc = o->tree ? write_tree(p, o, out) : write_table(p, o, out);
	if (rc == -ENOMEM)
		return errf(err, errsz, rc, "out of memory writing the report");
	if (ferror(out)) {
		int e = errno ? errno : EIO;
		return errf(err, errsz, -e, "cannot write the report: %s", strerror(e));
	}
	return rc;
}
