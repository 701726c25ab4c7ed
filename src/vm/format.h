/* The kernel's printf for programs (bpf_bprintf_prepare + bstr_printf),
 * shared by bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf. */
#ifndef VISOR_VM_FORMAT_H
#define VISOR_VM_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define VISOR_BPRINTF_MAX_ARGS 12 /* MAX_BPRINTF_VARARGS */

/* Formats fmt (NUL-terminated within its first fmt_size bytes, all of them
 * readable) with args[0..nargs): %d %i %u %x %X with l / ll, %c, %s, %%,
 * the flags 0 + - and space, a width, and the pointer forms %p %pK %px %ps
 * %pS %pB %pks %pus %pi4 %pI4 %pi6 %pI6. Writes at most cap - 1 bytes and a
 * NUL into out (nothing when cap is 0) and returns the length of the whole
 * output without the NUL. -EINVAL (a bad format: another conversion, a
 * precision, '#', more conversions than args, a non-printable character or
 * no NUL) or -ENOSPC (the kernel's 512-byte argument buffer overflows)
 * with the reason in why. %s and the address forms read memory safely: a
 * bad pointer gives "" or a zero address, as the kernel's. */
long visor_bprintf(const char *fmt, size_t fmt_size, const uint64_t *args, uint32_t nargs,
		   char *out, size_t cap, char *why, size_t why_len);

#endif
