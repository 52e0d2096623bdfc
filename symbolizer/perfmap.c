#include "symbolizer/perfmap.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many earlier symbols a lookup looks back through for one that still covers
 * the address (overlapping entries are rare: reused code, nested trampolines). */
#define LOOKBACK 64

void perfmap_init(struct perfmap *pm)
{
	memset(pm, 0, sizeof(*pm));
}

void perfmap_release(struct perfmap *pm)
{
	free(pm->v);
	free(pm->strs);
	memset(pm, 0, sizeof(*pm));
}

static int cmp_sym(const void *a, const void *b)
{
	const struct perfmap_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool parse_hex(char **p, uint64_t *out)
{
	char *s = *p, *end;

	if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
		return false;
	errno = 0;
	*out = strtoull(s, &end, 16);
	if (errno || end == s)
		return false;
	*p = end;
	return true;
}

int perfmap_parse(struct perfmap *pm, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	while ((len = getline(&line, &cap, f)) > 0) {
		uint64_t start, size;
		char *p = line, *name;
		size_t nlen;

		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		if (!parse_hex(&p, &start) || *p != ' ') {
			pm->bad++;
			continue;
		}
		p++;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		if (!parse_hex(&p, &size) || *p != ' ' || !size || start + size < start) {
			pm->bad++;
			continue;
		}
		name = p + 1;
		nlen = strlen(name);
		if (!nlen || pm->strs_len + nlen + 1 > UINT32_MAX || pm->n >= UINT32_MAX) {
			pm->bad++;
			continue;
		}
		if (GROW(pm->v, pm->cap, pm->n + 1) < 0 ||
		    grow_array((void **)&pm->strs, &pm->strs_cap, pm->strs_len + nlen + 1, 1) < 0) {
			rc = -ENOMEM;
			break;
		}
		memcpy(pm->strs + pm->strs_len, name, nlen + 1);
		pm->v[pm->n] = (struct perfmap_sym){start, start + size, (uint32_t)pm->n,
						    (uint32_t)pm->strs_len};
		pm->strs_len += nlen + 1;
		pm->n++;
	}
	free(line);
	if (pm->n)
		qsort(pm->v, pm->n, sizeof(*pm->v), cmp_sym);
	return rc;
}

int perfmap_read(struct perfmap *pm, const char *path, const struct perfmap_check *chk,
		 char *err, size_t errsz)
{
	struct stat st;
	FILE *f;
	int fd, rc, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = errno;
		return errf(err, errsz, -e, "cannot open %s: %s", path, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errf(err, errsz, -EPERM, "%s is not a regular file", path);
	}
	if (chk && st.st_uid != 0 && st.st_uid != chk->uid) {
		close(fd);
		return errf(err, errsz, -EPERM, "%s is owned by uid %u, not by the target's uid %u",
			    path, (unsigned)st.st_uid, (unsigned)chk->uid);
	}
	if (chk && chk->min_mtime && (int64_t)st.st_mtime < chk->min_mtime) {
		close(fd);
		return errf(err, errsz, -EPERM, "%s is older than the process (a stale file)",
			    path);
	}
	f = fdopen(fd, "r");
	if (!f) {
		e = errno;
		close(fd);
		return errf(err, errsz, -e, "cannot read %s: %s", path, strerror(e));
	}
	rc = perfmap_parse(pm, f);
	fclose(f);
	if (rc < 0)
		return errf(err, errsz, rc, "out of memory reading %s", path);
	return 0;
}

const char *perfmap_lookup(const struct perfmap *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->n;
	const struct perfmap_sym *best = NULL;

	if (!pm->n || addr < pm->v[0].start)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (pm->v[mid].start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo + 1, k = 0; i-- > 0 && k < LOOKBACK; k++) {
		const struct perfmap_sym *s = &pm->v[i];
		if (addr < s->end && (!best || s->seq > best->seq))
			best = s;
	}
	return best ? pm->strs + best->name : NULL;
}
