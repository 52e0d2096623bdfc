/* Unit tests of render/report.h: self and total per function (recursion counted once),
 * sort orders, --top, the call tree and its cut. */
#include "render/report.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Adds "a;b;c" with count. */
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

static char *report(const struct profile *p, const struct write_opts *o)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(report_write(p, o, f, err, sizeof(err)), 0);
	fclose(f);
	return text;
}

/* The row of function name: self and total counts; false if absent. */
static bool row(const char *text, const char *name, unsigned long long *self,
		unsigned long long *total)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[512], fn[256];
		double sp, tp;
		if (len < sizeof(buf) && line[0] != '#') {
			memcpy(buf, line, len);
			buf[len] = 0;
			if (sscanf(buf, "%llu %lf%% %llu %lf%% %255s", self, &sp, total, &tp, fn) == 5 &&
			    !strcmp(fn, name))
				return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

static void test_self_and_total_with_recursion(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {0};
	unsigned long long self, total;
	char *text;

	(void)state;
	add(p, "main;fib;fib;fib", 60);
	add(p, "main;fib;work", 30);
	add(p, "main;idle", 10);
	text = report(p, &o);
	assert_true(row(text, "fib", &self, &total));
	assert_int_equal(self, 60);
	assert_int_equal(total, 90); /* not 60*3+30 */
	assert_true(row(text, "main", &self, &total));
	assert_int_equal(self, 0);
	assert_int_equal(total, 100);
	assert_true(row(text, "work", &self, &total));
	assert_int_equal(self, 30);
	assert_non_null(strstr(text, " 60.00%"));
	assert_non_null(strstr(text, "100 samples"));
	free(text);
	profile_free(p);
}

static void test_sort_orders_and_top(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {0};
	char *text;
	const char *a, *b;

	(void)state;
	add(p, "main;outer;leaf1", 10);
	add(p, "main;outer;leaf2", 20);
	add(p, "main;big", 25);
	/* by self: big (25) before leaf2 (20) before leaf1 (10); main has self 0 */
	text = report(p, &o);
	a = strstr(text, "big");
	b = strstr(text, "leaf2");
	assert_true(a && b && a < b);
	assert_true(strstr(text, "leaf2") < strstr(text, "leaf1"));
	free(text);
	/* by total: main (55) then outer (30) then big (25) */
	o.sort_total = true;
	text = report(p, &o);
	a = strstr(text, "  main");
	b = strstr(text, "  outer");
	assert_true(a && b && a < b);
	assert_true(strstr(text, "  outer") < strstr(text, "  big"));
	free(text);
	o.top = 2;
	text = report(p, &o);
	assert_non_null(strstr(text, "  outer"));
	assert_null(strstr(text, "  big"));
	assert_non_null(strstr(text, "top 2 shown"));
	free(text);
	profile_free(p);
}

static void test_deterministic_ties(void **state)
{
	struct profile *p = profile_new(), *q = profile_new();
	struct write_opts o = {0};
	char *a, *b;

	(void)state;
	add(p, "z", 5);
	add(p, "y", 5);
	add(q, "y", 5);
	add(q, "z", 5);
	a = report(p, &o);
	b = report(q, &o);
	assert_string_equal(a, b);
	assert_true(strstr(a, "  y") < strstr(a, "  z"));
	free(a);
	free(b);
	profile_free(p);
	profile_free(q);
}

static void test_tree_and_min_share(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {.tree = true};
	char *text;

	(void)state;
	add(p, "main;small", 1);
	add(p, "main;heavy;inner", 98);
	add(p, "other", 1);
	text = report(p, &o);
	/* heaviest first, indented by depth */
	assert_non_null(strstr(text, "  main\n"));
	assert_non_null(strstr(text, "    heavy\n"));
	assert_non_null(strstr(text, "      inner\n"));
	assert_true(strstr(text, "heavy") < strstr(text, "small"));
	assert_true(strstr(text, "  main\n") < strstr(text, "  other\n"));
	free(text);
	o.min_share = 5;
	text = report(p, &o);
	assert_null(strstr(text, "small"));
	assert_null(strstr(text, "other"));
	assert_non_null(strstr(text, "inner"));
	assert_non_null(strstr(text, "2 subtrees under 5% not shown"));
	free(text);
	profile_free(p);
}

static void test_hostile_names_and_deep_stacks(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {.tree = true};
	uint32_t *frames = malloc(10000 * sizeof(*frames));
	char *text;

	(void)state;
	add(p, "evil\x1b[2Jname", 3);
	for (int i = 0; i < 10000; i++)
		frames[i] = profile_intern(p, i % 2 ? "a" : "b", 1);
	assert_true(profile_add(p, frames, 10000, 7) >= 0);
	text = report(p, &o);
	assert_null(strchr(text, '\x1b'));
	assert_non_null(strstr(text, "evil\\x1b[2Jname"));
	assert_non_null(strstr(text, "[10000] "));
	free(text);
	o.tree = false;
	text = report(p, &o);
	{
		unsigned long long self, total;
		assert_true(row(text, "a", &self, &total));
		assert_int_equal(total, 7);
	}
	free(text);
	free(frames);
	profile_free(p);
}

static void test_empty_profile(void **state)
{
	struct profile *p = profile_new();
	struct write_opts o = {0};
	char *text;

	(void)state;
	text = report(p, &o);
	assert_non_null(strstr(text, "0 samples"));
	free(text);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_profile),
		cmocka_unit_test(test_self_and_total_with_recursion),
		cmocka_unit_test(test_sort_orders_and_top),
		cmocka_unit_test(test_deterministic_ties),
		cmocka_unit_test(test_tree_and_min_share),
		cmocka_unit_test(test_hostile_names_and_deep_stacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
