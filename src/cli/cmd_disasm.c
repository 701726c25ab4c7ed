/* visor disasm: raw bytecode to text, in the uBPF or the kernel syntax. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor disasm [--syntax=ubpf|kernel] [--index] [--hex \"HEX\"] [FILE|-]\n"
		"\n"
		"Disassembles raw bytecode (8 little-endian bytes per instruction slot).\n"
		"A FILE of assembly text is assembled first, which converts between syntaxes.\n"
		"\n"
		"  --syntax=ubpf    the assembler's syntax, re-assemblable (default):\n"
		"                   mov32 %%r0, 1 / ldxw %%r1, [%%r2+4]\n"
		"  --syntax=kernel  llvm-objdump / verifier log style:\n"
		"                   w0 = 1 / r1 = *(u32 *)(r2 + 4)\n"
		"  --index          prefix each line with its slot number\n"
		"  --hex \"HEX\"      read the bytes from the argument (\"b7 00 00 00 ...\")\n"
		"  -h, --help       show this help\n"
		"\n"
		"Invalid slots print as '.raw 0x<slot as a little-endian 64-bit number>'.\n");
}

static int parse_syntax(const char *s, enum visor_syntax *syntax)
{
	if (!strcmp(s, "ubpf"))
		*syntax = VISOR_SYNTAX_UBPF;
	else if (!strcmp(s, "kernel"))
		*syntax = VISOR_SYNTAX_KERNEL;
	else
		return -1;
	return 0;
}

/* Bytes to slots, little-endian whatever the host. */
static struct visor_insn *decode(const uint8_t *b, size_t len)
{
	size_t count = len / 8;
	struct visor_insn *insns = malloc(count ? count * sizeof(*insns) : 1);
	if (!insns)
		return NULL;
	for (size_t i = 0; i < count; i++, b += 8) {
		struct visor_insn *in = &insns[i];
		in->code = b[0];
		in->dst = b[1] & 15;
		in->src = b[1] >> 4;
		in->off = (int16_t)(uint16_t)(b[2] | b[3] << 8);
		in->imm = (int32_t)((uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
				    (uint32_t)b[7] << 24);
	}
	return insns;
}

int cmd_disasm(int argc, char **argv)
{
	enum visor_syntax syntax = VISOR_SYNTAX_UBPF;
	const char *path = NULL, *hex = NULL;
	int with_index = 0, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--index")) {
			with_index = 1;
		} else if (!strncmp(a, "--syntax=", 9) || !strcmp(a, "--syntax")) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
			if (parse_syntax(v, &syntax)) {
				cli_error("disasm: unknown syntax '%s' (ubpf or kernel)", v);
				return 2;
			}
		} else if (!strcmp(a, "--hex")) {
			if (++i == argc) {
				cli_error("disasm: --hex needs the bytes as an argument");
				return 2;
			}
			hex = argv[i];
		} else if (!strncmp(a, "--hex=", 6)) {
			hex = a + 6;
		} else if (!strcmp(a, "--") && i + 1 < argc && !path) {
			path = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			cli_error("disasm: unknown option '%s' (try 'visor disasm --help')", a);
			return 2;
		} else if (path) {
			cli_error("disasm: more than one input file ('%s' and '%s')", path, a);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path == !hex) {
		cli_error("disasm: give one input, FILE or --hex \"HEX\" "
			  "(try 'visor disasm --help')");
		return 2;
	}

	struct visor_insn *insns = NULL;
	size_t count = 0;
	if (hex) {
		uint8_t *bytes;
		size_t len;
		char err[256];
		if (cli_parse_hex(hex, &bytes, &len, err, sizeof(err))) {
			cli_error("disasm: --hex: %s", err);
			return 2;
		}
		if (len % 8) {
			cli_error("disasm: --hex: %zu bytes is not a whole number of 8-byte "
				  "instruction slots",
				  len);
			free(bytes);
			return 1;
		}
		insns = decode(bytes, len);
		count = len / 8;
		free(bytes);
		if (!insns) {
			cli_error("disasm: out of memory");
			return 1;
		}
	} else if (cli_read_program(path, &insns, &count)) {
		return 1;
	}

	char *text = visor_disasm(insns, count, syntax, with_index);
	free(insns);
	if (!text) {
		cli_error("disasm: out of memory");
		return 1;
	}
	fputs(text, stdout);
	free(text);
	if (fflush(stdout) || ferror(stdout)) {
		cli_error("disasm: write error: %s", strerror(errno));
		return 1;
	}
	return 0;
}
