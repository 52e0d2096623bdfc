#include "symbolizer/kallsyms.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kallsyms_init(struct kallsyms *k)
{
	memset(k, 0, sizeof(*k));
}

void kallsyms_release(struct kallsyms *k)
{
	free(k->v);
	free(k->strs);
	memset(k, 0, sizeof(*k));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct kallsyms_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Parsed in place: the kernel formats the file on every read (43 ms for 122,000
 * lines here), so it is read once and never copied line by line. */
int kallsyms_parse(struct kallsyms *k, char *text, size_t len)
{
	size_t cap = 0, nsyms = 0, nlisted = 0;
	bool nonzero = false;
	char *p = text, *end = text + len;

	kallsyms_release(k);
	k->strs = text;
	k->strs_len = len;
	text[len] = 0;
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		char *q = p, *name;
		uint64_t addr = 0;
		int digits = 0, h;
		char type;

		if (!eol)
			eol = end;
		*eol = 0;
		while (q < eol && (h = hexval(*q)) >= 0 && digits < 16) {
			addr = addr << 4 | (uint64_t)h;
			q++;
			digits++;
		}
		if (!digits || q + 3 > eol || q[0] != ' ' || q[2] != ' ')
			goto next;
		type = q[1];
		name = q + 3;
		/* "name\t[module]": the name alone, as perf shows it */
		name[strcspn(name, "\t ")] = 0;
		if (!name[0])
			goto next;
		nlisted++;
		if (addr)
			nonzero = true;
		if (type != 'T' && type != 't' && type != 'W' && type != 'w')
			goto next;
		if (GROW(k->v, cap, nsyms + 1) < 0) {
			kallsyms_release(k);
			return -ENOMEM;
		}
		k->v[nsyms++] = (struct kallsyms_sym){addr, (uint32_t)(name - text)};
next:
		p = eol + 1;
	}
	k->n = nsyms;
	k->zero = nlisted && !nonzero;
	if (k->zero) {
		free(k->v);
		k->v = NULL;
		k->n = 0;
	}
	if (k->n)
		qsort(k->v, k->n, sizeof(*k->v), cmp_sym);
	return 0;
}

int kallsyms_read(struct kallsyms *k, const char *path, char *err, size_t errsz)
{
	size_t len = 0, cap = 1 << 20;
	char *text = malloc(cap);
	int fd, e;

	if (!text)
		return errf(err, errsz, -ENOMEM, "out of memory reading %s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		free(text);
		return errf(err, errsz, -e, "cannot open %s: %s", path, strerror(e));
	}
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap) {
			char *t = cap > SIZE_MAX / 2 ? NULL : realloc(text, cap * 2);
			if (!t) {
				close(fd);
				free(text);
				return errf(err, errsz, -ENOMEM, "out of memory reading %s", path);
			}
			text = t;
			cap *= 2;
		}
		r = read(fd, text + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			close(fd);
			free(text);
			return errf(err, errsz, -e, "cannot read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (kallsyms_parse(k, text, len) < 0)
		return errf(err, errsz, -ENOMEM, "out of memory reading %s", path);
	return 0;
}

const char *kallsyms_lookup(const struct kallsyms *k, uint64_t addr, uint64_t *off)
{
	size_t lo = 0, hi = k->n;

	if (!k->n || addr < k->v[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->v[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (off)
		*off = addr - k->v[lo].addr;
	return k->strs + k->v[lo].name;
}
