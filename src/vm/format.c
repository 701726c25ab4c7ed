/* The kernel's printf for programs: what bpf_bprintf_prepare() accepts
 * (kernel/bpf/helpers.c) and how bstr_printf() prints it (lib/vsprintf.c),
 * including the 512-byte buffer strings and arguments are staged in.
 * Differences, on purpose: %p and %pK print the address as %px does (the
 * kernel hashes it or prints zeros, depending on kptr_restrict); %ps, %pS
 * and %pB print 0x<hex>, what the kernel prints for an address that is no
 * kernel symbol. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "helpers.h"

#define BIN_ARGS_SIZE 512 /* MAX_BPRINTF_BIN_ARGS */

struct sink {
	char *buf;
	size_t cap, len; /* len counts everything, written or not */
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void put_str(struct sink *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(s, p[i]);
}

static void pad(struct sink *s, char c, size_t n)
{
	while (n--)
		put(s, c);
}

struct spec {
	bool left, zero, plus, space;
	size_t width;
};

/* A string field: spaces before (or after, with '-'), never zeros. */
static void field(struct sink *s, const struct spec *sp, const char *p, size_t n)
{
	size_t fill = sp->width > n ? sp->width - n : 0;
	if (!sp->left)
		pad(s, ' ', fill);
	put_str(s, p, n);
	if (sp->left)
		pad(s, ' ', fill);
}

/* A number field: digits with an optional sign; zeros go after the sign. */
static void number(struct sink *s, const struct spec *sp, const char *sign, const char *digits)
{
	size_t n = strlen(sign) + strlen(digits);
	size_t fill = sp->width > n ? sp->width - n : 0;
	if (sp->left) {
		put_str(s, sign, strlen(sign));
		put_str(s, digits, strlen(digits));
		pad(s, ' ', fill);
	} else if (sp->zero) {
		put_str(s, sign, strlen(sign));
		pad(s, '0', fill);
		put_str(s, digits, strlen(digits));
	} else {
		pad(s, ' ', fill);
		put_str(s, sign, strlen(sign));
		put_str(s, digits, strlen(digits));
	}
}

static void integer(struct sink *s, const struct spec *sp, char conv, uint64_t v, bool is64)
{
	char digits[24];
	const char *sign = "";
	if (conv == 'd' || conv == 'i') {
		int64_t x = is64 ? (int64_t)v : (int64_t)(int32_t)v;
		uint64_t mag = x < 0 ? -(uint64_t)x : (uint64_t)x;
		sign = x < 0 ? "-" : sp->plus ? "+" : sp->space ? " " : "";
		snprintf(digits, sizeof(digits), "%llu", (unsigned long long)mag);
	} else {
		uint64_t x = is64 ? v : (uint32_t)v;
		snprintf(digits, sizeof(digits), conv == 'u' ? "%llu" : conv == 'x' ? "%llx" : "%llX",
			 (unsigned long long)x);
	}
	number(s, sp, sign, digits);
}

/* pointer_string(): lowercase hex, 16 digits zero-padded unless a width is given. */
static void pointer_hex(struct sink *s, const struct spec *sp, uint64_t v)
{
	char digits[24];
	struct spec p = *sp;
	snprintf(digits, sizeof(digits), "%llx", (unsigned long long)v);
	if (!p.width) {
		p.width = 16;
		p.zero = true;
		p.left = false;
	}
	number(s, &p, "", digits);
}

static size_t format_ip(char *dst, size_t cap, char kind, char ver, const uint8_t *a)
{
	if (ver == '4')
		return (size_t)snprintf(dst, cap, kind == 'I' ? "%u.%u.%u.%u" : "%03u.%03u.%03u.%03u",
					a[0], a[1], a[2], a[3]);
	size_t n = 0;
	for (int i = 0; i < 16; i += kind == 'I' ? 2 : 1) {
		if (kind == 'I')
			n += (size_t)snprintf(dst + n, cap - n, "%s%02x%02x", i ? ":" : "", a[i], a[i + 1]);
		else
			n += (size_t)snprintf(dst + n, cap - n, "%02x", a[i]);
	}
	return n;
}

static bool ends_word(char c)
{
	return c == 0 || isspace((unsigned char)c) || ispunct((unsigned char)c);
}

static long bad(char *why, size_t len, long err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static long bad(char *why, size_t len, long err, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Bytes of the kernel's argument buffer in use; -ENOSPC past its end. */
static bool stage(size_t *used, size_t size, bool align)
{
	if (align)
		*used = (*used + 3) & ~(size_t)3;
	if (BIN_ARGS_SIZE - *used < size)
		return false;
	*used += size;
	return true;
}

/* A string argument read safely into str (BIN_ARGS_SIZE bytes) and staged:
 * as much as the buffer still holds; a bad address reads as "". */
static bool stage_str(size_t *used, char *str, uint64_t addr)
{
	if (*used == BIN_ARGS_SIZE)
		return false;
	long len = visor_safe_read_str(str, addr, BIN_ARGS_SIZE - *used);
	if (len < 0)
		str[0] = 0, len = 1;
	*used += (size_t)len;
	return true;
}

long visor_bprintf(const char *fmt, size_t fmt_size, const uint64_t *args, uint32_t nargs,
		   char *out, size_t cap, char *why, size_t why_len)
{
	const char *end = memchr(fmt, 0, fmt_size);
	if (!end)
		return bad(why, why_len, -EINVAL, "the format is not NUL-terminated");
	struct sink s = {out, cap, 0};
	size_t used = 0; /* the kernel's staging buffer */
	uint32_t spec_no = 0;

	for (const char *f = fmt; f < end; f++) {
		if (!isascii((unsigned char)*f) ||
		    (!isprint((unsigned char)*f) && !isspace((unsigned char)*f)))
			return bad(why, why_len, -EINVAL, "character 0x%02x at offset %zu is not printable",
				   (unsigned char)*f, (size_t)(f - fmt));
		if (*f != '%') {
			put(&s, *f);
			continue;
		}
		if (f[1] == '%') {
			put(&s, '%');
			f++;
			continue;
		}
		const char *start = f;
		if (spec_no >= nargs)
			return bad(why, why_len, -EINVAL, "'%.16s': more conversions than the %u arguments",
				   start, nargs);
		uint64_t a = args[spec_no++];
		struct spec sp = {0};
		for (f++; *f == '0' || *f == '+' || *f == '-' || *f == ' '; f++) {
			sp.zero |= *f == '0';
			sp.plus |= *f == '+';
			sp.left |= *f == '-';
			sp.space |= *f == ' ';
		}
		if (sp.left)
			sp.zero = false;
		if (*f >= '1' && *f <= '9')
			for (; *f >= '0' && *f <= '9'; f++)
				sp.width = sp.width < (1u << 23) ? sp.width * 10 + (size_t)(*f - '0') : sp.width;

		if (*f == 'p') {
			char c = f[1];
			char tmp[64];
			size_t n;
			if (ends_word(c) || c == 'K' || c == 'x') {
				if (!stage(&used, 8, true))
					goto nospc;
				pointer_hex(&s, &sp, a);
			} else if (c == 's' || c == 'S') {
				if (!stage(&used, 8, true))
					goto nospc;
				n = (size_t)snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)a);
				field(&s, &sp, tmp, n);
			} else if ((c == 'k' || c == 'u') && f[2] == 's') {
				if (!ends_word(f[3]))
					return bad(why, why_len, -EINVAL, "'%.16s': %%p%cs must end the word",
						   start, c);
				char str[BIN_ARGS_SIZE];
				if (!stage_str(&used, str, a))
					goto nospc;
				put_str(&s, str, strlen(str)); /* staged: no width */
			} else if (c == 'B') {
				n = (size_t)snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)a);
				if (n + 1 > BIN_ARGS_SIZE - used)
					n = BIN_ARGS_SIZE - used ? BIN_ARGS_SIZE - used - 1 : 0;
				used += n + 1;
				put_str(&s, tmp, n);
			} else if ((c == 'i' || c == 'I') && (f[2] == '4' || f[2] == '6')) {
				uint8_t ip[16] = {0};
				size_t ipn = f[2] == '4' ? 4 : 16;
				if (BIN_ARGS_SIZE - used < ipn)
					goto nospc;
				if (!visor_safe_read(ip, a, ipn))
					memset(ip, 0, sizeof(ip));
				n = format_ip(tmp, sizeof(tmp), c, f[2], ip);
				if (n + 1 > BIN_ARGS_SIZE - used)
					n = BIN_ARGS_SIZE - used - 1;
				used += n + 1;
				put_str(&s, tmp, n); /* staged: no width */
			} else {
				return bad(why, why_len, -EINVAL,
					   "'%.16s': the pointer forms are %%p %%pK %%px %%ps %%pS %%pB %%pks %%pus %%pi4 %%pI4 %%pi6 %%pI6",
					   start);
			}
			/* bstr_printf skips the letters after %p. */
			while (isalnum((unsigned char)f[1]))
				f++;
			continue;
		}
		if (*f == 's') {
			if (!ends_word(f[1]))
				return bad(why, why_len, -EINVAL, "'%.16s': %%s must end the word", start);
			char str[BIN_ARGS_SIZE];
			if (!stage_str(&used, str, a))
				goto nospc;
			field(&s, &sp, str, strlen(str));
			continue;
		}
		if (*f == 'c') {
			if (used == BIN_ARGS_SIZE)
				goto nospc;
			used++;
			char ch = (char)a;
			field(&s, &sp, &ch, 1);
			continue;
		}
		bool is64 = false;
		if (*f == 'l') {
			is64 = true;
			f++;
		}
		if (*f == 'l')
			f++;
		if (*f != 'd' && *f != 'i' && *f != 'u' && *f != 'x' && *f != 'X')
			return bad(why, why_len, -EINVAL,
				   "'%.16s': not a conversion the kernel accepts (%%d %%i %%u %%x %%X %%c %%s %%p..., flags 0+- and space, a width, l or ll)",
				   start);
		if (!stage(&used, is64 ? 8 : 4, true))
			goto nospc;
		integer(&s, &sp, *f, a, is64);
	}
	if (cap)
		out[s.len < cap ? s.len : cap - 1] = 0;
	return (long)s.len;
nospc:
	return bad(why, why_len, -ENOSPC, "the arguments overflow the kernel's %d-byte buffer",
		   BIN_ARGS_SIZE);
}
