/* Unit tests of render/folded.h: the reader's edge cases, the writer's round trip. */
#include "render/folded.h"
#include "render/profile.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct rd {
	struct profile *p;
	struct folded_stats st;
	int rc;
	char err[256];
};

static struct rd read_text_opts(const char *text, size_t len, const struct folded_opts *o)
{
	struct rd r = {0};
	FILE *f = fmemopen((void *)text, len, "r");

	assert_non_null(f);
	r.p = profile_new();
	assert_non_null(r.p);
	r.rc = folded_read(r.p, f, o, &r.st, r.err, sizeof(r.err));
	fclose(f);
	return r;
}

static struct rd read_text(const char *text)
{
	return read_text_opts(text, strlen(text), NULL);
}

/* The folded text p writes; caller frees. */
static char *write_text(const struct profile *p, bool diff)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	char err[128];

	assert_non_null(f);
	assert_int_equal(diff ? folded_write_diff(p, f, err, sizeof(err))
			      : folded_write(p, f, err, sizeof(err)),
			 0);
	fclose(f);
	return s;
}

/* Count of the stack given as "a;b;c" (its self count). */
static uint64_t self_of(const struct profile *p, const char *stack)
{
	uint32_t node = 0;
	const char *s = stack;

	for (;;) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);
		uint32_t c;
		for (c = p->nodes[node].child; c != PROFILE_NONE; c = p->nodes[c].next) {
			size_t nl;
			const char *nm = profile_name(p, p->nodes[c].frame, &nl);
			if (nl == len && !memcmp(nm, s, len))
				break;
		}
		if (c == PROFILE_NONE)
			return 0;
		node = c;
		if (!semi)
			break;
		s = semi + 1;
	}
	return p->nodes[node].self;
}

static void test_basic_and_duplicates(void **state)
{
	struct rd r = read_text("main;work 10\nmain;work;inner 5\nmain;work 3\nmain 1\n");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(self_of(r.p, "main;work"), 13);
	assert_int_equal(self_of(r.p, "main;work;inner"), 5);
	assert_int_equal(self_of(r.p, "main"), 1);
	assert_int_equal(r.p->nodes[0].total, 19);
	assert_int_equal(r.st.lines, 4);
	assert_int_equal(r.st.skipped, 0);
	assert_false(r.st.differential);
	profile_free(r.p);
}

static void test_crlf_blanks_no_final_newline(void **state)
{
	struct rd r = read_text("\r\n  \na;b 2\r\n\na;b   3 \t\r\na;c 4");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(self_of(r.p, "a;b"), 5);
	assert_int_equal(self_of(r.p, "a;c"), 4);
	assert_int_equal(r.st.skipped, 0);
	assert_int_equal(r.st.lines, 6);
	profile_free(r.p);
}

static void test_malformed_counted(void **state)
{
	struct rd r = read_text("a;b 1\nno count here\na;b -3\na;b 1.5\n 7\n"
				"a;b 99999999999999999999999\na;b 2\n");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.skipped, 5);
	assert_int_equal(r.st.first_bad_line, 2);
	assert_non_null(strstr(r.st.first_bad_reason, "no count"));
	assert_int_equal(self_of(r.p, "a;b"), 3);
	profile_free(r.p);
}

static void test_reasons(void **state)
{
	static const struct {
		const char *line, *reason;
	} cases[] = {
		{"a;b -3\n", "negative count"},
		{"a;b 1.5\n", "fractional count '1.5'"},
		{"a;b 18446744073709551616\n", "does not fit in 64 bits"},
		{"42\n", "no stack"},
		{"a;b\n", "no count"},
		{"a;b x12\n", "no count"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rd r = read_text(cases[i].line);
		assert_int_equal(r.rc, 0);
		assert_int_equal(r.st.skipped, 1);
		assert_int_equal(r.st.first_bad_line, 1);
		if (!strstr(r.st.first_bad_reason, cases[i].reason))
			fail_msg("'%s': reason '%s'", cases[i].line, r.st.first_bad_reason);
		profile_free(r.p);
	}
}

static void test_whole_decimals_accepted(void **state)
{
	struct rd r = read_text("a 12.0\nb 3.\n");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.skipped, 0);
	assert_int_equal(self_of(r.p, "a"), 12);
	assert_int_equal(self_of(r.p, "b"), 3);
	profile_free(r.p);
}

static void test_strict(void **state)
{
	const char *text = "a;b 1\na;b 2\nbad line\n";
	struct folded_opts o = {.strict = true};
	struct rd r = read_text_opts(text, strlen(text), &o);

	(void)state;
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "line 3"));
	assert_non_null(strstr(r.err, "no count"));
	profile_free(r.p);
}

static void test_64bit_and_overflow(void **state)
{
	struct rd r = read_text("a;b 18446744073709551615\n");

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_true(r.p->nodes[0].total == UINT64_MAX);
	profile_free(r.p);

	r = read_text("a;b 3000000000\na;c 3000000000\n");
	assert_int_equal(r.rc, 0);
	assert_true(r.p->nodes[0].total == 6000000000ULL);
	profile_free(r.p);

	r = read_text("a;b 18446744073709551615\na;c 1\n");
	assert_int_equal(r.rc, -EOVERFLOW);
	assert_non_null(strstr(r.err, "line 2"));
	profile_free(r.p);
}

static void test_zero_counts_add_nothing(void **state)
{
	struct rd r = read_text("a;b 0\na;c 2\n");
	char *out;

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.skipped, 0);
	out = write_text(r.p, false);
	assert_string_equal(out, "a;c 2\n");
	free(out);
	profile_free(r.p);
}

static void test_differential(void **state)
{
	struct rd r = read_text("a;b 10 12\na;c 5 0\na;b 1 1\n");
	char *out;

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_true(r.st.differential);
	assert_non_null(r.p->base);
	assert_int_equal(r.p->nodes[0].total, 13);
	assert_int_equal(r.p->base_total, 16);
	out = write_text(r.p, true);
	assert_string_equal(out, "a;b 11 13\na;c 5 0\n");
	free(out);
	profile_free(r.p);

	/* one count on a differential line is malformed */
	r = read_text("a;b 10 12\na;c 5\n");
	assert_int_equal(r.st.skipped, 1);
	assert_int_equal(r.st.first_bad_line, 2);
	profile_free(r.p);

	/* in a one-count file a number before the count belongs to the name */
	r = read_text("a;b 3\nx;f 12 4\n");
	assert_false(r.st.differential);
	assert_int_equal(self_of(r.p, "x;f 12"), 4);
	profile_free(r.p);
}

static void test_spaces_and_bytes_in_names(void **state)
{
	static const char text[] = "LazyCompile:*fn /app.js:412;x y 3\n"
				   "bad\xff\xfe;ok\x01;\xe2\x82 5\n"
				   "nul\0byte;z 2\n";
	struct rd r = read_text_opts(text, sizeof(text) - 1, NULL);
	char *out;

	(void)state;
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.skipped, 0);
	assert_int_equal(self_of(r.p, "LazyCompile:*fn /app.js:412;x y"), 3);
	out = write_text(r.p, false);
	/* sorted by bytes, kept byte-exact */
	{
		static const char want[] = "LazyCompile:*fn /app.js:412;x y 3\n"
					   "bad\xff\xfe;ok\x01;\xe2\x82 5\n"
					   "nul\0byte;z 2\n";
		assert_memory_equal(out, want, sizeof(want) - 1);
	}
	free(out);
	profile_free(r.p);
}

static void test_empty_frames_kept(void **state)
{
	struct rd r = read_text("a;;b 1\n;x 2\n");
	char *out;

	(void)state;
	assert_int_equal(r.rc, 0);
	out = write_text(r.p, false);
	assert_string_equal(out, ";x 2\na;;b 1\n");
	free(out);
	profile_free(r.p);
}

static void test_round_trip(void **state)
{
	const char *text = "z;y 1\na;b;c 4\na;b 2\na;b;c 1\nb 7\na;bb 1\na 3\n";
	struct rd r = read_text(text), r2;
	char *out, *out2;

	(void)state;
	out = write_text(r.p, false);
	assert_string_equal(out, "a 3\na;b 2\na;b;c 5\na;bb 1\nb 7\nz;y 1\n");
	r2 = read_text(out);
	out2 = write_text(r2.p, false);
	assert_string_equal(out, out2);
	assert_int_equal(r2.p->nnodes, r.p->nnodes);
	free(out);
	free(out2);
	profile_free(r.p);
	profile_free(r2.p);
}

static void test_prefix_reuse_matches_plain(void **state)
{
	/* the same lines sorted and shuffled give the same profile */
	const char *sorted = "a;b 7\na;b;c 1\na;b;c;d 2\na;b;e 3\na;bx 4\na;b;c 5\nab;c 6\n";
	const char *shuffled = "ab;c 6\na;b;c 5\na;b;e 3\na;b;c;d 2\na;bx 4\na;b;c 1\na;b 7\n";
	struct folded_opts rev = {.reverse = true};
	struct rd r1 = read_text(sorted), r2 = read_text(shuffled);
	struct rd r3 = read_text_opts("a;b;c 2\nx;b;c 1\n", 16, &rev);
	char *o1 = write_text(r1.p, false), *o2 = write_text(r2.p, false);
	char *o3 = write_text(r3.p, false);

	(void)state;
	assert_string_equal(o1, o2);
	assert_int_equal(r1.p->nnodes, r2.p->nnodes);
	assert_string_equal(o3, "c;b;a 2\nc;b;x 1\n");
	free(o1);
	free(o2);
	free(o3);
	profile_free(r1.p);
	profile_free(r2.p);
	profile_free(r3.p);
}

static void test_long_line_and_deep_stack(void **state)
{
	size_t depth = 20000, cap = depth * 8 + 64, len = 0;
	char *text = malloc(cap);
	struct rd r;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < depth; i++)
		len += (size_t)snprintf(text + len, cap - len, "%sf%zu", i ? ";" : "", i % 7);
	len += (size_t)snprintf(text + len, cap - len, " 9\n");
	r = read_text_opts(text, len, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.p->maxdepth, depth);
	assert_int_equal(r.p->nodes[0].total, 9);
	profile_free(r.p);
	free(text);
}

static void test_line_longer_than_the_read_block(void **state)
{
	size_t name_len = 3u << 20, len = 0;
	char *text = malloc(name_len + 64);
	struct rd r;
	size_t got;

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text, 64, "a;b 1\nroot;");
	memset(text + len, 'x', name_len);
	len += name_len;
	len += (size_t)snprintf(text + len, 64, " 2\na;b 3\n");
	r = read_text_opts(text, len, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.lines, 3);
	assert_int_equal(r.p->nodes[0].total, 6);
	profile_name(r.p, r.p->nodes[r.p->nodes[0].child].frame, &got);
	assert_int_equal(self_of(r.p, "a;b"), 4);
	assert_int_equal(r.p->nnames, 4);
	assert_int_equal(r.p->names[3].len, name_len);
	profile_free(r.p);
	free(text);
}

static void test_adds_to_existing_profile(void **state)
{
	struct rd r = read_text("a;b 1\n");
	FILE *f = fmemopen((void *)"a;b 2\n", 6, "r");
	struct folded_stats st;
	char err[64];

	(void)state;
	assert_int_equal(folded_read(r.p, f, NULL, &st, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(self_of(r.p, "a;b"), 3);
	profile_free(r.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_and_duplicates),
		cmocka_unit_test(test_crlf_blanks_no_final_newline),
		cmocka_unit_test(test_malformed_counted),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_whole_decimals_accepted),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_64bit_and_overflow),
		cmocka_unit_test(test_zero_counts_add_nothing),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_spaces_and_bytes_in_names),
		cmocka_unit_test(test_empty_frames_kept),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_prefix_reuse_matches_plain),
		cmocka_unit_test(test_long_line_and_deep_stack),
		cmocka_unit_test(test_line_longer_than_the_read_block),
		cmocka_unit_test(test_adds_to_existing_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
