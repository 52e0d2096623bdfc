/* Unit tests of render/profile.h: interning, the trie's counts, kinds, diff. */
#include "render/profile.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_intern_same_id(void **state)
{
	struct profile *p = profile_new();
	uint32_t a, b, c;
	size_t len;

	(void)state;
	assert_non_null(p);
	a = profile_intern(p, "main", 4);
	b = profile_intern(p, "mainx", 4); /* only len bytes count */
	c = profile_intern(p, "work", 4);
	assert_int_equal(a, b);
	assert_int_not_equal(a, c);
	assert_string_equal(profile_name(p, c, &len), "work");
	assert_int_equal(len, 4);
	/* empty names and names with NUL bytes are names too */
	assert_int_not_equal(profile_intern(p, "", 0), PROFILE_NONE);
	assert_int_not_equal(profile_intern(p, "a\0b", 3), profile_intern(p, "a", 1));
	profile_free(p);
}

static void test_intern_many(void **state)
{
	struct profile *p = profile_new();
	char name[32];

	(void)state;
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(profile_intern(p, name, (size_t)n), (uint32_t)i);
	}
	for (int i = 0; i < 100000; i += 997) {
		int n = snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(profile_intern(p, name, (size_t)n), (uint32_t)i);
	}
	profile_free(p);
}

static void test_kinds(void **state)
{
	(void)state;
	assert_int_equal(profile_kind_of("schedule_[k]", 12), PROFILE_KIND_KERNEL);
	assert_int_equal(profile_kind_of("mix_[i]", 7), PROFILE_KIND_INLINED);
	assert_int_equal(profile_kind_of("LazyCompile:*f_[j]", 18), PROFILE_KIND_JIT);
	assert_int_equal(profile_kind_of("nanosleep_[w]", 13), PROFILE_KIND_WAIT);
	assert_int_equal(profile_kind_of("sum (a.py:17)", 13), PROFILE_KIND_PYTHON);
	assert_int_equal(profile_kind_of("sum (a.py)", 10), PROFILE_KIND_PYTHON);
	assert_int_equal(profile_kind_of("f(int)", 6), PROFILE_KIND_NATIVE);
	assert_int_equal(profile_kind_of("_[k]", 4), PROFILE_KIND_KERNEL);
	assert_int_equal(profile_kind_of("x_[z]", 5), PROFILE_KIND_NATIVE);
}

static void test_trie_counts(void **state)
{
	struct profile *p = profile_new();
	uint32_t a = profile_intern(p, "a", 1), b = profile_intern(p, "b", 1),
		 c = profile_intern(p, "c", 1);
	uint32_t s1[] = {a, b, c}, s2[] = {a, b}, s3[] = {a, c};
	int64_t n1, n2;

	(void)state;
	n1 = profile_add(p, s1, 3, 5);
	n2 = profile_add(p, s2, 2, 2);
	assert_true(profile_add(p, s3, 3 - 1, 3) > 0);
	assert_int_equal(profile_add(p, s1, 3, 1), n1); /* duplicate stacks are summed */
	assert_int_equal(p->nodes[0].total, 11);
	assert_int_equal(p->nodes[n1].self, 6);
	assert_int_equal(p->nodes[n2].self, 2);
	assert_int_equal(p->nodes[n2].total, 8);
	assert_int_equal(p->maxdepth, 3);
	/* children keep insertion order: a's children are b then c */
	{
		uint32_t na = p->nodes[0].child;
		uint32_t first = p->nodes[na].child;
		assert_int_equal(p->nodes[first].frame, b);
		assert_int_equal(p->nodes[p->nodes[first].next].frame, c);
	}
	{
		uint32_t out[8];
		assert_int_equal(profile_path(p, (uint32_t)n1, out, 8), 3);
		assert_int_equal(out[0], a);
		assert_int_equal(out[2], c);
	}
	profile_free(p);
}

static void test_overflow(void **state)
{
	struct profile *p = profile_new();
	uint32_t a = profile_intern(p, "a", 1);

	(void)state;
	assert_true(profile_add(p, &a, 1, UINT64_MAX - 1) > 0);
	assert_int_equal(profile_add(p, &a, 1, 2), -EOVERFLOW);
	assert_int_equal(p->nodes[0].total, UINT64_MAX - 1); /* unchanged by the failure */
	profile_free(p);
}

static void test_flamechart(void **state)
{
	struct profile *p = profile_new();
	uint32_t a = profile_intern(p, "a", 1), b = profile_intern(p, "b", 1);

	(void)state;
	p->flamechart = true;
	assert_true(profile_add(p, &a, 1, 1) > 0);
	assert_true(profile_add(p, &a, 1, 1) > 0); /* adjacent: merged */
	assert_true(profile_add(p, &b, 1, 1) > 0);
	assert_true(profile_add(p, &a, 1, 1) > 0); /* not adjacent: a new node */
	assert_int_equal(p->nnodes, 4);
	profile_free(p);
}

static void test_diff(void **state)
{
	struct profile *p = profile_new();
	uint32_t a = profile_intern(p, "a", 1), b = profile_intern(p, "b", 1);
	uint32_t s[] = {a, b};
	int64_t n;

	(void)state;
	n = profile_add_diff(p, s, 2, 10, 30);
	assert_true(n > 0);
	assert_int_equal(p->nodes[n].total, 30);
	assert_int_equal(p->base[n], 10);
	assert_int_equal(p->base[0], 10);
	assert_int_equal(p->base_total, 10);
	profile_free(p);
}

/* Whether the tries of a and b are the same, node by node in child order. */
static void assert_same_trie(const struct profile *a, const struct profile *b, uint32_t na,
			     uint32_t nb, bool diff)
{
	uint32_t ca, cb;

	assert_int_equal(a->nodes[na].frame, b->nodes[nb].frame);
	assert_int_equal(a->nodes[na].self, b->nodes[nb].self);
	assert_int_equal(a->nodes[na].total, b->nodes[nb].total);
	if (diff)
		assert_int_equal(a->base[na], b->base[nb]);
	for (ca = a->nodes[na].child, cb = b->nodes[nb].child;
	     ca != PROFILE_NONE && cb != PROFILE_NONE;
	     ca = a->nodes[ca].next, cb = b->nodes[cb].next)
		assert_same_trie(a, b, ca, cb, diff);
	assert_int_equal(ca, PROFILE_NONE);
	assert_int_equal(cb, PROFILE_NONE);
}

/* Bulk loading (profile_defer_totals ... profile_settle_totals, what folded_read
 * does) gives the trie plain adds give: counts, totals, base[] and the order of
 * children; the profile then takes more stacks as usual. */
static void test_deferred_totals(void **state)
{
	for (int diff = 0; diff <= 1; diff++) {
		struct profile *plain = profile_new(), *bulk = profile_new();
		uint32_t f[2][6];

		(void)state;
		for (int k = 0; k < 2; k++) {
			struct profile *p = k ? bulk : plain;
			for (int i = 0; i < 6; i++) {
				char name[8];
				int n = snprintf(name, sizeof(name), "f%d", i);
				f[k][i] = profile_intern(p, name, (size_t)n);
			}
		}
		assert_true(profile_defer_totals(bulk));
		for (int round = 0; round < 2; round++) {
			/* 500 stacks of pseudo-random frames and depths, the same in both */
			uint64_t x = 12345;
			for (int i = 0; i < 500; i++) {
				uint32_t sa[8], sb[8];
				size_t n = 1 + (size_t)((x >> 33) % 7);
				for (size_t d = 0; d < n; d++) {
					x = x * 6364136223846793005ull + 1442695040888963407ull;
					sa[d] = f[0][(x >> 40) % 6];
					sb[d] = f[1][(x >> 40) % 6];
				}
				if (diff) {
					assert_true(profile_add_diff(plain, sa, n, i % 3, i % 5 + 1) > 0);
					assert_true(profile_add_diff(bulk, sb, n, i % 3, i % 5 + 1) > 0);
				} else {
					assert_true(profile_add(plain, sa, n, (uint64_t)i + 1) > 0);
					assert_true(profile_add(bulk, sb, n, (uint64_t)i + 1) > 0);
				}
			}
			if (round == 0)
				profile_settle_totals(bulk); /* round 1: plain adds on both */
			assert_int_equal(plain->nnodes, bulk->nnodes);
			assert_int_equal(plain->maxdepth, bulk->maxdepth);
			assert_same_trie(plain, bulk, 0, 0, diff);
		}
		/* not on a profile that holds stacks already */
		assert_false(profile_defer_totals(bulk));
		profile_free(plain);
		profile_free(bulk);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_same_id), cmocka_unit_test(test_intern_many),
		cmocka_unit_test(test_kinds),          cmocka_unit_test(test_trie_counts),
		cmocka_unit_test(test_overflow),       cmocka_unit_test(test_flamechart),
		cmocka_unit_test(test_diff), cmocka_unit_test(test_deferred_totals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
