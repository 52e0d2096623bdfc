#include "profiler/maps.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void maps_init(struct maps *m)
{
	memset(m, 0, sizeof(*m));
}

void maps_release(struct maps *m)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (m->files[i].fd >= 0)
			close(m->files[i].fd);
	for (size_t i = 0; i < m->nspaces; i++)
		free(m->spaces[i].idx);
	free(m->spaces);
	free(m->v);
	free(m->files);
	free(m->strs);
	memset(m, 0, sizeof(*m));
}

static int add_str(struct maps *m, const char *s, uint32_t *off)
{
	size_t len = strlen(s);

	if (m->strs_len + len + 1 > UINT32_MAX ||
	    grow_array((void **)&m->strs, &m->strs_cap, m->strs_len + len + 1, 1) < 0)
		return -ENOMEM;
	memcpy(m->strs + m->strs_len, s, len + 1);
	*off = (uint32_t)m->strs_len;
	m->strs_len += len + 1;
	return 0;
}

int64_t maps_space_new(struct maps *m, uint32_t pid, const char *comm)
{
	struct maps_space *sp;

	if (m->nspaces >= UINT32_MAX - 1 || GROW(m->spaces, m->spaces_cap, m->nspaces + 1) < 0)
		return -ENOMEM;
	sp = &m->spaces[m->nspaces];
	memset(sp, 0, sizeof(*sp));
	sp->pid = pid;
	if (comm) {
		strncpy(sp->comm, comm, sizeof(sp->comm) - 1);
		sp->comm[sizeof(sp->comm) - 1] = 0;
	}
	return (int64_t)m->nspaces++;
}

static int space_push(struct maps *m, uint32_t asid, size_t entry)
{
	struct maps_space *sp = &m->spaces[asid];

	if (GROW(sp->idx, sp->idx_cap, sp->nidx + 1) < 0)
		return -ENOMEM;
	sp->idx[sp->nidx++] = (uint32_t)entry;
	return 0;
}

int64_t maps_space_fork(struct maps *m, uint32_t parent_asid, uint32_t child_pid)
{
	char comm[sizeof(m->spaces[0].comm)];
	int64_t asid;
	size_t n;

	if (parent_asid >= m->nspaces)
		return -EINVAL;
	/* a copy: maps_space_new may move m->spaces, and the parent's comm with it */
	memcpy(comm, m->spaces[parent_asid].comm, sizeof(comm));
	asid = maps_space_new(m, child_pid, comm);
	if (asid < 0)
		return asid;
	n = m->spaces[parent_asid].nidx;
	for (size_t k = 0; k < n; k++) {
		struct maps_entry e = m->v[m->spaces[parent_asid].idx[k]];
		if (GROW(m->v, m->cap, m->n + 1) < 0)
			return -ENOMEM;
		e.asid = (uint32_t)asid;
		e.seq = m->seq++;
		m->v[m->n] = e;
		if (space_push(m, (uint32_t)asid, m->n) < 0)
			return -ENOMEM;
		m->n++;
	}
	return asid;
}

int64_t maps_space_of(const struct maps *m, uint32_t pid)
{
	for (size_t i = m->nspaces; i-- > 0;)
		if (m->spaces[i].pid == pid && !m->spaces[i].exited)
			return (int64_t)i;
	return -ESRCH;
}

/* Opens the file of a mapping the way that survives the most: the kernel's own link
 * to the mapped file first (works for deleted files and other mount namespaces),
 * then the path inside the process's root, then the path as given. */
static int open_mapped(uint32_t pid, uint64_t start, uint64_t end, const char *path)
{
	char tmp[64 + 4096];
	int fd = -1;

	if (pid) {
		snprintf(tmp, sizeof(tmp), "/proc/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, pid,
			 start, end);
		fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && path[0] == '/') {
			snprintf(tmp, sizeof(tmp), "/proc/%" PRIu32 "/root%s", pid, path);
			fd = open(tmp, O_RDONLY | O_CLOEXEC);
		}
	}
	if (fd < 0 && path[0] == '/')
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

static int64_t file_get(struct maps *m, uint32_t pid, uint64_t start, uint64_t end,
			uint64_t dev, uint64_t ino, const char *path)
{
	struct maps_file *f;
	struct stat st;

	for (size_t i = m->nfiles; i-- > 0;) {
		f = &m->files[i];
		if (dev || ino) {
			if (f->dev == dev && f->ino == ino)
				return (int64_t)i;
		} else if (!strcmp(m->strs + f->path, path)) {
			return (int64_t)i;
		}
	}
	if (GROW(m->files, m->files_cap, m->nfiles + 1) < 0)
		return -ENOMEM;
	f = &m->files[m->nfiles];
	f->dev = dev;
	f->ino = ino;
	if (add_str(m, path, &f->path) < 0)
		return -ENOMEM;
	f->fd = open_mapped(pid, start, end, path);
	if (f->fd >= 0 && !dev && !ino && fstat(f->fd, &st) == 0) {
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	return (int64_t)m->nfiles++;
}

static bool is_file_path(const char *path)
{
	return path && path[0] == '/';
}

int maps_add(struct maps *m, uint32_t asid, uint64_t start, uint64_t end, uint64_t pgoff,
	     uint32_t prot, uint64_t dev, uint64_t ino, const char *path)
{
	struct maps_entry e = {0};
	int64_t file = MAPS_ANON;

	if (asid >= m->nspaces || end <= start)
		return -EINVAL;
	if (!path)
		path = "";
	if (is_file_path(path)) {
		uint32_t pid = m->spaces[asid].exited ? 0 : m->spaces[asid].pid;
		file = file_get(m, pid, start, end, dev, ino, path);
		if (file < 0)
			return (int)file;
	}
	e.asid = asid;
	e.start = start;
	e.end = end;
	e.pgoff = pgoff;
	e.file = (uint32_t)file;
	e.prot = prot;
	e.seq = m->seq++;
	if (file != MAPS_ANON)
		e.name = m->files[file].path;
	else if (add_str(m, path, &e.name) < 0)
		return -ENOMEM;
	if (GROW(m->v, m->cap, m->n + 1) < 0 || space_push(m, asid, m->n) < 0)
		return -ENOMEM;
	m->v[m->n++] = e;
	return 0;
}

int maps_read_proc(struct maps *m, uint32_t asid, uint32_t pid, char *err, size_t errsz)
{
	char path[64];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		int e = errno;
		return errf(err, errsz, -e, "cannot read %s: %s", path, strerror(e));
	}
	while (getline(&line, &cap, f) > 0) {
		uint64_t start, end, pgoff, ino;
		unsigned int major, minor;
		char perms[8];
		int name_at = 0;
		uint32_t prot = 0;
		char *name;
		size_t len;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &start,
			   &end, perms, &pgoff, &major, &minor, &ino, &name_at) < 7)
			continue;
		name = line + name_at;
		len = strlen(name);
		while (len && (name[len - 1] == '\n' || name[len - 1] == ' '))
			name[--len] = 0;
		if (perms[0] == 'r')
			prot |= PROT_READ;
		if (perms[1] == 'w')
			prot |= PROT_WRITE;
		if (perms[2] == 'x')
			prot |= PROT_EXEC;
		rc = maps_add(m, asid, start, end, pgoff, prot,
			      ino ? makedev(major, minor) : 0, ino, name);
		if (rc < 0) {
			rc = errf(err, errsz, rc, "cannot record the mappings of pid %" PRIu32, pid);
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

const struct maps_entry *maps_lookup(const struct maps *m, uint32_t asid, uint64_t addr)
{
	const struct maps_space *sp;

	if (asid >= m->nspaces)
		return NULL;
	sp = &m->spaces[asid];
	for (size_t k = sp->nidx; k-- > 0;) {
		const struct maps_entry *e = &m->v[sp->idx[k]];
		if (addr >= e->start && addr < e->end)
			return e;
	}
	return NULL;
}
