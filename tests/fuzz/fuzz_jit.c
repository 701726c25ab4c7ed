/* libFuzzer target: visor's JIT against its interpreter. The first input
 * byte picks what the rest is:
 *   even: the decisions of the random program generator (tests/lib/jitgen.c):
 *         the program runs in both engines, which must agree on everything
 *         (r0, memory, error, count); a difference aborts with the program;
 *   odd:  raw instruction slots, compiled with flags from the second byte and
 *         run in both engines under a budget. Nothing may crash; programs that
 *         never name r1 or r10 (so never see an address) must agree too.
 * A crash or difference found by libFuzzer lands in the corpus
 * (scripts/fuzz.sh), which test_jit_fuzz_corpus replays in every build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/conformance.h>
#include <visor/visor.h>

#ifndef JITGEN_LINKED
#include "../lib/jitgen.c" /* fuzz targets link the library only */
#else
#include "jitgen.h"
#endif

#define FUZZ_MAX_SLOTS 512

static void generated(const uint8_t *data, size_t size)
{
	struct jitgen_prog p;
	char why[1024];

	if (jitgen_generate(0, data, size, &p))
		return;
	int rc = jitgen_compare(&p, NULL, NULL, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "interpreter and JIT differ: %s\n", why);
		jitgen_dump(&p, stderr);
		abort();
	}
	jitgen_free(&p);
}

/* Does any instruction name r1 or r10 (or call, which passes r1)? */
static bool sees_addresses(const struct visor_insn *insns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct visor_insn *in = &insns[i];
		if (in->dst == 1 || in->src == 1 || in->dst == 10 || in->src == 10)
			return true;
		if (in->code == VISOR_OPCODE_CALL)
			return true;
	}
	return false;
}

struct raw_outcome {
	int rc;
	uint64_t r0, executed;
	char msg[VISOR_ERRMSG_LEN];
	uint8_t mem[64];
};

static void run_raw(struct visor_vm *vm, int engine, struct raw_outcome *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < sizeof(o->mem); i++)
		o->mem[i] = (uint8_t)(i * 7);
	VISOR_OPTS(visor_vm_exec_opts, opts, .mem = o->mem, .mem_len = sizeof(o->mem),
		   .budget = 20000, .engine = engine, .errbuf = o->msg,
		   .errbuf_len = sizeof(o->msg));
	o->rc = visor_vm_exec(vm, &opts, &o->r0);
	o->executed = opts.insns_executed;
	if (o->rc)
		o->r0 = 0;
}

static void raw(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	unsigned flags = (data[0] & 1 ? VISOR_JIT_HARDEN : 0) | (data[0] & 2 ? (1u << 30) : 0);
	data++;
	size--;
	size_t n = size / sizeof(struct visor_insn);
	if (n == 0 || n > FUZZ_MAX_SLOTS)
		return;
	struct visor_insn *insns = malloc(n * sizeof(*insns));
	if (!insns)
		return;
	memcpy(insns, data, n * sizeof(*insns));
	struct visor_vm *vm = visor_vm_create();
	if (vm)
		visor_vm_set_unsafe(vm, true); /* raw programs: the checked engines are fuzzed */
	if (vm && visor_conformance_register_helpers(vm) == 0 && visor_vm_load(vm, insns, n) == 0 &&
	    visor_vm_jit_compile(vm, flags) == 0) {
		struct raw_outcome a, b;
		run_raw(vm, VISOR_ENGINE_INTERP, &a);
		run_raw(vm, VISOR_ENGINE_JIT, &b);
		if (!sees_addresses(insns, n) &&
		    (a.rc != b.rc || a.r0 != b.r0 || a.executed != b.executed ||
		     strcmp(a.msg, b.msg) || memcmp(a.mem, b.mem, sizeof(a.mem)))) {
			fprintf(stderr, "raw program: interpreter rc %d r0 0x%llx \"%s\" (%llu insns), "
					"JIT rc %d r0 0x%llx \"%s\" (%llu insns)\n",
				a.rc, (unsigned long long)a.r0, a.msg, (unsigned long long)a.executed,
				b.rc, (unsigned long long)b.r0, b.msg, (unsigned long long)b.executed);
			abort();
		}
	}
	visor_vm_destroy(vm);
	free(insns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || !visor_vm_jit_supported())
		return 0;
	if (data[0] & 1)
		raw(data + 1, size - 1);
	else
		generated(data + 1, size - 1);
	return 0;
}
