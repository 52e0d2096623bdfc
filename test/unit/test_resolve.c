/* Unit tests of symbolizer/: resolve_profile on real addresses of this test process
 * (its own functions, an inlined static function, libc, a C++ library, stripped and
 * separate-debug copies of a library built here), kallsyms and perf-PID.map parsing,
 * Python and wait entries, grouping, and the recorded detail pprof reads. */
#include "profiler/maps.h"
#include "profiler/stacks.h"
#include "render/profile.h"
#include "symbolizer/demangle.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/perfmap.h"
#include "symbolizer/resolve.h"
#include "symbolizer/syscalls.h"

#include <dlfcn.h>
#include <gelf.h>
#include <sys/auxv.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- code whose addresses the tests resolve (this file is built -O2 -g) ---- */

/* The address of the instruction itself (the lea), so it carries this line. */
#define HERE(pc) __asm__ volatile("1: lea 1b(%%rip), %0" : "=r"(pc))

static volatile uintptr_t mix_pc;
static volatile int sink;
static int mix_line, mix_call_line, caller_call_line, noreturn_call_line;

static inline __attribute__((always_inline)) int mix(int x)
{
	uintptr_t pc;
	HERE(pc); mix_line = __LINE__;
	mix_pc = pc;
	return x * 31 + 7;
}

__attribute__((noinline)) int scorch_test_hot_inner(int x);
__attribute__((noinline)) int scorch_test_hot_inner(int x)
{
	int r = mix(x); mix_call_line = __LINE__;
	return r ^ (x >> 3);
}

static volatile uintptr_t callee_ra;

__attribute__((noinline)) void scorch_test_callee(void);
__attribute__((noinline)) void scorch_test_callee(void)
{
	callee_ra = (uintptr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) int scorch_test_caller(int x);
__attribute__((noinline)) int scorch_test_caller(int x)
{
	scorch_test_callee(); caller_call_line = __LINE__;
	sink = x;
	return sink + 1;
}

static jmp_buf noreturn_jmp;
static volatile uintptr_t noreturn_ra;

__attribute__((noinline, noreturn)) void scorch_test_die(void);
__attribute__((noinline, noreturn)) void scorch_test_die(void)
{
	noreturn_ra = (uintptr_t)__builtin_return_address(0);
	longjmp(noreturn_jmp, 1);
}

/* A function whose last instruction is a call that never returns: its return
 * address is the first byte after it, which belongs to whatever comes next. */
__attribute__((noinline)) void scorch_test_ends_in_noreturn(int x);
__attribute__((noinline)) void scorch_test_ends_in_noreturn(int x)
{
	sink = x; noreturn_call_line = __LINE__ + 1;
	scorch_test_die();
}

/* ---- helpers ---- */

struct fixture {
	struct maps m;
	struct stacks s;
	struct profile *p;
	struct resolve_stats st;
	uint32_t asid;
};

static void fixture_start(struct fixture *f)
{
	char err[256] = "";
	int64_t asid;

	maps_init(&f->m);
	stacks_init(&f->s);
	asid = maps_space_new(&f->m, (uint32_t)getpid(), "test_resolve");
	assert_true(asid >= 0);
	f->asid = (uint32_t)asid;
	assert_int_equal(maps_read_proc(&f->m, f->asid, (uint32_t)getpid(), err, sizeof(err)), 0);
	f->p = profile_new();
	assert_non_null(f->p);
}

static void fixture_end(struct fixture *f)
{
	profile_free(f->p);
	stacks_release(&f->s);
	maps_release(&f->m);
}

static struct resolve_opts opts(bool lines, bool inlines)
{
	struct resolve_opts o = {lines, inlines, true, false, RESOLVE_GROUP_NONE};
	return o;
}

static void add(struct fixture *f, const uint64_t *addrs, uint32_t depth, uint64_t count)
{
	assert_int_equal(stacks_add(&f->s, f->asid, (uint32_t)getpid(), 0, addrs, depth, count),
			 0);
}

static void run(struct fixture *f, const struct resolve_opts *o)
{
	char err[256] = "";
	int rc = resolve_profile(&f->s, &f->m, o, f->p, &f->st, err, sizeof(err));

	if (rc != 0)
		fail_msg("resolve_profile: %d %s", rc, err);
}

/* The folded line (root first, ';'-joined) of the leaf node holding count samples
 * whose path ends with want's frames; returns the whole path or NULL. */
static char *folded_of(const struct profile *p, size_t node)
{
	uint32_t ids[256];
	size_t n = profile_path(p, (uint32_t)node, ids, 256), len = 0;
	char *out = malloc(65536);

	out[0] = 0;
	for (size_t i = 0; i < n && i < 256; i++) {
		size_t l;
		const char *name = profile_name(p, ids[i], &l);
		if (i)
			out[len++] = ';';
		memcpy(out + len, name, l);
		len += l;
		out[len] = 0;
	}
	return out;
}

/* Asserts that some stack of p is exactly want (root first) with count samples. */
static void assert_stack(const struct profile *p, const char *want, uint64_t count)
{
	for (size_t n = 1; n < p->nnodes; n++) {
		char *got;
		if (!p->nodes[n].self)
			continue;
		got = folded_of(p, n);
		if (!strcmp(got, want)) {
			free(got);
			assert_int_equal(p->nodes[n].self, count);
			return;
		}
		free(got);
	}
	for (size_t n = 1; n < p->nnodes; n++) {
		if (p->nodes[n].self) {
			char *got = folded_of(p, n);
			print_message("  have: %s %" PRIu64 "\n", got, p->nodes[n].self);
			free(got);
		}
	}
	fail_msg("no stack '%s'", want);
}

static const char *name_of(const struct profile *p, uint32_t id)
{
	return id == PROFILE_NONE ? "(none)" : profile_name(p, id, NULL);
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static uint64_t exact(const void *pc)
{
	return stack_make(STACK_TAG_EXACT, (uint64_t)(uintptr_t)pc);
}

static uint64_t user(uintptr_t ra)
{
	return stack_make(STACK_TAG_USER, (uint64_t)ra);
}

static char tmpdir[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The GNU build id of path in hex, as readelf prints it. */
static void build_id_of(const char *path, char *out, size_t cap)
{
	char cmd[1024], line[512];
	FILE *f;

	out[0] = 0;
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *q = strstr(line, "Build ID: ");
		if (q) {
			snprintf(out, cap, "%s", q + 10);
			out[strcspn(out, "\n ")] = 0;
		}
	}
	pclose(f);
}

/* ---- tests ---- */

static void test_own_functions_and_inline(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(false, true);
	uint64_t a[2];
	char want[256];

	(void)state;
	sink = scorch_test_hot_inner(5);
	assert_true(mix_pc != 0);
	fixture_start(&f);
	a[0] = exact((const void *)mix_pc);
	add(&f, a, 1, 7);
	run(&f, &o);
	assert_stack(f.p, "scorch_test_hot_inner;mix_[i]", 7);
	assert_int_equal(f.p->nodes[0].total, 7);
	assert_int_equal(f.st.unresolved, 0);
	fixture_end(&f);

	/* with lines: the inlined frame at the pc's line, its caller at the call site */
	fixture_start(&f);
	o = opts(true, true);
	a[0] = exact((const void *)mix_pc);
	add(&f, a, 1, 3);
	run(&f, &o);
	snprintf(want, sizeof(want),
		 "scorch_test_hot_inner (test_resolve.c:%d);mix (test_resolve.c:%d)_[i]",
		 mix_call_line, mix_line);
	assert_stack(f.p, want, 3);
	fixture_end(&f);

	/* without inlines: the physical function only, at the call site's line */
	fixture_start(&f);
	o = opts(true, false);
	a[0] = exact((const void *)mix_pc);
	add(&f, a, 1, 2);
	run(&f, &o);
	snprintf(want, sizeof(want), "scorch_test_hot_inner (test_resolve.c:%d)", mix_call_line);
	assert_stack(f.p, want, 2);
	fixture_end(&f);

	/* neither: ELF symbols only */
	fixture_start(&f);
	o = opts(false, false);
	a[0] = exact((const void *)mix_pc);
	a[1] = exact((const void *)((uintptr_t)&scorch_test_caller + 1));
	add(&f, a, 2, 4);
	run(&f, &o);
	assert_stack(f.p, "scorch_test_caller;scorch_test_hot_inner", 4);
	fixture_end(&f);
}

static void test_return_address_rule(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	uint64_t a[1];
	char want[256];

	(void)state;
	scorch_test_caller(1);
	if (!setjmp(noreturn_jmp))
		scorch_test_ends_in_noreturn(2);
	fixture_start(&f);
	/* a return address: the line of the call, not of what follows */
	a[0] = user(callee_ra);
	add(&f, a, 1, 1);
	/* after a noreturn call the return address is past the function's end:
	 * only addr - 1 names the caller */
	a[0] = user(noreturn_ra);
	add(&f, a, 1, 2);
	run(&f, &o);
	snprintf(want, sizeof(want), "scorch_test_caller (test_resolve.c:%d)", caller_call_line);
	assert_stack(f.p, want, 1);
	snprintf(want, sizeof(want), "scorch_test_ends_in_noreturn (test_resolve.c:%d)",
		 noreturn_call_line);
	assert_stack(f.p, want, 2);
	/* the location records the address that was looked up */
	assert_int_equal(f.p->nlocs, 2);
	assert_int_equal(f.p->locs[0].addr, callee_ra - 1);
	fixture_end(&f);

	/* the same address taken as exact does not name the noreturn caller */
	fixture_start(&f);
	a[0] = exact((const void *)noreturn_ra);
	add(&f, a, 1, 1);
	run(&f, &o);
	for (size_t n = 1; n < f.p->nnodes; n++) {
		const char *name = profile_name(f.p, f.p->nodes[n].frame, NULL);
		assert_null(strstr(name, "scorch_test_ends_in_noreturn"));
	}
	fixture_end(&f);
}

static void test_libc(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	/* from libc itself: under ASan the default scope holds an interceptor */
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *q = libc ? dlsym(libc, "qsort") : NULL;
	Dl_info info;
	char want_id[128];
	const struct profile_location *loc;
	const struct profile_mapping *mp;
	uint64_t a[1];
	size_t len;
	const char *fn;

	(void)state;
	assert_non_null(q);
	assert_true(dladdr(q, &info) != 0);
	fixture_start(&f);
	a[0] = exact(q);
	add(&f, a, 1, 1);
	run(&f, &o);
	assert_int_equal(f.p->nlocs, 1);
	loc = &f.p->locs[0];
	assert_true(loc->nlines >= 1);
	/* the physical function is the last line (lines run innermost first) */
	fn = name_of(f.p, f.p->lines[loc->first_line + loc->nlines - 1].func);
	assert_string_equal(fn, "qsort");
	/* the mapping: libc's path, the runtime range holding the address, its build id */
	assert_int_not_equal(loc->mapping, PROFILE_NONE);
	mp = &f.p->mappings[loc->mapping];
	assert_true(mp->start <= (uintptr_t)q && (uintptr_t)q < mp->limit);
	assert_string_equal(base(name_of(f.p, mp->file)), base(info.dli_fname));
	build_id_of(info.dli_fname, want_id, sizeof(want_id));
	if (want_id[0]) {
		assert_int_not_equal(mp->build_id, PROFILE_NONE);
		assert_string_equal(profile_name(f.p, mp->build_id, &len), want_id);
	}
	/* libc6-dbg installed: DWARF found by build id gives the source file */
	if (access("/usr/lib/debug/.build-id", F_OK) == 0) {
		uint32_t file = f.p->lines[loc->first_line + loc->nlines - 1].file;
		assert_int_not_equal(file, PROFILE_NONE);
		assert_non_null(strstr(name_of(f.p, file), "msort.c"));
	}
	fixture_end(&f);
	dlclose(libc);
}

/* A library built here from C, loaded under several guises. */
static const char lib_c[] = "#include <stdint.h>\n"
			    "volatile int scorch_sink;\n"
			    "__attribute__((noinline)) static int scorch_static_helper(int x)\n"
			    "{\n"
			    "\tscorch_sink = x * 3;\n" /* line 5 */
			    "\treturn scorch_sink + 1;\n"
			    "}\n"
			    "__attribute__((noinline)) int scorch_exported(int x)\n"
			    "{\n"
			    "\treturn scorch_static_helper(x) + 2;\n"
			    "}\n"
			    "void *scorch_helper_addr(void)\n"
			    "{\n"
			    "\treturn (void *)&scorch_static_helper;\n"
			    "}\n";

static void *load(const char *path, void **helper, void **exported)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	void *(*addr_fn)(void);

	if (!h)
		fail_msg("dlopen %s: %s", path, dlerror());
	*(void **)&addr_fn = dlsym(h, "scorch_helper_addr");
	assert_non_null(addr_fn);
	*helper = addr_fn();
	*exported = dlsym(h, "scorch_exported");
	assert_non_null(*exported);
	return h;
}

static void test_stripped_and_debuglink(void **state)
{
	char src[128], so[128], stripped[128], dl[128], dbg[128], err[256];
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	void *h1, *h2, *helper1, *helper2, *exp1, *exp2;
	Dl_info info;
	uint64_t a[2];
	char want[256];

	(void)state;
	snprintf(src, sizeof(src), "%s/lib.c", tmpdir);
	snprintf(so, sizeof(so), "%s/libscorchx.so", tmpdir);
	snprintf(stripped, sizeof(stripped), "%s/libscorchx-stripped.so", tmpdir);
	snprintf(dl, sizeof(dl), "%s/libscorchx-dl.so", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/.debug/libscorchx.debug", tmpdir);
	write_file(src, lib_c);
	if (sh("gcc -O2 -g -fPIC -shared -Wl,--build-id -o %s %s", so, src) != 0)
		skip();
	assert_int_equal(sh("objcopy --strip-all %s %s", so, stripped), 0);
	/* separate debug info in DIR/.debug/, found by the .gnu_debuglink name */
	assert_int_equal(sh("mkdir -p %s/.debug && cd %s && objcopy --only-keep-debug "
			    "libscorchx.so .debug/libscorchx.debug && objcopy --strip-all "
			    "libscorchx.so libscorchx-dl.so && cd .debug && objcopy "
			    "--add-gnu-debuglink=libscorchx.debug ../libscorchx-dl.so",
			    tmpdir, tmpdir),
			 0);
	(void)dbg;
	(void)err;

	h1 = load(stripped, &helper1, &exp1);
	h2 = load(dl, &helper2, &exp2);
	fixture_start(&f);
	a[0] = exact(helper1);
	a[1] = exact(exp1);
	add(&f, a, 2, 5);
	a[0] = exact(helper2);
	a[1] = exact(exp2);
	add(&f, a, 2, 6);
	run(&f, &o);
	/* stripped: the exported function from .dynsym, the static one as
	 * module+0xVADDR (the library's first PT_LOAD is at vaddr 0) */
	assert_true(dladdr(helper1, &info) != 0);
	snprintf(want, sizeof(want), "scorch_exported;libscorchx-stripped.so+0x%" PRIxPTR,
		 (uintptr_t)helper1 - (uintptr_t)info.dli_fbase);
	assert_stack(f.p, want, 5);
	/* debuglink: DWARF names and lines from the separate file */
	assert_stack(f.p,
		     "scorch_exported (lib.c:10);scorch_static_helper (lib.c:5)",
		     6);
	assert_int_equal(f.st.unresolved, 1);
	fixture_end(&f);
	dlclose(h1);
	dlclose(h2);
}

static void test_debuglink_wrong_build_id(void **state)
{
	char src[128], other[128];
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	void *h, *helper, *exp;
	uint64_t a[1];

	(void)state;
	/* a debug file with the right name but from another build is not used */
	snprintf(src, sizeof(src), "%s/lib2.c", tmpdir);
	snprintf(other, sizeof(other), "%s/lib3.c", tmpdir);
	write_file(src, lib_c);
	write_file(other, "int unrelated(int x) { return x + 1; }\n");
	if (sh("cd %s && gcc -O2 -g -fPIC -shared -Wl,--build-id -o libwrong.so lib2.c && "
	       "gcc -O2 -g -fPIC -shared -Wl,--build-id -o libother.so lib3.c && "
	       "objcopy --only-keep-debug libother.so libwrong.debug && "
	       "objcopy --strip-all libwrong.so libwrong-dl.so && "
	       "objcopy --add-gnu-debuglink=libwrong.debug libwrong-dl.so",
	       tmpdir) != 0)
		skip();
	snprintf(src, sizeof(src), "%s/libwrong-dl.so", tmpdir);
	h = load(src, &helper, &exp);
	fixture_start(&f);
	a[0] = exact(helper);
	add(&f, a, 1, 1);
	run(&f, &o);
	assert_int_equal(f.p->nlocs, 1);
	assert_non_null(strstr(name_of(f.p, f.p->lines[f.p->locs[0].first_line].func),
			       "libwrong-dl.so+0x"));
	fixture_end(&f);
	dlclose(h);
}

static const char lib_cc[] =
	"namespace ns {\n"
	"template <class T> struct Acc {\n"
	"\ttemplate <class F> __attribute__((noinline)) static T run(F f, T x) { return f(x) + 1; }\n"
	"};\n"
	"}\n"
	"extern \"C\" void *scorch_cc_addr(void)\n"
	"{\n"
	"\tauto l = [](double d) { return d * 2; };\n"
	"\tvolatile double r = ns::Acc<double>::run(l, 3.0);\n"
	"\t(void)r;\n"
	"\treturn (void *)&ns::Acc<double>::run<decltype(l)>;\n"
	"}\n"
	"__attribute__((noinline)) int scorch_plain_cc(int x) { return x + 5; }\n"
	"extern \"C\" void *scorch_cc_plain_addr(void) { return (void *)&scorch_plain_cc; }\n";

static void test_cplusplus(void **state)
{
	char src[128], so[128];
	struct fixture f;
	struct resolve_opts o = opts(false, true);
	void *h, *(*fn)(void), *tmpl, *plain;
	uint64_t a[2];

	(void)state;
	snprintf(src, sizeof(src), "%s/lib.cc", tmpdir);
	snprintf(so, sizeof(so), "%s/libscorchcc.so", tmpdir);
	write_file(src, lib_cc);
	if (sh("g++ -O2 -g -fPIC -shared -o %s %s", so, src) != 0)
		skip();
	h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	*(void **)&fn = dlsym(h, "scorch_cc_addr");
	tmpl = fn();
	*(void **)&fn = dlsym(h, "scorch_cc_plain_addr");
	plain = fn();

	fixture_start(&f);
	a[0] = exact(tmpl);
	a[1] = exact(plain);
	add(&f, a, 2, 1);
	run(&f, &o);
	/* the physical function from its ELF symbol (GCC gives a template over a local
	 * type no linkage name); the inlined lambda qualified by its scopes */
	assert_stack(f.p,
		     "scorch_plain_cc;ns::Acc<double>::run<scorch_cc_addr::{lambda(double)#1}>;"
		     "scorch_cc_addr::{lambda}::operator()_[i]",
		     1);
	fixture_end(&f);

	/* demangling off: the mangled names */
	fixture_start(&f);
	o.demangle = false;
	a[0] = exact(plain);
	add(&f, a, 1, 1);
	run(&f, &o);
	assert_stack(f.p, "_Z15scorch_plain_cci", 1);
	fixture_end(&f);
	dlclose(h);
}

static void test_demangle_cache(void **state)
{
	struct demangle *d = demangle_new();
	const char *a, *b;

	(void)state;
	assert_non_null(d);
	a = demangle_name(d, "_ZN2ns3fooEv.constprop.0");
	assert_string_equal(a, "ns::foo");
	b = demangle_name(d, "_ZN2ns3fooEv.constprop.0");
	assert_ptr_equal(a, b);
	assert_string_equal(demangle_name(d, "_Z3fooi.cold"), "foo");
	/* Rust, legacy and v0 */
	assert_string_equal(demangle_name(d, "_ZN2rs7Counter5tally17h96120ff266255909E"),
			    "rs::Counter::tally");
	assert_string_equal(demangle_name(d, "_RNvCs1234_2rs4main"), "rs::main");
	/* not mangled, or not valid: as is */
	assert_string_equal(demangle_name(d, "main"), "main");
	assert_string_equal(demangle_name(d, "foo__bar"), "foo__bar");
	assert_string_equal(demangle_name(d, "_Zgarbage"), "_Zgarbage");
	demangle_free(d);
}

static void test_kallsyms_parse(void **state)
{
	static const char text[] = "ffffffff81000000 T _stext\n"
				   "ffffffff81001000 T do_one\n"
				   "ffffffff81002000 t helper_two\n"
				   "ffffffff81003000 D some_data\n"
				   "ffffffffc0001000 t mod_fn\t[mymod]\n"
				   "ffffffff81001800 W weak_mid\n"
				   "garbage line\n"
				   "ffffffff81004000 T last";
	struct kallsyms k;
	char *buf = malloc(sizeof(text));
	uint64_t off;

	(void)state;
	memcpy(buf, text, sizeof(text));
	kallsyms_init(&k);
	assert_int_equal(kallsyms_parse(&k, buf, sizeof(text) - 1), 0);
	assert_false(k.zero);
	assert_int_equal(k.n, 6); /* the data symbol and the garbage are skipped */
	assert_string_equal(kallsyms_lookup(&k, 0xffffffff81001010, &off), "do_one");
	assert_int_equal(off, 0x10);
	assert_string_equal(kallsyms_lookup(&k, 0xffffffff81001800, &off), "weak_mid");
	assert_string_equal(kallsyms_lookup(&k, 0xffffffff81003004, NULL), "helper_two");
	assert_string_equal(kallsyms_lookup(&k, 0xffffffffc0001004, NULL), "mod_fn");
	assert_string_equal(kallsyms_lookup(&k, 0xffffffff81004001, NULL), "last");
	assert_null(kallsyms_lookup(&k, 0xffffffff80000000, NULL));
	kallsyms_release(&k);

	/* what an unprivileged reader sees under kptr_restrict: all zeros */
	{
		static const char zeros[] = "0000000000000000 T _stext\n"
					    "0000000000000000 t foo\n";
		buf = malloc(sizeof(zeros));
		memcpy(buf, zeros, sizeof(zeros));
		assert_int_equal(kallsyms_parse(&k, buf, sizeof(zeros) - 1), 0);
		assert_true(k.zero);
		assert_null(kallsyms_lookup(&k, 0xffffffff81001010, NULL));
		kallsyms_release(&k);
	}
	/* the real file parses (whatever it shows) */
	assert_int_equal(kallsyms_read(&k, "/proc/kallsyms", NULL, 0), 0);
	kallsyms_release(&k);
	assert_true(kallsyms_read(&k, "/nonexistent/kallsyms", NULL, 0) < 0);
}

static void test_perfmap_parse(void **state)
{
	char path[128], err[256];
	struct perfmap pm;
	struct perfmap_check chk = {getuid(), 0};

	(void)state;
	snprintf(path, sizeof(path), "%s/perf-1.map", tmpdir);
	write_file(path, "7f0000001000 100 py::f:<string>\n"
			 "7f0000001100 80 py::g with spaces:/x.py\n"
			 "not a line\n"
			 "7f0000001000 40 py::reused\n"
			 "0x7f0000002000 0x10 with_prefix\n"
			 "7f0000003000 0 zero_size\n");
	perfmap_init(&pm);
	assert_int_equal(perfmap_read(&pm, path, &chk, err, sizeof(err)), 0);
	assert_int_equal(pm.n, 4);
	assert_int_equal(pm.bad, 2);
	/* later lines win where code was reused */
	assert_string_equal(perfmap_lookup(&pm, 0x7f0000001010), "py::reused");
	assert_string_equal(perfmap_lookup(&pm, 0x7f0000001050), "py::f:<string>");
	assert_string_equal(perfmap_lookup(&pm, 0x7f0000001100), "py::g with spaces:/x.py");
	assert_string_equal(perfmap_lookup(&pm, 0x7f000000117f), "py::g with spaces:/x.py");
	assert_null(perfmap_lookup(&pm, 0x7f0000001180));
	assert_string_equal(perfmap_lookup(&pm, 0x7f0000002008), "with_prefix");
	assert_null(perfmap_lookup(&pm, 0x7f0000000fff));
	perfmap_release(&pm);

	/* a stale file (older than the process) and a stranger's file are refused */
	chk.min_mtime = (int64_t)time(NULL) + 3600;
	assert_int_equal(perfmap_read(&pm, path, &chk, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "older"));
	chk.min_mtime = 0;
	if (getuid() != 0) {
		chk.uid = getuid() + 1;
		assert_int_equal(perfmap_read(&pm, path, &chk, err, sizeof(err)), -EPERM);
	}
	perfmap_release(&pm);
	assert_int_equal(perfmap_read(&pm, "/nonexistent/perf-1.map", NULL, err, sizeof(err)),
			 -ENOENT);
}

static void test_jit(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	char path[64], text[256];
	unsigned char *code;
	uint64_t a[2];

	(void)state;
	code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(code != MAP_FAILED);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	snprintf(text, sizeof(text), "%" PRIxPTR " 40 py::compute:/srv/app.py\n",
		 (uintptr_t)code + 0x100);
	write_file(path, text);
	fixture_start(&f);
	a[0] = exact(code + 0x110);
	a[1] = user((uintptr_t)code + 0x200); /* in the mapping, no symbol */
	add(&f, a, 2, 9);
	run(&f, &o);
	assert_stack(f.p, "[anon];py::compute:/srv/app.py_[j]", 9);
	assert_int_equal(f.st.jit, 1);
	assert_int_equal(f.p->locs[0].kind, PROFILE_KIND_JIT);
	fixture_end(&f);
	unlink(path);
	munmap(code, 4096);
}

static void test_python_wait_kernel(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	uint64_t a[4];
	int64_t py;
	char want[256], wait_name[64];
	const char *sc = syscall_name(35);
	struct kallsyms k;
	uint64_t kaddr = 0;
	const struct profile_location *loc;

	(void)state;
	fixture_start(&f);
	py = stacks_pyframe(&f.s, "compute", "/srv/app/model.py", 42);
	assert_true(py >= 0);
	snprintf(wait_name, sizeof(wait_name), "%s_[w]", sc ? sc : "syscall_35");
	a[0] = stack_make(STACK_TAG_WAIT, 35);
	a[1] = stack_make(STACK_TAG_PYTHON, (uint64_t)py);
	add(&f, a, 2, 4);
	a[0] = stack_make(STACK_TAG_WAIT, STACK_WAIT_UNKNOWN);
	add(&f, a, 2, 1);
	run(&f, &o);
	snprintf(want, sizeof(want), "compute (model.py:42);%s", wait_name);
	assert_stack(f.p, want, 4);
	assert_stack(f.p, "compute (model.py:42);[off-cpu]_[w]", 1);
	/* the recorded detail keeps the full path */
	for (size_t i = 0; i < f.p->nlocs; i++) {
		loc = &f.p->locs[i];
		if (loc->kind == PROFILE_KIND_PYTHON) {
			assert_string_equal(name_of(f.p, f.p->lines[loc->first_line].func), "compute");
			assert_string_equal(name_of(f.p, f.p->lines[loc->first_line].file),
					    "/srv/app/model.py");
			assert_int_equal(f.p->lines[loc->first_line].line, 42);
		} else {
			assert_int_equal(loc->kind, PROFILE_KIND_WAIT);
		}
	}
	fixture_end(&f);

	/* without lines: the file only */
	fixture_start(&f);
	o = opts(false, true);
	py = stacks_pyframe(&f.s, "compute", "/srv/app/model.py", 42);
	a[0] = stack_make(STACK_TAG_PYTHON, (uint64_t)py);
	add(&f, a, 1, 2);
	run(&f, &o);
	assert_stack(f.p, "compute (model.py)", 2);
	fixture_end(&f);

	/* kernel entries: names from /proc/kallsyms, or one [kernel] frame when the
	 * kernel hides the addresses */
	kallsyms_init(&k);
	assert_int_equal(kallsyms_read(&k, "/proc/kallsyms", NULL, 0), 0);
	for (size_t i = 0; i < k.n; i++)
		if (!strcmp(k.strs + k.v[i].name, "schedule"))
			kaddr = k.v[i].addr;
	fixture_start(&f);
	a[0] = stack_make(STACK_TAG_KERNEL, kaddr ? kaddr + 4 : 0xffffffff81000010);
	a[1] = stack_make(STACK_TAG_KERNEL, kaddr ? kaddr + 8 : 0xffffffff81000020);
	a[2] = exact((const void *)&scorch_test_caller);
	add(&f, a, 3, 3);
	run(&f, &o);
	assert_int_equal(f.st.kernel, 2);
	if (k.zero || !k.n) {
		assert_true(f.st.kernel_hidden);
		assert_stack(f.p, "scorch_test_caller;[kernel]_[k]", 3);
	} else if (kaddr) {
		assert_false(f.st.kernel_hidden);
		assert_stack(f.p, "scorch_test_caller;schedule_[k];schedule_[k]", 3);
	}
	kallsyms_release(&k);
	fixture_end(&f);
}

static void test_grouping_and_filters(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(false, true);
	uint64_t a[2];
	int64_t py;
	char want[256];
	uint32_t pid = (uint32_t)getpid();

	(void)state;
	fixture_start(&f);
	assert_int_equal(stacks_thread(&f.s, f.asid, pid, pid + 1, "worker"), 0);
	a[0] = exact((const void *)&scorch_test_caller);
	assert_int_equal(stacks_add(&f.s, f.asid, pid + 1, 0, a, 1, 5), 0);
	assert_int_equal(stacks_add(&f.s, f.asid, pid, 0, a, 1, 2), 0);
	o.group = RESOLVE_GROUP_THREAD;
	run(&f, &o);
	snprintf(want, sizeof(want), "worker-%u/%u;scorch_test_caller", pid, pid + 1);
	assert_stack(f.p, want, 5);
	/* a thread the profiler did not name takes the process's name */
	snprintf(want, sizeof(want), "test_resolve-%u/%u;scorch_test_caller", pid, pid);
	assert_stack(f.p, want, 2);
	assert_int_equal(f.p->names[f.p->nodes[f.p->nodes[0].child].frame].kind,
			 PROFILE_KIND_ROOT);
	/* threads and samples */
	assert_int_equal(f.p->nthreads, 2);
	assert_int_equal(f.p->nsamples, 2);
	for (size_t i = 0; i < f.p->nsamples; i++) {
		const struct profile_sample *sm = &f.p->samples[i];
		const struct profile_thread *t = &f.p->threads[sm->thread];
		assert_int_equal(sm->count, t->tid == pid + 1 ? 5 : 2);
		assert_int_equal(sm->nlocs, 1);
		assert_false(sm->off_cpu);
	}
	fixture_end(&f);

	fixture_start(&f);
	o.group = RESOLVE_GROUP_PROCESS;
	a[0] = exact((const void *)&scorch_test_caller);
	assert_int_equal(stacks_add(&f.s, f.asid, pid + 1, 0, a, 1, 5), 0);
	assert_int_equal(stacks_add(&f.s, f.asid, pid, STACK_OFF_CPU, a, 1, 2), 0);
	run(&f, &o);
	snprintf(want, sizeof(want), "test_resolve-%u;scorch_test_caller", pid);
	assert_stack(f.p, want, 7);
	assert_true(f.p->samples[1].off_cpu);
	fixture_end(&f);

	/* python_only: native frames go; a stack left empty is [native] */
	fixture_start(&f);
	o = opts(false, true);
	o.python_only = true;
	py = stacks_pyframe(&f.s, "handler", "/srv/app.py", 7);
	a[0] = exact((const void *)&scorch_test_caller);
	a[1] = stack_make(STACK_TAG_PYTHON, (uint64_t)py);
	add(&f, a, 2, 3);
	add(&f, a, 1, 4);
	run(&f, &o);
	assert_stack(f.p, "handler (app.py)", 3);
	assert_stack(f.p, "[native]", 4);
	fixture_end(&f);
}

static void test_recorded_detail(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	const struct profile_location *loc = NULL;
	const struct profile_sample *sm;
	uint64_t a[3];
	size_t found = 0;

	(void)state;
	sink = scorch_test_hot_inner(9);
	scorch_test_caller(3);
	fixture_start(&f);
	f.s.lost = 2;
	f.s.failed = 1;
	f.s.complete = 10;
	a[0] = exact((const void *)mix_pc);
	a[1] = user(callee_ra);
	a[2] = exact((const void *)mix_pc); /* the same address again: one location */
	add(&f, a, 3, 11);
	run(&f, &o);
	assert_int_equal(f.p->meta.samples, 11);
	assert_int_equal(f.p->meta.lost, 3);
	assert_int_equal(f.p->meta.complete, 10);
	assert_int_equal(f.st.addresses, 2);
	assert_int_equal(f.p->nlocs, 2);
	/* one mapping: this binary's text, used by both locations */
	assert_int_equal(f.p->nmappings, 1);
	assert_int_equal(f.p->locs[0].mapping, 0);
	assert_int_equal(f.p->locs[1].mapping, 0);
	for (size_t i = 0; i < f.p->nlocs; i++)
		if (f.p->locs[i].addr == mix_pc)
			loc = &f.p->locs[i], found++;
	assert_int_equal(found, 1);
	/* lines innermost first: mix at its line, then its caller at the call site */
	assert_int_equal(loc->nlines, 2);
	assert_int_equal(loc->kind, PROFILE_KIND_INLINED);
	assert_string_equal(name_of(f.p, f.p->lines[loc->first_line].func), "mix");
	assert_int_equal(f.p->lines[loc->first_line].line, mix_line);
	assert_string_equal(base(name_of(f.p, f.p->lines[loc->first_line].file)), "test_resolve.c");
	assert_string_equal(name_of(f.p, f.p->lines[loc->first_line + 1].func),
			    "scorch_test_hot_inner");
	assert_int_equal(f.p->lines[loc->first_line + 1].line, mix_call_line);
	/* the sample: three locations, leaf first */
	assert_int_equal(f.p->nsamples, 1);
	sm = &f.p->samples[0];
	assert_int_equal(sm->nlocs, 3);
	assert_int_equal(sm->count, 11);
	assert_ptr_equal(&f.p->locs[f.p->sample_locs[sm->first_loc]], loc);
	assert_ptr_equal(&f.p->locs[f.p->sample_locs[sm->first_loc + 2]], loc);
	assert_int_equal(f.p->locs[f.p->sample_locs[sm->first_loc + 1]].addr, callee_ra - 1);
	{
		const struct profile_mapping *mp = &f.p->mappings[0];
		char exe[512], id[128];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(n > 0);
		exe[n] = 0;
		assert_string_equal(name_of(f.p, mp->file), exe);
		assert_true(mp->start <= mix_pc && mix_pc < mp->limit);
		build_id_of(exe, id, sizeof(id));
		if (id[0])
			assert_string_equal(name_of(f.p, mp->build_id), id);
	}
	fixture_end(&f);
}

/* The runtime address of a function of this process's vDSO, found in its .dynsym. */
static uintptr_t vdso_function(const char *want)
{
	unsigned char *img = (unsigned char *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	Elf_Scn *scn = NULL;
	uintptr_t found = 0;
	Elf *elf;

	if (!img)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)img, eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;
			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, want))
				found = (uintptr_t)img + sym.st_value;
		}
	}
	elf_end(elf);
	return found;
}

static void test_vdso(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(true, true);
	uintptr_t fn = vdso_function("__vdso_clock_gettime");
	uint64_t a[1];

	(void)state;
	if (!fn)
		skip();
	fixture_start(&f);
	a[0] = exact((const void *)(fn + 2));
	add(&f, a, 1, 1);
	run(&f, &o);
	assert_int_equal(f.p->nlocs, 1);
	assert_non_null(strstr(name_of(f.p, f.p->lines[f.p->locs[0].first_line].func),
			       "clock_gettime"));
	assert_int_equal(f.st.unresolved, 0);
	fixture_end(&f);
}

/* PLT stubs have no symbol: name@plt from .rela.plt, checked against objdump's
 * labels of this very binary. */
static void test_plt(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(false, true);
	char exe[512], cmd[1200], line[512], want[3][256];
	uint64_t vaddr[3];
	int n = 0;
	Dl_info info;
	FILE *p;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	uint64_t a[1];

	(void)state;
	assert_true(len > 0);
	exe[len] = 0;
	assert_true(dladdr((void *)&scorch_test_caller, &info) != 0);
	snprintf(cmd, sizeof(cmd), "objdump -d -j .plt.sec '%s' 2>/dev/null; objdump -d -j .plt '%s'",
		 exe, exe);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p) && n < 3) {
		unsigned long long v;
		char name[256];
		if (sscanf(line, "%llx <%255[^>]>:", &v, name) == 2 && strstr(name, "@plt") &&
		    !strchr(name, '-') && !strchr(name, '+')) {
			vaddr[n] = v;
			snprintf(want[n], sizeof(want[n]), "%s", name);
			n++;
		}
	}
	pclose(p);
	if (n < 3)
		skip();
	fixture_start(&f);
	for (int i = 0; i < 3; i++) {
		a[0] = exact((const void *)((uintptr_t)info.dli_fbase + vaddr[i] + 4));
		add(&f, a, 1, (uint64_t)i + 1);
	}
	run(&f, &o);
	for (int i = 0; i < 3; i++)
		assert_stack(f.p, want[i], (uint64_t)i + 1);
	fixture_end(&f);
}

static void test_unknown(void **state)
{
	struct fixture f;
	struct resolve_opts o = opts(false, true);
	uint64_t a[1];

	(void)state;
	fixture_start(&f);
	a[0] = exact((const void *)(uintptr_t)0x10); /* no mapping holds it */
	add(&f, a, 1, 1);
	run(&f, &o);
	assert_stack(f.p, "[unknown]", 1);
	assert_int_equal(f.p->locs[0].mapping, PROFILE_NONE);
	assert_int_equal(f.st.unresolved, 1);
	fixture_end(&f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/scorch-test-resolve-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return sh("rm -rf '%s'", tmpdir) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_functions_and_inline),
		cmocka_unit_test(test_return_address_rule),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_stripped_and_debuglink),
		cmocka_unit_test(test_debuglink_wrong_build_id),
		cmocka_unit_test(test_cplusplus),
		cmocka_unit_test(test_demangle_cache),
		cmocka_unit_test(test_kallsyms_parse),
		cmocka_unit_test(test_perfmap_parse),
		cmocka_unit_test(test_jit),
		cmocka_unit_test(test_python_wait_kernel),
		cmocka_unit_test(test_grouping_and_filters),
		cmocka_unit_test(test_recorded_detail),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_plt),
		cmocka_unit_test(test_unknown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
