/* visor jit: compile a program with the JIT and show or dump the machine
 * code, e.g. to read it with objdump. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor jit [options] FILE\n"
		"Compiles FILE (assembly text, or raw bytecode) to x86-64 machine code and\n"
		"prints its size, entry points and compile time.\n\n"
		"  --dump PATH         write the raw machine code to PATH; read it with\n"
		"                      objdump -D -b binary -mi386:x86-64 PATH\n"
		"  --part WHICH        what --dump writes: all (default; both variants),\n"
		"                      plain (runs without a budget) or budget (counting)\n"
		"  --harden            blind constants (as the kernel's bpf_jit_harden)\n"
		"  --verified          verify FILE first (untyped: r1 points to --mem-size\n"
		"                      bytes) and compile it without memory bounds checks;\n"
		"                      a program the verifier refuses is an error (exit 1)\n"
		"  --mem-size N        with --verified: the input memory's size (default 0)\n"
		"  -h, --help          this text\n");
}

int cmd_jit(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dump", required_argument, 0, 'd'}, {"part", required_argument, 0, 'p'},
		{"harden", no_argument, 0, 'H'},     {"verified", no_argument, 0, 'V'},
		{"mem-size", required_argument, 0, 'm'},
		{"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
	};
	const char *dump = NULL, *part = "all";
	unsigned flags = 0;
	unsigned long mem_size = 0;
	bool mem_size_set = false;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dump = optarg; break;
		case 'p': part = optarg; break;
		case 'H': flags |= VISOR_JIT_HARDEN; break;
		case 'V': flags |= VISOR_JIT_VERIFIED; break;
		case 'm':
			errno = 0;
			mem_size = strtoul(optarg, &end, 0);
			if (errno || !*optarg || *end || *optarg == '-' || mem_size > UINT32_MAX) {
				cli_error("jit: --mem-size needs a number of bytes, not '%s'", optarg);
				return 2;
			}
			mem_size_set = true;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		cli_error("jit: expected one program file (try 'visor jit --help')");
		return 2;
	}
	if (mem_size_set && !(flags & VISOR_JIT_VERIFIED)) {
		cli_error("jit: --mem-size applies to --verified");
		return 2;
	}
	if (strcmp(part, "all") && strcmp(part, "plain") && strcmp(part, "budget")) {
		cli_error("jit: --part is all, plain or budget, not '%s'", part);
		return 2;
	}
	if (!visor_vm_jit_supported()) {
		cli_error("jit: the JIT supports x86-64 only");
		return 1;
	}

	size_t count = 0;
	int status = 1;
	/* Without --verified: unsafe mode, so the code keeps its checks. */
	struct visor_vm *vm = cli_load_vm("jit", argv[optind], 1, !(flags & VISOR_JIT_VERIFIED),
					  (uint32_t)mem_size, (int)flags, &count);
	if (!vm)
		goto out;
	VISOR_OPTS(visor_vm_jit_info, info);
	if (visor_vm_jit_info(vm, &info)) {
		cli_error("jit: no code after compiling");
		goto out;
	}

	/* The plain variant comes first, then the counting one. */
	size_t from = 0, to = info.code_len;
	if (!strcmp(part, "plain"))
		to = info.entry_budget;
	else if (!strcmp(part, "budget"))
		from = info.entry_budget;
	printf("%s: %zu instructions -> %zu bytes of x86-64 in %.1f us%s%s\n", argv[optind], count,
	       info.code_len, info.compile_ns / 1000.0,
	       (flags & VISOR_JIT_HARDEN) ? ", constants blinded" : "",
	       (flags & VISOR_JIT_VERIFIED) ? ", no bounds checks" : "");
	if (info.entry >= from && info.entry < to)
		printf("  0x%05zx  entry without a budget\n", info.entry - from);
	if (info.entry_budget >= from && info.entry_budget < to)
		printf("  0x%05zx  entry with a budget (counts instructions)\n",
		       info.entry_budget - from);
	if (dump) {
		FILE *f = fopen(dump, "wb");
		if (!f || fwrite((const uint8_t *)info.code + from, 1, to - from, f) != to - from) {
			cli_error("jit: cannot write %s: %s", dump, strerror(errno));
			if (f)
				fclose(f);
			goto out;
		}
		if (fclose(f)) {
			cli_error("jit: cannot write %s: %s", dump, strerror(errno));
			goto out;
		}
		printf("wrote %zu bytes to %s; read them with: objdump -D -b binary -mi386:x86-64 %s\n",
		       to - from, dump, dump);
	}
	status = 0;
out:
	visor_vm_destroy(vm);
	return status;
}
