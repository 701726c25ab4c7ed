/* libFuzzer target for the ISA and interpreter layers. The first input byte
 * picks what the rest is:
 *   even: raw instruction slots -> check, disassemble (both syntaxes),
 *         re-assemble (must reproduce the bytes), load and run;
 *   odd:  assembly text -> assemble, disassemble, re-assemble (must agree),
 *         load and run.
 * Nothing may crash, leak or hang (the budget bounds every run). A mismatch
 * in a round trip aborts, so the fuzzer reports it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/conformance.h>
#include <visor/visor.h>

#define FUZZ_MAX_SLOTS 512

static void run_program(const struct visor_insn *insns, size_t count)
{
	struct visor_vm *vm = visor_vm_create();
	if (!vm)
		return;
	/* Unsafe mode: arbitrary programs run with the run-time checks, which
	 * are what this target fuzzes. */
	visor_vm_set_unsafe(vm, true);
	visor_conformance_register_helpers(vm);
	if (visor_vm_load(vm, insns, count) == 0) {
		uint8_t mem[64];
		for (size_t i = 0; i < sizeof(mem); i++)
			mem[i] = (uint8_t)(i * 7);
		uint64_t r0;
		VISOR_OPTS(visor_vm_exec_opts, o, .mem = mem, .mem_len = sizeof(mem), .budget = 20000);
		visor_vm_exec(vm, &o, &r0);
	}
	visor_vm_destroy(vm);
}

static void roundtrip(const struct visor_insn *insns, size_t count)
{
	char err[256];
	char *text = visor_disasm(insns, count, VISOR_SYNTAX_UBPF, 0);
	if (!text)
		return;
	struct visor_insn *again = NULL;
	size_t n = 0;
	if (visor_asm(text, &again, &n, err, sizeof(err))) {
		fprintf(stderr, "disassembly does not re-assemble: %s\n%s", err, text);
		abort();
	}
	if (n != count || memcmp(again, insns, count * sizeof(*insns))) {
		fprintf(stderr, "round trip changed the program (%zu -> %zu slots)\n%s", count, n, text);
		abort();
	}
	free(again);
	free(text);
	text = visor_disasm(insns, count, VISOR_SYNTAX_KERNEL, 1);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;

	if ((mode & 1) == 0) {
		size_t count = size / sizeof(struct visor_insn);
		if (count == 0 || count > FUZZ_MAX_SLOTS)
			return 0;
		struct visor_insn *insns = malloc(count * sizeof(*insns));
		if (!insns)
			return 0;
		memcpy(insns, data, count * sizeof(*insns));
		for (size_t i = 0; i < count; i++)
			visor_insn_check(insns, count, i, NULL, 0);
		roundtrip(insns, count);
		run_program(insns, count);
		free(insns);
		return 0;
	}

	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct visor_insn *insns = NULL;
	size_t count = 0;
	char err[256];
	if (visor_asm(text, &insns, &count, err, sizeof(err)) == 0 && count > 0 &&
	    count <= FUZZ_MAX_SLOTS) {
		roundtrip(insns, count);
		run_program(insns, count);
	}
	free(insns);
	free(text);
	return 0;
}
