/*
 * err: one-line error reasons for library code. Libraries never print or exit; a
 * function that can fail for a reason the user should hear takes (char *err, size_t
 * errsz) and fills it with errf(). Messages are lower case, with no full stop.
 */
#ifndef SCORCH_COMMON_ERR_H
#define SCORCH_COMMON_ERR_H

#include <stddef.h>

/* Writes the formatted reason into err (if err is not NULL) and returns rc, so that
 * "return errf(err, errsz, -ENOENT, "cannot open '%s'", path);" reads as one step. */
int errf(char *err, size_t errsz, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
