/* visor exec: run an assembly or bytecode file in the visor engine. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: visor exec [options] FILE\n"
		"Runs FILE (assembly text, or raw bytecode) in the visor interpreter (or JIT) with\n"
		"r1 = input memory and r2 = its length, and prints r0. The verifier checks FILE\n"
		"first, as an untyped program whose r1 points to the input memory (as many bytes\n"
		"as --mem or --mem-file give); a program it refuses does not run (exit 1, with\n"
		"the reason) unless --unsafe.\n\n"
		"  --mem HEX           input memory as hex bytes (\"00 01 ff\")\n"
		"  --mem-file PATH     input memory from a file\n"
		"  --print-mem         print the memory after the run (hex)\n"
		"  --budget N          stop after N executed instructions (default 100000000,\n"
		"                      0 = unlimited)\n"
		"  --repeat N          run N times; also print the mean time per run\n"
		"  --conformance-helpers  provide the bpf_conformance helpers (ids 0-5)\n"
		"  --jit               compile to x86-64 machine code and run that\n"
		"  --harden            with --jit: blind constants (as bpf_jit_harden)\n"
		"  --unsafe            run without the verifier: every memory access is checked\n"
		"                      at run time instead (an error stops the run)\n"
		"  -h, --help          this text\n");
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-')
		return -1;
	*v = x;
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mem", required_argument, 0, 'm'},  {"mem-file", required_argument, 0, 'f'},
		{"print-mem", no_argument, 0, 'p'},  {"budget", required_argument, 0, 'b'},
		{"repeat", required_argument, 0, 'r'}, {"conformance-helpers", no_argument, 0, 'c'},
		{"jit", no_argument, 0, 'j'},        {"harden", no_argument, 0, 'H'},
		{"unsafe", no_argument, 0, 'u'},     {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *mem_hex = NULL, *mem_file = NULL;
	uint64_t budget = 100000000, repeat = 0;
	int print_mem = 0, conf_helpers = 0, jit = 0, harden = 0, unsafe = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mem_hex = optarg; break;
		case 'f': mem_file = optarg; break;
		case 'p': print_mem = 1; break;
		case 'c': conf_helpers = 1; break;
		case 'b':
			if (parse_u64(optarg, &budget)) {
				cli_error("exec: --budget needs a non-negative number, not '%s'", optarg);
				return 2;
			}
			break;
		case 'r':
			if (parse_u64(optarg, &repeat) || repeat == 0) {
				cli_error("exec: --repeat needs a positive number, not '%s'", optarg);
				return 2;
			}
			break;
		case 'j': jit = 1; break;
		case 'H': harden = 1; break;
		case 'u': unsafe = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		cli_error("exec: expected one program file (try 'visor exec --help')");
		return 2;
	}
	if (mem_hex && mem_file) {
		cli_error("exec: give --mem or --mem-file, not both");
		return 2;
	}
	if (harden && !jit) {
		cli_error("exec: --harden applies to the JIT; add --jit");
		return 2;
	}

	uint8_t *mem = NULL;
	size_t mem_len = 0;
	char err[256];
	if (mem_hex && cli_parse_hex(mem_hex, &mem, &mem_len, err, sizeof(err))) {
		cli_error("exec: --mem: %s", err);
		return 2;
	}
	if (mem_file && !(mem = (uint8_t *)cli_read_file(mem_file, &mem_len)))
		return 1;

	size_t count = 0;
	int status = 1;
	if (mem_len > UINT32_MAX) {
		cli_error("exec: the input memory is larger than 4 GiB");
		free(mem);
		return 1;
	}
	struct visor_vm *vm = cli_load_vm("exec", argv[optind], conf_helpers, unsafe,
					  (uint32_t)mem_len,
					  jit ? (harden ? (int)VISOR_JIT_HARDEN : 0) : -1, &count);
	if (!vm)
		goto out;

	/* Each repetition starts from the same input memory. */
	uint8_t *work = mem_len ? malloc(mem_len) : NULL;
	if (mem_len && !work) {
		cli_error("exec: out of memory");
		goto out;
	}
	uint64_t r0 = 0, runs = repeat ? repeat : 1, executed = 0;
	double total = 0;
	/* Timed as a whole: reading the clock around each run would cost more
	 * than a short program. The input is restored before each run. */
	double t0 = now_ns();
	for (uint64_t i = 0; i < runs; i++) {
		if (mem_len)
			memcpy(work, mem, mem_len);
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = work, .mem_len = mem_len, .budget = budget,
			   .engine = jit ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP);
		int rc = visor_vm_exec(vm, &o, &r0);
		executed = o.insns_executed;
		if (rc) {
			cli_error("%s: %s", argv[optind], visor_vm_errmsg(vm));
			free(work);
			goto out;
		}
	}
	total = now_ns() - t0;
	if (repeat && !executed && mem_len <= 65536) {
		/* The JIT counts only under a budget: ask the interpreter, which
		 * runs the same instructions, how many one run executes. */
		if (mem_len)
			memcpy(work, mem, mem_len);
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = work, .mem_len = mem_len, .budget = budget,
			   .engine = VISOR_ENGINE_INTERP);
		uint64_t ignored;
		if (visor_vm_exec(vm, &o, &ignored) == 0)
			executed = o.insns_executed;
	}
	printf("r0 = 0x%llx (%lld)\n", (unsigned long long)r0, (long long)r0);
	if (repeat)
		printf("%llu runs, mean %.1f ns per run, %llu instructions per run, %.2f ns per instruction\n",
		       (unsigned long long)runs, total / runs, (unsigned long long)executed,
		       executed ? total / runs / executed : 0.0);
	if (print_mem) {
		for (size_t i = 0; i < mem_len; i++)
			printf("%02x%c", work[i], i + 1 == mem_len ? '\n' : ' ');
	}
	free(work);
	status = 0;
out:
	free(mem);
	visor_vm_destroy(vm);
	return status;
}
