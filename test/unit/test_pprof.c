/* Unit tests of render/pprof.h: gzip framing, profile.proto layout (string table with
 * "" first, sample types, locations, lines innermost first, functions deduplicated,
 * labels), for imported and recorded profiles. A small protobuf walker of its own
 * reads the output; test/e2e/test_formats.py decodes it with pprof-format as well. */
#include "render/pprof.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

struct field {
	uint32_t num;
	int wire;
	uint64_t v;             /* varint */
	const unsigned char *p; /* length-delimited */
	size_t len;
};

static bool varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	int shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		unsigned char c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

/* The next field of the message [*p, end); false at the end. Fails the test on
 * malformed bytes. */
static bool next_field(const unsigned char **p, const unsigned char *end, struct field *f)
{
	uint64_t key;

	if (*p >= end)
		return false;
	assert_true(varint(p, end, &key));
	f->num = (uint32_t)(key >> 3);
	f->wire = (int)(key & 7);
	if (f->wire == 0) {
		assert_true(varint(p, end, &f->v));
	} else {
		assert_int_equal(f->wire, 2);
		assert_true(varint(p, end, &f->v));
		assert_true(f->v <= (uint64_t)(end - *p));
		f->p = *p;
		f->len = (size_t)f->v;
		*p += f->len;
	}
	return true;
}

struct decoded {
	unsigned char *raw;
	size_t len;
	char **strs;
	size_t nstrs;
	size_t nsamples, nlocs, nfuncs, nmappings, nsample_types;
	uint64_t period;
};

static void decoded_free(struct decoded *d)
{
	for (size_t i = 0; i < d->nstrs; i++)
		free(d->strs[i]);
	free(d->strs);
	free(d->raw);
}

/* Writes p as pprof, gunzips it and reads the top level. */
static void decode(const struct profile *p, struct decoded *d)
{
	char *gz = NULL, err[256];
	size_t gzlen = 0, cap = 1 << 16;
	FILE *f = open_memstream(&gz, &gzlen);
	z_stream zs;
	const unsigned char *at, *end;
	struct field fl;

	memset(d, 0, sizeof(*d));
	assert_non_null(f);
	assert_int_equal(pprof_write(p, NULL, f, err, sizeof(err)), 0);
	fclose(f);
	assert_true(gzlen > 18);
	assert_int_equal((unsigned char)gz[0], 0x1f);
	assert_int_equal((unsigned char)gz[1], 0x8b);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	d->raw = malloc(cap);
	zs.next_in = (unsigned char *)gz;
	zs.avail_in = (uInt)gzlen;
	for (;;) {
		int rc;
		zs.next_out = d->raw + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		assert_int_equal(rc, Z_OK);
		cap *= 2;
		d->raw = realloc(d->raw, cap);
	}
	d->len = zs.total_out;
	inflateEnd(&zs);
	free(gz);
	at = d->raw;
	end = d->raw + d->len;
	while (next_field(&at, end, &fl)) {
		switch (fl.num) {
		case 1:
			d->nsample_types++;
			break;
		case 2:
			d->nsamples++;
			break;
		case 3:
			d->nmappings++;
			break;
		case 4:
			d->nlocs++;
			break;
		case 5:
			d->nfuncs++;
			break;
		case 6:
			d->strs = realloc(d->strs, (d->nstrs + 1) * sizeof(*d->strs));
			d->strs[d->nstrs] = strndup((const char *)fl.p, fl.len);
			d->nstrs++;
			break;
		case 12:
			d->period = fl.v;
			break;
		}
	}
}

/* The n-th top-level message of field num. */
static bool nth(const struct decoded *d, uint32_t num, size_t n, const unsigned char **p,
		size_t *len)
{
	const unsigned char *at = d->raw, *end = d->raw + d->len;
	struct field fl;

	while (next_field(&at, end, &fl))
		if (fl.num == num && fl.wire == 2 && n-- == 0) {
			*p = fl.p;
			*len = fl.len;
			return true;
		}
	return false;
}

/* The varint field num of a message (0 if absent). */
static uint64_t get(const unsigned char *p, size_t len, uint32_t num)
{
	const unsigned char *end = p + len;
	struct field fl;
	uint64_t v = 0;

	while (next_field(&p, end, &fl))
		if (fl.num == num && fl.wire == 0)
			v = fl.v;
	return v;
}

static size_t find_str(const struct decoded *d, const char *s)
{
	for (size_t i = 0; i < d->nstrs; i++)
		if (!strcmp(d->strs[i], s))
			return i;
	fail_msg("string '%s' not in the string table", s);
	return 0;
}

static void add(struct profile *p, const char *stack, uint64_t count)
{
	uint32_t frames[64];
	size_t n = 0;
	const char *s = stack;

	while (*s) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		frames[n++] = profile_intern(p, s, len);
		s += len + (e ? 1 : 0);
	}
	assert_true(profile_add(p, frames, n, count) >= 0);
}

static void test_imported(void **state)
{
	struct profile *p = profile_new();
	struct decoded d;
	const unsigned char *m;
	size_t len, names = 0;
	uint64_t total = 0;

	(void)state;
	add(p, "main;work;sys_read_[k]", 3);
	add(p, "main;work", 5);
	add(p, "main;calc (app.py:42)", 2);
	decode(p, &d);
	assert_string_equal(d.strs[0], "");
	assert_int_equal(d.nsample_types, 1); /* no period known: samples/count only */
	assert_int_equal(d.nsamples, 3);
	assert_int_equal(d.nlocs, 4);
	assert_int_equal(d.nfuncs, 4);
	assert_int_equal(d.nmappings, 0);
	/* suffix stripped from the name, kept in the system name */
	find_str(&d, "sys_read");
	find_str(&d, "sys_read_[k]");
	/* Python frame: function calc of app.py at line 42 */
	find_str(&d, "calc");
	find_str(&d, "app.py");
	for (size_t i = 0; i < d.nstrs; i++)
		if (!strcmp(d.strs[i], "main"))
			names++;
	assert_int_equal(names, 1); /* strings deduplicated */
	for (size_t i = 0; nth(&d, 2, i, &m, &len); i++) {
		const unsigned char *at = m, *end = m + len;
		struct field fl;
		while (next_field(&at, end, &fl))
			if (fl.num == 2) {
				const unsigned char *v = fl.p;
				uint64_t x;
				assert_true(varint(&v, fl.p + fl.len, &x));
				total += x;
			}
	}
	assert_int_equal(total, 10);
	/* the Python location's line carries 42 */
	{
		bool seen = false;
		size_t calc = find_str(&d, "calc"), fid = 0;
		for (size_t i = 0; nth(&d, 5, i, &m, &len); i++)
			if (get(m, len, 2) == calc)
				fid = get(m, len, 1);
		assert_true(fid > 0);
		for (size_t i = 0; nth(&d, 4, i, &m, &len); i++) {
			const unsigned char *at = m, *end = m + len;
			struct field fl;
			while (next_field(&at, end, &fl))
				if (fl.num == 4 && get(fl.p, fl.len, 1) == fid) {
					assert_int_equal(get(fl.p, fl.len, 2), 42);
					seen = true;
				}
		}
		assert_true(seen);
	}
	decoded_free(&d);
	profile_free(p);
}

static void test_recorded(void **state)
{
	struct profile *p = profile_new();
	struct profile_mapping mp = {0x400000, 0x401000, 0x1000, 0, PROFILE_NONE};
	struct profile_line inl[2], one;
	uint32_t locs[2];
	struct decoded d;
	const unsigned char *m;
	size_t len;
	int64_t th;

	(void)state;
	mp.file = profile_intern(p, "/usr/bin/app", 12);
	mp.build_id = profile_intern(p, "abcdef0123", 10);
	assert_int_equal(profile_add_mapping(p, &mp), 0);
	/* location 0: mix inlined into work; location 1: main */
	inl[0] = (struct profile_line){profile_intern(p, "mix", 3), profile_intern(p, "a.c", 3), 7, 5};
	inl[1] = (struct profile_line){profile_intern(p, "work", 4), inl[0].file, 20, 0};
	one = (struct profile_line){profile_intern(p, "main", 4), inl[0].file, 30, 0};
	assert_int_equal(profile_add_location(p, 0x400100, 0, inl, 2, PROFILE_KIND_NATIVE), 0);
	assert_int_equal(profile_add_location(p, 0x400200, 0, &one, 1, PROFILE_KIND_NATIVE), 1);
	th = profile_add_thread(p, 42, 43, profile_intern(p, "worker", 6));
	locs[0] = 0;
	locs[1] = 1;
	assert_true(profile_add_sample(p, locs, 2, (uint32_t)th, 5, false) >= 0);
	assert_true(profile_add_sample(p, locs + 1, 1, (uint32_t)th, 2, true) >= 0);
	p->meta.period_ns = 10000000;
	p->meta.wall = true;
	p->meta.start_unix_ns = 1700000000000000000ULL;
	p->meta.duration_ns = 3000000000ULL;
	decode(p, &d);
	assert_int_equal(d.nsample_types, 2);
	assert_int_equal(d.period, 10000000);
	assert_int_equal(d.nmappings, 1);
	assert_int_equal(d.nlocs, 2);
	assert_int_equal(d.nfuncs, 3);
	assert_int_equal(d.nsamples, 2);
	find_str(&d, "wall");
	find_str(&d, "nanoseconds");
	/* mapping fields */
	assert_true(nth(&d, 3, 0, &m, &len));
	assert_int_equal(get(m, len, 1), 1);
	assert_int_equal(get(m, len, 2), 0x400000);
	assert_int_equal(get(m, len, 3), 0x401000);
	assert_int_equal(get(m, len, 4), 0x1000);
	assert_int_equal(get(m, len, 5), find_str(&d, "/usr/bin/app"));
	assert_int_equal(get(m, len, 6), find_str(&d, "abcdef0123"));
	/* location 1: two lines, innermost (mix, line 7) first */
	assert_true(nth(&d, 4, 0, &m, &len));
	assert_int_equal(get(m, len, 1), 1);
	assert_int_equal(get(m, len, 2), 1);
	assert_int_equal(get(m, len, 3), 0x400100);
	{
		const unsigned char *at = m, *end = m + len;
		struct field fl;
		uint64_t lines[2] = {0, 0};
		size_t nl = 0;
		while (next_field(&at, end, &fl))
			if (fl.num == 4 && nl < 2)
				lines[nl++] = get(fl.p, fl.len, 2);
		assert_int_equal(nl, 2);
		assert_int_equal(lines[0], 7);
		assert_int_equal(lines[1], 20);
	}
	/* sample 2: value 2 and 2e7 ns, labels pid/tid/thread/off_cpu */
	assert_true(nth(&d, 2, 1, &m, &len));
	{
		const unsigned char *at = m, *end = m + len;
		struct field fl;
		size_t nlabels = 0;
		bool off = false;
		while (next_field(&at, end, &fl)) {
			if (fl.num == 2) {
				const unsigned char *v = fl.p;
				uint64_t a, b;
				assert_true(varint(&v, fl.p + fl.len, &a));
				assert_true(varint(&v, fl.p + fl.len, &b));
				assert_int_equal(a, 2);
				assert_int_equal(b, 20000000);
			}
			if (fl.num == 3) {
				nlabels++;
				if (get(fl.p, fl.len, 1) == find_str(&d, "off_cpu"))
					off = get(fl.p, fl.len, 2) == find_str(&d, "true");
				if (get(fl.p, fl.len, 1) == find_str(&d, "tid"))
					assert_int_equal(get(fl.p, fl.len, 3), 43);
			}
		}
		assert_int_equal(nlabels, 4);
		assert_true(off);
	}
	decoded_free(&d);
	profile_free(p);
}

static void test_same_bytes_twice(void **state)
{
	struct profile *p = profile_new();
	char *a = NULL, *b = NULL, err[256];
	size_t la = 0, lb = 0;
	FILE *f;

	(void)state;
	add(p, "x;y", 1);
	add(p, "x;z", 2);
	f = open_memstream(&a, &la);
	assert_int_equal(pprof_write(p, NULL, f, err, sizeof(err)), 0);
	fclose(f);
	f = open_memstream(&b, &lb);
	assert_int_equal(pprof_write(p, NULL, f, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	profile_free(p);
}

static void test_empty_and_odd_names(void **state)
{
	struct profile *p = profile_new();
	struct decoded d;
	uint32_t frames[3];

	(void)state;
	decode(p, &d);
	assert_int_equal(d.nsamples, 0);
	assert_string_equal(d.strs[0], "");
	decoded_free(&d);
	frames[0] = profile_intern(p, "", 0);
	frames[1] = profile_intern(p, "_[k]", 4);
	frames[2] = profile_intern(p, " (x.py:)", 8);
	assert_true(profile_add(p, frames, 3, 1) >= 0);
	decode(p, &d);
	assert_int_equal(d.nsamples, 1);
	assert_int_equal(d.nlocs, 3);
	decoded_free(&d);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_odd_names),
		cmocka_unit_test(test_imported),
		cmocka_unit_test(test_recorded),
		cmocka_unit_test(test_same_bytes_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
