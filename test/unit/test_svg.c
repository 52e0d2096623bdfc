/* Unit tests of render/svg.h: escaping, label truncation, pruning, determinism,
 * options, differential colours. */
#include "render/profile.h"
#include "render/svg.h"
#include "render/write.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Adds the stack "a;b;c" (split on ';') with count. */
static void add(struct profile *p, const char *stack, uint64_t count)
{
	uint32_t ids[64];
	size_t n = 0;
	const char *s = stack;

	for (;;) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);
		ids[n++] = profile_intern(p, s, len);
		if (!semi)
			break;
		s = semi + 1;
	}
	assert_true(profile_add(p, ids, n, count) >= 0);
}

static void add_diff(struct profile *p, const char *stack, uint64_t before, uint64_t after)
{
	uint32_t ids[64];
	size_t n = 0;
	const char *s = stack;

	for (;;) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);
		ids[n++] = profile_intern(p, s, len);
		if (!semi)
			break;
		s = semi + 1;
	}
	assert_true(profile_add_diff(p, ids, n, before, after) >= 0);
}

/* The SVG of p (caller frees). */
static char *svg(const struct profile *p, const struct write_opts *o, size_t *len)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	char err[128];

	assert_non_null(f);
	assert_int_equal(svg_write(p, o, f, err, sizeof(err)), 0);
	fclose(f);
	if (len)
		*len = n;
	return s;
}

/* Whether s[0..len) is valid UTF-8 made only of characters XML 1.0 allows. */
static bool xml_chars_ok(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned c = u[i];
		uint32_t cp;
		size_t n;
		if (c < 0x80) {
			if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else
			return false;
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (u[i + k] & 0x3f);
		}
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff || cp > 0x10ffff ||
		    (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
			return false;
		i += n;
	}
	return true;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The frame <g ...>...</g> whose title starts with name + " (" (NULL if none). */
static const char *frame_of(const char *doc, const char *name)
{
	char want[512];

	snprintf(want, sizeof(want), "<title>%s (", name);
	return strstr(doc, want);
}

/* The value of attribute attr in the first element after at. */
static double attr_after(const char *at, const char *attr)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), " %s=\"", attr);
	p = strstr(at, want);
	assert_non_null(p);
	return strtod(p + strlen(want), NULL);
}

static void test_escaping_any_bytes(void **state)
{
	struct profile *p = profile_new();
	static const char nasty[] = "a&b<c>d\"e'f\x01\x1f\x7f\xff\xfe\xc3(\xed\xa0\x80\xef\xbf\xbe"
				    "\xf4\x90\x80\x80\xe2\x82\xac ok";
	uint32_t ids[2];
	size_t len;
	char *s;

	(void)state;
	ids[0] = profile_intern(p, "main", 4);
	ids[1] = profile_intern(p, nasty, sizeof(nasty) - 1);
	assert_true(profile_add(p, ids, 2, 5) >= 0);
	ids[1] = profile_intern(p, "</text><script>alert(1)</script>", 32);
	assert_true(profile_add(p, ids, 2, 5) >= 0);
	ids[1] = profile_intern(p, "nul\0byte", 8);
	assert_true(profile_add(p, ids, 2, 5) >= 0);
	s = svg(p, NULL, &len);
	assert_true(xml_chars_ok(s, len));
	assert_int_equal(count(s, "<script"), 1);
	assert_non_null(strstr(s, "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	/* every byte that XML cannot hold shows as U+FFFD, one per bad byte; the valid
	 * euro sign stays */
	assert_non_null(strstr(s, "<title>a&amp;b&lt;c&gt;d&quot;e&#39;f\xef\xbf\xbd\xef\xbf\xbd"
				  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd("));
	assert_non_null(strstr(s, "\xe2\x82\xac ok ("));
	assert_non_null(strstr(s, "<title>nul\xef\xbf\xbd" "byte ("));
	free(s);
	profile_free(p);
}

static void test_truncation_on_boundaries(void **state)
{
	struct profile *p = profile_new();
	char name[400];
	char *s;
	const char *g, *t, *end;

	(void)state;
	/* 100 ampersands and 100 two-byte characters: cut labels must hold whole
	 * entities and whole characters */
	memset(name, '&', 100);
	for (int i = 0; i < 100; i++)
		memcpy(name + 100 + 2 * i, "\xc3\xa9", 2);
	name[300] = 0;
	add(p, "root", 1);
	{
		uint32_t ids[2] = {profile_intern(p, "root", 4), profile_intern(p, name, 300)};
		assert_true(profile_add(p, ids, 2, 30) >= 0);
		assert_true(profile_add(p, ids, 1, 69) >= 0);
	}
	s = svg(p, NULL, NULL);
	g = strstr(s, "<title>&amp;&amp;");
	assert_non_null(g);
	t = strstr(g, "<text");
	assert_non_null(t);
	t = strchr(t, '>') + 1;
	end = strstr(t, "</text>");
	assert_non_null(end);
	assert_true(end - t > 10);
	assert_memory_equal(end - 2, "..", 2);
	for (const char *q = t; q < end - 2;) {
		if (*q == '&') {
			assert_memory_equal(q, "&amp;", 5);
			q += 5;
		} else {
			assert_memory_equal(q, "\xc3\xa9", 2);
			q += 2;
		}
	}
	free(s);
	profile_free(p);
}

static void test_pruning_keeps_samples(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {0};
	char *s;
	const char *big;

	(void)state;
	add(p, "main;big", 1000000);
	for (int i = 0; i < 50; i++) {
		char stack[64];
		snprintf(stack, sizeof(stack), "main;tiny%02d", i);
		add(p, stack, 1);
	}
	s = svg(p, NULL, NULL);
	assert_null(frame_of(s, "tiny00"));
	assert_non_null(frame_of(s, "big"));
	big = frame_of(s, "main");
	assert_non_null(big);
	assert_non_null(strstr(s, "<g data-n=\"1000050\"><title>main ("));
	assert_non_null(strstr(s, "<title>all (1,000,050 samples, 100.00%)"));
	free(s);
	/* --minwidth 0 (negative here) keeps everything */
	o.minwidth = -1;
	s = svg(p, &o, NULL);
	assert_non_null(frame_of(s, "tiny00"));
	assert_non_null(frame_of(s, "tiny49"));
	free(s);
	/* as a percentage: 50% drops big's sibling set but not big */
	o.minwidth = 50;
	o.minwidth_percent = true;
	s = svg(p, &o, NULL);
	assert_non_null(frame_of(s, "big"));
	assert_null(frame_of(s, "tiny00"));
	free(s);
	o.minwidth = 99.999;
	s = svg(p, &o, NULL);
	assert_null(frame_of(s, "big"));
	assert_non_null(frame_of(s, "main"));
	free(s);
	profile_free(p);
}

static void test_deterministic_and_order_independent(void **state)
{
	struct profile *a = profile_new(), *b = profile_new();
	char *sa, *sb, *sa2;

	(void)state;
	add(a, "main;x;y", 5);
	add(a, "main;w", 3);
	add(a, "other_[k]", 2);
	add(b, "other_[k]", 2);
	add(b, "main;w", 3);
	add(b, "main;x;y", 5);
	sa = svg(a, NULL, NULL);
	sa2 = svg(a, NULL, NULL);
	sb = svg(b, NULL, NULL);
	assert_string_equal(sa, sa2);
	assert_string_equal(sa, sb);
	/* name order: w left of x; annotations stripped from the text */
	assert_true(attr_after(frame_of(sa, "w"), "x") < attr_after(frame_of(sa, "x"), "x"));
	assert_non_null(frame_of(sa, "other"));
	assert_null(strstr(sa, "_[k]"));
	free(sa);
	free(sa2);
	free(sb);
	profile_free(a);
	profile_free(b);
}

static void test_options(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {0};
	char *s;

	(void)state;
	add(p, "main;light;leaf", 2);
	add(p, "main;zheavy", 8);
	/* zeroed options: the defaults, as scorch record uses them */
	s = svg(p, &o, NULL);
	assert_non_null(strstr(s, ">Flame Graph</text>"));
	assert_non_null(strstr(s, "width=\"100%\""));
	assert_non_null(strstr(s, "Function:"));
	free(s);
	/* --sort weight: the heavier child first */
	o.sort_weight = true;
	s = svg(p, &o, NULL);
	assert_true(attr_after(frame_of(s, "zheavy"), "x") < attr_after(frame_of(s, "light"), "x"));
	free(s);
	/* --inverted: root at the top; a title of its own */
	o = (struct write_opts){.inverted = true};
	s = svg(p, &o, NULL);
	assert_non_null(strstr(s, ">Icicle Graph</text>"));
	assert_true(attr_after(frame_of(s, "all"), "y") < attr_after(frame_of(s, "leaf"), "y"));
	free(s);
	/* --reverse on a built profile: leaves become roots */
	o = (struct write_opts){.reverse = true};
	s = svg(p, &o, NULL);
	assert_true(attr_after(frame_of(s, "leaf"), "y") > attr_after(frame_of(s, "light"), "y"));
	assert_true(attr_after(frame_of(s, "light"), "y") > attr_after(frame_of(s, "main"), "y"));
	free(s);
	/* fixed width, title, subtitle, countname, nametype, notes, font, colours */
	o = (struct write_opts){.width = 800, .title = "T<1>", .subtitle = "S&2",
				.countname = "bytes", .nametype = "Fn:", .notes = "n]]>--",
				.fonttype = "Mono\"}<x>", .fontsize = 9, .frame_height = 20,
				.colors = "blue"};
	s = svg(p, &o, NULL);
	assert_non_null(strstr(s, "width=\"800\" viewBox=\"0 0 800 "));
	assert_non_null(strstr(s, ">T&lt;1&gt;</text>"));
	assert_non_null(strstr(s, ">S&amp;2</text>"));
	assert_non_null(strstr(s, "(8 bytes, 80.00%)"));
	assert_non_null(strstr(s, "data-nametype=\"Fn:\""));
	assert_non_null(strstr(s, "<desc>n]]&gt;--</desc>"));
	assert_non_null(strstr(s, "font-family:\"Mono}x\""));
	assert_non_null(strstr(s, "height=\"19.0\""));
	free(s);
	/* the profile's own title and count unit when the options give none */
	profile_set(&p->meta.title, "recorded");
	profile_set(&p->meta.countname, "ns");
	s = svg(p, NULL, NULL);
	assert_non_null(strstr(s, ">recorded</text>"));
	assert_non_null(strstr(s, "(8 ns, 80.00%)"));
	free(s);
	profile_free(p);
}

static void test_flamechart_keeps_order(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {.flamechart = true};
	char *s;

	(void)state;
	p->flamechart = true;
	add(p, "main;zz", 1);
	add(p, "main;aa", 1);
	add(p, "main;zz", 1);
	s = svg(p, &o, NULL);
	assert_non_null(strstr(s, ">Flame Chart</text>"));
	assert_int_equal(count(s, "<title>zz ("), 2);
	{
		const char *z = frame_of(s, "zz"), *a = frame_of(s, "aa");
		assert_true(attr_after(z, "x") < attr_after(a, "x"));
	}
	free(s);
	profile_free(p);
}

static void test_differential_colours(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {0};
	char *s;
	const char *g;

	(void)state;
	add_diff(p, "main;grew", 10, 50);
	add_diff(p, "main;shrank", 50, 10);
	add_diff(p, "main;same", 20, 20);
	s = svg(p, NULL, NULL);
	g = frame_of(s, "grew");
	assert_non_null(strstr(g, "fill=\"#ff"));
	assert_non_null(strstr(frame_of(s, "grew"), "before 10, 12.50%; +50.00%"));
	g = frame_of(s, "shrank");
	{
		const char *fill = strstr(g, "fill=\"#");
		assert_non_null(fill);
		assert_memory_equal(fill + 11, "ff", 2); /* blue channel full */
		assert_memory_not_equal(fill + 7, "ff", 2);
	}
	assert_non_null(strstr(frame_of(s, "same"), "fill=\"#ffffff\""));
	assert_non_null(strstr(s, "data-base-total=\"80\""));
	free(s);
	o.negate = true;
	s = svg(p, &o, NULL);
	g = strstr(frame_of(s, "grew"), "fill=\"#");
	assert_memory_equal(g + 11, "ff", 2);
	free(s);
	profile_free(p);
}

static void test_empty_profile_is_a_small_valid_graph(void **state)
{
	struct profile *p = profile_new();
	char *s;

	(void)state;
	/* a command that exits at once leaves no samples: the graph still opens and says so */
	s = svg(p, NULL, NULL);
	assert_non_null(strstr(s, "No samples were recorded"));
	assert_non_null(strstr(s, "data-total=\"0\""));
	assert_null(strstr(s, "<g data-n="));
	assert_non_null(strstr(s, "</svg>\n"));
	free(s);
	profile_free(p);
}

static void test_ids_scoped(void **state)
{
	struct profile *a = profile_new(), *b = profile_new();
	char *sa, *sb, ida[32], idb[32];

	(void)state;
	add(a, "main;x", 1);
	add(b, "main;y", 2);
	sa = svg(a, NULL, NULL);
	sb = svg(b, NULL, NULL);
	assert_int_equal(sscanf(strstr(sa, " id=\""), " id=\"%31[^\"]", ida), 1);
	assert_int_equal(sscanf(strstr(sb, " id=\""), " id=\"%31[^\"]", idb), 1);
	assert_string_not_equal(ida, idb);
	/* every CSS rule is under the graph's id */
	{
		const char *st = strstr(sa, "<style"), *en = strstr(sa, "</style>");
		for (const char *q = strstr(st, "\n") + 1; q < en; q = strchr(q, '\n') + 1) {
			if (*q == '@' || *q == '}' || *q == ']')
				continue;
			assert_int_equal(strncmp(q + 1, ida, strlen(ida)), 0);
		}
	}
	free(sa);
	free(sb);
	profile_free(a);
	profile_free(b);
}


/* ---- --total, --factor, --encoding, --nameattr, the palette ---- */

static void test_total_and_factor(void **state)
{
	struct profile *p = profile_new();
	struct svg_opts x = {.total = 2000, .factor = 0.5};
	struct write_opts o = {.width = 1200, .svg = &x};
	char *a, *b, *c;

	(void)state;
	add(p, "a;b", 600);
	add(p, "a;c", 400);
	a = svg(p, &o, NULL);
	/* the root spans the width and counts the --total; a is half as wide */
	assert_non_null(strstr(a, "data-total=\"1000\""));
	assert_non_null(strstr(a, "<title>all (1,000 samples, 100.00%)</title><rect x=\"0.8333%\" "
				  "y=\"68.0\" width=\"98.3333%\""));
	assert_non_null(strstr(a, "<title>a (500 samples, 50.00%)</title><rect x=\"0.8333%\" "
				  "y=\"52.0\" width=\"49.1667%\""));
	assert_non_null(strstr(a, "<g data-n=\"300\" data-s=\"300\"><title>b (300 samples, "
				  "30.00%)</title>"));
	/* a total at or below the samples changes nothing; factor 0 means 1 */
	x = (struct svg_opts){.total = 999};
	b = svg(p, &o, NULL);
	o.svg = NULL;
	c = svg(p, &o, NULL);
	assert_string_equal(b, c);
	assert_non_null(strstr(c, "<title>b (600 samples, 60.00%)</title>"));
	free(a);
	free(b);
	free(c);
	profile_free(p);
}

static void test_encoding(void **state)
{
	struct profile *p = profile_new();
	struct svg_opts x = {.encoding = "ISO-8859-1"};
	struct write_opts o = {.svg = &x};
	char *s, err[128];
	FILE *f;

	(void)state;
	assert_true(svg_encoding_ok("UTF-8"));
	assert_true(svg_encoding_ok("windows-1252"));
	assert_true(svg_encoding_ok("x.y_z"));
	assert_false(svg_encoding_ok(""));
	assert_false(svg_encoding_ok("8bit"));
	assert_false(svg_encoding_ok("a\"b"));
	assert_false(svg_encoding_ok("a b"));
	assert_false(svg_encoding_ok("a>"));
	add(p, "a", 1);
	s = svg(p, &o, NULL);
	assert_memory_equal(s, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone", 52);
	free(s);
	x.encoding = "x\" onload=\"y";
	f = fopen("/dev/null", "w");
	assert_int_equal(svg_write(p, &o, f, err, sizeof(err)), -EINVAL);
	fclose(f);
	profile_free(p);
}

/* A file in a fresh folder holding text; the folder in dir. */
static char *temp_file(char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	strcpy(dir, "/tmp/scorch-test-svgXXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	if (text) {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static void remove_temp(char *dir, char *path)
{
	unlink(path);
	rmdir(dir);
	free(path);
}

static void test_nameattr(void **state)
{
	static const char *const bad[] = {
		"b\tonclick=x\n",
		"b\tg_extra=ONLOAD='x'\n",
		"b\thref=javascript:x\n",
		"b\thref=vbscript:x\n",
		"b\thref=\x01javascript:x\n",
		"b\tg_extra=x=\"1\" x=\"2\"\n",
		"b\tx y=1\n",
		"b\t=1\n",
		"b\n",
		"b\tg_extra=x\n",
		"b\tdata-s=1\n",
	};
	struct profile *p = profile_new();
	struct svg_nameattr *na = NULL;
	struct svg_opts x = {0};
	struct write_opts o = {.svg = &x};
	char dir[64], err[256], *path, *s;

	(void)state;
	add(p, "a;b", 6);
	add(p, "a;c", 4);
	path = temp_file(dir, "na", "b\tid=i&1\ttitle=<T>\thref=/doc?a&b\tg_extra=k='\"v\"'\n"
				    "c\tclass=z\n");
	assert_int_equal(svg_nameattr_read(&na, path, err, sizeof(err)), 0);
	x.nameattr = na;
	s = svg(p, &o, NULL);
	assert_non_null(strstr(s, "xmlns:xlink=\"http://www.w3.org/1999/xlink\""));
	assert_non_null(strstr(s, "<a data-n=\"6\" data-s=\"6\" xlink:href=\"/doc?a&amp;b\" "
				  "target=\"_top\" id=\"i&amp;1\" k=\"&quot;v&quot;\"><title>&lt;T&gt;"
				  "</title>"));
	assert_non_null(strstr(s, "</text></a>\n"));
	assert_non_null(strstr(s, "<g data-n=\"4\" data-s=\"4\" class=\"z\"><title>c (4 "));
	free(s);
	svg_nameattr_free(na);
	remove_temp(dir, path);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];
		path = temp_file(dir, "na", bad[i]);
		na = (struct svg_nameattr *)1;
		assert_int_equal(svg_nameattr_read(&na, path, err, sizeof(err)), -EINVAL);
		assert_null(na);
		snprintf(want, sizeof(want), "%s:1: ", path);
		assert_memory_equal(err, want, strlen(want));
		remove_temp(dir, path);
	}
	path = temp_file(dir, "missing", NULL);
	assert_int_equal(svg_nameattr_read(&na, path, err, sizeof(err)), -ENOENT);
	remove_temp(dir, path);
	profile_free(p);
}

static void test_palette(void **state)
{
	struct profile *p = profile_new(), *q = profile_new();
	struct svg_palette *pal;
	struct svg_opts x = {0};
	struct write_opts o = {.svg = &x};
	char dir[64], err[256], *path, *a, *b, text[256];
	FILE *f;

	(void)state;
	add(p, "a;b", 6);
	add(p, "a;-;c", 4);
	add(q, "a;b", 1);
	path = temp_file(dir, "palette.map", NULL);
	assert_int_equal(svg_palette_read(&pal, path, err, sizeof(err)), 0);
	x.palette = pal;
	a = svg(p, &o, NULL);
	assert_int_equal(svg_palette_write(pal, path, err, sizeof(err)), 0);
	svg_palette_free(pal);
	f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = 0;
	fclose(f);
	/* sorted; neither the root nor the grey separator "-" */
	assert_int_equal(strncmp(text, "a->rgb(", 7), 0);
	assert_non_null(strstr(text, "\nb->rgb("));
	assert_non_null(strstr(text, "\nc->rgb("));
	assert_null(strstr(text, "\n-->"));
	/* read back: the same colours, so the same bytes */
	assert_int_equal(svg_palette_read(&pal, path, err, sizeof(err)), 0);
	x.palette = pal;
	o.hash = true; /* the palette wins over the hash colours */
	b = svg(p, &o, NULL);
	assert_string_equal(a, b);
	free(b);
	svg_palette_free(pal);
	free(a);
	/* a colour set by hand */
	f = fopen(path, "w");
	fputs("b->rgb(1, 2,3)\n\r\n", f);
	fclose(f);
	assert_int_equal(svg_palette_read(&pal, path, err, sizeof(err)), 0);
	x.palette = pal;
	a = svg(q, &o, NULL);
	assert_non_null(strstr(a, "fill=\"#010203\""));
	free(a);
	svg_palette_free(pal);
	f = fopen(path, "w");
	fputs("b->rgb(1,2,3)\nc->rgb(1,2,3\n", f);
	fclose(f);
	assert_int_equal(svg_palette_read(&pal, path, err, sizeof(err)), -EINVAL);
	snprintf(text, sizeof(text), "%s:2: ", path);
	assert_memory_equal(err, text, strlen(text));
	remove_temp(dir, path);
	profile_free(p);
	profile_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping_any_bytes),
		cmocka_unit_test(test_truncation_on_boundaries),
		cmocka_unit_test(test_pruning_keeps_samples),
		cmocka_unit_test(test_deterministic_and_order_independent),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_flamechart_keeps_order),
		cmocka_unit_test(test_differential_colours),
		cmocka_unit_test(test_empty_profile_is_a_small_valid_graph),
		cmocka_unit_test(test_ids_scoped),
		cmocka_unit_test(test_total_and_factor),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_nameattr),
		cmocka_unit_test(test_palette),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
