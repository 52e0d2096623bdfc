/* Unit tests of profiler/python.h: a process without CPython passes through; a live
 * interpreter of each installed version gives its Python chain (python_only), with
 * non-ASCII and qualified names; a native stack without evaluation-loop frames is a
 * counted mismatch that keeps the native stack. */
#include "profiler/maps.h"
#include "profiler/python.h"
#include "profiler/stacks.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void test_no_python_passes_through(void **state)
{
	struct maps m;
	struct stacks s;
	struct python *py;
	char err[128];
	uint64_t native[3] = {stack_make(STACK_TAG_EXACT, 0x401000),
			      stack_make(STACK_TAG_USER, 0x401100),
			      stack_make(STACK_TAG_USER, 0x401200)};
	uint64_t out[8];
	int64_t asid;

	(void)state;
	maps_init(&m);
	stacks_init(&s);
	asid = maps_space_new(&m, (uint32_t)getpid(), "self");
	assert_true(asid >= 0);
	assert_int_equal(maps_read_proc(&m, (uint32_t)asid, (uint32_t)getpid(), err, sizeof(err)), 0);
	assert_int_equal(python_open(&py, &m, err, sizeof(err)), 0);
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(python_merge(py, &s, (uint32_t)asid, (uint32_t)getpid(),
					      (uint32_t)getpid(), native, 3, out, 8, pass), 3);
		assert_memory_equal(out, native, sizeof(native));
	}
	/* a short out keeps the leaf end */
	assert_int_equal(python_merge(py, &s, (uint32_t)asid, (uint32_t)getpid(), (uint32_t)getpid(),
				      native, 3, out, 2, false), 2);
	assert_int_equal(s.py_mismatch, 0);
	python_forget(py, (uint32_t)asid);
	python_forget(py, 12345); /* unknown asid: nothing */
	python_close(py);
	python_close(NULL);
	stacks_release(&s);
	maps_release(&m);
}

static const char script[] =
	"import time; END = time.time() + 120\n"
	"class Box:\n"
	"    def größe(self):\n"
	"        while time.time() < END:\n"
	"            x = sum(range(1000))\n"
	"def main():\n"
	"    Box().größe()\n"
	"main()\n";

static bool has_frame(const struct stacks *s, const uint64_t *v, int n, const char *func,
		      uint32_t line)
{
	for (int i = 0; i < n; i++) {
		const struct stack_pyframe *f;
		if (stack_tag(v[i]) != STACK_TAG_PYTHON)
			continue;
		f = &s->pyframes[stack_value(v[i])];
		if (!strcmp(stacks_str(s, f->func), func) && (!line || f->line == line) &&
		    !strcmp(stacks_str(s, f->file), "<string>"))
			return true;
	}
	return false;
}

/* Runs the script under interp and reads its chain; false when interp is missing. */
static bool check_interpreter(const char *interp, int minor)
{
	struct maps m;
	struct stacks s;
	struct python *py;
	char err[128];
	uint64_t native[1] = {stack_make(STACK_TAG_EXACT, 0x1000)};
	uint64_t out[64];
	int n = 0, status;
	pid_t pid;
	int64_t asid;
	uint64_t mismatches;
	bool good = false;

	if (access(interp, X_OK) != 0)
		return false;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a failed assertion longjmps past the kill below: the interpreter must not
		 * outlive the test (it also gives up by itself after 120 s) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(interp, interp, "-c", script, (char *)NULL);
		_exit(127);
	}
	maps_init(&m);
	stacks_init(&s);
	assert_int_equal(python_open(&py, &m, err, sizeof(err)), 0);
	/* the interpreter starts, imports and reaches the loop: seconds on a loaded machine */
	for (int tries = 0; tries < 400 && !good; tries++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		/* a fresh recording each time: the first reads may see the process
		 * before its exec, and what python learnt is keyed by maps' files */
		python_close(py);
		maps_release(&m);
		maps_init(&m);
		assert_int_equal(python_open(&py, &m, err, sizeof(err)), 0);
		asid = maps_space_new(&m, (uint32_t)pid, "py");
		if (maps_read_proc(&m, (uint32_t)asid, (uint32_t)pid, err, sizeof(err)) < 0)
			continue;
		n = python_merge(py, &s, (uint32_t)asid, (uint32_t)pid, (uint32_t)pid, native, 1, out,
				 64, true);
		good = n >= 3 && has_frame(&s, out, n, minor >= 11 ? "Box.größe" : "größe", 5) &&
		       has_frame(&s, out, n, "main", 7) && has_frame(&s, out, n, "<module>", 8);
	}
	if (!good)
		fprintf(stderr, "%s: %d entries\n", interp, n);
	assert_true(good);
	/* order: leaf first */
	assert_int_equal(stack_tag(out[n - 1]), STACK_TAG_PYTHON);
	assert_string_equal(stacks_str(&s, s.pyframes[stack_value(out[n - 1])].func), "<module>");
	/* merged with a native stack that has no evaluation loop: a counted mismatch
	 * (earlier reads may have counted some while the interpreter started) */
	mismatches = s.py_mismatch;
	assert_int_equal(python_merge(py, &s, (uint32_t)asid, (uint32_t)pid, (uint32_t)pid, native, 1,
				      out, 64, false), 1);
	assert_int_equal(out[0], native[0]);
	assert_int_equal(s.py_mismatch, mismatches + 1);
	/* another thread id of the process runs no Python: passes through */
	assert_int_equal(python_merge(py, &s, (uint32_t)asid, (uint32_t)pid, (uint32_t)pid + 100000,
				      native, 1, out, 64, true), 1);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	python_close(py);
	stacks_release(&s);
	maps_release(&m);
	return true;
}

static void test_interpreters(void **state)
{
	static const struct {
		const char *path;
		int minor;
	} interps[] = {
		{"/usr/bin/python3.11", 11},
		{"/root/.pyenv/versions/3.8.18/bin/python3.8", 8},
		{"/root/.pyenv/versions/3.9.18/bin/python3.9", 9},
		{"/root/.pyenv/versions/3.10.13/bin/python3.10", 10},
		{"/root/.pyenv/versions/3.11.7/bin/python3.11", 11},
		{"/root/.pyenv/versions/3.12.1/bin/python3.12", 12},
		{"/root/.pyenv/versions/3.13.0/bin/python3.13", 13},
	};
	int found = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(interps) / sizeof(interps[0]); i++) {
		if (check_interpreter(interps[i].path, interps[i].minor))
			found++;
		else
			fprintf(stderr, "note: %s not installed, not checked\n", interps[i].path);
	}
	if (!found)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_python_passes_through),
		cmocka_unit_test(test_interpreters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
