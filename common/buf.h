/*
 * buf: a growable byte buffer, as git's strbuf. The bytes are always NUL-terminated
 * (p[len] == 0) once anything was added. Owns its memory; release with buf_release().
 * On allocation failure the functions return -ENOMEM and leave the buffer as it was.
 */
#ifndef SCORCH_COMMON_BUF_H
#define SCORCH_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *p;    /* bytes, NUL-terminated; NULL while empty */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
};

#define BUF_INIT {NULL, 0, 0}

/* Makes room for extra more bytes (plus the NUL). 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends v in decimal. */
int buf_addu64(struct buf *b, uint64_t v);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
void buf_release(struct buf *b);
/* Hands the bytes over: caller frees; the buffer is left empty. Never NULL on success. */
char *buf_detach(struct buf *b, size_t *len);

/* Grows the array *v of elements of size elsz so that it holds at least need elements;
 * *cap counts elements. 0 or -ENOMEM (then *v and *cap are unchanged). */
int grow_array(void **v, size_t *cap, size_t need, size_t elsz);
#define GROW(v, cap, need) grow_array((void **)&(v), &(cap), (need), sizeof(*(v)))

#endif
