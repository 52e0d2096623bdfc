#include "profiler/target.h"

#include "common/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int target_launch(struct target *t, char *const argv[], char *err, size_t errsz)
{
	int hold[2], report[2];
	pid_t pid;
	int e;

	memset(t, 0, sizeof(*t));
	t->hold_fd = t->exec_fd = -1;
	if (!argv || !argv[0])
		return errf(err, errsz, -EINVAL, "no command to run");
	if (pipe2(hold, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
		e = errno;
		return errf(err, errsz, -e, "cannot create a pipe: %s", strerror(e));
	}
	t->pids = malloc(sizeof(*t->pids));
	if (!t->pids)
		return errf(err, errsz, -ENOMEM, "out of memory");
	pid = fork();
	if (pid < 0) {
		e = errno;
		free(t->pids);
		t->pids = NULL;
		return errf(err, errsz, -e, "cannot fork: %s", strerror(e));
	}
	if (pid == 0) {
		char c;
		close(hold[1]);
		close(report[0]);
		/* wait until the sampler is ready; EOF without a byte means scorch gave up */
		if (read(hold[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(report[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(hold[0]);
	close(report[1]);
	t->hold_fd = hold[1];
	t->exec_fd = report[0];
	t->launched = true;
	t->child = pid;
	t->pids[0] = pid;
	t->npids = 1;
	return 0;
}

int target_release(struct target *t, char *err, size_t errsz)
{
	ssize_t n;
	int e = 0;

	if (t->hold_fd < 0)
		return 0;
	if (write(t->hold_fd, "g", 1) != 1) {
		e = errno;
		close(t->hold_fd);
		t->hold_fd = -1;
		return errf(err, errsz, -e, "cannot start the command: %s", strerror(e));
	}
	close(t->hold_fd);
	t->hold_fd = -1;
	/* the report pipe closes on a successful exec (O_CLOEXEC) and carries errno if not */
	do
		n = read(t->exec_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(t->exec_fd);
	t->exec_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		int status;
		while (waitpid(t->child, &status, 0) < 0 && errno == EINTR)
			;
		t->child_exited = true;
		t->child_status = status;
		if (e == ENOENT)
			return errf(err, errsz, -e, "command not found");
		if (e == EACCES)
			return errf(err, errsz, -e, "command is not executable (permission denied)");
		return errf(err, errsz, -e, "cannot execute the command: %s", strerror(e));
	}
	return 0;
}

/* "State:" of /proc/PID/status; 0 if unreadable. */
static char proc_state(pid_t pid, bool *kthread)
{
	char path[64], line[256];
	char state = 0;
	FILE *f;

	*kthread = false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6)) {
			char *p = line + 6;
			while (*p == ' ' || *p == '\t')
				p++;
			state = *p;
		} else if (!strncmp(line, "Kthread:", 8)) {
			*kthread = strtol(line + 8, NULL, 10) == 1;
		}
	}
	fclose(f);
	/* older kernels have no Kthread line: kernel threads have an empty cmdline and
	 * no exe, but so do zombies; PF_KTHREAD is bit 21 of /proc/PID/stat flags */
	if (!*kthread) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "re");
		if (f) {
			char buf[1024];
			size_t len = fread(buf, 1, sizeof(buf) - 1, f);
			char *p;
			buf[len] = 0;
			p = strrchr(buf, ')');
			if (p) {
				unsigned long flags = 0;
				if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) == 1)
					*kthread = (flags & 0x00200000UL) != 0;
			}
			fclose(f);
		}
	}
	return state;
}

int target_attach(struct target *t, const pid_t *pids, size_t npids, char *err, size_t errsz)
{
	memset(t, 0, sizeof(*t));
	t->hold_fd = t->exec_fd = -1;
	if (!npids)
		return errf(err, errsz, -EINVAL, "no process to attach to");
	for (size_t i = 0; i < npids; i++) {
		bool kthread;
		char state;

		if (pids[i] <= 0)
			return errf(err, errsz, -EINVAL, "invalid pid %d", (int)pids[i]);
		if (kill(pids[i], 0) < 0 && errno == ESRCH)
			return errf(err, errsz, -ESRCH, "no such process: pid %d", (int)pids[i]);
		state = proc_state(pids[i], &kthread);
		if (!state)
			return errf(err, errsz, -ESRCH, "no such process: pid %d", (int)pids[i]);
		if (state == 'Z' || state == 'X')
			return errf(err, errsz, -ESRCH,
				    "pid %d is a zombie: it has exited and has no stacks to sample",
				    (int)pids[i]);
		if (kthread)
			return errf(err, errsz, -EINVAL,
				    "pid %d is a kernel thread: scorch samples user processes "
				    "(use perf for kernel threads)",
				    (int)pids[i]);
	}
	t->pids = malloc(npids * sizeof(*t->pids));
	if (!t->pids)
		return errf(err, errsz, -ENOMEM, "out of memory");
	memcpy(t->pids, pids, npids * sizeof(*pids));
	t->npids = npids;
	return 0;
}

bool target_poll(struct target *t)
{
	int status;
	pid_t r;

	if (!t->launched)
		return false;
	if (t->child_exited)
		return true;
	r = waitpid(t->child, &status, WNOHANG);
	if (r == t->child) {
		t->child_exited = true;
		t->child_status = status;
	}
	return t->child_exited;
}

void target_child_reaped(struct target *t, int status)
{
	t->child_exited = true;
	t->child_status = status;
}

bool target_alive(pid_t pid)
{
	bool kthread;
	char state = proc_state(pid, &kthread);

	return state && state != 'Z' && state != 'X';
}

int target_threads(pid_t pid, pid_t **tids)
{
	char path[64];
	struct dirent *d;
	pid_t *v = NULL, *nv;
	size_t n = 0, cap = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		char *end;
		long tid = strtol(d->d_name, &end, 10);
		if (d->d_name[0] < '0' || d->d_name[0] > '9' || *end)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = (pid_t)tid;
	}
	closedir(dir);
	*tids = v;
	return (int)n;
}

int target_wait(struct target *t)
{
	int status;

	if (!t->launched)
		return 0;
	while (!t->child_exited) {
		pid_t r = waitpid(t->child, &status, 0);
		if (r == t->child) {
			t->child_exited = true;
			t->child_status = status;
		} else if (r < 0 && errno != EINTR) {
			break;
		}
	}
	return t->child_status;
}

void target_release_all(struct target *t)
{
	/* closing the hold pipe without a byte makes a held child _exit(127) */
	if (t->hold_fd >= 0)
		close(t->hold_fd);
	if (t->exec_fd >= 0)
		close(t->exec_fd);
	if (t->launched && !t->child_exited && t->hold_fd >= 0) {
		int status;
		while (waitpid(t->child, &status, 0) < 0 && errno == EINTR)
			;
		t->child_exited = true;
	}
	t->hold_fd = t->exec_fd = -1;
	free(t->pids);
	t->pids = NULL;
	t->npids = 0;
}
