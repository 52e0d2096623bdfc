/* Unit tests of render/perfscript.h: perf script text (as perf 6.1 prints it) to stacks:
 * headers with and without PID, call chains, inlined and kernel frames, srcline lines,
 * no call graph, name cleanup, event filter, bad and truncated input. */
#include "render/perfscript.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct result {
	struct profile *p;
	struct perfscript_stats st;
	int rc;
	char err[256];
};

static void parse(struct result *r, const char *text, size_t len,
		  const struct perfscript_opts *o)
{
	FILE *in = fmemopen((void *)text, len ? len : 1, "r");

	assert_non_null(in);
	r->p = profile_new();
	assert_non_null(r->p);
	r->err[0] = 0;
	if (!len) { /* fmemopen refuses size 0: read from an empty stream instead */
		fclose(in);
		in = fopen("/dev/null", "r");
	}
	r->rc = perfscript_read(r->p, in, o, &r->st, r->err, sizeof(r->err));
	fclose(in);
}

/* The count of the stack "a;b;c" (root first), 0 if absent. */
static uint64_t count_of(const struct profile *p, const char *stack)
{
	uint32_t node = 0;
	const char *s = stack;

	while (*s) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		uint32_t c;
		for (c = p->nodes[node].child; c != PROFILE_NONE; c = p->nodes[c].next) {
			size_t nl;
			const char *n = profile_name(p, p->nodes[c].frame, &nl);
			if (nl == len && !memcmp(n, s, len))
				break;
		}
		if (c == PROFILE_NONE)
			return 0;
		node = c;
		s += len + (e ? 1 : 0);
	}
	return p->nodes[node].self;
}

static const char dwarf[] =
	"burn 16418  1053.434480:    1001001 cpu-clock:ppp: \n"
	"\t            1244 mix+0xb4 (inlined)\n"
	"\t            1244 burn_a+0xb4 (inlined)\n"
	"\t            1090 main+0x20 (/tmp/fmt/perf/burn)\n"
	"\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
	"\t           27304 __libc_start_main_impl+0x84 (inlined)\n"
	"\t            10c0 _start+0x20 (/tmp/fmt/perf/burn)\n"
	"\n"
	"burn 16420  1053.438496:    1001001 cpu-clock:ppp: \n"
	"\tffffffff8225f2d9 pvm_irq_enable+0x19 ([kernel.kallsyms])\n"
	"\tffffffff81000130 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])\n"
	"\t            1300 burn_b+0xa0 (inlined)\n"
	"\t            1338 th+0x8 (/tmp/fmt/perf/burn)\n"
	"\n";

static void test_dwarf_call_chains(void **state)
{
	struct result r;

	(void)state;
	parse(&r, dwarf, sizeof(dwarf) - 1, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 2);
	assert_int_equal(r.st.skipped, 0);
	assert_string_equal(r.st.event, "cpu-clock:ppp");
	assert_int_equal(count_of(r.p, "burn;_start;__libc_start_main_impl;__libc_start_call_main;"
				       "main;burn_a;mix_[i]"),
			 1);
	assert_int_equal(count_of(r.p, "burn;th;burn_b;entry_SYSCALL_64_after_hwframe_[k];"
				       "pvm_irq_enable_[k]"),
			 1);
	profile_free(r.p);
}

static void test_options(void **state)
{
	struct perfscript_opts o = {.tid = true, .no_kernel = true, .period = true};
	struct result r;

	(void)state;
	parse(&r, dwarf, sizeof(dwarf) - 1, &o);
	assert_int_equal(r.rc, 0);
	assert_true(r.st.no_pid); /* perf printed TIDs only */
	assert_int_equal(count_of(r.p, "burn-?/16420;th;burn_b"), 1001001);
	profile_free(r.p);
}

static void test_pid_header_no_callgraph_and_names(void **state)
{
	static const char text[] =
		"# ========\n"
		"# captured on    : Mon Nov 23 01:00:00 2026\n"
		"            burn 16458/16459  1055.692801:    1001001 cpu-clock:ppp:      7fdad26e4a34 __GI___tunables_init+0xc4 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)\n"
		"     Web Content 16458/16460 [003]  1055.693792:    1001001 cpu-clock:ppp:  ffffffff8225f2d9 pvm_irq_enable+0x19 ([kernel.kallsyms])\n"
		"            burn 16458/16459  1055.695910:    1001001 cpu-clock:ppp:      7fdad2570106 [unknown] (/usr/lib/x86_64-linux-gnu/libz.so.1.2.13)\n"
		"            burn 16458/16459  1055.695911:    1001001 cpu-clock:ppp:      7fdad2570106 ns::A<int>::f(int, char const*)+0x5 (/x)\n"
		"            burn 16458/16459  1055.695912:    1001001 cpu-clock:ppp:      7fdad2570106 (anonymous namespace)::g(\"q\";x)+0x5 (/x)\n"
		"            burn 16458/16459  1055.695913:    1001001 cpu-clock:ppp:      7fdad2570106 main.(*T).Run+0x5 (/x)\n"
		"            burn 16458/16459  1055.695914:    1001001 cpu-clock:ppp:      7fdad2570106 Foo::operator()(int)+0x5 (/x)\n";
	struct perfscript_opts o = {.pid = true};
	struct result r;

	(void)state;
	parse(&r, text, sizeof(text) - 1, &o);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 7);
	assert_false(r.st.no_pid);
	assert_int_equal(count_of(r.p, "burn-16458;__GI___tunables_init"), 1);
	assert_int_equal(count_of(r.p, "Web_Content-16458;pvm_irq_enable_[k]"), 1);
	assert_int_equal(count_of(r.p, "burn-16458;[libz.so.1.2.13]"), 1);
	assert_int_equal(count_of(r.p, "burn-16458;ns::A<int>::f"), 1);
	assert_int_equal(count_of(r.p, "burn-16458;(anonymous namespace)::g"), 1);
	assert_int_equal(count_of(r.p, "burn-16458;main.(*T).Run"), 1);
	assert_int_equal(count_of(r.p, "burn-16458;Foo::operator()"), 1);
	profile_free(r.p);
	o = (struct perfscript_opts){.addrs = true};
	parse(&r, text, sizeof(text) - 1, &o);
	assert_int_equal(count_of(r.p, "burn;[libz.so.1.2.13]+0x7fdad2570106"), 1);
	profile_free(r.p);
}

static void test_srcline_inlined(void **state)
{
	static const char text[] =
		"burn 16418  1053.429260:    1001001 cpu-clock:ppp: \n"
		"\t           1bccb _dl_start_final+0x55b\n"
		"  rtld.c:497 (inlined)\n"
		"\t           1bccb _dl_start+0x55b (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)\n"
		"  rtld.c:584\n"
		"\t           1ab77 _start+0x7 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)\n"
		"  :0\n"
		"\n";
	struct result r;

	(void)state;
	parse(&r, text, sizeof(text) - 1, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(count_of(r.p, "burn;_start;_dl_start;_dl_start_final_[i]"), 1);
	profile_free(r.p);
}

static void test_minimal_fields(void **state)
{
	/* perf script -F comm,tid,ip,sym */
	static const char text[] = "burn 16347 \n"
				   "\t            5970 _dl_dst_count\n"
				   "\t           1db15 dl_main\n"
				   "\n"
				   "burn 16348 \n"
				   "\t            5971 work\n"
				   "\n";
	struct result r;

	(void)state;
	parse(&r, text, sizeof(text) - 1, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 2);
	assert_int_equal(r.st.skipped, 0);
	assert_int_equal(count_of(r.p, "burn;dl_main;_dl_dst_count"), 1);
	assert_int_equal(count_of(r.p, "burn;work"), 1);
	profile_free(r.p);
}

static void test_event_filter(void **state)
{
	static const char text[] =
		"a 1 1.0: 1 cycles:u: \n\t 10 f (/x)\n\n"
		"a 1 1.1: 1 page-faults:u: \n\t 10 g (/x)\n\n"
		"a 1 1.2: 1 cycles:u: \n\t 10 f (/x)\n\n";
	struct perfscript_opts o = {.event = "page-faults"};
	struct result r;

	(void)state;
	parse(&r, text, sizeof(text) - 1, NULL);
	assert_int_equal(r.st.samples, 2);
	assert_int_equal(r.st.other_events, 1);
	assert_int_equal(count_of(r.p, "a;f"), 2);
	profile_free(r.p);
	parse(&r, text, sizeof(text) - 1, &o);
	assert_int_equal(r.st.samples, 1);
	assert_int_equal(count_of(r.p, "a;g"), 1);
	profile_free(r.p);
}

static void test_bad_input(void **state)
{
	static const char cut[] = "a 1 1.0: 1 cycles: \n\t 10 f (/x)\n\na 1 1.1: 1 cycles: \n\t 10 g (/";
	static const char junk[] = "hello world\n\t 10 f (/x)\n\na 1 1.0: 1 cycles: \n\t 10 f (/x)\n";
	static const char nul[] = "a 1 1.0: 1 cycles: \n\t 10 f\0x (/x)\n\na 1 1.0: 1 cycles: \n";
	struct perfscript_opts strict = {.strict = true};
	struct result r;

	(void)state;
	parse(&r, cut, sizeof(cut) - 1, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 1);
	assert_int_equal(r.st.skipped, 1);
	assert_int_equal(r.st.first_bad_line, 5);
	profile_free(r.p);
	parse(&r, cut, sizeof(cut) - 1, &strict);
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "line 5"));
	profile_free(r.p);
	parse(&r, junk, sizeof(junk) - 1, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 1);
	assert_int_equal(r.st.skipped, 1);
	assert_int_equal(r.st.first_bad_line, 1);
	profile_free(r.p);
	parse(&r, nul, sizeof(nul) - 1, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.skipped, 1);
	assert_int_equal(r.st.samples, 1);
	profile_free(r.p);
	parse(&r, "PERFILE2\0\0\0\0", 12, NULL);
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "perf.data"));
	profile_free(r.p);
	parse(&r, "", 0, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 0);
	profile_free(r.p);
}

static void test_huge_and_deep(void **state)
{
	size_t cap = 12000 * 40 + 300000, len = 0;
	char *text = malloc(cap);
	struct result r;

	(void)state;
	len += (size_t)snprintf(text + len, cap - len, "deep 7 1.0: 1 cycles: \n");
	for (int i = 0; i < 12000; i++)
		len += (size_t)snprintf(text + len, cap - len, "\t %x f%d+0x1 (/x)\n", i + 16, i);
	len += (size_t)snprintf(text + len, cap - len, "\nlong 7 1.0: 1 cycles: \n\t 10 ");
	memset(text + len, 'n', 200000);
	len += 200000;
	len += (size_t)snprintf(text + len, cap - len, " (/x)\n\n");
	parse(&r, text, len, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.st.samples, 2);
	assert_int_equal(r.p->maxdepth, 12001);
	profile_free(r.p);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_dwarf_call_chains),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_pid_header_no_callgraph_and_names),
		cmocka_unit_test(test_srcline_inlined),
		cmocka_unit_test(test_minimal_fields),
		cmocka_unit_test(test_event_filter),
		cmocka_unit_test(test_huge_and_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
