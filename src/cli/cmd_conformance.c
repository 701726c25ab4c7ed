/* visor conformance-plugin: the bpf_conformance plugin protocol. The suite
 * starts the plugin once per test with the input memory as an argument and
 * the program as hex on stdin, and reads r0 (hex) from stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/conformance.h>

#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor conformance-plugin [MEMORY_HEX] [--interpret|--jit [--harden]]\n"
		"                                [--program HEX]\n"
		"Reads a program as space-separated hex bytes on one line of stdin (or\n"
		"--program), runs it with r1 = MEMORY (r2 = its length; both 0 without it),\n"
		"prints r0 in hex on stdout and exits 0. On failure prints one line on\n"
		"stderr and exits 1. Helpers 0-5 are the suite's (gather_bytes, memfrob,\n"
		"no_op, sqrti, strcmp_ext, unwind). Programs run unverified, in unsafe mode:\n"
		"the suite tests ISA semantics, with programs no verifier accepts; every\n"
		"memory access is checked at run time instead.\n\n"
		"  --interpret         use the interpreter (default)\n"
		"  --jit               use the JIT (x86-64)\n"
		"  --harden            with --jit: blind constants (as bpf_jit_harden)\n"
		"  --program HEX       the program, instead of stdin\n"
		"  --budget N          instruction budget (default 100000000, 0 = unlimited)\n"
		"  -h, --help          this text\n");
}

int cmd_conformance_plugin(int argc, char **argv)
{
	static const struct option opts[] = {
		{"interpret", no_argument, 0, 'i'}, {"jit", no_argument, 0, 'j'},
		{"harden", no_argument, 0, 'H'},
		{"program", required_argument, 0, 'p'}, {"budget", required_argument, 0, 'b'},
		{"help", no_argument, 0, 'h'},      {0, 0, 0, 0},
	};
	const char *program_hex = NULL, *mem_hex = NULL;
	uint64_t budget = 100000000;
	int jit = 0, harden = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': jit = 0; break;
		case 'j': jit = 1; break;
		case 'H': harden = 1; break;
		case 'p': program_hex = optarg; break;
		case 'b': budget = strtoull(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		mem_hex = argv[optind++];
	if (optind < argc) {
		cli_error("conformance-plugin: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (harden && !jit) {
		cli_error("conformance-plugin: --harden applies to the JIT; add --jit");
		return 2;
	}

	char *line = NULL, err[256];
	size_t cap = 0;
	if (!program_hex) {
		if (getline(&line, &cap, stdin) < 0) {
			cli_error("conformance-plugin: no program on stdin");
			free(line);
			return 1;
		}
		program_hex = line;
	}

	uint8_t *code = NULL, *mem = NULL;
	size_t code_len = 0, mem_len = 0;
	struct visor_vm *vm = NULL;
	int status = 1;
	if (cli_parse_hex(program_hex, &code, &code_len, err, sizeof(err))) {
		cli_error("conformance-plugin: program: %s", err);
		goto out;
	}
	if (code_len == 0 || code_len % sizeof(struct visor_insn)) {
		cli_error("conformance-plugin: program is %zu bytes, not a non-zero multiple of 8",
			  code_len);
		goto out;
	}
	if (mem_hex && cli_parse_hex(mem_hex, &mem, &mem_len, err, sizeof(err))) {
		cli_error("conformance-plugin: memory: %s", err);
		goto out;
	}
	vm = visor_vm_create();
	/* Unsafe mode: the suite tests ISA semantics, with programs no verifier
	 * accepts; the run-time checks keep the run inside its memory. */
	if (vm)
		visor_vm_set_unsafe(vm, true);
	if (!vm || visor_conformance_register_helpers(vm)) {
		cli_error("conformance-plugin: out of memory");
		goto out;
	}
	/* code is malloc'd, so suitably aligned for struct visor_insn. */
	if (visor_vm_load(vm, (const struct visor_insn *)code, code_len / sizeof(struct visor_insn))) {
		cli_error("conformance-plugin: %s", visor_vm_errmsg(vm));
		goto out;
	}
	if (jit && visor_vm_jit_compile(vm, harden ? VISOR_JIT_HARDEN : 0)) {
		cli_error("conformance-plugin: %s", visor_vm_errmsg(vm));
		goto out;
	}
	uint64_t r0;
	VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem_len ? mem : NULL, .mem_len = mem_len,
		   .budget = budget, .engine = jit ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP);
	if (visor_vm_exec(vm, &o, &r0)) {
		cli_error("conformance-plugin: %s", visor_vm_errmsg(vm));
		goto out;
	}
	printf("%llx\n", (unsigned long long)r0);
	status = 0;
out:
	visor_vm_destroy(vm);
	free(code);
	free(mem);
	free(line);
	return status;
}
