/* Utilities shared by the subcommands: messages, files, hex. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/conformance.h>

#include <visor/object.h>

#include "cli.h"

#include "common/hex.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("visor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *cli_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		cli_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			char *nb = cap > (1u << 30) ? NULL : realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	int failed = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf) {
		cli_error("%s: file too large or out of memory", path);
		return NULL;
	}
	if (failed) {
		cli_error("%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static int looks_binary(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == 0 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

int cli_read_program(const char *path, struct visor_insn **insns, size_t *count)
{
	size_t len;
	char *buf = cli_read_file(path, &len);
	if (!buf)
		return -1;
	if (looks_binary(buf, len)) {
		if (len % sizeof(struct visor_insn)) {
			cli_error("%s: raw bytecode must be a multiple of 8 bytes, this file has %zu",
				  path, len);
			free(buf);
			return -1;
		}
		*insns = (struct visor_insn *)buf; /* malloc'd, aligned for any type */
		*count = len / sizeof(struct visor_insn);
		return 0;
	}
	char err[256];
	int rc = visor_asm(buf, insns, count, err, sizeof(err));
	free(buf);
	if (rc) {
		cli_error("%s: %s", path, err);
		return -1;
	}
	return 0;
}

int cli_parse_hex(const char *text, uint8_t **out, size_t *len, char *err, size_t err_len)
{
	size_t n = 0, cap = strlen(text) / 2 + 1;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	const char *p = text;
	while (*p) {
		if (isspace((unsigned char)*p) || *p == ',') {
			p++;
			continue;
		}
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
			p += 2;
			continue;
		}
		int hi = visor_hex_digit((unsigned char)p[0]);
		int lo = hi < 0 ? -1 : visor_hex_digit((unsigned char)p[1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, err_len, "bad hex byte at offset %zu: '%.2s' (expected two hex digits)",
				 (size_t)(p - text), p);
			free(buf);
			return -1;
		}
		buf[n++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	*out = buf;
	*len = n;
	return 0;
}

struct visor_obj *cli_open_obj(const char *path)
{
	char err[512];
	struct visor_obj *obj = visor_obj_open_file(path, NULL, err, sizeof(err));
	if (obj)
		return obj;
	/* The loader's line starts with the path or the object's name (the
	 * file name up to its first '.'): say the path once. */
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t nlen = strcspn(base, "."), plen = strlen(path);
	const char *msg = err;
	if (!strncmp(err, path, plen) && !strncmp(err + plen, ": ", 2))
		msg = err + plen + 2;
	else if (nlen && !strncmp(err, base, nlen) && !strncmp(err + nlen, ": ", 2))
		msg = err + nlen + 2;
	cli_error("%s: %s", path, msg);
	return NULL;
}

struct visor_vm *cli_load_vm(const char *cmd, const char *path, int conformance_helpers,
			     bool unsafe, uint32_t ctx_size, int jit_flags, size_t *count)
{
	struct visor_insn *insns = NULL;
	struct visor_vm *vm = visor_vm_create();
	if (!vm) {
		cli_error("%s: out of memory", cmd);
		return NULL;
	}
	if (cli_read_program(path, &insns, count))
		goto fail;
	if (conformance_helpers)
		visor_conformance_register_helpers(vm);
	visor_vm_set_unsafe(vm, unsafe);
	if (visor_vm_load(vm, insns, *count)) {
		cli_error("%s: %s", path, visor_vm_errmsg(vm));
		goto fail;
	}
	if (!unsafe) {
		VISOR_OPTS(visor_verify_opts, vo, .ctx_size = ctx_size);
		if (visor_verify_vm(vm, &vo)) {
			cli_error("%s: refused by the verifier: %s", path, vo.errmsg);
			goto fail;
		}
	}
	if (jit_flags >= 0 && visor_vm_jit_compile(vm, (unsigned)jit_flags)) {
		cli_error("%s: %s", path, visor_vm_errmsg(vm));
		goto fail;
	}
	free(insns); /* the VM keeps its own copy */
	return vm;
fail:
	free(insns);
	visor_vm_destroy(vm);
	return NULL;
}

int cli_verify_obj_prog(const struct visor_obj_prog *prog, struct visor_map *const *maps,
			size_t nmaps, int prog_type, uint32_t ctx_size,
			struct visor_verify_opts *opts)
{
	opts->prog_type = prog_type >= 0 ? (uint32_t)prog_type : (uint32_t)visor_obj_prog_type(prog);
	opts->ctx_size = ctx_size;
	opts->maps = maps;
	opts->nmaps = nmaps;
	opts->line_of = visor_obj_prog_line_cb;
	opts->line_ctx = (void *)prog;
	return visor_verify(visor_obj_prog_insns(prog), visor_obj_prog_insn_count(prog), opts);
}

int cli_pick_prog(const char *path, struct visor_obj *obj, const char *name,
		     struct visor_obj_prog **out)
{
	size_t n = visor_obj_prog_count(obj);
	if (name) {
		*out = visor_obj_find_prog(obj, name);
		if (!*out) {
			cli_error("%s: no program named '%s' (see 'visor obj info %s')", path, name, path);
			return -1;
		}
		return 0;
	}
	if (n == 1) {
		*out = visor_obj_prog_at(obj, 0);
		return 0;
	}
	if (n == 0) {
		cli_error("%s: the object has no programs", path);
		return -1;
	}
	char list[512] = "";
	size_t used = 0;
	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
				 visor_obj_prog_name(visor_obj_prog_at(obj, i)));
	cli_error("%s: %zu programs (%s): choose one with --prog", path, n, list);
	return -1;
}
