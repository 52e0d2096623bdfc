#include "profiler/ptrace_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint64_t key, size_t cap)
{
	/* a 64-bit finaliser (splitmix64's) spreads sequential tids over the table */
	key ^= key >> 30;
	key *= UINT64_C(0xbf58476d1ce4e5b9);
	key ^= key >> 27;
	key *= UINT64_C(0x94d049bb133111eb);
	key ^= key >> 31;
	return (size_t)key & (cap - 1);
}

bool ptrace_map_get(const struct ptrace_map *m, uint64_t key, uint64_t *val)
{
	if (!m->cap)
		return false;
	for (size_t i = slot_of(key, m->cap), k = 0; k < m->cap; i = (i + 1) & (m->cap - 1), k++) {
		if (m->used[i] == 0)
			return false;
		if (m->used[i] == 1 && m->keys[i] == key) {
			if (val)
				*val = m->vals[i];
			return true;
		}
	}
	return false;
}

static int rehash(struct ptrace_map *m, size_t cap)
{
	struct ptrace_map nm = {0};

	nm.keys = malloc(cap * sizeof(*nm.keys));
	nm.vals = malloc(cap * sizeof(*nm.vals));
	nm.used = calloc(cap, 1);
	if (!nm.keys || !nm.vals || !nm.used) {
		free(nm.keys);
		free(nm.vals);
		free(nm.used);
		return -ENOMEM;
	}
	nm.cap = cap;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->used[i] != 1)
			continue;
		size_t j = slot_of(m->keys[i], cap);
		while (nm.used[j])
			j = (j + 1) & (cap - 1);
		nm.used[j] = 1;
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
		nm.n++;
	}
	ptrace_map_release(m);
	*m = nm;
	return 0;
}

int ptrace_map_put(struct ptrace_map *m, uint64_t key, uint64_t val)
{
	size_t i, del = SIZE_MAX;

	if ((m->n + m->ndel + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap : 16;
		while ((m->n + 1) * 2 > cap)
			cap *= 2;
		if (rehash(m, cap) < 0)
			return -ENOMEM;
	}
	for (i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->used[i] == 1 && m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
		if (m->used[i] == 2 && del == SIZE_MAX)
			del = i;
		if (m->used[i] == 0)
			break;
	}
	if (del != SIZE_MAX) {
		i = del;
		m->ndel--;
	}
	m->used[i] = 1;
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void ptrace_map_del(struct ptrace_map *m, uint64_t key)
{
	if (!m->cap)
		return;
	for (size_t i = slot_of(key, m->cap), k = 0; k < m->cap; i = (i + 1) & (m->cap - 1), k++) {
		if (m->used[i] == 0)
			return;
		if (m->used[i] == 1 && m->keys[i] == key) {
			m->used[i] = 2;
			m->n--;
			m->ndel++;
			return;
		}
	}
}

bool ptrace_map_next(const struct ptrace_map *m, size_t *i, uint64_t *key, uint64_t *val)
{
	for (; *i < m->cap; (*i)++) {
		if (m->used[*i] == 1) {
			if (key)
				*key = m->keys[*i];
			if (val)
				*val = m->vals[*i];
			(*i)++;
			return true;
		}
	}
	return false;
}

void ptrace_map_release(struct ptrace_map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
