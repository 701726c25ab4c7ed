/* visor asm: assembly text to raw bytecode (or its hex spelling). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor asm [-o OUT] [--hex] FILE|-\n"
		"\n"
		"Assembles eBPF text in the uBPF / bpf_conformance syntax (docs/ASSEMBLY.md)\n"
		"into raw bytecode: 8 little-endian bytes per instruction slot.\n"
		"\n"
		"  -o, --output OUT  write the bytecode to OUT ('-' is stdout)\n"
		"  --hex             write the bytes as hex on one line (\"b7 00 00 00 ...\"),\n"
		"                    the input format of the bpf_conformance plugin\n"
		"  -h, --help        show this help\n"
		"\n"
		"Without -o, bytecode goes to stdout, unless stdout is a terminal.\n");
}

/* Slots as bytes, little-endian whatever the host. */
static void encode(const struct visor_insn *in, uint8_t b[8])
{
	uint16_t off = (uint16_t)in->off;
	uint32_t imm = (uint32_t)in->imm;
	b[0] = in->code;
	b[1] = (uint8_t)(in->dst | in->src << 4);
	b[2] = (uint8_t)off;
	b[3] = (uint8_t)(off >> 8);
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(imm >> (8 * i));
}

static int write_output(FILE *f, const struct visor_insn *insns, size_t count, int hex)
{
	for (size_t i = 0; i < count; i++) {
		uint8_t b[8];
		encode(&insns[i], b);
		if (!hex) {
			fwrite(b, 1, sizeof(b), f);
			continue;
		}
		for (int k = 0; k < 8; k++)
			fprintf(f, "%s%02x", i || k ? " " : "", b[k]);
	}
	if (hex)
		fputc('\n', f);
	return ferror(f) ? -1 : 0;
}

int cmd_asm(int argc, char **argv)
{
	const char *out_path = NULL, *in_path = NULL;
	int hex = 0, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--hex")) {
			hex = 1;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (++i == argc) {
				cli_error("asm: %s needs a file name", a);
				return 2;
			}
			out_path = argv[i];
		} else if (!strncmp(a, "--output=", 9)) {
			out_path = a + 9;
		} else if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (a[0] == '-' && a[1]) {
			cli_error("asm: unknown option '%s' (try 'visor asm --help')", a);
			return 2;
		} else if (in_path) {
			cli_error("asm: more than one input file ('%s' and '%s')", in_path, a);
			return 2;
		} else {
			in_path = a;
		}
	}
	for (; i < argc; i++) { /* after "--" */
		if (in_path) {
			cli_error("asm: more than one input file ('%s' and '%s')", in_path,
				  argv[i]);
			return 2;
		}
		in_path = argv[i];
	}
	if (!in_path) {
		cli_error("asm: no input file (try 'visor asm --help')");
		return 2;
	}
	int to_stdout = !out_path || !strcmp(out_path, "-");
	if (to_stdout && !hex && isatty(STDOUT_FILENO)) {
		cli_error("asm: not writing binary bytecode to a terminal; use -o FILE or --hex");
		return 2;
	}

	const char *name = strcmp(in_path, "-") ? in_path : "<stdin>";
	size_t len;
	char *text = cli_read_file(in_path, &len);
	if (!text)
		return 1;
	if (memchr(text, 0, len)) {
		cli_error("%s: not assembly text (it contains NUL bytes; 'visor disasm' reads "
			  "bytecode)",
			  name);
		free(text);
		return 1;
	}

	struct visor_insn *insns;
	size_t count;
	char err[256];
	int ret = visor_asm(text, &insns, &count, err, sizeof(err));
	free(text);
	if (ret) {
		cli_error("%s: %s", name, err);
		return 1;
	}

	FILE *f = to_stdout ? stdout : fopen(out_path, hex ? "w" : "wb");
	if (!f) {
		cli_error("%s: cannot create: %s", out_path, strerror(errno));
		free(insns);
		return 1;
	}
	ret = write_output(f, insns, count, hex);
	if (to_stdout ? fflush(f) != 0 : fclose(f) != 0)
		ret = -1;
	free(insns);
	if (ret) {
		cli_error("%s: write error: %s", to_stdout ? "<stdout>" : out_path,
			  strerror(errno));
		return 1;
	}
	return 0;
}
