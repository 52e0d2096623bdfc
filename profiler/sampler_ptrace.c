/*
 * The ptrace sampler: for hosts where perf_event_open is denied but a user may trace
 * their own processes, and for wall-clock profiles (every thread at every tick,
 * running or waiting).
 *
 * A dedicated tracer thread seizes every thread of the target (PTRACE_SEIZE, so no
 * SIGSTOP is ever sent; children and new threads are followed through the
 * TRACECLONE/FORK/VFORK/EXEC options) and at each tick of -F HZ interrupts the
 * threads it samples (PTRACE_INTERRUPT), copies their registers (PTRACE_GETREGS) and
 * the top of their stack (one process_vm_readv), and resumes them at once: a thread
 * stays stopped only for the copy. The copies go through a queue to the caller's
 * thread, which unwinds them (profiler/unwind.c, as perf mode does) and adds them to
 * the stacks in read(), so that stacks, maps and the unwinder are only ever touched
 * by the caller's thread.
 *
 * Why a thread of its own: ptrace requests must come from the tracer thread, events
 * must be answered at once (a tracee in a signal-delivery-stop waits for us), and
 * when the tracer thread exits the kernel detaches every tracee it still has, so a
 * thread that will not stop (uninterruptible sleep) can never keep scorch from
 * leaving the target alone. PTRACE_O_EXITKILL is never set: scorch being killed
 * never kills the target.
 *
 * Waiting: SIGCHLD (sent to the tracer for every tracee stop and exit) is blocked in
 * the caller's thread from start() to stop() and in the tracer thread, which takes it
 * with sigtimedwait() up to the next tick, then reaps every event with
 * waitpid(-1, __WALL | WNOHANG). No signal handler is installed. The kernel sends
 * SIGCHLD for a tracee's stop only when the process's SIGCHLD action has neither
 * SA_NOCLDSTOP nor SIG_IGN, so start() clears those (stop() puts the caller's action
 * back): with SA_NOCLDSTOP, as cmd_record used to install, the tracer learnt of a
 * stop only at the next tick, and threads sat stopped for up to a whole period. If
 * some other thread of scorch has SIGCHLD unblocked and swallows one, events wait for
 * the next tick.
 *
 * CPU clock: only threads that are runnable at the tick are interrupted; each thread
 * earns credit from its CPU time since the last tick (/proc/PID/task/TID/schedstat,
 * nanoseconds) and a sample stands for as many periods of CPU time as the thread used,
 * so shares follow CPU time as perf's cpu-clock does, and a thread that used no CPU
 * since the last tick costs nothing and contributes nothing. Wall clock: every thread
 * at every tick, marked off-CPU when it was not runnable, with a leaf entry naming the
 * system call it waits in (orig_rax).
 */
#include "profiler/sampler.h"

#include "common/buf.h"
#include "common/err.h"
#include "profiler/ptrace_map.h"
#include "profiler/python.h"
#include "profiler/unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE_BYTES 4096u
#define MAX_STACK_BYTES 65528u
#define MAX_QUEUED_BYTES (64u << 20) /* stack copies waiting for read(), at most */
#define DETACH_WAIT_NS (500 * NSEC_PER_MS)
#define NSEC_PER_MS UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)
#define MAX_CREDIT_PERIODS 100 /* CPU time a thread may bank while never caught running */
#define MAPS_REREAD_NS (20 * NSEC_PER_MS)
/* Re-reads of a process's mappings that an incomplete unwind may cause, from its
 * start or exec: the dynamic loader maps libraries after the exec that read them
 * first, and a stack through a library not read yet can end in an address that
 * happens to be mapped (so the re-read on an unmapped end is not enough). Bounded,
 * since each re-read adds the mappings again. */
#define INCOMPLETE_REREADS 4
#define MAX_STOP_RECORDS (1u << 20)
#define COLLECT_SPIN_NS (300 * UINT64_C(1000))

/* What the tracer thread hands to the caller's thread, in order. */
enum rec_kind {
	REC_SAMPLE, /* a snapshot of one thread */
	REC_ATTACH, /* pid is a process scorch attached to: read its mappings */
	REC_FORK,   /* pid was forked from parent (parent 0: unknown, read its mappings) */
	REC_EXEC,   /* pid executed a new program */
	REC_EXIT,   /* process pid exited */
	REC_REAPED, /* the launched child exited with status; it was reaped */
	REC_REPEAT, /* tid has not run since its last snapshot: the same stack again */
};

struct rec {
	struct rec *next;
	enum rec_kind kind;
	pid_t pid, tid, parent;
	int status;
	uint32_t count;  /* samples this snapshot stands for */
	bool off_cpu;    /* the thread was not runnable at the tick */
	uint64_t wait;   /* system call it waited in, or STACK_WAIT_UNKNOWN */
	uint64_t regs[UNWIND_NREGS];
	size_t stack_len; /* bytes copied into stack */
	uint8_t *stack;   /* stack_cap bytes (samples only) */
	struct python_chain *chain; /* its Python frames, read in the stop (Python on) */
};

/* A traced thread, owned by the tracer thread. */
struct thr {
	pid_t tid, pid;
	bool started;      /* it ran under us: seized, or its first stop was seen */
	bool trap_pending; /* PTRACE_INTERRUPT sent, its PTRACE_EVENT_STOP not seen yet */
	bool want;         /* take a sample at its next stop */
	bool listening;    /* in a group-stop under PTRACE_LISTEN */
	bool off_cpu;      /* not runnable at the tick that wants the sample */
	bool timed;        /* it was running: its stop counts in the stopped-time figures */
	char tick_state;   /* its state letter at the tick that wants the sample */
	uint32_t count;    /* samples the pending sample stands for */
	uint64_t last_nr;  /* last system call seen, to name a restarted one */
	int stat_fd;       /* /proc/PID/task/TID/stat, or -1 */
	int sched_fd;      /* /proc/PID/task/TID/schedstat, or -1 */
	int sc_fd;         /* /proc/PID/task/TID/syscall, or -1 */
	uint64_t cpu_ns;   /* CPU time at the last tick */
	uint64_t credit_ns;
	uint64_t t_interrupt; /* CLOCK_MONOTONIC ns of the PTRACE_INTERRUPT */
	/* the last snapshot, to tell whether the thread ran since (see tick) */
	bool have_snap;
	uint64_t snap_sp, snap_ip, snap_nr;
	uint64_t runs_stopped; /* times it was switched in, read while stopped there */
};

/* A process as the caller's thread knows it. */
struct cproc {
	uint32_t asid;
	uint64_t maps_read_ns; /* when its mappings were last read */
	uint32_t rereads_left; /* re-reads an incomplete unwind may still ask for */
};

struct pstate {
	struct sampler_ctx *ctx;
	uint64_t period_ns;
	size_t stack_cap; /* bytes copied per sample */
	bool wall;
	bool follow_children;

	/* shared between the two threads, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rec *head, *tail; /* queue, oldest first */
	struct rec *free_samples; /* processed sample records, back from the caller */
	uint64_t lost;       /* samples dropped by the tracer */
	bool started;        /* the tracer finished seizing (start_rc valid) */
	int start_rc;
	char start_err[256];
	bool finished; /* the tracer thread has detached and is gone */
	atomic_bool stop_req;
	int efd; /* eventfd: the queue got records or the tracer finished */

	/* tracer thread only */
	pthread_t tracer;
	bool tracer_running;
	bool fifo; /* the tracer runs at SCHED_FIFO: it never needs to spin */
	struct rec *phead, *ptail; /* records not handed over yet (push, notify) */
	struct rec *tfree;         /* sample records ready for use */
	size_t nsample_recs;       /* sample records allocated */
	struct python_reader *reader; /* NULL unless Python frames are merged */
	uint64_t tlost, lost_published;
	uint64_t handled;   /* samples taken or given up, to know when a tick is done */
	struct ptrace_map thr;   /* tid -> struct thr * */
	pid_t *roots;            /* the target processes read() waits for */
	size_t nroots, roots_alive;
	bool child_reaped;
	uint64_t next_tick;
	struct pstats {
		uint64_t samples, stops, stop_ns_sum, stop_ns_max, held_ns_sum;
		uint32_t *stop_ns; /* each timed stop, for the median and p99 */
		uint32_t *held_ns;
		size_t nstop, stop_cap, held_cap;
		uint64_t ticks, late_ticks, repeats;
		uint64_t tracer_cpu_ns; /* the tracer thread's CPU time while sampling */
	} stats;

	/* caller's thread only */
	struct ptrace_map procs; /* pid -> struct cproc * */
	struct ptrace_map seen;  /* asid << 32 | tid -> 1: threads given to stacks_thread */
	struct ptrace_map last;  /* tid -> struct last *: its last stack */
	uint64_t lost_reported;
	sigset_t old_mask; /* the caller's mask before start() */
	struct sigaction old_chld; /* the caller's SIGCHLD action before start() */
	bool chld_changed;         /* start() changed it (stop() restores it) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- the queue ------------------------------------------------------------------ */

/* Queues r for the caller's thread: on the tracer's own list first, which notify()
 * hands over under the lock once per tick or event batch, after every stopped thread
 * was resumed. Nothing the tracer does while a thread waits for it takes the lock,
 * so the caller's thread, preempted while it holds the lock, cannot keep a target
 * thread stopped. */
static void push(struct pstate *st, struct rec *r)
{
	r->next = NULL;
	if (st->ptail)
		st->ptail->next = r;
	else
		st->phead = r;
	st->ptail = r;
}

static void notify(struct pstate *st)
{
	uint64_t one = 1;

	if (!st->phead && st->tlost == st->lost_published)
		return;
	pthread_mutex_lock(&st->lock);
	if (st->phead) {
		if (st->tail)
			st->tail->next = st->phead;
		else
			st->head = st->phead;
		st->tail = st->ptail;
	}
	st->lost = st->tlost;
	/* take back the sample records the caller's thread is done with */
	if (!st->tfree) {
		st->tfree = st->free_samples;
		st->free_samples = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	st->phead = st->ptail = NULL;
	st->lost_published = st->tlost;
	if (write(st->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow at this rate; read() also polls with a timeout */
	}
}

static void push_event(struct pstate *st, enum rec_kind kind, pid_t pid, pid_t parent, int status)
{
	struct rec *r = calloc(1, sizeof(*r));

	if (!r) {
		st->tlost++;
		return;
	}
	r->kind = kind;
	r->pid = pid;
	r->parent = parent;
	r->status = status;
	push(st, r);
}

/* A sample record with room for the stack, or NULL when too much is queued. Tracer
 * only, without the lock: from its own free list, or a new one. */
static struct rec *sample_rec(struct pstate *st)
{
	struct rec *r = st->tfree;

	if (r) {
		st->tfree = r->next;
	} else if ((st->nsample_recs + 1) * (st->stack_cap + sizeof(*r) +
					     (st->reader ? sizeof(*r->chain) : 0)) <=
		   MAX_QUEUED_BYTES) {
		r = calloc(1, sizeof(*r));
		if (r && ((st->stack_cap && !(r->stack = malloc(st->stack_cap))) ||
			  (st->reader && !(r->chain = malloc(sizeof(*r->chain)))))) {
			free(r->stack);
			free(r);
			r = NULL;
		}
		if (r)
			st->nsample_recs++;
	}
	if (!r) {
		st->tlost++;
		return NULL;
	}
	r->kind = REC_SAMPLE;
	return r;
}

/* Caller's thread: a processed record goes back to the shared free list. */
static void free_rec(struct pstate *st, struct rec *r)
{
	if (r->kind != REC_SAMPLE) {
		free(r);
		return;
	}
	pthread_mutex_lock(&st->lock);
	r->next = st->free_samples;
	st->free_samples = r;
	pthread_mutex_unlock(&st->lock);
}

/* ---- threads (tracer side) -------------------------------------------------------- */

static struct thr *thr_find(struct pstate *st, pid_t tid)
{
	uint64_t v;

	return ptrace_map_get(&st->thr, (uint64_t)tid, &v) ? (struct thr *)(uintptr_t)v : NULL;
}

static int open_task_file(pid_t pid, pid_t tid, const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Thread group and parent of tid from /proc/TID/status; 0 when it is gone. */
static pid_t tgid_of(pid_t tid, pid_t *ppid)
{
	char path[64], line[256];
	pid_t tgid = 0;
	FILE *f;

	*ppid = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5))
			tgid = (pid_t)strtol(line + 5, NULL, 10);
		else if (!strncmp(line, "PPid:", 5))
			*ppid = (pid_t)strtol(line + 5, NULL, 10);
	}
	fclose(f);
	return tgid;
}

/* The current text of /proc/PID/task/TID/NAME into buf (NUL-terminated), through
 * *fd, opened on first use and kept. false when the thread is gone. */
static bool task_file(const struct thr *t, int *fd, const char *name, char *buf, size_t len)
{
	ssize_t n;

	if (*fd < 0)
		*fd = open_task_file(t->pid, t->tid, name);
	if (*fd < 0)
		return false;
	n = pread(*fd, buf, len - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Runtime (ns) and the number of times t was switched in, from schedstat. */
static bool sched_read(struct thr *t, uint64_t *cpu_ns, uint64_t *runs)
{
	char buf[128];
	unsigned long long a, b, c;

	if (!task_file(t, &t->sched_fd, "schedstat", buf, sizeof(buf)) ||
	    sscanf(buf, "%llu %llu %llu", &a, &b, &c) != 3)
		return false;
	*cpu_ns = a;
	if (runs)
		*runs = c;
	return true;
}

/* State letter, CPU time and switch-ins of t; false when the thread is gone. */
static bool thr_read(struct thr *t, char *state, uint64_t *cpu_ns, uint64_t *runs)
{
	char buf[1024];
	char *p;

	if (!task_file(t, &t->stat_fd, "stat", buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return false;
	*state = p[2];
	*cpu_ns = 0;
	*runs = UINT64_MAX;
	sched_read(t, cpu_ns, runs);
	return true;
}

static struct thr *thr_add(struct pstate *st, pid_t tid, pid_t pid)
{
	struct thr *t = calloc(1, sizeof(*t));
	uint64_t runs;
	char state;

	if (!t)
		return NULL;
	t->tid = tid;
	t->pid = pid;
	t->stat_fd = t->sched_fd = t->sc_fd = -1;
	t->last_nr = STACK_WAIT_UNKNOWN;
	if (ptrace_map_put(&st->thr, (uint64_t)tid, (uint64_t)(uintptr_t)t) < 0) {
		free(t);
		return NULL;
	}
	if (!thr_read(t, &state, &t->cpu_ns, &runs))
		t->cpu_ns = 0;
	return t;
}

static void thr_drop(struct pstate *st, struct thr *t)
{
	ptrace_map_del(&st->thr, (uint64_t)t->tid);
	if (t->stat_fd >= 0)
		close(t->stat_fd);
	if (t->sched_fd >= 0)
		close(t->sched_fd);
	if (t->sc_fd >= 0)
		close(t->sc_fd);
	free(t);
}

static bool is_root(const struct pstate *st, pid_t pid)
{
	for (size_t i = 0; i < st->nroots; i++)
		if (st->roots[i] == pid)
			return true;
	return false;
}

static bool process_known(struct pstate *st, pid_t pid)
{
	size_t i = 0;
	uint64_t v;

	while (ptrace_map_next(&st->thr, &i, NULL, &v))
		if (((struct thr *)(uintptr_t)v)->pid == pid)
			return true;
	return false;
}

/* ---- the snapshot ------------------------------------------------------------------ */

/* Copies [sp, sp + len) of tid into buf with one process_vm_readv, one iovec per page
 * so that the copy stops cleanly at the end of the stack mapping (a partial transfer
 * never splits an iovec). Bytes copied. */
static size_t read_stack(pid_t tid, uint64_t sp, uint8_t *buf, size_t len)
{
	struct iovec local = {buf, len};
	struct iovec remote[MAX_STACK_BYTES / PAGE_BYTES + 2];
	size_t n = 0, off = 0;
	ssize_t got;

	while (off < len && n < sizeof(remote) / sizeof(remote[0])) {
		uint64_t a = sp + off;
		size_t chunk = PAGE_BYTES - (size_t)(a % PAGE_BYTES);
		if (chunk > len - off)
			chunk = len - off;
		remote[n].iov_base = (void *)(uintptr_t)a;
		remote[n].iov_len = chunk;
		n++;
		off += chunk;
	}
	got = process_vm_readv(tid, &local, 1, remote, n, 0);
	return got > 0 ? (size_t)got : 0;
}

/* Figures on one stop: held = from the report of the stop to the resume (what the
 * target waits for us), and interrupt-to-resume (also the time the thread took to
 * reach the trap, which includes waiting for a CPU on a busy machine). */
static void record_stop(struct pstate *st, struct thr *t, uint64_t t_seen)
{
	struct pstats *s = &st->stats;
	uint64_t now = now_ns();
	uint64_t d = now - t->t_interrupt, held = now - t_seen;

	if (!t->timed)
		return;
	t->timed = false;
	if (s->nstop >= MAX_STOP_RECORDS || GROW(s->stop_ns, s->stop_cap, s->nstop + 1) < 0 ||
	    GROW(s->held_ns, s->held_cap, s->nstop + 1) < 0)
		return;
	s->stops++;
	s->stop_ns_sum += d;
	s->held_ns_sum += held;
	if (d > s->stop_ns_max)
		s->stop_ns_max = d;
	s->stop_ns[s->nstop] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	s->held_ns[s->nstop++] = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held;
}

/* The return values of a system call that was sleeping when a signal or an interrupt
 * came: -EINTR, or the kernel's -ERESTARTSYS (512), -ERESTARTNOINTR (513),
 * -ERESTARTNOHAND (514) and -ERESTART_RESTARTBLOCK (516) before the restart. */
static bool interrupted_rc(int64_t rax)
{
	return rax == -EINTR || rax == -512 || rax == -513 || rax == -514 || rax == -516;
}

/* Takes the sample t waits for; t is in a ptrace-stop. The caller resumes t, then
 * queues the record (push), so that the thread never waits for the queue. */
static struct rec *take_sample(struct pstate *st, struct thr *t)
{
	struct user_regs_struct r;
	struct rec *rec;

	t->want = false;
	st->handled++;
	if (ptrace(PTRACE_GETREGS, t->tid, NULL, &r) < 0)
		return NULL;
	if (!st->wall && (int64_t)r.orig_rax >= 0 && interrupted_rc((int64_t)r.rax)) {
		/* it went to sleep between the tick and the stop: the CPU time it earned
		 * belongs to where it runs, so keep the credit for a later sample */
		t->credit_ns += (uint64_t)t->count * st->period_ns;
		return NULL;
	}
	rec = sample_rec(st);
	if (!rec)
		return NULL;
	rec->pid = t->pid;
	rec->tid = t->tid;
	rec->count = t->count ? t->count : 1;
	rec->off_cpu = t->off_cpu;
	rec->wait = STACK_WAIT_UNKNOWN;
	/* a system call our interrupt broke off was sleeping, whatever the state read
	 * before the interrupt said (a thread woken to answer an earlier interrupt is
	 * runnable for a while) */
	if (st->wall && (int64_t)r.orig_rax >= 0 && interrupted_rc((int64_t)r.rax))
		rec->off_cpu = true;
	/* stopped in user code outside any system call: it woke up and ran between the
	 * state read at the tick and the interrupt (a fault's wait, state D, stays off) */
	if ((int64_t)r.orig_rax < 0 && t->tick_state != 'D')
		rec->off_cpu = false;
	if ((int64_t)r.orig_rax >= 0) {
		uint64_t nr = r.orig_rax;
		/* a sleep interrupted by an earlier tick goes on as restart_syscall(2) */
		if (nr == SYS_restart_syscall && t->last_nr != STACK_WAIT_UNKNOWN)
			nr = t->last_nr;
		t->last_nr = nr;
		rec->wait = nr;
	}
	rec->regs[UNWIND_REG_RAX] = r.rax;
	rec->regs[UNWIND_REG_RDX] = r.rdx;
	rec->regs[UNWIND_REG_RCX] = r.rcx;
	rec->regs[UNWIND_REG_RBX] = r.rbx;
	rec->regs[UNWIND_REG_RSI] = r.rsi;
	rec->regs[UNWIND_REG_RDI] = r.rdi;
	rec->regs[UNWIND_REG_RBP] = r.rbp;
	rec->regs[UNWIND_REG_RSP] = r.rsp;
	rec->regs[UNWIND_REG_R8] = r.r8;
	rec->regs[UNWIND_REG_R9] = r.r9;
	rec->regs[UNWIND_REG_R10] = r.r10;
	rec->regs[UNWIND_REG_R11] = r.r11;
	rec->regs[UNWIND_REG_R12] = r.r12;
	rec->regs[UNWIND_REG_R13] = r.r13;
	rec->regs[UNWIND_REG_R14] = r.r14;
	rec->regs[UNWIND_REG_R15] = r.r15;
	rec->regs[UNWIND_REG_RIP] = r.rip;
	rec->stack_len = st->stack_cap ? read_stack(t->tid, r.rsp, rec->stack, st->stack_cap) : 0;
	/* the Python frames of this very instant: read after the resume, they would
	 * belong to wherever the thread has gone since */
	if (rec->chain)
		python_read(st->reader, (uint32_t)t->pid, (uint32_t)t->tid, rec->chain);
	st->stats.samples++;
	return rec;
}

/* Resumes t from a ptrace-stop, delivering sig (0: none). */
static void resume(pid_t tid, int sig)
{
	/* ESRCH: it was killed (SIGKILL) meanwhile; its exit comes through waitpid */
	ptrace(PTRACE_CONT, tid, NULL, (void *)(uintptr_t)sig);
}

/* Samples t if a sample is due, resumes it with sig, then queues the sample. */
static void sample_and_resume(struct pstate *st, struct thr *t, int sig)
{
	uint64_t t0 = now_ns();
	struct rec *rec = t->want ? take_sample(st, t) : NULL;
	uint64_t cpu;

	/* how often it was switched in, while it cannot be: after the resume, a change
	 * means it ran (see unchanged) */
	if (rec)
		t->have_snap = sched_read(t, &cpu, &t->runs_stopped);
	resume(t->tid, sig);
	record_stop(st, t, t0);
	if (rec) {
		t->snap_sp = rec->regs[UNWIND_REG_RSP];
		t->snap_ip = rec->regs[UNWIND_REG_RIP];
		t->snap_nr = rec->wait;
		push(st, rec);
	}
}

/* t will not give the sample it was interrupted for. */
static void give_up(struct pstate *st, struct thr *t)
{
	if (t->want)
		st->handled++;
	t->want = false;
	t->timed = false;
}

/* ---- events (tracer side) ------------------------------------------------------------- */

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* A tracee we have not heard of stopped: a thread or child auto-attached through an
 * event whose report has not been seen yet. Learns its process from /proc. */
static struct thr *adopt(struct pstate *st, pid_t tid)
{
	pid_t ppid, pid = tgid_of(tid, &ppid);
	bool new_proc;

	if (!pid)
		pid = tid;
	new_proc = !process_known(st, pid);
	if (new_proc)
		push_event(st, REC_FORK, pid, process_known(st, ppid) ? ppid : 0, 0);
	return thr_add(st, tid, pid);
}

/* The new tracee of a CLONE/FORK/VFORK event of parent. */
static void new_tracee(struct pstate *st, struct thr *parent, int event)
{
	unsigned long msg = 0;
	pid_t tid, pid, ppid;

	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, NULL, &msg) < 0)
		return;
	tid = (pid_t)msg;
	if (thr_find(st, tid))
		return; /* its own stop came first (adopt) */
	if (event == PTRACE_EVENT_CLONE) {
		/* a thread, unless clone() was called without CLONE_THREAD */
		pid = tgid_of(tid, &ppid);
		if (!pid)
			pid = parent->pid;
	} else {
		pid = tid;
	}
	if (pid != parent->pid)
		push_event(st, REC_FORK, pid, parent->pid, 0);
	thr_add(st, tid, pid);
}

static void exec_event(struct pstate *st, struct thr *t)
{
	unsigned long former = 0;
	size_t i = 0;
	uint64_t v;

	/* a thread other than the leader executed: it now has the leader's tid, and every
	 * other thread of the process is gone (ptrace(2), "execve(2) under ptrace") */
	if (ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &former) == 0 && (pid_t)former != t->tid) {
		struct thr *old = thr_find(st, (pid_t)former);
		if (old)
			thr_drop(st, old);
	}
	while (ptrace_map_next(&st->thr, &i, NULL, &v)) {
		struct thr *o = (struct thr *)(uintptr_t)v;
		if (o->pid == t->pid && o != t)
			thr_drop(st, o);
	}
	if (t->stat_fd >= 0)
		close(t->stat_fd);
	if (t->sched_fd >= 0)
		close(t->sched_fd);
	if (t->sc_fd >= 0)
		close(t->sc_fd);
	t->stat_fd = t->sched_fd = t->sc_fd = -1;
	t->last_nr = STACK_WAIT_UNKNOWN;
	t->have_snap = false;
	t->trap_pending = t->want = t->listening = false;
	if (st->reader)
		python_reader_forget(st->reader, (uint32_t)t->pid);
	push_event(st, REC_EXEC, t->pid, 0, 0);
}

static void thread_exited(struct pstate *st, struct thr *t, int status)
{
	pid_t tid = t->tid, pid = t->pid;
	struct sampler_ctx *ctx = st->ctx;

	give_up(st, t);
	thr_drop(st, t);
	if (tid != pid)
		return;
	if (st->reader)
		python_reader_forget(st->reader, (uint32_t)pid);
	push_event(st, REC_EXIT, pid, 0, status);
	if (ctx->target->launched && pid == ctx->target->child && !st->child_reaped) {
		st->child_reaped = true;
		push_event(st, REC_REAPED, pid, 0, status);
	}
	if (is_root(st, pid) && st->roots_alive)
		st->roots_alive--;
}

/* One waitpid() report while sampling. */
static void handle(struct pstate *st, pid_t tid, int status)
{
	struct thr *t = thr_find(st, tid);
	int sig, event;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			thread_exited(st, t, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (!t && !(t = adopt(st, tid))) {
		resume(tid, 0);
		return;
	}
	t->started = true;
	sig = WSTOPSIG(status);
	event = (status >> 16) & 0xff;
	switch (event) {
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		new_tracee(st, t, event);
		sample_and_resume(st, t, 0);
		return;
	case PTRACE_EVENT_EXEC:
		give_up(st, t);
		exec_event(st, t);
		resume(tid, 0);
		return;
	case PTRACE_EVENT_STOP:
		t->trap_pending = false;
		if (is_stop_signal(sig)) {
			/* group-stop (SIGSTOP, SIGTSTP...): stay stopped as without scorch until
			 * SIGCONT, which PTRACE_LISTEN lets the kernel see */
			give_up(st, t);
			t->listening = true;
			ptrace(PTRACE_LISTEN, tid, NULL, NULL);
			return;
		}
		/* our interrupt, the first stop of a new tracee, or the end of a group-stop */
		t->listening = false;
		sample_and_resume(st, t, 0);
		return;
	default:
		/* signal-delivery-stop: the signal is the target's, deliver it */
		sample_and_resume(st, t, sig);
		return;
	}
}

/* Reaps every pending report. false once no tracee is left. */
static bool drain(struct pstate *st)
{
	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid > 0) {
			handle(st, tid, status);
			continue;
		}
		if (tid < 0 && errno == EINTR)
			continue;
		return !(tid < 0 && errno == ECHILD);
	}
}

/* ---- ticks ---------------------------------------------------------------------------- */

/* Whether t is where its last snapshot left it: it was not switched in since it was
 * resumed (schedstat's third field, read while it was stopped), or it sleeps in the same system call with the same stack and program counter
 * (/proc/PID/task/TID/syscall: "nr args... sp pc" while blocked). Waking up to answer
 * an interrupt costs a little CPU, so the second test is what spares an idle thread
 * from being stopped at every wall-clock tick. */
static bool unchanged(struct thr *t, char state, uint64_t runs)
{
	char buf[256];
	unsigned long long nr, sp, pc;

	if (!t->have_snap)
		return false;
	if (runs == t->runs_stopped)
		return true;
	if (state != 'S' && state != 'D')
		return false;
	if (!task_file(t, &t->sc_fd, "syscall", buf, sizeof(buf)))
		return false;
	if (sscanf(buf, "%llu %*s %*s %*s %*s %*s %*s %llx %llx", &nr, &sp, &pc) != 3)
		return false; /* "running", or -1 (not in a system call) */
	if (sp != t->snap_sp || pc != t->snap_ip)
		return false;
	return nr == t->snap_nr || (nr == SYS_restart_syscall && t->snap_nr != STACK_WAIT_UNKNOWN);
}

static void repeat(struct pstate *st, struct thr *t)
{
	struct rec *r = calloc(1, sizeof(*r));

	if (!r) {
		st->tlost += t->count;
		return;
	}
	r->kind = REC_REPEAT;
	r->pid = t->pid;
	r->tid = t->tid;
	r->count = t->count;
	r->off_cpu = t->off_cpu;
	r->wait = t->snap_nr;
	st->stats.repeats++;
	push(st, r);
}

/* Interrupts the threads due for a sample; returns how many. */
static uint64_t tick(struct pstate *st, uint64_t now)
{
	uint64_t sent = 0;
	size_t i = 0;
	uint64_t v;

	st->stats.ticks++;
	if (st->reader)
		python_reader_sync(st->reader); /* before any thread is stopped */
	while (ptrace_map_next(&st->thr, &i, NULL, &v)) {
		struct thr *t = (struct thr *)(uintptr_t)v;
		uint64_t cpu = 0, runs = 0;
		char state = 0;

		if (!t->started || t->listening)
			continue;
		if (!thr_read(t, &state, &cpu, &runs))
			continue;
		if (state == 'Z' || state == 'X' || state == 'x' || state == 'T' || state == 't')
			continue;
		if (cpu >= t->cpu_ns)
			t->credit_ns += cpu - t->cpu_ns;
		t->cpu_ns = cpu;
		if (t->credit_ns > MAX_CREDIT_PERIODS * st->period_ns)
			t->credit_ns = MAX_CREDIT_PERIODS * st->period_ns;
		if (t->want) {
			/* the last interrupt is not answered yet (the thread waits for a CPU,
			 * or is a vfork parent): its sample will stand for this tick too */
			if (st->wall && t->count < UINT32_MAX)
				t->count++;
			continue;
		}
		if (t->trap_pending)
			continue;
		t->tick_state = state;
		if (st->wall) {
			t->count = 1;
			t->off_cpu = state != 'R';
		} else {
			uint64_t n;
			if (state != 'R')
				continue; /* keeps its credit for when it runs */
			n = t->credit_ns / st->period_ns;
			if (!n)
				continue;
			t->credit_ns -= n * st->period_ns;
			t->count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			t->off_cpu = false;
		}
		if (unchanged(t, state, runs)) {
			/* it has not run since its last snapshot: the same stack, without
			 * stopping it (a runnable thread that keeps waiting for a CPU would
			 * otherwise be stopped again before it ran one instruction) */
			repeat(st, t);
			continue;
		}
		t->t_interrupt = now;
		if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0)
			continue;
		t->trap_pending = true;
		t->want = true;
		t->timed = state == 'R';
		sent++;
	}
	return sent;
}

/* Right after the interrupts, the stops come within microseconds for running
 * threads: poll for them for a short while rather than sleep, so that the tracer
 * keeps its CPU and the threads are resumed at once even on a busy machine. */
static void collect(struct pstate *st, uint64_t sent)
{
	uint64_t want = st->handled + sent;
	uint64_t deadline = now_ns() + COLLECT_SPIN_NS;

	/* at real-time priority the SIGCHLD of each stop wakes the tracer at once, on a
	 * CPU it takes from the target: spinning would only take more */
	if (st->fifo)
		return;

	while (st->handled < want && now_ns() < deadline) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid > 0)
			handle(st, tid, status);
		else if (tid < 0 && errno == ECHILD)
			return;
	}
}

/* ---- seizing and detaching --------------------------------------------------------------- */

static int seize_opts(const struct pstate *st)
{
	int o = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;

	if (st->follow_children)
		o |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
	return o;
}

static int seize_failed(struct pstate *st, pid_t pid, int e)
{
	if (e == EPERM || e == EACCES)
		return errf(st->start_err, sizeof(st->start_err), -EPERM,
			    "cannot trace pid %d: %s (ptrace is denied: another tracer, "
			    "kernel.yama.ptrace_scope, a missing CAP_SYS_PTRACE or a seccomp "
			    "profile; see docs/ptrace-and-wall.md)",
			    (int)pid, strerror(e));
	if (e == ESRCH)
		return errf(st->start_err, sizeof(st->start_err), -ESRCH, "no such process: pid %d",
			    (int)pid);
	return errf(st->start_err, sizeof(st->start_err), -e, "cannot trace pid %d: %s",
		    (int)pid, strerror(e));
}

/* Seizes every thread of pid, again until no thread appeared meanwhile. */
static int seize_process(struct pstate *st, pid_t pid)
{
	bool added = true;
	int rounds = 0;

	while (added && rounds++ < 100) {
		pid_t *tids = NULL;
		int n = target_threads(pid, &tids);
		added = false;
		if (n < 0)
			return seize_failed(st, pid, -n);
		for (int i = 0; i < n; i++) {
			struct thr *t;
			if (thr_find(st, tids[i]))
				continue;
			if (ptrace(PTRACE_SEIZE, tids[i], NULL, (void *)(uintptr_t)seize_opts(st)) < 0) {
				int e = errno;
				if (e == ESRCH && tids[i] != pid)
					continue; /* the thread exited meanwhile */
				free(tids);
				return seize_failed(st, pid, e);
			}
			t = thr_add(st, tids[i], pid);
			if (!t) {
				free(tids);
				return errf(st->start_err, sizeof(st->start_err), -ENOMEM,
					    "out of memory");
			}
			t->started = true;
			added = true;
		}
		free(tids);
	}
	return 0;
}

static int seize_all(struct pstate *st)
{
	struct target *tg = st->ctx->target;
	int rc;

	if (tg->launched) {
		struct thr *t;
		if (ptrace(PTRACE_SEIZE, tg->child, NULL, (void *)(uintptr_t)seize_opts(st)) < 0)
			return seize_failed(st, tg->child, errno);
		t = thr_add(st, tg->child, tg->child);
		if (!t)
			return errf(st->start_err, sizeof(st->start_err), -ENOMEM, "out of memory");
		t->started = true;
		/* its address space is made at its exec */
		return 0;
	}
	for (size_t i = 0; i < tg->npids; i++) {
		rc = seize_process(st, tg->pids[i]);
		if (rc < 0)
			return rc;
		push_event(st, REC_ATTACH, tg->pids[i], 0, 0);
	}
	return 0;
}

/* One report while detaching: every stop is answered with PTRACE_DETACH, delivering
 * the signal of a signal-delivery-stop; a group-stopped thread stays stopped (the
 * kernel puts it back into the group-stop), as it would be without scorch. */
static void handle_detach(struct pstate *st, pid_t tid, int status)
{
	struct thr *t = thr_find(st, tid);
	int sig = 0, event;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			thread_exited(st, t, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	event = (status >> 16) & 0xff;
	if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
	    event == PTRACE_EVENT_VFORK) {
		/* the new tracee is ours too and will report a stop: detach it then */
		unsigned long msg = 0;
		if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0 && !thr_find(st, (pid_t)msg)) {
			struct thr *n = thr_add(st, (pid_t)msg, t ? t->pid : (pid_t)msg);
			if (n)
				n->started = true;
		}
	} else if (event == 0) {
		sig = WSTOPSIG(status);
	}
	ptrace(PTRACE_DETACH, tid, NULL, (void *)(uintptr_t)sig);
	if (!t)
		return;
	if (event == PTRACE_EVENT_EXEC) {
		/* tids of the process other than this one are gone */
		size_t i = 0;
		uint64_t v;
		while (ptrace_map_next(&st->thr, &i, NULL, &v)) {
			struct thr *o = (struct thr *)(uintptr_t)v;
			if (o->pid == t->pid && o != t)
				thr_drop(st, o);
		}
	}
	thr_drop(st, t);
}

static void wait_chld(uint64_t ns)
{
	sigset_t set;
	struct timespec ts = {(time_t)(ns / NSEC_PER_SEC), (long)(ns % NSEC_PER_SEC)};

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigtimedwait(&set, NULL, &ts);
}

static void detach_all(struct pstate *st)
{
	uint64_t deadline = now_ns() + DETACH_WAIT_NS;
	size_t i = 0;
	uint64_t v;

	/* every tracee must be in a ptrace-stop to be detached: interrupt them all (a
	 * listening one reports its group-stop again) */
	while (ptrace_map_next(&st->thr, &i, NULL, &v)) {
		struct thr *t = (struct thr *)(uintptr_t)v;
		if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0 && errno == ESRCH &&
		    !t->started)
			continue;
	}
	while (st->thr.n && now_ns() < deadline) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid > 0) {
			handle_detach(st, tid, status);
			continue;
		}
		if (tid < 0 && errno == ECHILD)
			break;
		if (tid < 0 && errno == EINTR)
			continue;
		wait_chld(NSEC_PER_MS);
	}
	/* what is left (a thread in uninterruptible sleep, a tracee that vanished) is
	 * detached by the kernel when this thread exits */
	i = 0;
	while (ptrace_map_next(&st->thr, &i, NULL, &v))
		thr_drop(st, (struct thr *)(uintptr_t)v);
}

/* ---- the tracer thread ------------------------------------------------------------------ */

static void *tracer_main(void *arg)
{
	struct pstate *st = arg;
	struct target *tg = st->ctx->target;
	struct sched_param sp = {.sched_priority = 1};
	uint64_t one = 1;
	int rc;

	/* A stopped thread waits for this one: let it run as soon as it is woken, even on
	 * a busy machine. The lowest real-time priority where permitted (it sleeps between
	 * ticks and never spins longer than COLLECT_SPIN_NS), else a higher weight, else
	 * as it is. */
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
		st->fifo = true;
	else
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10);
	rc = seize_all(st);
	pthread_mutex_lock(&st->lock);
	st->start_rc = rc;
	st->started = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	if (rc < 0) {
		/* the kernel detaches what was seized when this thread exits */
		size_t i = 0;
		uint64_t v;
		while (ptrace_map_next(&st->thr, &i, NULL, &v))
			thr_drop(st, (struct thr *)(uintptr_t)v);
		goto out;
	}

	st->roots = malloc((tg->npids ? tg->npids : 1) * sizeof(*st->roots));
	if (st->roots) {
		memcpy(st->roots, tg->pids, tg->npids * sizeof(*st->roots));
		st->nroots = st->roots_alive = tg->npids;
	}
	st->next_tick = now_ns() + st->period_ns;
	while (!atomic_load(&st->stop_req)) {
		uint64_t now;

		if (!drain(st))
			break; /* no tracee left */
		if (st->nroots && !st->roots_alive)
			break;
		now = now_ns();
		if (now >= st->next_tick) {
			collect(st, tick(st, now));
			notify(st);
			st->next_tick += st->period_ns;
			if (st->next_tick <= now) {
				uint64_t missed = (now - st->next_tick) / st->period_ns + 1;
				st->stats.late_ticks += missed;
				st->next_tick += missed * st->period_ns;
			}
			continue;
		}
		notify(st);
		wait_chld(st->next_tick - now);
	}
	{
		struct timespec ts;
		if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
			st->stats.tracer_cpu_ns =
				(uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
	}
	detach_all(st);
	notify(st);
out:
	pthread_mutex_lock(&st->lock);
	st->finished = true;
	pthread_mutex_unlock(&st->lock);
	if (write(st->efd, &one, sizeof(one)) < 0) {
		/* read() also polls with a timeout */
	}
	return NULL;
}

/* ---- the caller's side: unwinding and bookkeeping ------------------------------------------ */

static struct cproc *cproc_get(struct pstate *st, pid_t pid)
{
	uint64_t v;

	return ptrace_map_get(&st->procs, (uint64_t)pid, &v) ? (struct cproc *)(uintptr_t)v : NULL;
}

static void read_comm(pid_t pid, pid_t tid, char *out, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	out[0] = 0;
	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = 0;
	if (n && out[n - 1] == '\n')
		out[n - 1] = 0;
}

/* A fresh address space for pid with its current mappings. */
static struct cproc *cproc_new(struct pstate *st, pid_t pid, int64_t parent_asid)
{
	struct sampler_ctx *ctx = st->ctx;
	struct cproc *old = cproc_get(st, pid);
	struct cproc *p = old ? old : calloc(1, sizeof(*p));
	char comm[16];
	int64_t asid;

	if (!p)
		return NULL;
	if (old && old->asid < ctx->maps->nspaces)
		ctx->maps->spaces[old->asid].exited = true;
	if (parent_asid >= 0) {
		/* maps_space_fork() hands maps_space_new() the parent's comm from inside
		 * maps.spaces, which it may move: make room first (reported to the lead) */
		if (GROW(ctx->maps->spaces, ctx->maps->spaces_cap, ctx->maps->nspaces + 1) < 0)
			asid = -ENOMEM;
		else
			asid = maps_space_fork(ctx->maps, (uint32_t)parent_asid, (uint32_t)pid);
	} else {
		read_comm(pid, 0, comm, sizeof(comm));
		asid = maps_space_new(ctx->maps, (uint32_t)pid, comm);
	}
	if (asid < 0) {
		if (!old)
			free(p);
		return NULL;
	}
	p->asid = (uint32_t)asid;
	p->maps_read_ns = now_ns();
	p->rereads_left = INCOMPLETE_REREADS;
	if (parent_asid < 0)
		maps_read_proc(ctx->maps, p->asid, (uint32_t)pid, NULL, 0);
	if (!old && ptrace_map_put(&st->procs, (uint64_t)pid, (uint64_t)(uintptr_t)p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* Mappings appear after the snapshot's process was last read (dlopen, the libraries
 * ld.so maps after exec): read /proc/PID/maps again, at most every MAPS_REREAD_NS. */
static bool reread_maps(struct pstate *st, struct cproc *p, pid_t pid)
{
	struct sampler_ctx *ctx = st->ctx;
	uint64_t now = now_ns();

	if (now - p->maps_read_ns < MAPS_REREAD_NS)
		return false;
	p->maps_read_ns = now;
	if (maps_read_proc(ctx->maps, p->asid, (uint32_t)pid, NULL, 0) < 0)
		return false;
	if (ctx->unwind)
		unwind_flush(ctx->unwind, p->asid);
	return true;
}

/* Frame-pointer walk of the copy, for --call-graph fp. */
static int unwind_fp(const struct rec *r, uint64_t *out, size_t cap)
{
	uint64_t sp = r->regs[UNWIND_REG_RSP], fp = r->regs[UNWIND_REG_RBP];
	size_t n = 0;

	if (!cap)
		return 0;
	out[n++] = stack_make(STACK_TAG_EXACT, r->regs[UNWIND_REG_RIP]);
	while (n < cap && fp >= sp && fp - sp + 16 <= r->stack_len && !(fp & 7)) {
		uint64_t next, ret;
		memcpy(&next, r->stack + (fp - sp), 8);
		memcpy(&ret, r->stack + (fp - sp) + 8, 8);
		if (!ret || ret >> 47)
			break;
		out[n++] = stack_make(STACK_TAG_USER, ret);
		if (next <= fp)
			break;
		fp = next;
	}
	return (int)n;
}

static int do_unwind(struct pstate *st, uint32_t asid, const struct rec *r, uint64_t *out,
		     size_t cap, bool *complete)
{
	struct unwind_snapshot snap;

	*complete = false;
	if (st->ctx->opts->callgraph == SAMPLER_CALLGRAPH_FP || !st->ctx->unwind)
		return unwind_fp(r, out, cap);
	memcpy(snap.regs, r->regs, sizeof(snap.regs));
	snap.regs_mask = (1u << UNWIND_NREGS) - 1;
	snap.stack = r->stack;
	snap.stack_len = r->stack_len;
	return unwind_stack(st->ctx->unwind, asid, &snap, out, cap, complete);
}

/* Adds r->count samples of the stack addrs[0..n) (leaf first, Python frames merged
 * already, room for one more entry in front) of thread r->tid: off-CPU ones get the
 * system call as leaf. */
static void emit(struct pstate *st, uint32_t asid, const struct rec *r, uint64_t *addrs, size_t n,
		 bool complete)
{
	struct sampler_ctx *ctx = st->ctx;
	uint32_t flags = complete ? STACK_COMPLETE : 0;
	uint64_t seen_key = (uint64_t)asid << 32 | (uint32_t)r->tid;
	uint64_t *out = addrs + 1;

	if (r->off_cpu) {
		addrs[0] = stack_make(STACK_TAG_WAIT, r->wait);
		flags |= STACK_OFF_CPU;
		out = addrs;
		n++;
	}
	if (!ptrace_map_get(&st->seen, seen_key, NULL)) {
		char comm[16];
		read_comm(r->pid, r->tid, comm, sizeof(comm));
		if (!comm[0]) {
			strncpy(comm, ctx->maps->spaces[asid].comm, sizeof(comm) - 1);
			comm[sizeof(comm) - 1] = 0;
		}
		if (stacks_thread(ctx->stacks, asid, (uint32_t)r->pid, (uint32_t)r->tid, comm) == 0)
			ptrace_map_put(&st->seen, seen_key, 1);
	}
	if (stacks_add(ctx->stacks, asid, (uint32_t)r->tid, flags, out, (uint32_t)n, r->count) < 0)
		ctx->stacks->lost += r->count;
}

/* The last stack of a thread, for REC_REPEAT. */
struct last {
	uint32_t asid;
	bool complete;
	size_t n, cap;
	uint64_t *addrs; /* its stack, leaf first, Python frames merged */
};

static void remember(struct pstate *st, pid_t tid, uint32_t asid, const uint64_t *addrs, size_t n,
		     bool complete)
{
	struct last *l;
	uint64_t v;

	if (ptrace_map_get(&st->last, (uint64_t)tid, &v)) {
		l = (struct last *)(uintptr_t)v;
	} else {
		l = calloc(1, sizeof(*l));
		if (!l)
			return;
		if (ptrace_map_put(&st->last, (uint64_t)tid, (uint64_t)(uintptr_t)l) < 0) {
			free(l);
			return;
		}
	}
	if (GROW(l->addrs, l->cap, n) < 0) {
		l->n = 0;
		return;
	}
	memcpy(l->addrs, addrs, n * sizeof(*addrs));
	l->n = n;
	l->asid = asid;
	l->complete = complete;
}

static void process_repeat(struct pstate *st, const struct rec *r)
{
	uint64_t out[SAMPLER_MAX_DEPTH];
	struct last *l;
	uint64_t v;

	if (!ptrace_map_get(&st->last, (uint64_t)r->tid, &v) ||
	    !(l = (struct last *)(uintptr_t)v)->n) {
		st->ctx->stacks->lost += r->count;
		return;
	}
	memcpy(out + 1, l->addrs, l->n * sizeof(*out));
	emit(st, l->asid, r, out, l->n, l->complete);
}

/* Merges the Python frames of r (read in its stop) into the native stack
 * native[0..n), remembers the result for repeats and adds it. */
static void merge_and_emit(struct pstate *st, uint32_t asid, const struct rec *r,
			   const uint64_t *native, size_t n, bool complete)
{
	struct sampler_ctx *ctx = st->ctx;
	uint64_t merged[SAMPLER_MAX_DEPTH];
	uint64_t mismatch = ctx->stacks->py_mismatch;
	int m;

	m = sampler_merge(ctx, asid, (uint32_t)r->pid, (uint32_t)r->tid, r->chain, native,
			  (uint32_t)n, merged + 1, SAMPLER_MAX_DEPTH - 1);
	if (ctx->stacks->py_mismatch != mismatch)
		ctx->stacks->py_mismatch += r->count - 1; /* counted once, stands for count */
	remember(st, r->tid, asid, merged + 1, (size_t)m, complete);
	emit(st, asid, r, merged, (size_t)m, complete);
}

static void process_sample(struct pstate *st, const struct rec *r)
{
	struct sampler_ctx *ctx = st->ctx;
	uint64_t out[SAMPLER_MAX_DEPTH];
	struct cproc *p = cproc_get(st, r->pid);
	bool complete = false;
	int n;

	if (!p && !(p = cproc_new(st, r->pid, -1))) {
		ctx->stacks->lost += r->count;
		return;
	}
	if (!maps_lookup(ctx->maps, p->asid, r->regs[UNWIND_REG_RIP]))
		reread_maps(st, p, r->pid);
	if (!maps_lookup(ctx->maps, p->asid, r->regs[UNWIND_REG_RIP])) {
		/* the process is gone before its mappings could be read (a short-lived
		 * exec): nothing to unwind with; keep the pc */
		out[1] = stack_make(STACK_TAG_EXACT, r->regs[UNWIND_REG_RIP]);
		merge_and_emit(st, p->asid, r, out + 1, 1, false);
		return;
	}
	n = do_unwind(st, p->asid, r, out + 1, SAMPLER_MAX_DEPTH - 1, &complete);
	if (n > 0 && !complete &&
	    (!maps_lookup(ctx->maps, p->asid, stack_value(out[n])) || p->rereads_left) &&
	    reread_maps(st, p, r->pid)) {
		if (p->rereads_left)
			p->rereads_left--;
		n = do_unwind(st, p->asid, r, out + 1, SAMPLER_MAX_DEPTH - 1, &complete);
	}
	if (n <= 0) {
		ctx->stacks->failed += r->count;
		return;
	}
	merge_and_emit(st, p->asid, r, out + 1, (size_t)n, complete);
}

static void process(struct pstate *st, struct rec *r)
{
	struct sampler_ctx *ctx = st->ctx;
	struct cproc *p;

	switch (r->kind) {
	case REC_SAMPLE:
		process_sample(st, r);
		break;
	case REC_REPEAT:
		process_repeat(st, r);
		break;
	case REC_ATTACH: {
		/* the CLI may have made its address space already (and read its mappings) */
		int64_t asid = maps_space_of(ctx->maps, (uint32_t)r->pid);
		if (cproc_get(st, r->pid))
			break;
		if (asid < 0 || !(p = calloc(1, sizeof(*p)))) {
			cproc_new(st, r->pid, -1);
			break;
		}
		p->asid = (uint32_t)asid;
		p->maps_read_ns = now_ns();
		if (ptrace_map_put(&st->procs, (uint64_t)r->pid, (uint64_t)(uintptr_t)p) < 0)
			free(p);
		break;
	}
	case REC_FORK:
		p = r->parent ? cproc_get(st, r->parent) : NULL;
		cproc_new(st, r->pid, p ? (int64_t)p->asid : -1);
		break;
	case REC_EXEC:
		p = cproc_get(st, r->pid);
		if (p) {
			if (ctx->unwind)
				unwind_flush(ctx->unwind, p->asid);
			if (ctx->python)
				python_forget(ctx->python, p->asid);
		}
		cproc_new(st, r->pid, -1);
		break;
	case REC_EXIT:
		p = cproc_get(st, r->pid);
		if (p && p->asid < ctx->maps->nspaces)
			ctx->maps->spaces[p->asid].exited = true;
		break;
	case REC_REAPED:
		target_child_reaped(ctx->target, r->status);
		break;
	}
}

/* Moves the queue out and processes it; true when the tracer has finished and
 * everything it sent was processed. */
static bool process_queue(struct pstate *st)
{
	struct rec *r, *next;
	uint64_t lost;
	bool finished;

	pthread_mutex_lock(&st->lock);
	r = st->head;
	st->head = st->tail = NULL;
	lost = st->lost;
	finished = st->finished;
	pthread_mutex_unlock(&st->lock);
	for (; r; r = next) {
		next = r->next;
		process(st, r);
		free_rec(st, r);
	}
	st->ctx->stacks->lost += lost - st->lost_reported;
	st->lost_reported = lost;
	if (!finished)
		return false;
	pthread_mutex_lock(&st->lock);
	finished = !st->head;
	pthread_mutex_unlock(&st->lock);
	return finished;
}

/* ---- the ops ---------------------------------------------------------------------------- */

static void free_recs(struct rec *r)
{
	struct rec *next;

	for (; r; r = next) {
		next = r->next;
		free(r->stack);
		free(r->chain);
		free(r);
	}
}

static void free_state(struct pstate *st)
{
	size_t i = 0;
	uint64_t v;

	free_recs(st->head);
	free_recs(st->free_samples);
	free_recs(st->tfree);
	free_recs(st->phead);
	while (ptrace_map_next(&st->procs, &i, NULL, &v))
		free((void *)(uintptr_t)v);
	ptrace_map_release(&st->procs);
	i = 0;
	while (ptrace_map_next(&st->last, &i, NULL, &v)) {
		free(((struct last *)(uintptr_t)v)->addrs);
		free((void *)(uintptr_t)v);
	}
	ptrace_map_release(&st->last);
	ptrace_map_release(&st->seen);
	ptrace_map_release(&st->thr);
	python_reader_close(st->reader);
	free(st->roots);
	free(st->stats.stop_ns);
	free(st->stats.held_ns);
	if (st->efd >= 0)
		close(st->efd);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	free(st);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* SCORCH_PTRACE_STATS=FILE: one line of figures on the stops, for bench/ptrace.sh. */
static void write_stats(struct pstate *st)
{
	const char *path = getenv("SCORCH_PTRACE_STATS");
	struct pstats *s = &st->stats;
	double med = 0, p99 = 0, hmed = 0, hp99 = 0;
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "we");
	if (!f)
		return;
	if (s->nstop) {
		qsort(s->stop_ns, s->nstop, sizeof(*s->stop_ns), cmp_u32);
		med = s->stop_ns[s->nstop / 2] / 1e3;
		p99 = s->stop_ns[(size_t)((double)(s->nstop - 1) * 0.99)] / 1e3;
		qsort(s->held_ns, s->nstop, sizeof(*s->held_ns), cmp_u32);
		hmed = s->held_ns[s->nstop / 2] / 1e3;
		hp99 = s->held_ns[(size_t)((double)(s->nstop - 1) * 0.99)] / 1e3;
	}
	fprintf(f,
		"samples %" PRIu64 " stops %" PRIu64 " held_us_mean %.1f held_us_median %.1f "
		"held_us_p99 %.1f interrupt_to_resume_us_mean %.1f interrupt_to_resume_us_median %.1f "
		"interrupt_to_resume_us_p99 %.1f interrupt_to_resume_us_max %.1f ticks %" PRIu64
		" late_ticks %" PRIu64 " repeats %" PRIu64 " tracer_cpu_ms %.1f\n",
		s->samples, s->stops, s->stops ? (double)s->held_ns_sum / (double)s->stops / 1e3 : 0,
		hmed, hp99, s->stops ? (double)s->stop_ns_sum / (double)s->stops / 1e3 : 0, med, p99,
		(double)s->stop_ns_max / 1e3, s->ticks, s->late_ticks, s->repeats,
		(double)s->tracer_cpu_ns / 1e6);
	fclose(f);
}

/* The caller's SIGCHLD action and mask, as they were before start(). */
static void restore_signals(struct pstate *st)
{
	if (st->chld_changed)
		sigaction(SIGCHLD, &st->old_chld, NULL);
	st->chld_changed = false;
	pthread_sigmask(SIG_SETMASK, &st->old_mask, NULL);
}

static int start(void **state, struct sampler_ctx *ctx, char *err, size_t errsz)
{
	struct pstate *st;
	sigset_t chld, all, prev;
	int rc;

	if (!ctx->opts->freq_hz)
		return errf(err, errsz, -EINVAL, "the sampling frequency must be at least 1 Hz");
	st = calloc(1, sizeof(*st));
	if (!st)
		return errf(err, errsz, -ENOMEM, "out of memory");
	st->ctx = ctx;
	st->period_ns = NSEC_PER_SEC / ctx->opts->freq_hz;
	if (!st->period_ns)
		st->period_ns = 1;
	st->stack_cap = ctx->opts->stack_size > MAX_STACK_BYTES ? MAX_STACK_BYTES
								 : ctx->opts->stack_size;
	st->wall = ctx->opts->wall;
	if (ctx->opts->kernel)
		snprintf(ctx->notice, sizeof(ctx->notice),
			 "ptrace mode samples user stacks only: no kernel frames");
	st->follow_children = ctx->opts->inherit || ctx->target->launched;
	atomic_init(&st->stop_req, false);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->efd < 0) {
		rc = errf(err, errsz, -errno, "cannot create an eventfd: %s", strerror(errno));
		free_state(st);
		return rc;
	}
	if (ctx->python && python_reader_open(&st->reader, ctx->python) < 0) {
		free_state(st);
		return errf(err, errsz, -ENOMEM, "out of memory");
	}

	/* SIGCHLD stays pending for the tracer's sigtimedwait (see the top of the file);
	 * the tracer blocks every signal so that scorch's own handlers run here */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &st->old_mask);
	if (sigaction(SIGCHLD, NULL, &st->old_chld) == 0 &&
	    ((st->old_chld.sa_flags & SA_NOCLDSTOP) || st->old_chld.sa_handler == SIG_IGN)) {
		struct sigaction sa = st->old_chld;
		sa.sa_flags &= ~SA_NOCLDSTOP;
		if (sa.sa_handler == SIG_IGN) {
			sa.sa_handler = SIG_DFL; /* SIG_IGN would also reap the target for us */
			sa.sa_flags &= ~SA_NOCLDWAIT;
		}
		st->chld_changed = sigaction(SIGCHLD, &sa, NULL) == 0;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &prev);
	rc = pthread_create(&st->tracer, NULL, tracer_main, st);
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
	if (rc) {
		restore_signals(st);
		rc = errf(err, errsz, -rc, "cannot start the tracer thread: %s", strerror(rc));
		free_state(st);
		return rc;
	}
	st->tracer_running = true;
	pthread_mutex_lock(&st->lock);
	while (!st->started)
		pthread_cond_wait(&st->cond, &st->lock);
	rc = st->start_rc;
	pthread_mutex_unlock(&st->lock);
	if (rc < 0) {
		pthread_join(st->tracer, NULL);
		restore_signals(st);
		errf(err, errsz, rc, "%s", st->start_err);
		free_state(st);
		return rc;
	}
	*state = st;
	return 0;
}

static int read_samples(void *state, int timeout_ms)
{
	struct pstate *st = state;
	struct pollfd pfd = {st->efd, POLLIN, 0};
	uint64_t cnt;

	if (process_queue(st))
		return 0;
	if (poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms) < 0 && errno != EINTR)
		return -errno;
	if (read(st->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing new, a timeout or a signal */
	}
	return process_queue(st) ? 0 : 1;
}

static void stop(void *state)
{
	struct pstate *st = state;

	if (!st)
		return;
	if (st->tracer_running) {
		atomic_store(&st->stop_req, true);
		pthread_kill(st->tracer, SIGCHLD); /* blocked there: ends its sigtimedwait */
		pthread_join(st->tracer, NULL);
		st->tracer_running = false;
	}
	process_queue(st);
	write_stats(st);
	restore_signals(st);
	free_state(st);
}

const struct sampler_ops sampler_ptrace = {"ptrace", start, read_samples, stop};
