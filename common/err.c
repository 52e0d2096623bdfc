#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

int errf(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return rc;
}
