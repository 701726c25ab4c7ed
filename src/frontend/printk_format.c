/* bpf_trace_printk formats, checked as the kernel checks them
 * (kernel/bpf/helpers.c bpf_bprintf_prepare): flags "0 +-" and a width,
 * then d i u x X with up to two l, c, s, p alone or pK px ps pS pB pks pus
 * pi4 pI4 pi6 pI6, and %%; at most three conversions (the helper's three
 * arguments), printable characters only. Like BCC, at most one %s: older
 * kernels had one string buffer per call. */
#define _GNU_SOURCE
#include "frontend/frontend_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#define PRINTK_MAX_ARGS 3

static int fail(char *msg, size_t msg_len, size_t *at, size_t where, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(char *msg, size_t msg_len, size_t *at, size_t where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (msg && msg_len)
		vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	if (at)
		*at = where;
	return -1;
}

int fe_printk_check(const char *fmt, size_t len, int nargs, char *msg, size_t msg_len, size_t *at)
{
	int nconv = 0, nstr = 0;
	size_t i;
	/* Pass 0 checks every conversion, pass 1 counts them against the
	 * arguments: a bad specifier is named even where arguments are missing. */
	for (int pass = 0; pass < 2; pass++, nconv = nstr = 0)
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)fmt[i];
		if ((!isprint(c) && !isspace(c)) || !isascii(c))
			return fail(msg, msg_len, at, i,
				    "bpf_trace_printk: the format has a character the kernel refuses "
				    "(0x%02x); only printable ASCII and spaces",
				    c);
		if (c != '%')
			continue;
		size_t start = i;
		if (i + 1 < len && fmt[i + 1] == '%') {
			i++;
			continue;
		}
		if (++nconv > PRINTK_MAX_ARGS && pass)
			return fail(msg, msg_len, at, start,
				    "bpf_trace_printk takes at most %d arguments; this is conversion %d",
				    PRINTK_MAX_ARGS, nconv);
		if (nconv > nargs && pass)
			return fail(msg, msg_len, at, start,
				    "bpf_trace_printk: conversion %d has no argument (%d given)", nconv,
				    nargs);
		i++;
		while (i < len && (fmt[i] == '0' || fmt[i] == '+' || fmt[i] == '-' || fmt[i] == ' '))
			i++;
		while (i < len && isdigit((unsigned char)fmt[i]))
			i++;
		char n1 = i + 1 < len ? fmt[i + 1] : 0, n2 = i + 2 < len ? fmt[i + 2] : 0;
		if (i >= len)
			return fail(msg, msg_len, at, start, "bpf_trace_printk: '%%' ends the format");
		if (fmt[i] == 'p') {
			if (n1 == 0 || isspace((unsigned char)n1) || ispunct((unsigned char)n1))
				continue;
			if ((n1 == 'k' || n1 == 'u') && n2 == 's') {
				i += 2;
				goto string;
			}
			if (n1 == 'K' || n1 == 'x' || n1 == 's' || n1 == 'S' || n1 == 'B') {
				i++;
				continue;
			}
			if ((n1 == 'i' || n1 == 'I') && (n2 == '4' || n2 == '6')) {
				i += 2;
				continue;
			}
			return fail(msg, msg_len, at, start,
				    "bpf_trace_printk: unsupported conversion '%%p%c' (the kernel takes "
				    "%%p %%pK %%px %%ps %%pS %%pB %%pks %%pus %%pi4 %%pI4 %%pi6 %%pI6)",
				    n1);
		}
		if (fmt[i] == 's') {
string:
			if (++nstr > 1)
				return fail(msg, msg_len, at, start,
					    "bpf_trace_printk takes at most one %%s");
			continue;
		}
		if (fmt[i] == 'c')
			continue;
		if (fmt[i] == 'l')
			i++;
		if (i < len && fmt[i] == 'l')
			i++;
		if (i < len && (fmt[i] == 'd' || fmt[i] == 'i' || fmt[i] == 'u' || fmt[i] == 'x' ||
				fmt[i] == 'X'))
			continue;
		return fail(msg, msg_len, at, start,
			    "bpf_trace_printk: unsupported conversion '%.*s' (the kernel takes %%d %%i "
			    "%%u %%x %%X with l or ll, %%c, %%s, %%p...)",
			    (int)(i < len ? i - start + 1 : i - start), fmt + start);
	}
	if (nargs > PRINTK_MAX_ARGS)
		return fail(msg, msg_len, at, len, "bpf_trace_printk takes at most %d arguments, not %d",
			    PRINTK_MAX_ARGS, nargs);
	return 0;
}
