/*
 * target: the processes a recording samples. Launches a command (forked and held
 * before exec until the sampler is ready, so that not one instruction is missed) or
 * names running processes to attach to. Owns the held child and the pipe that holds
 * it. Never prints, never exits, never sends the target a signal it would not get
 * without scorch.
 */
#ifndef SCORCH_PROFILER_TARGET_H
#define SCORCH_PROFILER_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct target {
	pid_t *pids;   /* processes to record: the attached ones, or the launched child */
	size_t npids;
	bool launched; /* a command scorch started (then pids[0] is its child) */
	pid_t child;   /* the launched command, 0 when attaching */
	bool child_exited;
	int child_status; /* wait status of the child, once child_exited */
	int hold_fd;      /* private: write end of the pipe the child waits on, or -1 */
	int exec_fd;      /* private: read end of the pipe that reports exec failure */
};

/* Forks argv[0] (searched in PATH) and holds it before exec. The command keeps
 * scorch's terminal, stdin and process group. 0, or -errno with err filled. */
int target_launch(struct target *t, char *const argv[], char *err, size_t errsz);
/* Lets the held child exec. Fails (-ENOENT, -EACCES, ...) with a message naming the
 * command when exec failed; the child has then exited and been reaped. */
int target_release(struct target *t, char *err, size_t errsz);
/* Names running processes; checks each exists and is not a kernel thread or zombie.
 * -ESRCH, -EINVAL or -EPERM with err filled. */
int target_attach(struct target *t, const pid_t *pids, size_t npids, char *err, size_t errsz);
/* Non-blocking check of the launched child: true once it has exited (and was reaped,
 * here or through target_child_reaped()). Always false when attaching. Must not be
 * used while a ptrace sampler is the child's tracer: that sampler reaps instead. */
bool target_poll(struct target *t);
/* For a sampler that reaps the child itself (ptrace): records its wait status. */
void target_child_reaped(struct target *t, int status);
/* Whether process pid still exists (not a zombie). */
bool target_alive(pid_t pid);
/* Lists the thread ids of pid into *tids (caller frees). Count or -errno. */
int target_threads(pid_t pid, pid_t **tids);
/* Blocks until the launched child exits and returns its wait status; kills nothing. */
int target_wait(struct target *t);
/* Frees what the target owns; a still-held child is released to exit at once. */
void target_release_all(struct target *t);

#endif
