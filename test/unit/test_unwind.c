/*
 * Unit tests of profiler/unwind.h on real stacks: test/fixtures/unwind_chain.c is
 * compiled -O2 -fomit-frame-pointer (plus a --no-eh-frame-hdr and a .debug_frame-only
 * variant), run under PTRACE_TRACEME until it stops itself at a known depth, and its
 * registers and stack are copied as the ptrace sampler does (GETREGS + one
 * process_vm_readv). The chain is checked against the fixture's symbol table, and
 * against libunwind's own _UPT ptrace accessors unwinding the same stopped thread.
 */
#include "profiler/maps.h"
#include "profiler/stacks.h"
#include "profiler/unwind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <libunwind-ptrace.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define FIXTURE_SRC "test/fixtures/unwind_chain.c"
#define MAX_FRAMES 1024
#define STACK_COPY (64 * 1024)

static char dir[64];
/* children still running: killed by the group teardown if a test failed halfway */
static pid_t live[8];
static char exe_plain[128], exe_nohdr[128], exe_debug[128];

struct sym {
	char name[64];
	uint64_t lo, hi; /* link-time */
};

/* A stopped fixture and what the tests need of it. */
struct child {
	pid_t pid;
	struct maps maps;
	int64_t asid;
	struct sym *syms;
	size_t nsyms;
	uint64_t bias; /* of the executable */
	struct unwind_snapshot snap;
	uint8_t *stack;
};

static int build(const char *out, const char *flags)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cc -O2 -fomit-frame-pointer %s -o %s %s 2>&1", flags, out,
		 FIXTURE_SRC);
	return system(cmd);
}

static int setup_all(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/scorch-unwind-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(exe_plain, sizeof(exe_plain), "%s/chain", dir);
	snprintf(exe_nohdr, sizeof(exe_nohdr), "%s/chain-nohdr", dir);
	snprintf(exe_debug, sizeof(exe_debug), "%s/chain-debug", dir);
	if (build(exe_plain, "") || build(exe_nohdr, "-Wl,--no-eh-frame-hdr") ||
	    build(exe_debug, "-g -fno-asynchronous-unwind-tables -fno-unwind-tables"))
		return -1;
	return 0;
}

static int teardown_all(void **state)
{
	char cmd[128];

	(void)state;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
		}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

/* The STT_FUNC symbols of the executable, and whether it has a section / segment. */
static void read_elf(const char *path, struct sym **syms, size_t *n, bool *has_hdr,
		     bool *has_debug_frame, uint64_t *min_vaddr)
{
	int fd = open(path, O_RDONLY);
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t shstrndx, nph;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	*syms = NULL;
	*n = 0;
	*has_debug_frame = false;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const char *name;

		gelf_getshdr(scn, &sh);
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".debug_frame"))
			*has_debug_frame = true;
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			gelf_getsym(d, (int)i, &s);
			if (GELF_ST_TYPE(s.st_info) != STT_FUNC || !s.st_value)
				continue;
			*syms = realloc(*syms, (*n + 1) * sizeof(**syms));
			assert_non_null(*syms);
			snprintf((*syms)[*n].name, sizeof((*syms)[*n].name), "%s",
				 elf_strptr(e, sh.sh_link, s.st_name));
			(*syms)[*n].lo = s.st_value;
			(*syms)[*n].hi = s.st_value + (s.st_size ? s.st_size : 1);
			(*n)++;
		}
	}
	*has_hdr = false;
	*min_vaddr = UINT64_MAX;
	elf_getphdrnum(e, &nph);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		gelf_getphdr(e, (int)i, &ph);
		if (ph.p_type == PT_GNU_EH_FRAME)
			*has_hdr = true;
		if (ph.p_type == PT_LOAD && ph.p_vaddr < *min_vaddr)
			*min_vaddr = ph.p_vaddr;
	}
	elf_end(e);
	close(fd);
}

/* Waits until pid stops with SIGSTOP, passing on any other signal (SIGALRM). */
static void wait_sigstop(pid_t pid)
{
	for (;;) {
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSTOPPED(st));
		if (WSTOPSIG(st) == SIGSTOP)
			return;
		assert_int_equal(ptrace(PTRACE_CONT, pid, 0, (void *)(long)WSTOPSIG(st)), 0);
	}
}

static void snapshot(struct child *c, size_t stack_max)
{
	struct user_regs_struct r;
	const struct maps_entry *e;
	struct iovec local, remote;
	uint64_t *g = c->snap.regs;
	size_t len;

	assert_int_equal(ptrace(PTRACE_GETREGS, c->pid, 0, &r), 0);
	g[UNWIND_REG_RAX] = r.rax;
	g[UNWIND_REG_RDX] = r.rdx;
	g[UNWIND_REG_RCX] = r.rcx;
	g[UNWIND_REG_RBX] = r.rbx;
	g[UNWIND_REG_RSI] = r.rsi;
	g[UNWIND_REG_RDI] = r.rdi;
	g[UNWIND_REG_RBP] = r.rbp;
	g[UNWIND_REG_RSP] = r.rsp;
	g[UNWIND_REG_R8] = r.r8;
	g[UNWIND_REG_R9] = r.r9;
	g[UNWIND_REG_R10] = r.r10;
	g[UNWIND_REG_R11] = r.r11;
	g[UNWIND_REG_R12] = r.r12;
	g[UNWIND_REG_R13] = r.r13;
	g[UNWIND_REG_R14] = r.r14;
	g[UNWIND_REG_R15] = r.r15;
	g[UNWIND_REG_RIP] = r.rip;
	c->snap.regs_mask = (1u << UNWIND_NREGS) - 1;
	e = maps_lookup(&c->maps, (uint32_t)c->asid, r.rsp);
	assert_non_null(e);
	len = e->end - r.rsp < stack_max ? e->end - r.rsp : stack_max;
	c->stack = malloc(len ? len : 1);
	assert_non_null(c->stack);
	local = (struct iovec){c->stack, len};
	remote = (struct iovec){(void *)(uintptr_t)r.rsp, len};
	assert_int_equal(process_vm_readv(c->pid, &local, 1, &remote, 1, 0), (ssize_t)len);
	c->snap.stack = c->stack;
	c->snap.stack_len = len;
}

static void load_maps(struct child *c, const char *exe);

/* Runs exe mode arg in a child that dies with us; returns its pid. */
static pid_t spawn(const char *exe, const char *mode, const char *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(exe, exe, mode, arg, (char *)NULL);
		_exit(127);
	}
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (!live[i]) {
			live[i] = pid;
			break;
		}
	return pid;
}

static void start(struct child *c, const char *exe, const char *mode, const char *arg)
{
	memset(c, 0, sizeof(*c));
	c->pid = spawn(exe, mode, arg);
	wait_sigstop(c->pid);
	load_maps(c, exe);
	snapshot(c, STACK_COPY);
}

/* The mappings and symbols of c, the executable's bias. */
static void load_maps(struct child *c, const char *exe)
{
	char err[256];
	bool has_hdr, has_df;
	uint64_t min_vaddr;
	const struct maps_space *sp;

	maps_init(&c->maps);
	c->asid = maps_space_new(&c->maps, (uint32_t)c->pid, "chain");
	assert_true(c->asid >= 0);
	assert_int_equal(maps_read_proc(&c->maps, (uint32_t)c->asid, (uint32_t)c->pid, err,
					sizeof(err)), 0);
	read_elf(exe, &c->syms, &c->nsyms, &has_hdr, &has_df, &min_vaddr);
	sp = &c->maps.spaces[c->asid];
	for (size_t k = 0; k < sp->nidx; k++) {
		const struct maps_entry *e = &c->maps.v[sp->idx[k]];
		if (e->pgoff == 0 && !strcmp(maps_str(&c->maps, e->name), exe)) {
			c->bias = e->start - (min_vaddr & ~UINT64_C(0xfff));
			break;
		}
	}
}

static void finish(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == c->pid)
			live[i] = 0;
	maps_release(&c->maps);
	free(c->syms);
	free(c->stack);
}

/* The executable's function holding a stack entry, or NULL (another module). */
static const char *sym_of(const struct child *c, uint64_t entry)
{
	uint64_t pc = stack_value(entry);

	if (stack_tag(entry) == STACK_TAG_USER)
		pc -= 1;
	pc -= c->bias;
	for (size_t i = 0; i < c->nsyms; i++)
		if (pc >= c->syms[i].lo && pc < c->syms[i].hi)
			return c->syms[i].name;
	return NULL;
}

/* Unwinds c's snapshot; returns the depth. */
static int unwind_child(struct child *c, uint64_t *out, size_t cap, bool *complete)
{
	struct unwind *u;
	char err[128];
	int n;

	assert_int_equal(unwind_open(&u, &c->maps, err, sizeof(err)), 0);
	n = unwind_stack(u, (uint32_t)c->asid, &c->snap, out, cap, complete);
	unwind_close(u);
	return n;
}

/* The executable's frames of out[0..n) joined with ';' (runs of other modules as
 * "*"), leaf first. */
static void frames(const struct child *c, const uint64_t *out, int n, char *buf, size_t len)
{
	size_t at = 0;
	bool other = false;

	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		const char *s = sym_of(c, out[i]);
		if (!s) {
			if (!other)
				at += (size_t)snprintf(buf + at, len - at, "%s*", at ? ";" : "");
			other = true;
			continue;
		}
		other = false;
		at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ";" : "", s);
		assert_true(at < len);
	}
}

static void check_chain(const char *exe)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	char buf[4096];
	int n;

	start(&c, exe, "chain", NULL);
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	frames(&c, out, n, buf, sizeof(buf));
	/* libc's raise, our chain, libc's __libc_start_call_main and
	 * __libc_start_main, and _start, which ends the chain */
	assert_string_equal(buf, "*;stop_self;chain_d;chain_c;chain_b;chain_a;main;*;_start");
	assert_true(complete);
	assert_int_equal(stack_tag(out[0]), STACK_TAG_EXACT);
	for (int i = 1; i < n; i++)
		assert_int_equal(stack_tag(out[i]), STACK_TAG_USER);
	finish(&c);
}

static void test_chain(void **state)
{
	(void)state;
	check_chain(exe_plain);
}

static void test_no_eh_frame_hdr(void **state)
{
	struct sym *syms;
	size_t n;
	bool has_hdr, has_df;
	uint64_t min_vaddr;

	(void)state;
	read_elf(exe_nohdr, &syms, &n, &has_hdr, &has_df, &min_vaddr);
	free(syms);
	assert_false(has_hdr); /* the fixture really lacks it */
	check_chain(exe_nohdr);
}

static void test_debug_frame_only(void **state)
{
	struct sym *syms;
	size_t n;
	bool has_hdr, has_df;
	uint64_t min_vaddr;

	(void)state;
	read_elf(exe_debug, &syms, &n, &has_hdr, &has_df, &min_vaddr);
	free(syms);
	assert_true(has_df); /* our functions' CFI is only there */
	check_chain(exe_debug);
}

static void test_recursion_300(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	char buf[16384], want[16384];
	size_t at;
	int n;

	(void)state;
	start(&c, exe_plain, "recurse", "300");
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	frames(&c, out, n, buf, sizeof(buf));
	at = (size_t)snprintf(want, sizeof(want), "*;stop_self");
	for (int i = 0; i <= 300; i++)
		at += (size_t)snprintf(want + at, sizeof(want) - at, ";recurse");
	snprintf(want + at, sizeof(want) - at, ";main;*;_start");
	assert_string_equal(buf, want);
	assert_true(complete);
	finish(&c);
}

static void test_through_libc_qsort(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	char buf[4096];
	int n;

	(void)state;
	start(&c, exe_plain, "qsort", NULL);
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	frames(&c, out, n, buf, sizeof(buf));
	/* qsort's merge sort in libc between the comparator and its caller */
	assert_string_equal(buf, "*;stop_self;cmp_ints;*;call_qsort;main;*;_start");
	assert_true(complete);
	finish(&c);
}

static void test_signal_frame(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	char buf[4096];
	int n, spin = -1;

	(void)state;
	start(&c, exe_plain, "signal", NULL);
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	frames(&c, out, n, buf, sizeof(buf));
	/* raise, handler, libc's __restore_rt, the interrupted loop */
	assert_string_equal(buf, "*;stop_self;on_alarm;*;spin;main;*;_start");
	assert_true(complete);
	for (int i = 0; i < n; i++)
		if (sym_of(&c, out[i]) && !strcmp(sym_of(&c, out[i]), "spin"))
			spin = i;
	assert_true(spin > 1);
	/* the interrupted pc and the trampoline's are exact, not return addresses */
	assert_int_equal(stack_tag(out[spin]), STACK_TAG_EXACT);
	assert_int_equal(stack_tag(out[spin - 1]), STACK_TAG_EXACT);
	assert_int_equal(stack_tag(out[spin + 1]), STACK_TAG_USER);
	finish(&c);
}

/* A thread interrupted inside the vdso (clock_gettime) unwinds through it with our
 * own vdso's CFI. */
static void test_vdso(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	char buf[4096];
	const struct maps_entry *e = NULL;
	int n = 0, st;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.pid = spawn(exe_plain, "vdso", NULL);
	usleep(50000);
	assert_int_equal(ptrace(PTRACE_SEIZE, c.pid, 0, 0), 0);
	load_maps(&c, exe_plain);
	for (int tries = 0; tries < 5000; tries++) {
		struct user_regs_struct r;

		assert_int_equal(ptrace(PTRACE_INTERRUPT, c.pid, 0, 0), 0);
		assert_int_equal(waitpid(c.pid, &st, __WALL), c.pid);
		assert_int_equal(ptrace(PTRACE_GETREGS, c.pid, 0, &r), 0);
		e = maps_lookup(&c.maps, (uint32_t)c.asid, r.rip);
		if (e && !strcmp(maps_str(&c.maps, e->name), "[vdso]")) {
			snapshot(&c, STACK_COPY);
			break;
		}
		e = NULL;
		assert_int_equal(ptrace(PTRACE_CONT, c.pid, 0, 0), 0);
	}
	if (!e) {
		finish(&c);
		skip(); /* never caught inside the vdso (no vdso clock on this host?) */
	}
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	frames(&c, out, n, buf, sizeof(buf));
	assert_string_equal(buf, "*;vdso_loop;main;*;_start");
	assert_true(complete);
	finish(&c);
}

/* A second thread's chain ends in libc's start_thread and clone3, complete. */
static void test_thread(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	char buf[4096], path[64];
	pid_t leader, tid = 0;
	int n, st;
	DIR *d;
	struct dirent *de;

	(void)state;
	memset(&c, 0, sizeof(c));
	leader = spawn(exe_plain, "thread", NULL);
	for (int tries = 0; tries < 200 && !tid; tries++) {
		usleep(10000);
		snprintf(path, sizeof(path), "/proc/%d/task", (int)leader);
		d = opendir(path);
		assert_non_null(d);
		while ((de = readdir(d)))
			if (atoi(de->d_name) > 0 && atoi(de->d_name) != leader)
				tid = atoi(de->d_name);
		closedir(d);
	}
	assert_true(tid > 0);
	assert_int_equal(ptrace(PTRACE_SEIZE, tid, 0, 0), 0);
	c.pid = tid; /* ptrace and process_vm_readv take the thread */
	load_maps(&c, exe_plain);
	/* until the thread is past its start-up in libc (in its first instructions
	 * after clone3, the parent's CFI meets the new, empty stack) */
	for (int tries = 0; tries < 100; tries++) {
		assert_int_equal(ptrace(PTRACE_INTERRUPT, tid, 0, 0), 0);
		assert_int_equal(waitpid(tid, &st, __WALL), tid);
		free(c.stack);
		snapshot(&c, STACK_COPY);
		if (sym_of(&c, stack_make(STACK_TAG_EXACT, c.snap.regs[UNWIND_REG_RIP])))
			break;
		assert_int_equal(ptrace(PTRACE_CONT, tid, 0, 0), 0);
		usleep(10000);
	}
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	frames(&c, out, n, buf, sizeof(buf));
	assert_string_equal(buf, "thread_spin;thread_fn;*");
	assert_true(complete);
	/* a traced thread must be let go, or the killed leader is never reaped */
	assert_int_equal(ptrace(PTRACE_DETACH, tid, 0, 0), 0);
	c.pid = leader;
	finish(&c);
}

/* libunwind's own ptrace accessors on the same stopped thread give the same pcs. */
static void check_upt(const char *mode, const char *arg)
{
	struct child c;
	uint64_t out[MAX_FRAMES], ref[MAX_FRAMES];
	bool complete;
	unw_addr_space_t as;
	unw_cursor_t cur;
	void *upt;
	int n, nref = 0, r;

	start(&c, exe_plain, mode, arg);
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	as = unw_create_addr_space(&_UPT_accessors, 0);
	assert_non_null(as);
	upt = _UPT_create(c.pid);
	assert_non_null(upt);
	assert_int_equal(unw_init_remote(&cur, as, upt), 0);
	do {
		unw_word_t pc;
		unw_get_reg(&cur, UNW_REG_IP, &pc);
		ref[nref++] = pc;
		r = unw_step(&cur);
	} while (r > 0 && nref < MAX_FRAMES);
	_UPT_destroy(upt);
	unw_destroy_addr_space(as);
	assert_true(complete);
	assert_int_equal(n, nref);
	for (int i = 0; i < n; i++)
		assert_int_equal(stack_value(out[i]), ref[i]);
	finish(&c);
}

static void test_same_as_upt(void **state)
{
	(void)state;
	check_upt("chain", NULL);
	check_upt("qsort", NULL);
	check_upt("signal", NULL);
	check_upt("recurse", "50");
}

static void test_truncated_copy(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete;
	int n;

	(void)state;
	start(&c, exe_plain, "recurse", "300");
	c.snap.stack_len = 2048; /* far less than 300 frames need */
	n = unwind_child(&c, out, MAX_FRAMES, &complete);
	assert_false(complete);
	assert_true(n > 10 && n < 300);
	finish(&c);
}

static void test_depth_limit_and_missing_regs(void **state)
{
	struct child c;
	uint64_t out[MAX_FRAMES];
	bool complete = true;
	struct unwind *u;
	char err[128];
	int full;

	(void)state;
	start(&c, exe_plain, "chain", NULL);
	assert_int_equal(unwind_open(&u, &c.maps, err, sizeof(err)), 0);
	full = unwind_stack(u, (uint32_t)c.asid, &c.snap, out, MAX_FRAMES, &complete);
	assert_true(full > 8);
	assert_true(complete);
	assert_int_equal(unwind_stack(u, (uint32_t)c.asid, &c.snap, out, 3, &complete), 3);
	assert_false(complete);
	assert_int_equal(unwind_stack(u, (uint32_t)c.asid, &c.snap, out, 0, &complete), 0);
	/* again after a flush: same depth, still complete */
	unwind_flush(u, (uint32_t)c.asid);
	assert_int_equal(unwind_stack(u, (uint32_t)c.asid, &c.snap, out, MAX_FRAMES, &complete),
			 full);
	assert_true(complete);
	/* an unknown asid: the leaf only */
	assert_int_equal(unwind_stack(u, 77, &c.snap, out, MAX_FRAMES, &complete), 1);
	assert_false(complete);
	c.snap.regs_mask &= ~(1u << UNWIND_REG_RSP);
	assert_int_equal(unwind_stack(u, (uint32_t)c.asid, &c.snap, out, MAX_FRAMES, &complete),
			 1);
	assert_int_equal(out[0], stack_make(STACK_TAG_EXACT, c.snap.regs[UNWIND_REG_RIP]));
	c.snap.regs_mask = 0;
	assert_int_equal(unwind_stack(u, (uint32_t)c.asid, &c.snap, out, MAX_FRAMES, &complete),
			 0);
	unwind_close(u);
	unwind_close(NULL);
	finish(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_no_eh_frame_hdr),
		cmocka_unit_test(test_debug_frame_only),
		cmocka_unit_test(test_recursion_300),
		cmocka_unit_test(test_through_libc_qsort),
		cmocka_unit_test(test_signal_frame),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_same_as_upt),
		cmocka_unit_test(test_truncated_copy),
		cmocka_unit_test(test_depth_limit_and_missing_regs),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
