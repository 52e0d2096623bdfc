#include "render/write.h"

#include "common/err.h"
#include "render/folded.h"
#include "render/pprof.h"
#include "render/report.h"
#include "render/speedscope.h"
#include "render/svg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *suffix;
	enum write_format format;
} suffixes[] = {
	{".svg", WRITE_FORMAT_SVG},
	{".folded", WRITE_FORMAT_FOLDED},
	{".collapsed", WRITE_FORMAT_FOLDED},
	{".txt", WRITE_FORMAT_TXT},
	{".pb.gz", WRITE_FORMAT_PPROF},
	{".pprof", WRITE_FORMAT_PPROF},
	{".speedscope.json", WRITE_FORMAT_SPEEDSCOPE},
};

static const struct {
	const char *name;
	enum write_format format;
} names[] = {
	{"svg", WRITE_FORMAT_SVG},	   {"folded", WRITE_FORMAT_FOLDED},
	{"collapsed", WRITE_FORMAT_FOLDED}, {"txt", WRITE_FORMAT_TXT},
	{"report", WRITE_FORMAT_TXT},	   {"pprof", WRITE_FORMAT_PPROF},
	{"speedscope", WRITE_FORMAT_SPEEDSCOPE},
};

enum write_format write_format_of_path(const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(suffixes[i].suffix);
		if (len > n && !strcmp(path + len - n, suffixes[i].suffix))
			return suffixes[i].format;
	}
	return WRITE_FORMAT_NONE;
}

enum write_format write_format_named(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].name, name))
			return names[i].format;
	return WRITE_FORMAT_NONE;
}

int write_profile_stream(const struct profile *p, FILE *out, enum write_format format,
			 const struct write_opts *o, char *err, size_t errsz)
{
	static const struct write_opts defaults = {0};

	if (!o)
		o = &defaults;
	switch (format) {
	case WRITE_FORMAT_SVG:
		return svg_write(p, o, out, err, errsz);
	case WRITE_FORMAT_FOLDED:
		return p->base ? folded_write_diff(p, out, err, errsz)
			       : folded_write(p, out, err, errsz);
	case WRITE_FORMAT_TXT:
		return report_write(p, o, out, err, errsz);
	case WRITE_FORMAT_PPROF:
		return pprof_write(p, o, out, err, errsz);
	case WRITE_FORMAT_SPEEDSCOPE:
		return speedscope_write(p, o, out, err, errsz);
	case WRITE_FORMAT_NONE:
		break;
	}
	return errf(err, errsz, -EINVAL, "no output format given");
}

/* Flushes and syncs out; reports the first write error (ENOSPC, EIO) seen. */
static int finish(FILE *out, const char *what, char *err, size_t errsz)
{
	int e;

	if (fflush(out) != 0 || ferror(out)) {
		e = errno ? errno : EIO;
		return errf(err, errsz, -e, "cannot write %s: %s", what, strerror(e));
	}
	return 0;
}

/* Whether a symbolic link may be followed, by the rule of the kernel's
 * fs.protected_symlinks (Documentation/admin-guide/sysctl/fs.rst), applied whatever
 * that sysctl says because realpath() and rename() bypass it: a link in a sticky,
 * world-writable folder (/tmp) is followed only when it belongs to us or to the
 * folder's owner, so that another user cannot plant out.svg -> a file of ours. */
static bool link_trusted(const char *path, const struct stat *lst)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat dst;
	size_t len;

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof(dir))
			return false;
		memcpy(dir, path, len);
		dir[len] = 0;
	}
	if (stat(dir, &dst) < 0)
		return false;
	if ((dst.st_mode & (S_ISVTX | S_IWOTH)) != (S_ISVTX | S_IWOTH))
		return true;
	return lst->st_uid == geteuid() || lst->st_uid == dst.st_uid;
}

/* A writer's I/O error (a full disk, a closed pipe) told with where it went, which
 * the writers do not know: "cannot write '/x/out.svg': No space left on device". */
static bool is_io_errno(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG || e == EIO || e == EPIPE || e == EROFS;
}

/* rc: the writer's code; e: errno just after it (a writer may say -EIO for any
 * failed fwrite, while errno still holds why). */
static int io_error(int rc, int e, const char *what, char *err, size_t errsz)
{
	if (rc == -EIO && is_io_errno(e))
		rc = -e;
	switch (-rc) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
	case EIO:
	case EPIPE:
	case EROFS:
		return errf(err, errsz, rc, "cannot write %s: %s", what, strerror(-rc));
	}
	return rc;
}

int write_file(const char *path, write_body_fn body, void *arg, char *err, size_t errsz)
{
	char tmp[PATH_MAX], what[PATH_MAX + 2], real[PATH_MAX];
	const char *dest = path;
	struct stat st;
	mode_t mode, mask;
	FILE *out;
	int fd, rc, e;

	snprintf(what, sizeof(what), "'%s'", path);
	if (!strcmp(path, "-")) {
		errno = 0;
		rc = body(stdout, arg, err, errsz);
		if (rc < 0)
			return io_error(rc, errno, "to stdout", err, errsz);
		return finish(stdout, "to stdout", err, errsz);
	}
	/* Refuse to replace something that is not a regular file (a directory, a device);
	 * a symlink is written through: the temporary file goes beside its target and is
	 * renamed over the target, so the link stays and the target is replaced whole. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if (!link_trusted(path, &st))
			return errf(err, errsz, -EPERM,
				    "cannot write '%s': it is a symbolic link in a shared folder "
				    "owned by another user (remove it or choose another name)",
				    path);
		if (!realpath(path, real))
			return errf(err, errsz, -ENOENT,
				    "cannot write '%s': it is a dangling symbolic link", path);
		dest = real;
	}
	/* a file replaced keeps its permission bits; a new one gets 0666 & ~umask */
	mask = umask(0);
	umask(mask);
	mode = 0666 & ~mask;
	if (stat(dest, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return errf(err, errsz, -EISDIR, "cannot write '%s': not a regular file",
				    path);
		mode = st.st_mode & 07777;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", dest) >= sizeof(tmp))
		return errf(err, errsz, -ENAMETOOLONG, "output path too long: '%s'", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return errf(err, errsz, -e, "cannot write '%s': %s", path, strerror(e));
	}
	fchmod(fd, mode);
	out = fdopen(fd, "w");
	if (!out) {
		e = errno;
		close(fd);
		unlink(tmp);
		return errf(err, errsz, -e, "cannot write '%s': %s", path, strerror(e));
	}
	errno = 0;
	rc = body(out, arg, err, errsz);
	e = errno;
	if (rc < 0)
		rc = io_error(rc, e, what, err, errsz);
	if (rc == 0)
		rc = finish(out, what, err, errsz);
	if (rc == 0 && fsync(fd) < 0 && errno != EINVAL) {
		e = errno;
		rc = errf(err, errsz, -e, "cannot write '%s': %s", path, strerror(e));
	}
	if (fclose(out) != 0 && rc == 0) {
		e = errno;
		rc = errf(err, errsz, -e, "cannot write '%s': %s", path, strerror(e));
	}
	if (rc == 0 && rename(tmp, dest) < 0) {
		e = errno;
		rc = errf(err, errsz, -e, "cannot write '%s': %s", path, strerror(e));
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}

struct profile_body {
	const struct profile *p;
	enum write_format format;
	const struct write_opts *o;
};

static int profile_body(FILE *out, void *arg, char *err, size_t errsz)
{
	const struct profile_body *b = arg;

	return write_profile_stream(b->p, out, b->format, b->o, err, errsz);
}

int write_profile(const struct profile *p, const char *path, enum write_format format,
		  const struct write_opts *o, char *err, size_t errsz)
{
	struct profile_body b = {p, format, o};

	if (format == WRITE_FORMAT_NONE) {
		b.format = write_format_of_path(path);
		if (b.format == WRITE_FORMAT_NONE)
			return errf(err, errsz, -EINVAL,
				    "unknown output format for '%s': use .svg, .folded, .txt, "
				    ".pb.gz, .pprof or .speedscope.json, or --format",
				    path);
	}
	return write_file(path, profile_body, &b, err, errsz);
}
