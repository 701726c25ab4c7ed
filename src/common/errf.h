/* One error formatter for every layer (maps, kernel backend, front end):
 * writes the message into err when err is not NULL and returns rc, so that
 * error paths read "return visor_errf(err, len, -ENOENT, "%s: ...", path)". */
#ifndef VISOR_COMMON_ERRF_H
#define VISOR_COMMON_ERRF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline int __attribute__((format(printf, 4, 5)))
visor_errf(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	if (err && err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#endif
